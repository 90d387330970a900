"""Quality in a scenario's report: the distribution per axis and the weakest members,
from the search columns (numpy, like the rest of scenarios/report.py)."""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.quality.models import QualityScore
from subscribe.quality.scoring import CRITERIA
from subscribe.search.columns import NO_SCORE, QUALITY_AXES, CatalogColumns

BUCKETS = ((0, 19), (20, 39), (40, 59), (60, 79), (80, 100))
WEAKEST = 10


def quality_report(columns: CatalogColumns, ids: np.ndarray) -> dict:
    """{scored, unscored, axes: {axis: {average, scored, buckets: [{value: "0-19",
    low, high, count}]}}, weakest: [{id}]} — weakest by overall score, lowest first."""
    overall = columns.quality["overall"][ids].astype(np.int64)
    scored = overall != NO_SCORE
    axes = {}
    for axis in QUALITY_AXES:
        values = columns.quality[axis][ids].astype(np.int64)
        values = values[values != NO_SCORE]
        axes[axis] = {
            "scored": len(values),
            "average": round(float(values.mean()), 1) if len(values) else None,
            "buckets": [
                {"value": f"{low}-{high}", "low": low, "high": high,
                 "count": int(((values >= low) & (values <= high)).sum())}
                for low, high in BUCKETS
            ],
        }  # fmt: skip
    candidates = ids[scored]
    order = np.lexsort((candidates, overall[scored]))[:WEAKEST]
    return {
        "scored": int(scored.sum()),
        "unscored": int((~scored).sum()),
        "axes": axes,
        "weakest": [{"id": int(i)} for i in candidates[order]],
    }


def describe_weakest(report: dict) -> dict:
    """Fill the weakest members' (report["quality"]["weakest"]) title, scores and unmet
    criteria keys from the database; returns the report."""
    weakest = report.get("quality", {}).get("weakest") or []
    ids = [item["id"] for item in weakest]
    if not ids:
        return report
    titles = dict(
        db.session.execute(select(Dataset.id, Dataset.title).where(Dataset.id.in_(ids))).all()
    )
    stored = {
        s.dataset_id: s
        for s in db.session.scalars(select(QualityScore).where(QualityScore.dataset_id.in_(ids)))
    }
    for item in weakest:
        row = stored.get(item["id"])
        item["title"] = titles.get(item["id"], "")
        item["scores"] = {
            "overall": row.overall if row else None,
            "completeness": row.completeness if row else None,
            "timeliness": None if not row or row.timeliness is None else round(row.timeliness),
            "accuracy": row.accuracy if row else None,
        }
        item["unmet"] = [c.key for c in CRITERIA if row and row.unmet >> c.bit & 1]
    return report
