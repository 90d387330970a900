"""Chinese column formats detected by validation, the way csv-detective does it.

A format is a value test, the share of a column's values that must pass, and header
words that raise confidence (score = share × (1 + 0.5 if a header word matches)). A
format with `needs_label` is only considered when a header word matches (amounts: any
number could be money). Identifiers are validated, not pattern-matched: check digits
(python-stdnum `cn.uscc`, `cn.ric`) and GB/T 2260 codes (python-stdnum's own copy of
the division table, `numdb` "cn/loc"), so random 18-character strings are no 信用代码.

Personal identifiers (身份证号, phone numbers) are masked wherever values are shown:
`mask()` keeps the head and the last four digits and stars the rest.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from stdnum import numdb
from stdnum.cn import ric, uscc

from subscribe.catalog.normalize import normalize_date

SAMPLE_VALUES = 1000  # distinct non-empty values tested per column
PROBE = 50  # values looked at before testing the whole sample


@dataclass(frozen=True)
class Format:
    name: str  # stable code: cn_admin_code …
    zh: str
    en: str
    test: Callable[[str], bool]
    labels: tuple[str, ...]  # header words (lower case, no spaces)
    proportion: float = 0.9  # share of tested values that must pass
    needs_label: bool = False
    personal: bool = False  # masked in previews and profiles
    key: bool = False  # a join key across datasets
    type: str = "string"  # Table Schema type of such a column


_USCC = re.compile(r"[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}")
_RIC = re.compile(r"\d{17}[\dX]")
_ADMIN = re.compile(r"\d{6}(?:\d{6})?")  # county code, or the 12-digit statistical form
_MOBILE = re.compile(r"(?:\+?86)?1[3-9]\d{9}")
_LANDLINE = re.compile(r"\(?0\d{2,3}\)?-?\d{7,8}(?:(?:-|转|ext\.?)\d{1,6})?")
_DATE_SHAPE = re.compile(r"\d{4}\s*[-/.年]\s*\d{1,2}(?:\s*[-/.月]\s*\d{1,2}\s*日?)?.{0,20}")
_AMOUNT = re.compile(r"[-+]?[¥￥]?\s*(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?\s*(?:元|万元|亿元|千元)?")
_PHONE_NOISE = str.maketrans("", "", " -")


def _nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def is_uscc(value: str) -> bool:
    value = value.strip().upper()
    return bool(_USCC.fullmatch(value)) and uscc.is_valid(value)


def is_ric(value: str) -> bool:
    value = value.strip().upper()
    return bool(_RIC.fullmatch(value)) and ric.is_valid(value)


@lru_cache(maxsize=8192)
def _division(code: str) -> bool:
    parts = numdb.get("cn/loc").info(code)
    found = {k for _part, props in parts for k in props}
    return "province" in found and "county" in found


def is_admin_code(value: str) -> bool:
    """A GB/T 2260 code: province, prefecture or county (historical ones count, as in
    python-stdnum's table); the 12-digit statistical form by its first six digits."""
    value = value.strip()
    return bool(_ADMIN.fullmatch(value)) and _division(value[:6])


def is_mobile(value: str) -> bool:
    return bool(_MOBILE.fullmatch(_nfkc(value).translate(_PHONE_NOISE)))


def is_phone(value: str) -> bool:
    """A landline with area code (0551-62345678, (010)12345678, extension allowed) or a mobile."""
    text = _nfkc(value)
    return is_mobile(text) or bool(_LANDLINE.fullmatch(text.replace(" ", "")))


def is_cn_date(value: str) -> bool:
    """2023-05-01, 2023/5/1, 2023.05, 2023年5月1日 (with or without a time)."""
    text = _nfkc(value)
    if not _DATE_SHAPE.fullmatch(text):
        return False
    found = normalize_date(text)
    return found.value is not None and found.precision in ("month", "day", "datetime")


def is_amount(value: str) -> bool:
    return bool(_AMOUNT.fullmatch(_nfkc(value)))


def has_amount_marks(value: str) -> bool:
    text = _nfkc(value)
    return any(mark in text for mark in ("元", "¥", ",")) and is_amount(text)


FORMATS: tuple[Format, ...] = (  # order breaks ties: the more specific first
    Format("cn_id_card", "身份证号", "resident ID number", is_ric,
           ("身份证", "证件号", "公民身份号码", "idcard", "id_card", "idnumber"), personal=True),
    Format("cn_uscc", "统一社会信用代码", "unified social credit code", is_uscc,
           ("统一社会信用代码", "社会信用代码", "信用代码", "纳税人识别号", "uscc", "creditcode"),
           key=True),
    Format("cn_admin_code", "行政区划代码", "administrative division code (GB/T 2260)",
           is_admin_code,
           ("行政区划代码", "区划代码", "行政区划", "区划编码", "行政区代码", "行政代码", "地区代码",
            "区域代码", "区县代码", "adcode", "divisioncode", "admincode", "regioncode"),
           key=True),
    Format("cn_mobile", "手机号码", "mobile phone number", is_mobile,
           ("手机", "移动电话", "联系电话", "电话", "联系方式", "mobile", "phone"), personal=True),
    Format("cn_phone", "电话号码", "phone number", is_phone,
           ("电话", "联系方式", "座机", "固话", "热线", "phone", "tel"), personal=True),
    Format("cn_date", "日期", "date", is_cn_date,
           ("日期", "时间", "年月", "date", "time"), type="date"),
    Format("cn_amount", "金额", "amount of money", is_amount,
           ("金额", "资金", "费用", "价格", "价款", "预算", "投资", "收入", "支出", "元)", "元）",
            "amount", "price"), needs_label=True, type="number"),
)  # fmt: skip
BY_NAME = {f.name: f for f in FORMATS}
PERSONAL = frozenset(f.name for f in FORMATS if f.personal)
KEYS = frozenset(f.name for f in FORMATS if f.key)
_POSTAL_WORDS = ("邮编", "邮政", "postcode", "zip")


def _header_words(header: str) -> str:
    return re.sub(r"\s+", "", _nfkc(header).lower())


def label_matches(fmt: Format, header: str) -> bool:
    words = _header_words(header)
    return any(label in words for label in fmt.labels)


@dataclass(frozen=True)
class Detection:
    format: str
    share: float  # of tested distinct values
    tested: int
    label: bool
    score: float


def detect(header: str, values: Iterable[str]) -> Detection | None:
    """The best format for a column, from its distinct non-empty values; None if none."""
    sample = [v for v in values if v][:SAMPLE_VALUES]
    if not sample:
        return None
    header_text = _header_words(header)
    best: Detection | None = None
    for fmt in FORMATS:
        label = label_matches(fmt, header)
        if fmt.needs_label and not label:
            continue
        if fmt.name == "cn_admin_code" and any(w in header_text for w in _POSTAL_WORDS):
            continue  # 510000 is a postcode there, not 四川省
        if fmt.name == "cn_amount" and not label:
            continue
        # A quick look at the first values first: most formats fail at once there.
        head = sample[:PROBE]
        if sum(1 for v in head if fmt.test(v)) < (fmt.proportion - 0.2) * len(head):
            continue
        passed = sum(1 for v in sample if fmt.test(v))
        share = passed / len(sample)
        if share < fmt.proportion:
            continue
        score = share * (1.5 if label else 1.0)
        if best is None or score > best.score:
            best = Detection(fmt.name, round(share, 4), len(sample), label, score)
    return best


def mask(value: str, fmt: str | None = None) -> str:
    """A personal identifier with only its head and last four digits shown.

    身份证号 keeps its 6-digit area code (public: the county) and the last 4;
    phone numbers keep 3 digits (the carrier or area prefix) and the last 4.
    """
    text = str(value)
    digits = [i for i, ch in enumerate(text) if ch.isdigit()]
    if len(digits) < 8:
        return "*" * len(text) if text else text
    if fmt == "cn_id_card" or (fmt is None and is_ric(text)):
        head = 6
    else:
        head = 5 if _nfkc(text).startswith(("+86", "86")) and len(digits) >= 13 else 3
        if text.lstrip("(").startswith("0"):  # a landline's area code: 010, 0551
            head = max(head, min(4, len(digits) - 4))
    keep = set(digits[:head]) | set(digits[-4:])
    return "".join(ch if (i in keep or not ch.isdigit()) else "*" for i, ch in enumerate(text))


def looks_personal(value: str) -> bool:
    """A single cell that is an ID number or a phone number, whatever its column."""
    text = value.strip()
    if len(text) < 8 or len(text) > 30:
        return False
    return is_ric(text) or is_phone(text)
