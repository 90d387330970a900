"""Why a harvest set a record or row aside, and why it mapped a column, in the page's
language.

The harvesters write their reasons in English (the API's `errors[].reason` and the
mapping report keep them so: clients match on them). Pages show the usual ones
translated: each pattern below is one reason a harvester writes (tabular.py,
writer.py, listed_twice.py, ckan.py, dcat_us.py, dcat_ap.py), its variable parts kept
as given. A reason no pattern knows (an exception's own text) is shown as written.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

from subscribe.web import labels

# (pattern, message with the pattern's named groups as placeholders)
_REASONS = [
    (r"missing title \(column (?P<column>.+) is empty\)",
     _l("missing title (column %(column)s is empty)")),
    (r"exact duplicate of (?P<reference>.+) apart from its running number \((?P<columns>.+)\)",
     _l("exact duplicate of %(reference)s apart from its running number (%(columns)s)")),
    (r"exact duplicate of (?P<reference>.+)", _l("exact duplicate of %(reference)s")),
    (r"duplicate identifier with different content in one listing; the first was kept",
     _l("duplicate identifier with different content in one listing; the first was kept")),
    (r"unreadable row: unclosed quote: a quoted cell runs on over the rows after it \(they "
     r"are read as rows\); the row starts on line (?P<line>\d+)",
     _l("unreadable: a quote is never closed (the row starting on line %(line)s runs into "
        "the rows after it, which are read as rows)")),
    (r"unreadable (?:row|record|package): (?P<error>.*)", _l("unreadable: %(error)s")),
    (r"listing incomplete: (?P<got>\d+) of (?P<total>\d+) packages received \((?P<why>.*)\); "
     r"no deletions this run",
     _l("listing incomplete: %(got)s of %(total)s packages received (%(why)s); no deletions "
        "this run")),
    (r"(?:dataset|package) has no (?:dct:)?title", _l("no title")),
    (r"package has no id or name", _l("package has no id or name")),
    (r"listed again with a later modified date \((?P<kept>.*)\); that entry was kept, this "
     r"one \(modified (?P<modified>.*)\) set aside",
     _l("listed again with a later modified date (%(kept)s); that entry was kept, this one "
        "(modified %(modified)s) set aside")),
    (r"another entry with this identifier has different content \(modified (?P<kept>.*)\); "
     r"one is kept whatever the file's order: the later modified, else by content\. This "
     r"one \(modified (?P<modified>.*)\) set aside",
     _l("another entry with this identifier has different content (modified %(kept)s); the "
        "later modified is kept, else one by content. This one (modified %(modified)s) set "
        "aside")),
    (r"above the header \(a title or group row\)", _l("above the header (a title or group row)")),
    (r"a footer \(label: value cells, no title\)", _l("a footer (label: value cells, no title)")),
    (r"the header row repeated", _l("the header row repeated")),
    (r"one text across the row \(a merged title or footnote\)",
     _l("one text across the row (a merged title or footnote)")),
    (r"a note or footnote", _l("a note or footnote")),
]  # fmt: skip
# A harvest run's error (HarvestError): the usual ones, the rest as written.
_ERRORS = [
    (r"mapped column\(s\) not found: (?P<missing>.+); (?:columns|keys) found: (?P<found>.*)",
     _l("mapped column(s) not found: %(missing)s; columns found: %(found)s")),
    (r"no title column found; (?:columns|keys) found: (?P<found>.*)",
     _l("no title column found; columns found: %(found)s")),
    (r"(?P<url>\S+) answered HTTP (?P<status>\d{3})", _l("%(url)s answered HTTP %(status)s")),
    (r"could not (?:fetch|read) (?P<url>\S+): (?P<why>.*)",
     _l("could not fetch %(url)s: %(why)s")),
    (r"(?P<url>\S+) answered an HTML/XML page \((?P<type>[^)]*)\), not a CSV, XLSX or JSON "
     r"catalog export",
     _l("%(url)s answered an HTML/XML page (%(type)s), not a CSV, XLSX or JSON catalog export")),
    (r"the file is empty or not a CSV, XLSX or JSON catalog export",
     _l("the file is empty or not a CSV, XLSX or JSON catalog export")),
    (r"(?P<url>\S+) has a header but no rows", _l("%(url)s has a header but no rows")),
]  # fmt: skip
# Where a record or row sits in its file: "row 6" (a spreadsheet's row), "record 3".
_REFERENCES = [(r"row (?P<n>\d+)", _l("row %(n)s")), (r"record (?P<n>\d+)", _l("record %(n)s")),
               (r"listing", _l("listing"))]  # fmt: skip
# The mapping report's reasons (a column's field, an identity's choice, a carry-over's
# cause): tabular_headers.RULES' reasons as written there (one message each; a test
# checks that every rule has one), then the phrases tabular_columns, tabular_identity,
# tabular_carry and ckan build around them. A reason is read from its outside in: a
# compound pattern's `why` is itself a reason, `field` a field name (labels.FIELDS).
_RULE_REASONS = {
    "a running number: not a dataset field": _l("a running number: not a dataset field"),
    "names a phone, e-mail or contact: contact point":
        _l("names a phone, e-mail or contact: contact point"),
    "数据量/记录数/条数: record count": _l("数据量/记录数/条数: record count"),
    "names a download, file or API address: download URL":
        _l("names a download, file or API address: download URL"),
    "ends in 网址/链接/地址/url: the dataset's web page":
        _l("ends in 网址/链接/地址/url: the dataset's web page"),
    "频率/周期: update frequency": _l("频率/周期: update frequency"),
    "更新/修改 + 时间/日期: modified": _l("更新/修改 + 时间/日期: modified"),
    "names the last update: modified": _l("names the last update: modified"),
    "发布/创建/上架 + 时间/日期: issued": _l("发布/创建/上架 + 时间/日期: issued"),
    "names the release: issued": _l("names the release: issued"),
    "开放/公开 + 类型/属性/条件/方式/状态: open type":
        _l("开放/公开 + 类型/属性/条件/方式/状态: open type"),
    "a character encoding (UTF-8, GBK): not a dataset field":
        _l("a character encoding (UTF-8, GBK): not a dataset field"),
    "格式/format: formats": _l("格式/format: formats"),
    "协议/许可/授权: license": _l("协议/许可/授权: license"),
    "关键词/标签: keywords": _l("关键词/标签: keywords"),
    "提供/来源/发布 + 方/单位/部门/机构: publisher": _l("提供/来源/发布 + 方/单位/部门/机构: publisher"),
    "编号/编码/标识/id: identifier (used as identity only if its values are unique)":
        _l("编号/编码/标识/id: identifier (used as identity only if its values are unique)"),
    "领域/主题/分类: themes": _l("领域/主题/分类: themes"),
    "摘要/描述/简介/说明: description": _l("摘要/描述/简介/说明: description"),
    "名称/标题/title: title": _l("名称/标题/title: title"),
    "a bare date: taken as modified": _l("a bare date: taken as modified"),
}  # fmt: skip
_FIELD = r"(?P<field>[a-z_]+)"
_SHARE = r"(?P<share>\d+%)"
_MAPPING = [
    # compound: a reason (why) with what the values or the mapping added to it
    (r"(?P<why>.+); (?P<header>.+) won \((?P<won>[\d.]+) > (?P<score>[\d.]+)\): used only "
     r"where it is empty",
     _l("%(why)s; %(header)s won (%(won)s > %(score)s): used only where it is empty")),
    (rf"(?P<why>.+); {_SHARE} of values fit, (?P<distinct>\d+%) distinct",
     _l("%(why)s; %(share)s of values fit, %(distinct)s distinct")),
    (rf"(?P<why>.+); {_SHARE} of values fit", _l("%(why)s; %(share)s of values fit")),
    (r"(?P<why>.+); names the last update: preferred over a bare update date",
     _l("%(why)s; names the last update: preferred over a bare update date")),
    (r"(?P<why>.+); but (?P<after>a running number \(.+)", _l("%(why)s; but %(after)s")),
    (r"(?P<why>.+); but its values are phones/e-mails",
     _l("%(why)s; but its values are phones/e-mails")),
    (rf"(?P<why>.+); the mapping names another column for {_FIELD}",
     _l("%(why)s; the mapping names another column for %(field)s")),
    (rf"header suggests {_FIELD} \((?P<why>.+)\), but only {_SHARE} of its values fit",
     _l("header suggests %(field)s (%(why)s), but only %(share)s of its values fit")),
    (rf"header suggests {_FIELD} \((?P<why>.+)\), but every row holds (?P<value>.*): a portal "
     r"page, not each dataset's own",
     _l("header suggests %(field)s (%(why)s), but every row holds %(value)s: a portal page, "
        "not each dataset's own")),
    # a column's own reason
    (r"known name (?P<name>.+)", _l("known name %(name)s")),
    (rf"header unknown; its values are {_FIELD}", _l("header unknown; its values are %(field)s")),
    (r"named in the source's mapping", _l("named in the source's mapping")),
    (r"named for another field in the mapping", _l("named for another field in the mapping")),
    (r"no header text", _l("no header text")),
    (rf"no header text; its values are {_FIELD}", _l("no header text; its values are %(field)s")),
    (r"no rule recognises this header", _l("no rule recognises this header")),
    # an identity column's verdict, and the hash instead
    (r"empty on every row", _l("empty on every row")),
    (r"empty on (?P<empty>\d+) of (?P<rows>\d+) rows", _l("empty on %(empty)s of %(rows)s rows")),
    (r"one value \((?P<value>.*)\) on (?P<top>\d+) of (?P<rows>\d+) rows",
     _l("one value (%(value)s) on %(top)s of %(rows)s rows")),
    (rf"only {_SHARE} of its values are distinct", _l("only %(share)s of its values are distinct")),
    (rf"{_SHARE} of its (?P<present>\d+) values are distinct",
     _l("%(share)s of its %(present)s values are distinct")),
    (r"a running number \((?P<first>\d+) … (?P<largest>\d+) in file order, (?P<distinct>\d+) "
     r"numbers\): a row number, renumbered when rows move, not an identity",
     _l("a running number (%(first)s … %(largest)s in file order, %(distinct)s numbers): a row "
        "number, renumbered when rows move, not an identity")),
    (r"no unique id or URL column: a hash of title and publisher \(and, where they repeat, the "
     r"columns that tell rows apart\)",
     _l("no unique id or URL column: a hash of title and publisher (and, where they repeat, "
        "the columns that tell rows apart)")),
    # why identities were carried over (tabular_carry, ckan)
    (r"the identity changed from (?P<before>column .+|a hash of title and publisher) to "
     r"(?P<after>column .+|a hash of title and publisher)",
     _l("the identity changed from %(before)s to %(after)s")),
    (r"identity derived from content \((?P<before>column .+|a hash of title and publisher)\): "
     r"(?P<rows>\d+) rows not found",
     _l("identity derived from content (%(before)s): %(rows)s rows not found")),
    (r"column (?P<column>.+)", _l("column %(column)s")),
    (r"a hash of title and publisher", _l("a hash of title and publisher")),
    (r"the previous run carried identities over", _l("the previous run carried identities over")),
    (r"(?P<more>\d+) more rows lack a value in column (?P<column>.*)",
     _l("%(more)s more rows lack a value in column %(column)s")),
    (r"(?P<packages>\d+) packages name no id \(identified by name\)",
     _l("%(packages)s packages name no id (identified by name)")),
    (r"packages identified by name last time show their id",
     _l("packages identified by name last time show their id")),
]  # fmt: skip
_RECURSIVE = ("why", "before", "after")  # groups that are reasons themselves
NOT_GIVEN = _l("not given")  # listed_twice's word for a missing modified date
_COMPILED = [(re.compile(pattern, re.S), message) for pattern, message in _REASONS]
_COMPILED_ERRORS = [(re.compile(pattern, re.S), message) for pattern, message in _ERRORS]
_COMPILED_REFERENCES = [(re.compile(pattern), message) for pattern, message in _REFERENCES]
_COMPILED_MAPPING = [(re.compile(pattern, re.S), message) for pattern, message in _MAPPING]


def harvest_reason(text) -> str:
    """`text` (a harvest's reason for a bad record or skipped row) in the page's language."""
    return _translated(text, _COMPILED)


def harvest_error(text) -> str:
    """A harvest run's error in the page's language (the usual ones; others as written)."""
    return _translated(text, _COMPILED_ERRORS)


def harvest_reference(text) -> str:
    """ "row 6" / "record 3" in the page's language ("第 6 行"); other references as given."""
    return _translated(text, _COMPILED_REFERENCES)


def mapping_reason(text, depth: int = 0) -> str:
    """A mapping report's reason (why a column became a field or was ignored, why an
    identity was chosen or a column rejected, why identities were carried over) in the
    page's language. The report keeps the English text (the API's); parts no pattern
    knows (a header, a value) are shown as written, and so is an unknown reason."""
    if not isinstance(text, str):
        return "" if text is None else str(text)
    if (rule := _RULE_REASONS.get(text)) is not None:
        return str(rule)
    if depth > 8:  # a header that itself reads like a reason cannot loop for long
        return text
    for pattern, message in _COMPILED_MAPPING:
        if match := pattern.fullmatch(text):
            parts = {}
            for key, value in match.groupdict().items():
                if key in _RECURSIVE:
                    value = mapping_reason(value, depth + 1)
                elif key == "field":
                    value = labels.label(value, "FIELDS")
                parts[key] = value
            return str(message) % parts
    return text


def _translated(text, patterns) -> str:
    if not isinstance(text, str):
        return "" if text is None else str(text)
    for pattern, message in patterns:
        if match := pattern.fullmatch(text):
            parts = {key: str(NOT_GIVEN) if value == "not given" else value
                     for key, value in match.groupdict().items()}  # fmt: skip
            if "reference" in parts and patterns is _COMPILED:  # "row 7": 第 7 行
                parts["reference"] = harvest_reference(parts["reference"])
            return str(message) % parts
    return text
