"""Chinese column formats detected by validation, the way csv-detective does it.

A format is a value test, the share of a column's values that must pass, and header
words that raise confidence (score = share × (1 + 0.5 if a header word matches)). A
format with `needs_label` is only considered when a header word matches (amounts: any
number could be money). Identifiers are validated, not pattern-matched: check digits
(python-stdnum `cn.uscc`, `cn.ric`) and GB/T 2260 codes (python-stdnum's own copy of
the division table, `numdb` "cn/loc"), so random 18-character strings are no 信用代码.

Personal identifiers (身份证号, phone numbers) are masked wherever values are shown:
`mask()` keeps the head and the last four digits and stars the rest; `redact()` is the
one function every shown value goes through (a whole cell that is one, or one inside
longer text: `mask_text()`).

What counts as an ID number (`is_id_number`, GB 11643-1999): 17 digits and a check
character 0-9/X (any case, full-width, spaces or hyphens between groups allowed) whose
ISO 7064 MOD 11-2 check holds, a real birth date (1850 to today) at digits 7-14, and
digits 1-2 a GB/T 2260 province code (11-82, 83 台湾居民居住证; or 9 then a province
code: 外国人永久居留身份证, 2023). The county code is deliberately not looked up: the
table lags new codes, and a number keeps the code of the county that issued it, which
may be younger than its holder (python-stdnum's `cn.ric` refuses 530102 五华区 for
anyone born before 1983 — the reason valid IDs were shown in full). First-generation
15-digit numbers have no check digit: the 6-digit code must be in the GB/T 2260 table
(any year) and digits 7-12 a real 19YYMMDD date. An 18-digit number failing the check
digit (an order number) or with no date or province where an ID has them is left as is:
about 1 in 40,000 random 18-character numbers passes all three, 1 in 4,000 of 15 digits.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
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
    labelled_proportion: float | None = None  # the share needed when a header word matches
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


# GB/T 2260 province-level codes (71 台湾, 81 香港, 82 澳门; 83: 台湾居民居住证).
_PROVINCES = frozenset(
    ("11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
     "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
     "65", "71", "81", "82", "83")
)  # fmt: skip
_RIC15 = re.compile(r"\d{15}")
_ID_NOISE = str.maketrans("", "", " -\u00a0\u3000")


def _real_date(year: int, month: int, day: int) -> bool:
    if not 1850 <= year <= date.today().year:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _id18(number: str) -> bool:
    """17 ASCII digits and 0-9/X: check digit, birth date, province (see the module doc)."""
    if not _RIC.fullmatch(number):
        return False
    if number[-1] != ric.calc_check_digit(number):
        return False
    province = number[1:3] if number[0] == "9" else number[:2]
    if province not in _PROVINCES:
        return False
    return _real_date(int(number[6:10]), int(number[10:12]), int(number[12:14]))


def _id15(number: str) -> bool:
    """A first-generation number: GB/T 2260 county code and a 19YYMMDD birth date."""
    if not _RIC15.fullmatch(number) or number[:2] not in _PROVINCES:
        return False
    if not _real_date(1900 + int(number[6:8]), int(number[8:10]), int(number[10:12])):
        return False
    return _division(number[:6])


_FOLD = str.maketrans(
    {
        **{chr(0xFF10 + d): str(d) for d in range(10)},  # ０-９
        **dict.fromkeys("xｘＸ", "X"),
        **dict.fromkeys("\u00a0\u3000\u2002\u2003\u2009", " "),
        **dict.fromkeys("－‐‑–—", "-"),
    }
)
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")  # a decimal digit of another script: ٣, ३


def _fold(text: str) -> str:
    """The same length as `text`: any decimal digit (full-width ０-９ too) as ASCII, x/Ｘ as
    X, full-width and no-break spaces and dashes as ' ' and '-'; other characters kept."""
    folded = text.translate(_FOLD)
    if folded.isascii() or not _OTHER_DIGIT.search(folded):
        return folded
    return "".join(
        str(d) if (d := unicodedata.decimal(ch, None)) is not None else ch for ch in folded
    )


def is_id_number(value: str) -> bool:
    """A 身份证号 (GB 11643-1999, 18 characters, or the 15-digit first generation) by the
    rule in the module doc; spaces/hyphens between groups, full-width digits, x allowed."""
    number = _fold(str(value)).strip().upper().translate(_ID_NOISE)
    if len(number) == 18:
        return _id18(number)
    return len(number) == 15 and _id15(number)


is_ric = is_id_number  # the column test's old name


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
    Format("cn_id_card", "身份证号", "resident ID number", is_id_number,
           ("身份证", "证件号", "身份号码", "idcard", "id_card", "idnumber"), personal=True,
           labelled_proportion=0.5),
    Format("cn_uscc", "统一社会信用代码", "unified social credit code", is_uscc,
           ("统一社会信用代码", "社会信用代码", "信用代码", "纳税人识别号", "uscc", "creditcode"),
           key=True),
    Format("cn_admin_code", "行政区划代码", "administrative division code (GB/T 2260)",
           is_admin_code,
           ("行政区划代码", "区划代码", "行政区划", "区划编码", "行政区代码", "行政代码", "地区代码",
            "区域代码", "区县代码", "adcode", "divisioncode", "admincode", "regioncode"),
           key=True),
    Format("cn_mobile", "手机号码", "mobile phone number", is_mobile,
           ("手机", "移动电话", "联系电话", "电话", "联系方式", "mobile", "phone"), personal=True,
           labelled_proportion=0.5),
    Format("cn_phone", "电话号码", "phone number", is_phone,
           ("电话", "联系方式", "座机", "固话", "热线", "phone", "tel"), personal=True,
           labelled_proportion=0.5),
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
        # A personal format under its header word needs only half the values: the whole
        # column is then masked, its mistyped IDs too (a masked cell costs nothing).
        needed = fmt.labelled_proportion if label and fmt.labelled_proportion else fmt.proportion
        # A quick look at the first values first: most formats fail at once there.
        head = sample[:PROBE]
        if sum(1 for v in head if fmt.test(v)) < (needed - 0.2) * len(head):
            continue
        passed = sum(1 for v in sample if fmt.test(v))
        share = passed / len(sample)
        if share < needed:
            continue
        score = share * (1.5 if label else 1.0)
        if best is None or score > best.score:
            best = Detection(fmt.name, round(share, 4), len(sample), label, score)
    return best


def _marks(folded: str) -> list[int]:
    """Positions of digits, and of an X right after a digit (an ID's check character)."""
    return [
        i
        for i, ch in enumerate(folded)
        if "0" <= ch <= "9" or (ch == "X" and i and "0" <= folded[i - 1] <= "9")
    ]


def _star(text: str, marks: list[int], head: int, tail: int) -> str:
    hidden = set(marks[head : len(marks) - tail])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


def mask(value: str, fmt: str | None = None) -> str:
    """A personal identifier with only its head and last four digits shown.

    身份证号 keeps its 6-digit area code (public: the county) and the last 4 (the check
    character X counts as a digit; a 15-digit number: the last 3, its sequence);
    phone numbers keep 3 digits (the carrier or area prefix) and the last 4. Fewer than
    8 digits: all stars. Full-width digits are digits.
    """
    text = str(value)
    folded = _fold(text)
    marks = _marks(folded)
    if len(marks) < 8:
        return "*" * len(text) if text else text
    if fmt == "cn_id_card" or (fmt is None and is_id_number(text)):
        return _star(text, marks, 6, 3 if len(marks) == 15 else 4)
    nfkc = folded.strip()
    head = 5 if nfkc.startswith(("+86", "86")) and len(marks) >= 13 else 3
    if nfkc.lstrip("(").startswith("0"):  # a landline's area code: 010, 0551
        head = max(head, min(4, len(marks) - 4))
    return _star(text, marks, head, 4)


def looks_personal(value: str) -> bool:
    """A single cell that is an ID number or a phone number, whatever its column."""
    text = value.strip()
    if len(text) < 8 or len(text) > 40:
        return False
    return is_id_number(text) or is_phone(text)


# --- personal numbers inside text ----------------------------------------------------------

_GAP = frozenset(" -()（）")  # what may separate groups of one number: "139 1234 5678"
_MOBILE_DIGITS = re.compile(r"1[3-9]\d{9}")
_AREA = re.compile(r"0\d{2,3}")
_LOCAL = re.compile(r"[2-9]\d{6,7}")
_ANY_DIGIT = re.compile(r"\d")
_FEWEST_DIGITS = 10  # the shortest number looked for: a landline 0102345678


def _runs(folded: str) -> list[tuple[int, int, str]]:
    """(start, end, digits) of each maximal run of digits, with an X closing it."""
    runs, i, n = [], 0, len(folded)
    while i < n:
        if "0" <= folded[i] <= "9":
            j = i
            while j < n and "0" <= folded[j] <= "9":
                j += 1
            if j < n and folded[j] == "X":
                j += 1
            runs.append((i, j, folded[i:j]))
            i = j
        else:
            i += 1
    return runs


def _kind(digits: str, first: str, single: bool) -> tuple[int, int] | None:
    """(digits kept at the head, at the tail) when `digits` (whole runs joined) is a
    personal number: an ID (18 or 15), a mobile (with 86 or not), a landline (area code
    and number written apart)."""
    if len(digits) == 18:
        return (6, 4) if _id18(digits) else None
    if "X" in digits:
        return None
    if len(digits) == 15 and _id15(digits):
        return 6, 3
    if len(digits) == 11 and _MOBILE_DIGITS.fullmatch(digits):
        return 3, 4
    if len(digits) == 13 and digits.startswith("86") and _MOBILE_DIGITS.fullmatch(digits[2:]):
        return 5, 4
    if not single and _AREA.fullmatch(first) and _LOCAL.fullmatch(digits[len(first) :]):
        return len(first), 4
    return None


def find_personal(text: str) -> list[tuple[int, int, int, int]]:
    """(start, end, head, tail) of every ID or phone number inside `text`.

    A number is made of whole runs of digits (a run of 19 digits holds no ID), with at
    most two of ` -()` between its groups; digits are folded first (full-width, x)."""
    if len(_ANY_DIGIT.findall(text)) < _FEWEST_DIGITS:
        return []
    folded = _fold(text)
    runs = _runs(folded)
    found, k = [], 0
    while k < len(runs):
        best, digits = None, ""
        for j in range(k, len(runs)):
            if j > k:
                gap = folded[runs[j - 1][1] : runs[j][0]]
                if runs[j - 1][2].endswith("X") or not 0 < len(gap) <= 2:
                    break
                if not set(gap) <= _GAP:
                    break
            digits += runs[j][2]
            if len(digits) > 18:
                break
            kind = _kind(digits, runs[k][2], j == k)
            if kind is not None:
                best = (j, kind)
        if best is None:
            k += 1
            continue
        j, (head, tail) = best
        found.append((runs[k][0], runs[j][1], head, tail))
        k = j + 1
    return found


def mask_text(text: str) -> str:
    """`text` with every ID or phone number inside it masked ("申请人 110105********0021
    已办结"); anything else, other numbers included, unchanged."""
    spans = find_personal(text)
    if not spans:
        return text
    folded = _fold(text)
    out = list(text)
    for start, end, head, tail in spans:
        marks = [start + i for i in _marks(folded[start:end])]
        for i in marks[head : len(marks) - tail]:
            out[i] = "*"
    return "".join(out)


def redact(value, fmt: str | None = None):
    """A value as it may be shown: the cell of a personal column (`fmt`) masked whole,
    a cell that is an ID or phone number masked whole, IDs and phone numbers inside
    text masked; other values unchanged. Idempotent (a masked value stays as it is), so
    stored previews go through it again when read. Non-strings are returned as they are."""
    if not isinstance(value, str) or not value:
        return value
    if fmt in PERSONAL and "*" not in value:
        return mask(value, fmt)
    if len(_ANY_DIGIT.findall(value)) < _FEWEST_DIGITS:
        return value  # too few digits for any number looked for (most cells)
    if looks_personal(value):
        return mask(value)
    return mask_text(value)
