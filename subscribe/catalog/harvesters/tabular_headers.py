"""What a tabular export's column header names: fold the header, then read its words.

Real exports name one field in dozens of ways (详情页网址, 资源摘要, 提供機關名稱,
"Landing page (URL)*", "3、数据更新时间"), so a header is recognised by rule, not looked
up in a list: it is folded (NFKC, traditional → simplified, case, numbering, brackets,
units, punctuation and spaces removed) and then classified by the words it is made of,
most specific rule first, the way csv-detective pairs header keywords with value tests
(the value tests are in tabular_columns.py).

``classify("詳情頁網址")`` → ``Claim("landing_page", "rule", "ends in 网址: a web page")``;
``None`` when no rule places the header (the column is then reported as ignored).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from subscribe.catalog.normalize import INVISIBLE, to_simplified, unit_days

# Every field a column can fill (DatasetRecord fields; download_url becomes resources).
FIELDS = (
    "title", "description", "publisher", "themes", "keywords", "formats", "open_type",
    "frequency", "issued", "modified", "landing_page", "license", "identifier",
    "download_url", "contact_point", "record_count",
)  # fmt: skip

# Names exports use verbatim: recognised as "exact" (they outrank a rule match when two
# columns claim one field). Folded like headers before comparing.
KNOWN_NAMES: dict[str, tuple[str, ...]] = {
    "title": ("标题", "名称", "目录名称", "数据目录名称", "数据集名称", "资源名称", "title", "name", "datasetname", "datasettitle"),
    "publisher": ("提供单位", "来源部门", "数源单位", "数据提供方", "提供部门", "发布单位",
                  "publisher", "organization",
                  "organisation", "org"),
    "themes": ("所属领域", "数据领域", "主题分类", "行业分类", "theme",
               "themes", "category"),
    "frequency": ("更新频率", "更新周期", "frequency", "updatefrequency", "accrualperiodicity"),
    "issued": ("发布时间", "发布日期", "创建时间", "issued", "created",
               "published"),
    "modified": ("更新时间", "更新日期", "最后更新时间", "modified", "updated",
                 "lastmodified"),
    "open_type": ("开放类型", "开放属性", "开放条件", "开放方式", "opentype",
                  "accesslevel"),
    "formats": ("数据格式", "资源格式", "文件格式", "format", "formats"),
    "description": ("描述", "摘要", "简介", "数据摘要", "目录描述", "description", "notes", "abstract"),
    "keywords": ("关键字", "关键词", "标签", "keywords", "keyword", "tags"),
    "identifier": ("目录编号", "数据集编号", "编号", "资源代码", "id", "标识符", "identifier"),
    "landing_page": ("详情页", "详情链接", "url", "网址", "landingpage",
                     "homepage"),
    "license": ("开放协议", "许可协议", "授权协议", "license", "licence"),
    "download_url": ("下载地址", "下载链接", "文件地址", "资源地址", "downloadurl", "accessurl"),
    "contact_point": ("联系电话", "联系方式", "联系邮箱", "contactpoint", "contact", "email"),
    "record_count": ("数据量", "记录数", "数据条数", "recordcount"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Claim:
    """A header's field, how sure (exact > rule > value) and why, for the mapping report."""

    field: str | None  # None: recognised as a column to ignore (a running number)
    level: str  # "exact" | "rule" | "value" | "ignore"
    reason: str


# --- folding -------------------------------------------------------------------------

_BRACKETED = re.compile(
    r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|<[^<>]*>|《[^《》]*》|〔[^〔〕]*〕|「[^「」]*」"
)
# "1.", "01、", "一、", "(3)", "No.2 " before the name are numbering, not the name.
_NUMBERING = re.compile(
    r"^\s*(?:\(?\d{1,3}\)|\d{1,3}\s*[.、:)]|[一二三四五六七八九十]{1,3}\s*[、.)]|no\.?\s*\d+)\s*"
)
# "数据量 单位:条", "size unit: MB": a unit is not the name.
_UNIT_TAIL = re.compile(r"(?:计量)?(?:单位|unit)\s*[:=]\s*\S*$")
_SEPARATORS = re.compile(r"[\W_]+")  # spaces, punctuation, *, :, -, /: never part of the name
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")


@lru_cache(maxsize=4096)
def fold_header(name) -> str:
    """The comparable form of a header: "【必填】資料集名稱(中文)*" → "资料集名称".

    NFKC first (full-width letters, brackets and spaces become ASCII), then OpenCC t2s
    (the project's one traditional → simplified converter), case folding, and the
    decorations removed: numbering, bracketed notes and units, "*", ":", spaces, "_", "-".
    If removing bracketed text leaves nothing, the bracketed text is the name ("(名称)").
    """
    text = unicodedata.normalize("NFKC", str(name if name is not None else ""))
    text = _CAMEL.sub(" ", text.translate(INVISIBLE)).strip()
    text = to_simplified(text).casefold()
    text = _NUMBERING.sub("", text)
    bare = _BRACKETED.sub(" ", text)
    text = bare if _SEPARATORS.sub("", bare) else text
    text = _UNIT_TAIL.sub("", text)
    return _SEPARATORS.sub("", text)


