"""Why a harvest set a record or row aside, in the page's language.

The harvesters write their reasons in English (the API's `errors[].reason` and the
mapping report keep them so: clients match on them). Pages show the usual ones
translated: each pattern below is one reason a harvester writes (tabular.py,
writer.py, listed_twice.py, ckan.py, dcat_us.py, dcat_ap.py), its variable parts kept
as given. A reason no pattern knows (an exception's own text) is shown as written.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

# (pattern, message with the pattern's named groups as placeholders)
_REASONS = [
    (r"missing title \(column (?P<column>.+) is empty\)",
     _l("missing title (column %(column)s is empty)")),
    (r"exact duplicate of (?P<reference>.+)", _l("exact duplicate of %(reference)s")),
    (r"duplicate identifier with different content in one listing; the first was kept",
     _l("duplicate identifier with different content in one listing; the first was kept")),
    (r"unreadable (?:row|record|package): (?P<error>.*)", _l("unreadable: %(error)s")),
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
_REFERENCES = [(r"row (?P<n>\d+)", _l("row %(n)s")), (r"record (?P<n>\d+)", _l("record %(n)s"))]
NOT_GIVEN = _l("not given")  # listed_twice's word for a missing modified date
_COMPILED = [(re.compile(pattern, re.S), message) for pattern, message in _REASONS]
_COMPILED_ERRORS = [(re.compile(pattern, re.S), message) for pattern, message in _ERRORS]
_COMPILED_REFERENCES = [(re.compile(pattern), message) for pattern, message in _REFERENCES]


def harvest_reason(text) -> str:
    """`text` (a harvest's reason for a bad record or skipped row) in the page's language."""
    return _translated(text, _COMPILED)


def harvest_error(text) -> str:
    """A harvest run's error in the page's language (the usual ones; others as written)."""
    return _translated(text, _COMPILED_ERRORS)


def harvest_reference(text) -> str:
    """ "row 6" / "record 3" in the page's language ("第 6 行"); other references as given."""
    return _translated(text, _COMPILED_REFERENCES)


def _translated(text, patterns) -> str:
    if not isinstance(text, str):
        return "" if text is None else str(text)
    for pattern, message in patterns:
        if match := pattern.fullmatch(text):
            parts = {key: str(NOT_GIVEN) if value == "not given" else value
                     for key, value in match.groupdict().items()}  # fmt: skip
            return str(message) % parts
    return text
