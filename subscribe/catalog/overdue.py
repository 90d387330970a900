"""Overdue detection: a dataset late for its declared frequency (plus grace) gets one
`dataset.overdue` event per lateness — not one a day while it stays late."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, or_, select, update

from subscribe.catalog.events import event_row
from subscribe.catalog.freshness import PERIOD_SECONDS, allowed_gap
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion
from subscribe.extensions import db
from subscribe.models_base import utcnow


def detect_overdue(now: datetime | None = None, chunk: int = 1000) -> int:
    """Write an overdue event for every newly late dataset; returns how many."""
    now = now or utcnow()
    found = 0
    for frequency in PERIOD_SECONDS:
        deadline = now - timedelta(seconds=allowed_gap(frequency))
        while True:
            rows = db.session.execute(
                select(Dataset.id, Dataset.version, Dataset.modified, DatasetVersion.snapshot)
                .join(DatasetVersion, (DatasetVersion.dataset_id == Dataset.id) & (DatasetVersion.number == Dataset.version))
                .where(
                    Dataset.frequency == frequency,
                    Dataset.deleted_at.is_(None),
                    Dataset.modified < deadline,
                    or_(Dataset.overdue_notified_for.is_(None), Dataset.overdue_notified_for != Dataset.modified),
                )
                .order_by(Dataset.id)
                .limit(chunk)
            ).all()  # fmt: skip
            if not rows:
                break
            db.session.execute(
                insert(CatalogEvent),
                [
                    event_row(
                        r.id,
                        "dataset.overdue",
                        r.version,
                        [_overdue_change(frequency, r.modified)],
                        r.snapshot,
                        r.snapshot,
                    )  # fmt: skip
                    for r in rows
                ],
            )
            db.session.execute(
                update(Dataset), [{"id": r.id, "overdue_notified_for": r.modified} for r in rows]
            )
            db.session.commit()
            found += len(rows)
    return found


def _overdue_change(frequency: str, modified: datetime) -> dict:
    due = modified + timedelta(seconds=PERIOD_SECONDS[frequency])
    return {
        "kind": "overdue",
        "frequency": frequency,
        "modified": modified.isoformat(),
        "due": due.isoformat(),
    }
