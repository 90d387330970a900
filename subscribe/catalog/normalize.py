"""Turn the real world's messy catalog values into the internal model's enums and types.

Shared by every harvester: frequencies (每日, 季度, R/P1D, EU frequency URIs…), open
types (无条件开放…, DCAT-US accessLevel), format lists ("['xls']", "CSV、JSON"), dates
(2023年1月5日, 2023/1/5, ISO 8601, epoch) and free-text lists.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, date, datetime, time

import opencc
from dateutil import parser as dateutil_parser

from subscribe.models_base import to_naive_utc

# Traditional-Chinese catalogs (Taiwan, Hong Kong) say 無條件開放, 每季: fold before matching.
_T2S = opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _T2S.convert(text) if text else ""


_WS = re.compile(r"\s+")
# BOMs and zero-width characters ride along in Excel/Windows exports and break matching;
# NUL bytes too, and PostgreSQL refuses them in text columns.
_INVISIBLE = str.maketrans("", "", "\x00\ufeff\u200b\u200c\u200d\u2060")
_LIST_SEPARATORS = re.compile(r"[,，、;；|/\n]+")
_FORMAT_SEPARATORS = re.compile(r"[,，、;；|\n]+")  # "/" is handled apart: MIME types have one


def clean_text(value) -> str:
    """A trimmed single-spaced string; None and NaN-like blanks become ''."""
    if value is None:
        return ""
    text = str(value).translate(_INVISIBLE).strip()
    if text.lower() in {"none", "null", "nan", "n/a", "-", "—", "无"}:
        return ""
    return _WS.sub(" ", text)


def split_list(value) -> list[str]:
    """Themes or keywords given as a list or as one string with any common separator."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        items = []
        for item in value:
            if isinstance(item, dict):  # CKAN tags/groups: {"name":…, "display_name":…}
                item = item.get("display_name") or item.get("title") or item.get("name")
            # A list item is one value already: "TIGER/Line" is one keyword, not two.
            items.append(clean_text(item))
        return _dedupe(items)
    text = clean_text(value)
    if text.startswith("[") and text.endswith("]"):
        return parse_formats_like(text, upper=False)
    return _dedupe(clean_text(part) for part in _LIST_SEPARATORS.split(text))


def _dedupe(items) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        if item and item not in seen:
            seen[item] = None
    return list(seen)


# --- formats -------------------------------------------------------------------------

_MIME_TO_FORMAT = {
    "text/csv": "CSV",
    "application/json": "JSON",
    "application/xml": "XML",
    "text/xml": "XML",
    "application/vnd.ms-excel": "XLS",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
    "application/pdf": "PDF",
    "application/zip": "ZIP",
    "text/html": "HTML",
    "application/rdf+xml": "RDF",
    "application/geo+json": "GEOJSON",
    "application/vnd.geo+json": "GEOJSON",
    "text/plain": "TXT",
}
_FORMAT_ALIASES = {
    "EXCEL": "XLS", "MICROSOFT EXCEL": "XLS", "MS EXCEL": "XLS", "JSONL": "JSON", "API": "API", "WEB SERVICE": "API",
    "接口": "API", "API接口": "API", "数据接口": "API", "服务接口": "API",
}  # fmt: skip
# Well-known format names. Only these are split on spaces ("csv json"), so a multi-word name
# ("ESRI Shapefile") stays whole; harvesters also trust them as a download URL's suffix.
KNOWN_FORMATS = {
    *_MIME_TO_FORMAT.values(), "XLS", "XLSX", "ODS", "TSV", "DOC", "DOCX", "SHP", "KML", "KMZ",
    "GML", "WMS", "WFS", "API", "PNG", "JPG", "RAR", "7Z", "GZ", "DBF", "MDB", "SQL", "PARQUET",
}  # fmt: skip


def normalize_format(value) -> str:
    """One format name: upper-case, no leading dot, MIME types and aliases mapped."""
    text = clean_text(value).strip("'\"[]. ")
    if not text:
        return ""
    lowered = text.lower()
    if lowered in _MIME_TO_FORMAT:
        return _MIME_TO_FORMAT[lowered]
    if "/" in lowered and lowered.split(";")[0] in _MIME_TO_FORMAT:
        return _MIME_TO_FORMAT[lowered.split(";")[0]]
    upper = text.upper()
    return _FORMAT_ALIASES.get(upper, upper)