_KNOWN = {fold_header(n): field for field, names in KNOWN_NAMES.items() for n in names}

_UNIT_TAIL_TEXT = re.compile(r"(?:计量)?(?:单位|unit)\s*[:=]\s*(\S*)$")
# What may stand around a unit word in a header's note: "(单位：天)", "(in days)", "(天数)".
_UNIT_WORDING = re.compile(r"^(?:(?:计量)?单位|unit|in|number\s+of)\s*[:=]?\s*|数$")


# "(次/年)", "(times per year)": a bare number counts updates per that unit.
_RATE = re.compile(r"^(?:次|times?)\s*(?:/|per|a|每)\s*(.+)$")


@lru_cache(maxsize=1024)
def header_unit(name) -> tuple[float, bool] | None:
    """The unit a header names in brackets or a unit tail, as (days in it, rate): what a
    bare number in its cells counts (normalize_frequency's ``unit`` and ``rate``).
    "更新周期(天)", "（天）", "【天数】", "[days]", "(in months)", "(单位：小时)",
    "更新周期 单位:月" → (1, False) … (30, False), (1/24, False), (30, False);
    "更新频率(次/年)" → (365, True): updates per year. None when it names no unit."""
    text = unicodedata.normalize("NFKC", str(name if name is not None else ""))
    text = to_simplified(text.translate(INVISIBLE)).casefold()
    notes = [found[1:-1] for found in _BRACKETED.findall(text)]
    if tail := _UNIT_TAIL_TEXT.search(text):
        notes.append(tail[1])
    for note in notes:
        note = _UNIT_WORDING.sub("", note.strip()).strip()
        rate = _RATE.match(note)
        days = unit_days(rate[1].strip() if rate else note)
        if days is not None:
            return days, bool(rate)
    return None


# --- rules ---------------------------------------------------------------------------


def _has(*words: str) -> Callable[[str], bool]:
    return lambda h: any(w in h for w in words)


def _ends(*words: str) -> Callable[[str], bool]:
    return lambda h: h.endswith(words)


def _is(*words: str) -> Callable[[str], bool]:
    return lambda h: h in words


