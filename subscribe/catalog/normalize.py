"""Turn the real world's messy catalog values into the internal model's enums and types.

Shared by every harvester: frequencies (每日, 季度, R/P1D, EU frequency URIs…), open
types (无条件开放…, DCAT-US accessLevel), format lists ("['xls']", "CSV、JSON"), dates
(2023年1月5日, 2019年3月, 2018-05, ISO 8601, intervals, epoch: kept with their precision and
raw text), language-tagged text (zh before zh-Hant before en) and free-text lists.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

import opencc
from dateutil import parser as dateutil_parser

from subscribe.digits import ascii_int
from subscribe.models_base import to_naive_utc

# Traditional-Chinese catalogs (Taiwan, Hong Kong) say 無條件開放, 每季: fold before matching.
_T2S = opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    return _T2S.convert(text) if text else ""


_WS = re.compile(r"\s+")
# BOMs and zero-width characters ride along in Excel/Windows exports and break matching;
# NUL bytes too, and PostgreSQL refuses them in text columns.
# Characters nobody sees (NUL, BOM, zero-width spaces and joiners): stored text loses them.
INVISIBLE = str.maketrans("", "", "\x00\ufeff\u200b\u200c\u200d\u2060")
_BLANK_WORDS = frozenset({"none", "null", "nan", "n/a", "-", "—", "无"})
BLANK_WORDS = _BLANK_WORDS  # cells that mean "no value" (clean_text makes them "")
_LIST_SEPARATORS = re.compile(r"[,，、;；|/\n]+")
_FORMAT_SEPARATORS = re.compile(r"[,，、;；|\n]+")  # "/" is handled apart: MIME types have one


def clean_text(value) -> str:
    """A trimmed single-spaced string; None and NaN-like blanks become ''."""
    if value is None:
        return ""
    if type(value) is str and value.isprintable():
        # The usual cell: no control, invisible or non-ASCII space character (those are
        # all "non-printable"), so only ASCII spaces can need trimming or collapsing.
        # Same result as below, several times faster on large exports.
        text = value.strip(" ")
        if text.lower() in _BLANK_WORDS:
            return ""
        return _WS.sub(" ", text) if "  " in text else text
    text = str(value).translate(INVISIBLE).strip()
    if text.lower() in _BLANK_WORDS:
        return ""
    return _WS.sub(" ", text)


def contact_text(name: str, email: str) -> str:
    """A contact point as the project writes it: "Name <e-mail>", either alone when only
    one is given ("" for neither); a ``mailto:`` before the e-mail dropped."""
    email = re.sub(r"^mailto:", "", email, flags=re.IGNORECASE).strip()
    if name and email and name != email:
        return f"{name} <{email}>"
    return name or email


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
    """One format name: upper-case, no leading dot, MIME types and aliases mapped;
    full-width letters folded (NFKC: ＣＳＶ is CSV, one facet entry)."""
    text = clean_text(value)
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    text = text.strip("'\"[]. ")
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
        if upper:
            parts = [p if p.isascii() else unicodedata.normalize("NFKC", p) for p in parts]
    else:
        if upper and isinstance(value, str) and not value.isascii():
            value = unicodedata.normalize("NFKC", value)  # ＣＳＶ，ＸＬＳＸ; ／ between them
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
    # Settlement-style "T+1": the data of day T is out the next day, i.e. a daily update.
    "t+1": "daily", "t+0": "daily", "t + 1": "daily", "t日+1": "daily",
    # English words and DCAT-US/EU vocabulary.
    "realtime": "realtime", "real-time": "realtime", "real time": "realtime",
    "continuous": "realtime", "continual": "realtime", "cont": "realtime",
    "update_cont": "realtime", "hourly": "realtime", "daily": "daily", "weekly": "weekly",
    "biweekly": "biweekly", "semimonthly": "biweekly", "fortnightly": "biweekly",
    "threetimesamonth": "biweekly", "semiweekly": "weekly", "threetimesaweek": "weekly",
    "monthly": "monthly", "bimonthly": "quarterly", "quarterly": "quarterly",
    "semiannual": "semiannual", "semiannually": "semiannual", "biannual": "semiannual",
    "biannually": "semiannual", "threetimesayear": "semiannual",
    "annual": "yearly", "annually": "yearly", "yearly": "yearly", "biennial": "biennial",
    "biennially": "biennial", "triennial": "irregular", "irregular": "irregular",
    "irreg": "irregular",
    "as needed": "irregular", "never": "irregular", "other": "irregular",
    "manual": "irregular",  # data.gov harvest sources: run by hand, on no schedule
    "unknown": "unknown", "": "unknown",
    # EU frequency authority codes that are not plain words (…/frequency/ANNUAL_2).
    # …_2 / …_3: twice / three times a year, month, week.
    "annual_2": "semiannual", "annual_3": "semiannual", "monthly_2": "biweekly",
    "monthly_3": "biweekly",
    "weekly_2": "weekly", "weekly_3": "weekly", "daily_2": "realtime", "12hrs": "realtime",
    "bihourly": "realtime", "trihourly": "realtime", "1min": "realtime", "5min": "realtime",
    "10min": "realtime", "15min": "realtime", "30min": "realtime", "quadrennial": "irregular",
    "quinquennial": "irregular", "decennial": "irregular", "bidecennial": "irregular",
    "tridecennial": "irregular", "as_needed": "irregular", "not_planned": "irregular",
    "op_datpro": "unknown",
}  # fmt: skip
# A unit not followed by 期/间/刻: 周期 (cycle), 日期 (date), 时间 (time), 时刻 name no period
# ("更新周期" is a column name, not 每周).
_CN_PERIOD = re.compile(
    r"(?:每|按|每隔)?\s*([0-9]+|[一两二双三四五六七八九十]+|半)?\s*(个月|分钟|小时|星期|季度|年度|秒|分|时|日|天|周|旬|月|季|年)(?![期间刻])"
)
# "每月两次", "2次/年", "一年四次": that many updates per period.
_CN_TIMES = re.compile(r"([0-9]+|[一两二三四五六七八九十]+)\s*次")
_EN_COUNTS = {"one": 1, "once": 1, "two": 2, "twice": 2, "three": 3, "four": 4, "six": 6,
              "other": 2, "a": 1, "an": 1}  # fmt: skip
_EN_UNIT_DAYS = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1, "week": 7, "fortnight": 14,
                 "month": 30, "quarter": 91, "year": 365}  # fmt: skip
_EN_UNITS = "minute|hour|day|week|fortnight|month|quarter|year"
# "every 2 weeks", "every other month", "twice a month", "4 times per year".
_EN_EVERY = re.compile(rf"\bevery\s+(\d+|{'|'.join(_EN_COUNTS)})?\s*({_EN_UNITS})s?\b")
_EN_TIMES = re.compile(
    rf"\b(\d+|{'|'.join(_EN_COUNTS)})\s*(?:times?\s*)?(?:a|an|per|each)\s+({_EN_UNITS})\b"
)
# "30 days", "3 months", "1 week": a period with no "every" before it.
_EN_COUNTED = re.compile(rf"^(\d+(?:\.\d+)?)\s*({_EN_UNITS})s?$")
# A bare number ("30", "1.5", "３０" once NFKC-folded): a count of the field's unit.
_BARE_NUMBER = re.compile(r"^[+]?\d+(?:\.\d+)?$")
# Days in the unit a bare number counts when its field names none: HDX's
# data_update_frequency (the one published convention of a numeric frequency) counts
# days, and so do the 更新周期 columns of Chinese exports whose headers name a unit at all
# (更新周期(天) far more than (月)), so one rule for every harvester.
DAY = 1.0
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
    if days <= 16:  # every two weeks, twice a month, 旬 (ten days)
        return "biweekly"
    if days <= 31:
        return "monthly"
    if days <= 92:
        return "quarterly"
    if days <= 184:
        return "semiannual"
    if days <= 366:
        return "yearly"
    if days <= 731:
        return "biennial"
    return "irregular"


def _cn_count(text: str | None) -> float:
    """The count before a unit: 3, 三, 十五, 二十四, 半; none means one."""
    if not text:
        return 1.0
    if (number := ascii_int(text)) is not None:
        return float(number)
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


def _english_period_days(text: str) -> float | None:
    """Days between updates of "every 2 weeks" / "every other month" / "twice a year"."""
    match = _EN_EVERY.search(text)
    if match:
        count = match.group(1) or "1"
        return _en_count(count) * _EN_UNIT_DAYS[match.group(2)]
    match = _EN_TIMES.search(text)
    if match and _en_count(match.group(1)) > 0:
        days = _EN_UNIT_DAYS[match.group(2)]
        return max(days / _en_count(match.group(1)), min(days, 1.0))
    match = _EN_COUNTED.match(text)
    if match:
        return float(match.group(1)) * _EN_UNIT_DAYS[match.group(2)]
    return None


def unit_days(word: str) -> float | None:
    """Days in one of the unit ``word`` names (天/日 1, 周/星期 7, 旬 10, 月/个月 30,
    季/季度 91, 年 365, 小时/时 1/24, 分钟 1/1440; English day(s), week(s), fortnight(s),
    month(s), quarter(s), year(s), hour(s), minute(s)), the unit a frequency column's
    header names ("更新周期(天)"); None when it names none of them."""
    text = to_simplified(unicodedata.normalize("NFKC", word or "")).strip().lower()
    if text in _UNIT_DAYS:
        return _UNIT_DAYS[text]
    return _EN_UNIT_DAYS.get(text.removesuffix("s"))


def is_bare_number(text: str) -> bool:
    """Whether ``text`` is a number alone ("30", "1.5", full-width "３０"), no unit."""
    return bool(_BARE_NUMBER.match(unicodedata.normalize("NFKC", text or "").strip()))


def _en_count(text: str) -> float:
    number = ascii_int(text)
    return float(number) if number is not None else float(_EN_COUNTS.get(text, 1))


def normalize_frequency(value, unit: float = DAY, rate: bool = False) -> tuple[str, str]:
    """Return (enum value, raw text kept as given).

    A bare number ("30", 90, "1.5") is a count of ``unit`` days (DAY unless the field
    names its unit: a header "更新周期(月)" gives 30, see unit_days), bucketed as any
    period is ("30" → monthly, "90" → quarterly, "365" → yearly); with ``rate`` it counts
    updates per ``unit`` days ("4" under 次/年: quarterly). Zero or less names no period
    ("unknown": a source's own codes, HDX's -1 "never", are its harvester's to read). A
    unit in the value itself ("30天", "每30天", "3个月", "30 days") wins."""
    raw = clean_text(value)
    text = to_simplified(raw).lower()
    if text.startswith("http") and "/" in text:  # EU authority URI …/frequency/DAILY
        text = text.rstrip("/").rsplit("/", 1)[-1]
    text = text.removesuffix("更新").strip() if text not in _EXACT_FREQUENCIES else text
    squeezed = re.sub(r"[\s_-]+", "", text)  # bi-weekly, semi annual, Three_Times_A_Year
    for key in (text, raw, squeezed):
        if key in _EXACT_FREQUENCIES:
            return _EXACT_FREQUENCIES[key], raw
    if _BARE_NUMBER.match(number := unicodedata.normalize("NFKC", text).strip()):
        count = float(number)
        if count <= 0:
            return "unknown", raw
        return _bucket(max(unit / count, min(unit, 1.0)) if rate else count * unit), raw
    days = _iso_period_days(text) or _english_period_days(text)
    if days:
        return _bucket(days), raw
    match = _CN_PERIOD.search(text)
    if match:
        count_text, unit = match.groups()
        days = _cn_count(count_text) * _UNIT_DAYS[unit]
        times = _CN_TIMES.search(text)  # 每月两次: twice a month, every ~15 days
        if times and _cn_count(times.group(1)) > 0:
            # Several times a day is still daily (not real time).
            days = max(days / _cn_count(times.group(1)), min(days, 1.0))
        return _bucket(days), raw
    for word, enum in (("实时", "realtime"), ("不定", "irregular")):
        if word in text:
            return enum, raw
    return "unknown", raw


# --- open type -----------------------------------------------------------------------

# First match wins, so order matters: "不予开放" and "有条件开放" both contain "开放",
# "部分开放" (partially open), "半开放" (semi-open), "定向开放" (to named users) and
# "授权开放" (by authorisation) are conditional, not open,
# "无条件" and "unconditional" contain "条件"/"conditional", "non-public" contains "public".
# Chinese words match as substrings; English ones as whole words ("reopen" is not "open").
_OPEN_TYPES = (
    ("not_open", ("不予开放", "不开放", "非开放", "未开放", "禁止开放", "不予公开", "不公开", "非公开",
                  "未公开"), r"non[-_ ]?public|not open|closed|private"),
    ("unconditional", ("无条件", "无需申请", "无限制", "无需授权", "免授权"), r"unconditional"),
    ("on_request", ("依申请", "申请开放", "申请后", "需申请"), r"on request|upon request"),
    ("conditional", ("有条件", "条件", "受限", "限制", "部分", "半开放", "半公开", "定向", "授权"),
     r"restricted|conditional|partial(?:ly)?|semi[-_ ]?(?:open|public)|limited"),
    ("unconditional", ("完全开放", "普遍开放", "开放", "公开"), r"public|open"),
)  # fmt: skip
_OPEN_TYPE_PATTERNS = [
    (enum, words, re.compile(rf"\b(?:{english})\b")) for enum, words, english in _OPEN_TYPES
]


# Words that make "开放…" a column name (开放属性, 开放类型, 公开方式), not a value.
_OPEN_LABELS = ("属性", "类型", "类别", "状态", "方式", "级别", "等级", "程度")


def normalize_open_type(value) -> tuple[str, str]:
    """Return (unconditional|conditional|on_request|not_open|unknown, raw text)."""
    raw = clean_text(value)
    text = to_simplified(raw).lower()
    if not text:
        return "unknown", raw
    for index, (enum, words, english) in enumerate(_OPEN_TYPE_PATTERNS):
        if any(word in text for word in words) or english.search(text):
            generic = index == len(_OPEN_TYPE_PATTERNS) - 1  # only the bare 开放/公开/open
            if generic and any(label in text for label in _OPEN_LABELS):
                return "unknown", raw
            return enum, raw
    return "unknown", raw


# --- dates ---------------------------------------------------------------------------
#
# Catalogs write dates at the precision they know: "2019", "2018-05", "2019年3月5日",
# "2018-08-09T17:49:15.225557". A date keeps that precision and its raw text; its
# comparable instant (`value`, used to sort and filter) is the START of the period, in
# naive UTC. No day or month is ever made up: "2018-05" is May 2018, not 1 May 2018, and
# lateness is judged from the END of the period (`PartialDate.end`).

PRECISIONS = ("year", "half", "quarter", "month", "week", "day", "datetime")
PERIOD_MONTHS = {"half": 6, "quarter": 3, "month": 1}  # periods shorter than a year

_FULL_DATE = re.compile(
    r"^(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*[日号]?"
    r"(?:[\sT]*(\d{1,2})\s*[:时]\s*(\d{1,2})分?(?:\s*[:分]?\s*(\d{1,2})\s*秒?)?)?\s*$"
)
# The usual export date, "2019-03-05" or "2019-03-05 10:30:00" (ASCII digits, nothing
# around it): normalize_date reads it without the general path's folding and regexes.
_PLAIN_ISO = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})(?:[ T]([0-9]{2}):([0-9]{2}):([0-9]{2}))?"
)
_DATE_ZONE = re.compile(r"(?<=^\d{4}-\d{2}-\d{2})(?:Z|[+-]\d{2}:?\d{2})$")
# ISO 8601 with a time: zones "Z", "+08:00", "+0000", fractions of a second.
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?$", re.I
)
_YEAR_MONTH = re.compile(r"^(\d{4})\s*(?:年\s*(\d{1,2})\s*月份?|[/.\-]\s*(\d{1,2}))$")
_YEAR = re.compile(r"^(\d{4})\s*(?:年度?)?$")
# Statistics and catalog exports date by quarter and half-year: 2019年第三季度, 2019年3季度,
# 2019年一季度, 2019-Q3, 2019Q3, Q3 2019; 2019年上半年, 2019年度下半年, 2019-H1, H2 2019.
_QUARTER = re.compile(
    r"^(\d{4})\s*(?:年度?\s*(?:第\s*)?([1-4一二三四])\s*季度?|(?:年|[\s/.\-])*Q\s*([1-4]))$", re.I
)
_QUARTER_FIRST = re.compile(r"^Q\s*([1-4])[\s/\-,]*(\d{4})$", re.I)
_HALF = re.compile(r"^(\d{4})\s*(?:年度?\s*([上下])半年度?|(?:年|[\s/.\-])*H\s*([12]))$", re.I)
_HALF_FIRST = re.compile(r"^H\s*([12])[\s/\-,]*(\d{4})$", re.I)
_PERIOD_NUMBER = {char: n for digits in ("1234", "一二三四") for n, char in enumerate(digits, 1)}
_PERIOD_NUMBER.update({"上": 1, "下": 2})
# ISO 8601 week dates (2020-W05, 2020W05: the week, Monday to Sunday; 2020-W05-3,
# 2020W053: that weekday, a day) and the Chinese 2020年第5周 / 2020年第五周 (a week).
# The ISO week-numbering year: 2020-W01 starts on Monday 2019-12-30.
_ISO_WEEK = re.compile(r"^(\d{4})-?W(\d{2})(?:-?([1-7]))?$", re.I)
_CN_WEEK = re.compile(r"^(\d{4})\s*年\s*第\s*(\d{1,2})\s*周$")
_COMPACT_DAY = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_COMPACT_MONTH = re.compile(r"^(\d{4})(\d{2})$")
_EPOCH_TEXT = re.compile(r"^\d{10}(?:\d{3})?(?:\.\d+)?$")  # epoch seconds or ms given as text
# Two dates of an interval ("1899-2017", "7/1/1997 - 06/30/2019", "2019年1月至2019年6月").
_YEAR_RANGE = re.compile(r"^(\d{4})\s*年?\s*[-–—~/]\s*(\d{4})\s*年?$")  # also 2019/2020
_RANGE_SEPARATOR = re.compile(r"\s+[-–—]\s+|\s*[~～至到]\s*|\s*[–—]\s*")
_SCHEDULE = re.compile(r"^(?:R\d*/|P(?:\d|T\d))", re.I)  # ISO 8601 repeat rule or duration
# Taiwan's official calendar counts years from 1912 (民國元年): 民國108年6月1日, 108/06/01,
# 108年6月, 1080601 are 2019. A year written with three digits (100-199: 2011-2110) or
# after 民國 is such a year; no catalog date has a three-digit Gregorian year.
_ROC_NAMED = re.compile(r"^(?:中華|中华)?民[國国]\s*(\d{1,3})\s*年")
_ROC_YEAR = re.compile(r"^(1\d{2})(?=\s*[年/.\-])")
_ROC_COMPACT = re.compile(r"^(1\d{2})(\d{2})(\d{2})$")
ROC_YEAR_OFFSET = 1911
# Formal Chinese documents write dates in Chinese numerals: 二〇一九年三月五日, 二零一九年十二月.
# The year is written digit by digit, months and days with 十 (十二 = 12, 二十一 = 21).
_CN_NUMERAL_YEAR = re.compile(r"([〇零○一二三四五六七八九]{4})(?=\s*年)")
_CN_NUMERAL_MONTH_DAY = re.compile(r"(?<=[年月])\s*([一二三四五六七八九十]{1,3})(?=\s*[月日号])")
# 第五周, 第二十三周: a week number in numerals.
_CN_NUMERAL_WEEK = re.compile(r"(?<=第)\s*([一二三四五六七八九十]{1,3})(?=\s*周)")
_CN_DIGIT = {char: str(n) for n, char in enumerate("〇一二三四五六七八九")} | {"零": "0", "○": "0"}
# A part of a month or year: 2019年5月上旬, 2019年3月底, 2019年末. The date keeps the
# month's (or year's) precision: the period holds the part, and no day is made up.
_PART_OF_PERIOD = re.compile(r"(?<=[年月])\s*(?:上旬|中旬|下旬|初|中|末|底)$")
_YEARS = range(1000, 3000)  # outside this a "date" is a code, a count or a typo
# What a catalog writes in a date field to say it has no date: punctuation alone ("-",
# "/", "—", "--", "…") or one of these words (compared lower-cased, NFKC-folded, in
# simplified Chinese). Kept as the raw text (a user sees what the source said), never read.
_PLACEHOLDER_WORDS = frozenset({
    *_BLANK_WORDS, "na", "n.a.", "nil", "unknown", "tbd", "tba", "not available",
    "not applicable", "暂无", "不详", "未知", "待定", "待更新", "空", "无数据", "缺失", "未填写",
    "未填", "无日期", "不适用", "略",
})  # fmt: skip
_ONLY_PUNCTUATION = re.compile(r"^[\W_]+$")
# A system's "no date" written as a date: Excel's and many databases' 1900-01-01, the
# Unix epoch 1970-01-01, .NET/Java's 0001-01-01, the end of time 9999-12-31 (midnight
# at most, in any zone spelling). healthdata.gov's data.json has "modified": "1900-01-01".
_SENTINEL_DATE = re.compile(
    r"^(?:(?:1900|1970|0001)[-/.]0?1[-/.]0?1|(?:1900|1970)年0?1月0?1日|9999[-/.]12[-/.]31)"
    r"(?:[ T]0?0:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?)?$"
)
# A weekday beside a date ("2024-3-1 星期五", "2024年3月1日（周五）"): no part of the date.
_WEEKDAY = re.compile(r"[\s,，]*[(（]?(?:星期|周|礼拜)[一二三四五六日天][)）]?[\s,，]*")
# A date after the harvest by more than this is no update the source can have made:
# set aside (raw text kept). A day covers every time zone's "today" (UTC-12 to UTC+14).
FUTURE_TOLERANCE = timedelta(days=1)
# dateutil fills the parts a text lacks from a default: parsing with two different
# defaults shows which parts were missing, i.e. the precision (and a missing year).
_DEFAULT_A = datetime(1, 1, 1, 0, 0, 0)
_DEFAULT_B = datetime(2, 2, 2, 1, 1, 1)


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A catalog date as written: its comparable instant, its precision, its raw text.

    value: the start of the period in naive UTC ("2019" → 2019-01-01 00:00, "2019-Q3" →
        2019-07-01 00:00), or None when the text is no date (a repeat rule such as "R/P1D",
        junk); the raw text is kept.
    precision: "year" | "half" | "quarter" | "month" | "week" | "day" | "datetime"
        (PRECISIONS), or "" without a value.
    raw: the text as the catalog gave it (trimmed), "" when there was none.
    """

    value: datetime | None = None
    precision: str = ""
    raw: str = ""

    @property
    def end(self) -> datetime | None:
        """The exclusive end of the period (2019 → 2020-01-01); the instant itself for a
        full datetime. Freshness uses this: a dataset "modified 2019" may have been
        updated on 2019-12-31, so it must not count as late from 2019-01-01."""
        return period_end(self.value, self.precision)


NO_DATE = PartialDate()


def period_end(value: datetime | None, precision: str | None) -> datetime | None:
    """The exclusive end of the period that `value` starts at `precision` (see PartialDate)."""
    if value is None:
        return None
    if precision == "year":
        return value.replace(year=value.year + 1, month=1, day=1)
    months = PERIOD_MONTHS.get(precision)
    if months:
        month = value.month - 1 + months
        return value.replace(year=value.year + month // 12, month=month % 12 + 1, day=1)
    if precision == "week":
        return value + timedelta(days=7)
    if precision == "day":
        return value + timedelta(days=1)
    return value


def _made(precision: str, raw: str, *parts: int) -> PartialDate | None:
    try:
        value = datetime(*parts)
    except ValueError:  # 2019-02-30, month 13
        return None
    return PartialDate(value, precision, raw) if value.year in _YEARS else None


def _from_datetime(value: datetime, raw: str) -> PartialDate | None:
    value = to_naive_utc(value)  # an offset is converted; a naive time is taken as UTC
    return PartialDate(value, "datetime", raw) if value.year in _YEARS else None


def _one_date(text: str, raw: str) -> PartialDate | None:
    """One date (not an interval) from text already NFKC-folded; None when it is none."""
    text = _DATE_ZONE.sub("", text)  # xsd:date "2019-03-05+08:00" is still that calendar day
    if text[:1] in "民中1":  # a Republic of China (Taiwan) year: its Gregorian form
        text = _gregorian_year(text)
    if "年" in text:
        text = _PART_OF_PERIOD.sub("", _arabic_numerals(text))
    if match := _FULL_DATE.match(text):
        year, month, day, hour, minute, second = match.groups()
        if hour is None:
            return _made("day", raw, int(year), int(month), int(day))
        return _made("datetime", raw, *(int(p) for p in match.groups() if p is not None))
    if match := _YEAR_MONTH.match(text):
        return _made("month", raw, int(match[1]), int(match[2] or match[3]), 1)
    if match := _YEAR.match(text):
        return _made("year", raw, int(match[1]), 1, 1)
    if found := _quarter_or_half(text, raw):
        return found
    if (found := _week(text, raw)) is not None:
        return found
    if match := _COMPACT_DAY.match(text):
        return _made("day", raw, *(int(p) for p in match.groups()))
    if match := _COMPACT_MONTH.match(text):
        return _made("month", raw, int(match[1]), int(match[2]), 1)
    if _EPOCH_TEXT.match(text):
        return _epoch(float(text), raw)
    if not _ISO_DATETIME.match(text):  # fromisoformat alone takes "2019-12-15/2019"
        return None
    try:
        return _from_datetime(datetime.fromisoformat(text.replace("Z", "+00:00")), raw)
    except ValueError:
        return None


def _quarter_or_half(text: str, raw: str) -> PartialDate | None:
    """2019年第三季度 / 2019-Q3 / Q3 2019 (from 2019-07-01, precision "quarter") and
    2019年上半年 / 2019-H1 / H1 2019 (from 2019-01-01, precision "half"); else None."""
    if match := _QUARTER.match(text):
        year, number = match[1], match[2] or match[3]
    elif match := _QUARTER_FIRST.match(text):
        number, year = match.groups()
    else:
        number = None
    if number is not None:
        return _made("quarter", raw, int(year), 3 * _PERIOD_NUMBER[number] - 2, 1)
    if match := _HALF.match(text):
        year, number = match[1], match[2] or match[3]
    elif match := _HALF_FIRST.match(text):
        number, year = match.groups()
    else:
        return None
    return _made("half", raw, int(year), 6 * _PERIOD_NUMBER[number] - 5, 1)


def _week(text: str, raw: str) -> PartialDate | None:
    """2020-W05 / 2020W05 / 2020年第5周 (from Monday 2020-01-27, precision "week");
    2020-W05-3 / 2020W053 (Wednesday 2020-01-29, a day); None when the text is no week
    date or names a week its year lacks (2021-W53)."""
    if match := _ISO_WEEK.match(text):
        year, week, weekday = match.groups()
    elif match := _CN_WEEK.match(text):
        (year, week), weekday = match.groups(), None
    else:
        return None
    try:
        day = date.fromisocalendar(int(year), int(week), int(weekday or 1))
    except ValueError:  # week 0, week 53 of a 52-week year
        return PartialDate(raw=raw)
    return _made("day" if weekday else "week", raw, day.year, day.month, day.day)


def _arabic_numerals(text: str) -> str:
    """二〇一九年三月五日 → 2019年3月5日, 第五周 → 第5周 (see _CN_NUMERAL_YEAR); other text
    as it is."""
    text = _CN_NUMERAL_YEAR.sub(lambda m: "".join(_CN_DIGIT[c] for c in m[1]), text)
    text = _CN_NUMERAL_MONTH_DAY.sub(lambda m: str(_cn_number(m[1]) or m[1]), text)
    return _CN_NUMERAL_WEEK.sub(lambda m: str(_cn_number(m[1]) or m[1]), text)  # 第五周


def _cn_number(text: str) -> int | None:
    """1-99 written in Chinese numerals (五, 十, 十二, 二十, 三十一); else None."""
    tens, ten, ones = text.rpartition("十")
    if not ten:
        return int(_CN_DIGIT[text]) if len(text) == 1 else None
    if len(tens) > 1 or len(ones) > 1:
        return None
    return 10 * int(_CN_DIGIT.get(tens, "1")) + int(_CN_DIGIT.get(ones, "0"))


def _gregorian_year(text: str) -> str:
    """`text` with a Republic of China year (民國108年…, 108/06/01, 1080601) written as
    its Gregorian year (2019年…, 2019/06/01, 20190601); other text as it is."""
    if match := _ROC_NAMED.match(text):
        return f"{int(match[1]) + ROC_YEAR_OFFSET}年{text[match.end() :]}"
    if match := _ROC_YEAR.match(text):
        return f"{int(match[1]) + ROC_YEAR_OFFSET}{text[match.end() :]}"
    if match := _ROC_COMPACT.match(text):
        return f"{int(match[1]) + ROC_YEAR_OFFSET}{match[2]}{match[3]}"
    return text


def _free_form(text: str, raw: str) -> PartialDate | None:
    """English and other free forms ("March 2019", "5 Mar 2019 10:00 GMT") via dateutil."""
    try:
        a = dateutil_parser.parse(text, default=_DEFAULT_A)
        b = dateutil_parser.parse(text, default=_DEFAULT_B)
        a.utcoffset()  # an offset of a day or more ("+3000") is no zone
    except (ValueError, OverflowError, dateutil_parser.ParserError):
        return None
    if a.year != b.year:  # no year given: "March 5" is no date of a catalog
        return None
    if a.month != b.month:
        return _made("year", raw, a.year, 1, 1)
    if a.day != b.day:
        return _made("month", raw, a.year, a.month, 1)
    if (a.hour, a.minute) != (b.hour, b.minute):
        return _made("day", raw, a.year, a.month, a.day)
    return _from_datetime(a, raw)


def _epoch(seconds: float, raw: str) -> PartialDate | None:
    seconds = seconds / 1000 if seconds > 1e11 else seconds  # epoch milliseconds or seconds
    if not 0 < seconds < 4e9:
        return None
    return PartialDate(datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None), "datetime", raw)


def _number(value: float) -> PartialDate:
    """A number in a date field: a year (2019), a compact date (20190305, 201903) or epoch
    seconds/milliseconds. Small numbers are no epoch (1970 is no catalog date); Excel
    day serials are the spreadsheet reader's to convert, it knows the cell is a date."""
    raw = clean_text(int(value) if float(value).is_integer() else value)
    if float(value).is_integer() and (
        _YEAR.match(raw) or _COMPACT_DAY.match(raw) or _COMPACT_MONTH.match(raw)
    ):
        return _one_date(raw, raw) or PartialDate(raw=raw)
    if value < 1e8:
        return PartialDate(raw=raw)
    return _epoch(float(value), raw) or PartialDate(raw=raw)


def _interval_parts(text: str) -> list[str]:
    """The two ends of an interval, or [] when the text is not one.

    ISO 8601 writes "start/end" (either side may be a duration, which is no date);
    catalogs also write "1899-2017", "7/1/1997 - 06/30/2019", "2019年1月至2019年6月".
    """
    if match := _YEAR_RANGE.match(text):
        return [match[1], match[2]]
    if text.count("/") == 1 and "-" in text:  # ISO: 2019-01-01/2019-12-31, 2019-01-01/P1Y
        return text.split("/")
    parts = _RANGE_SEPARATOR.split(text)
    return parts if len(parts) == 2 else []


def normalize_date(value, *, latest: bool = False) -> PartialDate:
    """A catalog date with its precision and raw text; NO_DATE-like (value None) if none.

    Reads ISO 8601 (with zones, fractions, "+0000"), "2019-03", "2019", "2019/3/5",
    "2019年3月5日", "2019年3月", "201903", quarters and half-years ("2019年第三季度",
    "2019-Q3", "2019年上半年", "2019-H1"), 20190305-style compact dates, epoch seconds or
    milliseconds (numbers or text), datetime/date objects, English free forms and
    Taiwan's 民國 years (民國108年6月1日, 108/06/01, 1080601: 2019-06-01), Chinese
    numerals (二〇一九年三月五日) and parts of a month or year (2019年5月上旬, 2019年末:
    the month's or year's precision), ISO week dates and 2020年第5周 (precision "week",
    from its Monday; 2020-W05-3 is that day). A placeholder ("n/a", "-", "暂无":
    is_placeholder) is no date, its raw text kept. A
    repeat rule or a duration ("R/P1D", "P1Y": an update frequency in the wrong field)
    is no date: value None, raw kept. An interval gives one of its ends: the later with
    `latest` (for `modified`, so a dataset never looks older than it claims), else the
    earlier (for `issued`). Never raises.
    """
    if value is None or isinstance(value, bool):
        return NO_DATE
    if isinstance(value, datetime):
        return _from_datetime(value, value.isoformat()) or NO_DATE
    if isinstance(value, date):
        return _made("day", value.isoformat(), value.year, value.month, value.day) or NO_DATE
    if isinstance(value, int | float):
        return _number(value)
    if (
        type(value) is str
        and (match := _PLAIN_ISO.fullmatch(value))
        and not _SENTINEL_DATE.match(value)
    ):
        # What the general path gives this text (its raw text is the value itself); an
        # impossible date (2019-02-30) goes on to it.
        year, month, day, hour, minute, second = match.groups()
        if hour is None:
            found = _made("day", value, int(year), int(month), int(day))
        else:
            found = _made("datetime", value, int(year), int(month), int(day), int(hour),
                          int(minute), int(second))  # fmt: skip
        if found is not None:
            return found
    raw = _WS.sub(" ", str(value).translate(INVISIBLE).strip())  # not clean_text: "n/a" stays
    if not raw:
        return NO_DATE
    text = unicodedata.normalize("NFKC", raw)  # full-width digits: ２０１９年３月
    if is_placeholder(text):
        return PartialDate(raw=raw)  # "n/a", "暂无", "-": the source says it has no date
    if is_schedule(text):
        return PartialDate(raw=raw)  # a schedule or a duration, not a date
    if ("星期" in text or "周" in text or "礼拜" in text) and _WEEKDAY.search(text):
        text = _WEEKDAY.sub(" ", text).strip()
    found = _one_date(text, raw)
    if found is None:
        ends = [
            _one_date(p.strip(), raw) or _free_form(p.strip(), raw) for p in _interval_parts(text)
        ]
        ends = [end for end in ends if end is not None]
        if ends:
            found = max(ends, key=_end_key) if latest else min(ends, key=lambda d: d.value)
    return found or _free_form(text, raw) or PartialDate(raw=raw)


def is_placeholder(text: str) -> bool:
    """A date field's way of saying "no date": punctuation alone ("-", "/", "—"), a word
    such as n/a, null, 无, 暂无, 不详, 未知 (_PLACEHOLDER_WORDS), or a system's sentinel
    date (1900-01-01, 1970-01-01, 0001-01-01, 9999-12-31: _SENTINEL_DATE)."""
    text = unicodedata.normalize("NFKC", text or "").strip()
    if not text:
        return False
    return (
        bool(_ONLY_PUNCTUATION.match(text))
        or to_simplified(text.lower()) in _PLACEHOLDER_WORDS
        or bool(_SENTINEL_DATE.match(text))
    )


def credible(found: PartialDate, now: datetime) -> PartialDate:
    """`found`, or only its raw text when its period starts more than FUTURE_TOLERANCE
    after `now` (naive UTC, the harvest's time): a source cannot have updated or issued
    a dataset in the future (a typo, 2091 for 2019, or a planned date in the wrong field),
    and such a date would make a dataset look fresh, and never overdue, for years."""
    if found.value is not None and found.value > now + FUTURE_TOLERANCE:
        return PartialDate(raw=found.raw)
    return found


# Why a date field with a raw text has no date (date_note), the API's and the harvest
# report's codes.
DATE_NOTES = ("placeholder", "schedule", "future", "unreadable")


def date_note(raw: str, value: datetime | None, latest: bool = False) -> str:
    """Why `raw` gave no date: "placeholder" (n/a, 暂无, -), "schedule" (R/P1D: a
    frequency), "future" (it reads as a date, so it was set aside as one after the
    harvest: see credible) or "unreadable"; "" when there is a `value` or no raw text.
    `latest`: read as `modified` (an interval's later end). A reading only a spreadsheet
    reader makes (an Excel serial) counts as unreadable."""
    if value is not None or not raw:
        return ""
    if is_placeholder(raw):
        return "placeholder"
    if is_schedule(raw):
        return "schedule"
    if normalize_date(raw, latest=latest).value is not None:
        return "future"
    return "unreadable"


def is_schedule(text: str) -> bool:
    """An ISO 8601 repeat rule or duration ("R/P1D", "P1M"): an update rhythm, no date."""
    return bool(_SCHEDULE.match(unicodedata.normalize("NFKC", text or "").strip()))


def _end_key(found: PartialDate) -> datetime:
    return found.end or datetime.min


def parse_datetime(value) -> datetime | None:
    """Only the comparable instant of normalize_date (start of the period), or None."""
    return normalize_date(value).value


# Suffixes of web pages rather than files (dcat_us: a distribution's format "HTML").
PAGE_SUFFIXES = {"htm", "html", "shtml", "xhtml", "asp", "aspx", "php", "jsp", "jspx", "cfm",
                 "do", "action"}  # fmt: skip
_SUFFIX = re.compile(r"[a-z0-9]{1,7}")  # up to "geojson", "parquet"


def url_suffix_format(url: str) -> str:
    """The format a URL's file suffix names: "HTML" for a web page's (.html, .jsp, .do …),
    the normalised format otherwise (CSV for .csv), "" when its last path segment has no
    suffix (or one that is no format: digits, over 7 characters)."""
    last = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    if "." not in last:
        return ""
    suffix = last.rsplit(".", 1)[1].lower()
    if not _SUFFIX.fullmatch(suffix) or suffix.isdigit():
        return ""
    return "HTML" if suffix in PAGE_SUFFIXES else normalize_format(suffix)