def parse_formats_like(value, upper: bool = True) -> list[str]:
    """Parse "['xls']", "[xml,xls,csv,json]", "CSV、JSON", lists… into a clean list."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        parts = [str(v) for v in value if v is not None]
    else:
        text = re.sub(r";\s*charset=[\w-]+", "", clean_text(value), flags=re.I)
        if text.startswith("[") and text.endswith("]"):
            try:
                literal = ast.literal_eval(text)
                parts = [str(v) for v in literal] if isinstance(literal, list) else [text[1:-1]]
            except (ValueError, SyntaxError):
                parts = [text[1:-1]]
        else:
            parts = [text]
        parts = [p for part in parts for p in _FORMAT_SEPARATORS.split(part)]
    if upper:
        parts = [piece for part in parts for piece in _split_spaced_formats(part)]
    if upper:  # "csv/json" is two formats, "text/csv" is one
        parts = [
            piece
            for part in parts
            for piece in (
                [part] if part.strip().lower().split(";")[0] in _MIME_TO_FORMAT else part.split("/")
            )
        ]
    cleaned = (normalize_format(p) if upper else clean_text(p).strip("'\" ") for p in parts)
    return _dedupe(cleaned)


def _split_spaced_formats(part: str) -> list[str]:
    words = part.split()
    if len(words) > 1 and all(normalize_format(w) in KNOWN_FORMATS for w in words):
        return words
    return [part]


def parse_formats(value) -> list[str]:
    return parse_formats_like(value, upper=True)


# --- update frequency ----------------------------------------------------------------

_CN_DIGITS = {
    "一": 1, "两": 2, "二": 2, "双": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
    "九": 9,
}  # fmt: skip
_UNIT_DAYS = {
    "秒": 1 / 86400, "分": 1 / 1440, "分钟": 1 / 1440, "小时": 1 / 24, "时": 1 / 24,
    "日": 1, "天": 1, "周": 7, "星期": 7, "旬": 10, "月": 30, "个月": 30, "季": 91,
    "季度": 91, "年": 365, "年度": 365,
}  # fmt: skip
_EXACT_FREQUENCIES = {
    # Chinese words for no fixed rhythm.
    "不定期": "irregular", "不定时": "irregular", "按需": "irregular", "随时": "irregular",
    "按需更新": "irregular", "不定期更新": "irregular", "其他": "irregular", "其它": "irregular",
    "一次性": "irregular",
    "实时": "realtime", "实时更新": "realtime", "动态更新": "realtime",
    # English words and DCAT-US/EU vocabulary.
    "realtime": "realtime", "real-time": "realtime", "real time": "realtime",
    "continuous": "realtime", "continual": "realtime", "cont": "realtime",
    "update_cont": "realtime", "hourly": "realtime", "daily": "daily", "weekly": "weekly",
    "biweekly": "monthly", "semimonthly": "monthly", "semiweekly": "weekly", "monthly": "monthly",
    "bimonthly": "quarterly", "quarterly": "quarterly", "semiannual": "yearly",
    "annual": "yearly", "annually": "yearly", "yearly": "yearly", "biennial": "irregular",
    "triennial": "irregular", "irregular": "irregular", "irreg": "irregular",
    "as needed": "irregular", "never": "irregular", "other": "irregular",
    "unknown": "unknown", "": "unknown",
    # EU frequency authority codes that are not plain words (…/frequency/ANNUAL_2).
    "annual_2": "yearly", "annual_3": "yearly", "monthly_2": "monthly", "monthly_3": "monthly",
    "weekly_2": "weekly", "weekly_3": "weekly", "daily_2": "realtime", "12hrs": "realtime",
    "bihourly": "realtime", "trihourly": "realtime", "1min": "realtime", "5min": "realtime",
    "10min": "realtime", "15min": "realtime", "30min": "realtime", "quadrennial": "irregular",
    "quinquennial": "irregular", "decennial": "irregular", "bidecennial": "irregular",
    "tridecennial": "irregular", "as_needed": "irregular", "not_planned": "irregular",
    "op_datpro": "unknown",
}  # fmt: skip
_CN_PERIOD = re.compile(
    r"(?:每|按|每隔)?\s*([0-9]+|[一两二双三四五六七八九十]+|半)?\s*(个月|分钟|小时|星期|季度|年度|秒|分|时|日|天|周|旬|月|季|年)"
)
_ISO_PERIOD = re.compile(
    r"^(?:R\d*/)?P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$"
)


def _bucket(days: float) -> str:
    """Map an update period in days onto the enum (generous, to avoid false overdue alarms)."""
    if days < 1:
        return "realtime"
    if days <= 1:
        return "daily"
    if days <= 7:
        return "weekly"
    if days <= 31:
        return "monthly"
    if days <= 92:
        return "quarterly"
    if days <= 366:
        return "yearly"
    return "irregular"


def _cn_count(text: str | None) -> float:
    """The count before a unit: 3, 三, 十五, 二十四, 半; none means one."""
    if not text:
        return 1.0
    if text.isdigit():
        return float(text)
    if text == "半":
        return 0.5
    tens, _, units = text.rpartition("十")
    if "十" not in text:
        return float(_CN_DIGITS.get(units, 1))
    return float(_CN_DIGITS.get(tens, 1) * 10 + _CN_DIGITS.get(units, 0))


def _iso_period_days(text: str) -> float | None:
    match = _ISO_PERIOD.match(text.upper())
    if not match or not any(match.groups()):
        return None
    y, mo, w, d, h, mi, s = (float(g) if g else 0.0 for g in match.groups())
    return y * 365 + mo * 30 + w * 7 + d + h / 24 + mi / 1440 + s / 86400


def normalize_frequency(value) -> tuple[str, str]:
    """Return (enum value, raw text kept as given)."""
    raw = clean_text(value)
    text = to_simplified(raw).lower()
    if text.startswith("http") and "/" in text:  # EU authority URI …/frequency/DAILY
        text = text.rstrip("/").rsplit("/", 1)[-1]
    text = text.removesuffix("更新").strip() if text not in _EXACT_FREQUENCIES else text
    if text in _EXACT_FREQUENCIES:
        return _EXACT_FREQUENCIES[text], raw
    if raw in _EXACT_FREQUENCIES:
        return _EXACT_FREQUENCIES[raw], raw
    days = _iso_period_days(text)
    if days:
        return _bucket(days), raw
    match = _CN_PERIOD.search(text)
    if match:
        count_text, unit = match.groups()
        return _bucket(_cn_count(count_text) * _UNIT_DAYS[unit]), raw
    for word, enum in (("实时", "realtime"), ("不定", "irregular")):
        if word in text:
            return enum, raw
    return "unknown", raw


# --- open type -----------------------------------------------------------------------

# First match wins, so order matters: "不予开放" and "有条件开放" both contain "开放",
# "无条件" and "unconditional" contain "条件"/"conditional", "non-public" contains "public".
# Chinese words match as substrings; English ones as whole words ("reopen" is not "open").
_OPEN_TYPES = (
    ("not_open", ("不予开放", "不开放", "非开放", "未开放", "禁止开放", "不予公开", "不公开", "非公开",
                  "未公开"), r"non[-_ ]?public|not open|closed|private"),
    ("unconditional", ("无条件", "无需申请", "无限制"), r"unconditional"),
    ("on_request", ("依申请", "申请开放", "申请后", "需申请"), r"on request|upon request"),
    ("conditional", ("有条件", "条件", "受限", "限制"), r"restricted|conditional"),
    ("unconditional", ("完全开放", "普遍开放", "开放", "公开"), r"public|open"),
)  # fmt: skip
_OPEN_TYPE_PATTERNS = [
    (enum, words, re.compile(rf"\b(?:{english})\b")) for enum, words, english in _OPEN_TYPES
]


def normalize_open_type(value) -> tuple[str, str]:
    """Return (unconditional|conditional|on_request|not_open|unknown, raw text)."""
    raw = clean_text(value)
    text = to_simplified(raw).lower()
    if not text:
        return "unknown", raw
    for enum, words, english in _OPEN_TYPE_PATTERNS:
        if any(word in text for word in words) or english.search(text):
            return enum, raw
    return "unknown", raw


# --- dates ---------------------------------------------------------------------------

_CN_DATE = re.compile(
    r"^(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]*(\d{1,2})\s*[:时]\s*(\d{1,2})分?(?:\s*[:分]?\s*(\d{1,2})\s*秒?)?)?\s*$"
)
_CN_MONTH = re.compile(r"^(\d{4})\s*(?:年\s*(\d{1,2})\s*月份?|[/.\-]\s*(\d{1,2}))$")
_CN_YEAR = re.compile(r"^(\d{4})\s*年度?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_EPOCH_TEXT = re.compile(r"^\d{10}(?:\d{3})?(?:\.\d+)?$")  # epoch seconds or ms given as text
# dateutil fills missing parts from *today*; this year-1 default makes "2023-01" the 1st
# of the month and lets a date without a year be told apart (and refused).
_NO_YEAR = datetime(1, 1, 1)


def parse_datetime(value) -> datetime | None:
    """A datetime from the many ways catalogs write dates, or None when it is not one."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return to_naive_utc(value)
    if isinstance(value, date):
        return datetime.combine(value, time())
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds or seconds
        if 0 < seconds < 4e9:
            return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
        return None
    text = clean_text(value)
    if not text:
        return None
    if _EPOCH_TEXT.match(text):
        return parse_datetime(float(text))
    if match := _CN_DATE.match(text):
        parts = [int(p) if p else 0 for p in match.groups()]
        try:
            return datetime(*parts[:3], parts[3], parts[4], parts[5])
        except ValueError:
            return None
    if match := _CN_MONTH.match(text):
        year, month = int(match[1]), int(match[2] or match[3])
        return datetime(year, month, 1) if 1 <= month <= 12 else None
    if match := _CN_YEAR.match(text):
        return datetime(int(match[1]), 1, 1)
    if match := _COMPACT_DATE.match(text):
        try:
            return datetime(*(int(p) for p in match.groups()))
        except ValueError:
            return None
    try:
        return to_naive_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    try:
        parsed = dateutil_parser.parse(text, default=_NO_YEAR)
    except (ValueError, OverflowError, dateutil_parser.ParserError):
        return None
    return to_naive_utc(parsed) if parsed.year != 1 else None
