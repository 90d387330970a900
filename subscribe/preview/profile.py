"""A column profile from the rows read: type, share empty, distinct values, range, examples.

Work is column by column over the rows read (at most SUBSCRIBE_PREVIEW_PROFILE_ROWS),
with type and format tests on at most SAMPLE_VALUES distinct values, so a wide file
costs a set and a few list passes per column rather than Python calls per cell.
Distinct counts are exact within the rows read: for a file read only in part they are
a lower bound (`distinct_exact` false). Personal columns show masked values only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from subscribe.preview import formats
from subscribe.preview.read import NULLS

EXAMPLES = 3
TYPE_SHARE = 0.95  # of tested values, for a column to get a type other than string
_INTEGER = re.compile(r"[-+]?(?:0|[1-9]\d{0,17})")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_BOOLEAN = frozenset({"true", "false", "是", "否", "yes", "no"})


def _type(sample: Sequence[str]) -> str:
    """integer | number | boolean | string from distinct values (codes with a leading zero
    and 18-digit identifiers are strings: arithmetic on them is meaningless)."""
    if not sample:
        return "string"
    need = TYPE_SHARE * len(sample)
    if sum(1 for v in sample if _INTEGER.fullmatch(v)) >= need:
        return "integer"
    if sum(1 for v in sample if _NUMBER.fullmatch(v)) >= need:
        return "number"
    if sum(1 for v in sample if v.lower() in _BOOLEAN) >= need:
        return "boolean"
    return "string"


def _amount(value: str) -> float | None:
    text = formats._nfkc(value).replace(",", "").replace("¥", "").replace("￥", "").strip()
    scale = 1.0
    for unit, factor in (("亿元", 1e8), ("万元", 1e4), ("千元", 1e3), ("元", 1.0)):
        if text.endswith(unit):
            text, scale = text[: -len(unit)].strip(), factor
            break
    try:
        return float(text) * scale
    except ValueError:
        return None


def _range(values: list[str], kind: str, fmt: str | None) -> tuple:
    """(min, max) as display values; numbers compared as numbers, dates as dates."""
    if kind in ("integer", "number") or fmt == "cn_amount":
        parsed = []
        for v in values:
            number = _amount(v) if fmt == "cn_amount" else _float(v)
            if number is not None:
                parsed.append((number, v))
        if parsed:
            return min(parsed)[1], max(parsed)[1]
        return None, None
    if fmt == "cn_date":
        from subscribe.catalog.normalize import normalize_date

        dated = [(d.value, v) for v in values if (d := normalize_date(v)).value is not None]
        if dated:
            return min(dated)[1], max(dated)[1]
        return None, None
    return (min(values), max(values)) if values else (None, None)


def _float(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def profile_column(name: str, cells: Sequence[str], distinct_exact: bool) -> dict:
    """One column's profile (shape in ResourcePreview.profile)."""
    total = len(cells)
    counts = Counter(cells)  # counted in C; the null test then runs once per distinct value
    nulls = [v for v in counts if len(v) < 5 and v.lower() in NULLS]
    present_count = total - sum(counts[v] for v in nulls)
    distinct = [v for v in counts if v not in nulls] if nulls else list(counts)
    sample = distinct[: formats.SAMPLE_VALUES]
    detection = formats.detect(name, sample)
    fmt = detection.format if detection else None
    kind = formats.BY_NAME[fmt].type if fmt else _type(sample)
    if fmt in formats.PERSONAL or fmt in ("cn_uscc", "cn_admin_code"):
        kind = "string"
    # Min and max over distinct values: the same answer, far fewer parses.
    low, high = _range(distinct, kind, fmt) if distinct else (None, None)
    examples = sample[:EXAMPLES]
    column = {
        "name": name,
        "type": kind,
        "format": fmt,
        "format_label": formats.BY_NAME[fmt].zh if fmt else None,
        "format_share": detection.share if detection else None,
        "personal": fmt in formats.PERSONAL,
        "empty_share": round(1 - present_count / total, 4) if total else 1.0,
        "distinct": len(distinct),
        "distinct_exact": distinct_exact,
        "min": low,
        "max": high,
        "examples": examples,
    }
    if fmt in formats.KEYS:
        # Key values (public: codes of places and organisations) for overlap between
        # datasets; a bounded sample, enough to say whether two files can be joined.
        # Never a personal number among them (a code column may hold a stray ID).
        column["key_values"] = sorted(v for v in sample if formats.redact(v) == v)[:500]
    return redact_column(column)


def redact_column(column: dict) -> dict:
    """A column profile with what it shows masked (formats.redact): name, min, max and
    examples, masked whole in a personal column, else wherever an ID or phone number is
    found (a column that is mostly something else still shows no ID). Idempotent."""
    fmt = column.get("format") if column.get("personal") else None
    shown = dict(column)
    shown["name"] = formats.redact(column.get("name"))
    for key in ("min", "max"):
        shown[key] = formats.redact(column.get(key), fmt)
    shown["examples"] = [formats.redact(v, fmt) for v in column.get("examples") or []]
    if "key_values" in column:
        shown["key_values"] = [
            v for v in column["key_values"] if not isinstance(v, str) or formats.redact(v) == v
        ]
    return shown


def profile_table(columns: list[str], rows: list[list[str]], complete: bool) -> list[dict]:
    by_column = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return [
        profile_column(name, cells, complete)
        for name, cells in zip(columns, by_column, strict=True)
    ]


def mask_rows(rows: list[list[str]], profile: list[dict]) -> list[list[str]]:
    """Rows to show: personal columns masked, and any ID or phone number elsewhere too,
    a whole cell (a 备注 column that holds someone's mobile) or inside text."""
    personal = {n: c["format"] for n, c in enumerate(profile) if c.get("personal")}
    return [[formats.redact(cell, personal.get(n)) for n, cell in enumerate(row)] for row in rows]


def redact_preview(values: dict) -> dict:
    """Stored or new preview values as they may be shown: columns, rows, profile, detail
    and notes through formats.redact. Previews stored before a masking rule changed are
    masked by the rule of today when read (and migration 0018 rewrote those at rest)."""
    shown = dict(values)
    profile = [redact_column(c) for c in values.get("profile") or []]
    if "profile" in values:
        shown["profile"] = profile
    if "columns" in values:
        shown["columns"] = [formats.redact(c) for c in values.get("columns") or []]
    if "rows" in values:
        shown["rows"] = mask_rows(values.get("rows") or [], profile)
    if "notes" in values:
        shown["notes"] = [formats.redact(n) for n in values.get("notes") or []]
    if "detail" in values:
        shown["detail"] = formats.redact(values.get("detail"))
    return shown