def _all(*tests: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda h: all(t(h) for t in tests)


def _any(*tests: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda h: any(t(h) for t in tests)


def _not(test: Callable[[str], bool]) -> Callable[[str], bool]:
    return lambda h: not test(h)


_CONTACT = _has("联系", "联络", "电话", "手机", "邮箱", "电子邮件", "邮件", "传真", "email", "mail",
                "phone", "telephone", "contact", "咨询")  # fmt: skip
_ORG = _has("单位", "部门", "机构", "机关", "组织", "主体", "委办局", "提供方", "发布方",
            "来源方", "责任方", "提供者", "发布者", "来源", "数源")  # fmt: skip
_ORG_EN = _any(
    _has("publisher", "organization", "organisation", "agency", "department", "provider",
         "ministry", "owner", "creator", "author"),
    _is("org", "orgname", "source", "dept"),
)  # fmt: skip
_URL_NOUN = _ends("网址", "链接", "地址", "url", "uri", "网页", "页面", "详情页", "详情", "link",
                  "homepage", "landingpage", "page", "website", "主页", "入口")  # fmt: skip
_PLACE = _has(
    "单位",
    "部门",
    "机构",
    "机关",
    "办公",
    "通讯",
    "注册",
    "住所",
    "所在",
    "详细地址",
    "邮寄",
    "经营",
    "门牌",
)
_DATE_NOUN = _any(_ends("时间", "日期", "日", "at", "on", "时间戳"),
                  _has("时间", "日期", "date", "time"))  # fmt: skip
_MODIFIED = _has("更新", "修改", "变更", "修订", "维护", "最后", "最近", "刷新", "update",
                 "modif", "change", "revis")  # fmt: skip
_ISSUED = _has("发布", "创建", "上架", "上线", "公开", "开放", "首发", "生成", "录入", "编目",
               "挂接", "建立", "产生", "收录", "登记", "发行", "issue", "creat", "publish",
               "release")  # fmt: skip
_ID_END = _ends("编号", "编码", "代码", "标识", "标识符", "标识码", "识别码", "识别号", "id", "号", "identifier",
                "uuid", "guid", "code")  # fmt: skip
_NOT_DATASET_ID = _has("单位", "部门", "机构", "机关", "区划", "信用", "邮编", "邮政", "电话",
                       "手机", "身份证", "版本", "序", "行政", "分类", "主题", "领域", "行业",
                       "提供", "org", "publisher", "agency", "version", "zip", "postal",
                       "行号", "批次")  # fmt: skip

RUNNING_NUMBER = "a running number: not a dataset field"
# (field, test, reason), most specific first: the first rule that matches decides, so
# 提供方联系电话 is a contact point (not a publisher) and 领域名称 a theme (not a title).
RULES: tuple[tuple[str | None, Callable[[str], bool], str], ...] = (
    (None, _any(_is("序号", "行号", "顺序号", "no", "index", "rownum", "rowid", "num", "sn"),
                _ends("序号")), RUNNING_NUMBER),
    ("contact_point", _CONTACT, "names a phone, e-mail or contact: contact point"),
    ("record_count", _any(
        _has("数据量", "资料量", "记录数", "条数", "笔数", "数据总量", "数据规模", "记录总数", "数据条目", "行数",
             "recordcount", "numberofrecords", "rowcount"),
        _is("records", "rows", "count")), "数据量/记录数/条数: record count"),
    ("download_url", _any(
        _all(_has("下载"), _any(_URL_NOUN, _is("下载"), _has("路径"))),
        re.compile(r"(文件|资源|附件|数据|接口|api|服务|访问)(地址|链接|url|路径|网址)$").search,
        _has("download", "accessurl", "fileurl", "distribution", "resourceurl", "dataurl",
             "apiurl", "endpoint"),
        _is("api", "接口", "附件", "文件", "file")),
     "names a download, file or API address: download URL"),
    ("landing_page", _all(_URL_NOUN, _not(_PLACE)),
     "ends in 网址/链接/地址/url: the dataset's web page"),
    ("frequency", _has("频率", "周期", "频次", "频度", "frequency", "periodicity", "cadence",
                       "updatecycle", "accrual"), "频率/周期: update frequency"),
    ("modified", _all(_DATE_NOUN, _MODIFIED), "更新/修改 + 时间/日期: modified"),
    ("modified", _any(_is("最后更新", "最近更新"), _ends("modified", "updated")),
     "names the last update: modified"),
    ("issued", _all(_DATE_NOUN, _ISSUED), "发布/创建/上架 + 时间/日期: issued"),
    ("issued", _any(_is("上架", "发布"), _ends("issued", "created", "published")),
     "names the release: issued"),
    ("open_type", _any(
        re.compile(r"(开放|公开|共享)(类型|属性|条件|方式|状态|级别|等级|形式|类别|程度|范围|分类|性)").search,
        _is("开放", "是否开放", "是否公开", "是否共享", "共享开放"),
        _has("accesslevel", "opentype", "accessrights", "openness", "availability")),
     "开放/公开 + 类型/属性/条件/方式/状态: open type"),
    (None, _has("编码格式", "字符编码", "字符集", "编码方式", "encoding", "charset"),
     "a character encoding (UTF-8, GBK): not a dataset field"),
    ("formats", _has("格式", "format", "mediatype", "mimetype", "filetype", "文件类型", "扩展名",
                     "后缀"), "格式/format: formats"),
    ("license", _has("协议", "许可", "授权", "license", "licence", "rights", "使用条款",
                     "termsofuse"), "协议/许可/授权: license"),
    ("keywords", _has("关键字", "关键词", "标签", "主题词", "keyword", "tag"),
     "关键词/标签: keywords"),
    ("publisher", _all(_any(_ORG, _ORG_EN),
                       _not(_has("地址", "代码", "编码", "类型", "性质", "级别", "层级", "区划",
                                 "计量", "code")),
                       _not(_ends("id"))),
     "提供/来源/发布 + 方/单位/部门/机构: publisher"),
    ("identifier", _all(_ID_END, _not(_NOT_DATASET_ID)),
     "编号/编码/标识/id: identifier (used as identity only if its values are unique)"),
    ("themes", _has("领域", "主题", "分类", "类别", "行业", "板块", "栏目", "专题", "category",
                    "theme", "topic", "sector", "subject", "classification", "group"),
     "领域/主题/分类: themes"),
    ("description", _has("摘要", "描述", "简介", "说明", "概述", "介绍", "概要", "内容", "简述",
                         "description", "notes", "abstract", "summary", "desc"),
     "摘要/描述/简介/说明: description"),
    # 数据集 alone names the dataset; 数据集类型 or 资料集上架方式 name something about it.
    ("title", _any(_ends("名称", "标题", "题名", "名", "title", "name"),
                   _is("数据集", "资料集", "数据资源", "dataset"), _has("目录名", "资源名")),
     "名称/标题/title: title"),
    ("modified", _is("日期", "时间", "date", "time", "datetime"),
     "a bare date: taken as modified"),
)  # fmt: skip


@lru_cache(maxsize=4096)
def classify(name) -> Claim | None:
    """The field a header names, or None when no rule places it."""
    folded = fold_header(name)
    if not folded:
        return None
    if folded in _KNOWN:
        return Claim(_KNOWN[folded], "exact", f"known name {folded}")
    for field, test, reason in RULES:
        if test(folded):
            return Claim(field, "rule" if field else "ignore", reason)
    return None
