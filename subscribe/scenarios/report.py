"""A scenario's report: what its members are, how fresh, how much data — all from columns."""

from __future__ import annotations

import time

import numpy as np

from subscribe.catalog.freshness import allowed_gap
from subscribe.quality.report import quality_report
from subscribe.search.columns import NO_DATE, CatalogColumns

REPORT_LIMIT = 50  # values listed per breakdown


def _breakdown(counts: np.ndarray, values: list[str]) -> list[dict]:
    counts = counts.copy()
    counts[0] = 0
    order = sorted(np.flatnonzero(counts), key=lambda i: (-counts[i], values[i]))[:REPORT_LIMIT]
    return [{"value": values[i], "count": int(counts[i])} for i in order]


def freshness(columns: CatalogColumns, ids: np.ndarray, now: float | None = None) -> dict:
    """on_time / overdue against the declared frequency; the rest has no schedule or date."""
    now = time.time() if now is None else now
    gaps = np.full(len(columns.frequencies), -1, dtype=np.int64)
    for ordinal, name in enumerate(columns.frequencies.values):
        gap = allowed_gap(name)
        if gap is not None:
            gaps[ordinal] = gap
    gap = gaps[columns.frequency[ids]]
    modified = columns.modified_end[ids]  # the end of "2019": lateness counts from there
    scheduled = gap >= 0
    dated = modified != NO_DATE
    overdue = scheduled & dated & (modified + gap < now)
    return {
        "on_time": int((scheduled & dated & ~overdue).sum()),
        "overdue": int(overdue.sum()),
        "no_schedule": int((~scheduled).sum()),
        "undated": int((scheduled & ~dated).sum()),
    }


def build_report(columns: CatalogColumns, ids: np.ndarray) -> dict:
    c = columns
    return {
        "members": len(ids),
        "by_publisher": _breakdown(np.bincount(c.publisher[ids], minlength=len(c.publishers)), c.publishers.values),
        "by_theme": _breakdown(c.themes.counts(ids), c.themes.vocabulary.values),
        "by_format": _breakdown(c.formats.counts(ids), c.formats.vocabulary.values),
        "by_open_type": _breakdown(np.bincount(c.open_type[ids], minlength=len(c.open_types)), c.open_types.values),
        "freshness": freshness(c, ids),
        "resources": {
            "count": int(c.resource_count[ids].sum()),
            "declared_bytes": int(c.resource_bytes[ids].sum()),
            "datasets_without_resources": int((c.resource_count[ids] == 0).sum()),
        },
        "quality": quality_report(c, ids),
    }  # fmt: skip
