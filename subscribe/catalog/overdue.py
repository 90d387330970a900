"""Overdue detection: `dataset.overdue` is a transition — a dataset we saw on time that has
become late for its declared frequency (plus grace) — sent once per lateness.

A dataset that was already late when we learned its current `modified` date (at its
first harvest, or at the update that brought that date) never was on time for us: it is
marked as known-late without an event. Reports, the dataset page and scenario freshness
still show it as overdue (they read `catalog/freshness.py`); only nothing is pushed.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import ColumnElement, and_, insert, or_, select, update

from subscribe.catalog.events import event_row
from subscribe.catalog.freshness import PERIOD_SECONDS, allowed_gap
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion
from subscribe.catalog.normalize import PERIOD_MONTHS, period_end
from subscribe.extensions import db
from subscribe.models_base import utcnow


def detect_overdue(now: datetime | None = None, chunk: int = 1000) -> int:
    """Mark every newly late dataset; returns how many `dataset.overdue` events were
    written (datasets that became late after we knew them on time)."""
    now = now or utcnow()
    found = 0
    for frequency in PERIOD_SECONDS:
        gap = timedelta(seconds=allowed_gap(frequency))
        deadline = now - gap
        while True:
            rows = db.session.execute(
                select(Dataset.id, Dataset.version, Dataset.modified, Dataset.modified_precision,
                       Dataset.updated_at)
                .where(
                    Dataset.frequency == frequency,
                    Dataset.deleted_at.is_(None),
                    modified_period_ended_before(deadline),
                    or_(Dataset.overdue_notified_for.is_(None), Dataset.overdue_notified_for != Dataset.modified),
                )
                .order_by(Dataset.id)
                .limit(chunk)
            ).all()  # fmt: skip
            if not rows:
                break
            # Late from the end of the period `modified` names plus the gap: was it still
            # on time when we learned this date (updated_at)? Only then is it news.
            became_late = [
                r for r in rows if period_end(r.modified, r.modified_precision) + gap > r.updated_at
            ]
            if became_late:
                snapshots = _snapshots(became_late)
                db.session.execute(insert(CatalogEvent), [
                    event_row(r.id, "dataset.overdue", r.version,
                              [_overdue_change(frequency, r.modified, r.modified_precision)],
                              snapshots.get(r.id), snapshots.get(r.id))
                    for r in became_late
                ])  # fmt: skip
            db.session.execute(
                update(Dataset), [{"id": r.id, "overdue_notified_for": r.modified} for r in rows]
            )
            db.session.commit()
            found += len(became_late)
    return found


def modified_period_ended_before(deadline: datetime) -> ColumnElement[bool]:
    """SQL: the period `modified` names ended before `deadline`.

    Lateness counts from the END of the period, never its start: "modified 2019" may
    mean 2019-12-31, so a yearly dataset is not late in March 2020 (a start-of-period
    reading would raise false alarms). Month and year lengths vary, so the deadline is
    moved back by calendar arithmetic instead of adding to the column.
    """
    by_precision = {
        "year": relativedelta(years=1),
        **{name: relativedelta(months=months) for name, months in PERIOD_MONTHS.items()},
        "week": relativedelta(weeks=1),
        "day": relativedelta(days=1),
    }
    return or_(
        *(
            and_(Dataset.modified_precision == name, Dataset.modified < deadline - length)
            for name, length in by_precision.items()
        ),
        and_(Dataset.modified_precision.not_in(list(by_precision)), Dataset.modified < deadline),
    )


def _snapshots(rows) -> dict[int, dict]:
    """Dataset id → its current version's snapshot."""
    return dict(
        db.session.execute(
            select(DatasetVersion.dataset_id, DatasetVersion.snapshot)
            .join(Dataset, (Dataset.id == DatasetVersion.dataset_id) & (Dataset.version == DatasetVersion.number))
            .where(Dataset.id.in_([r.id for r in rows]))
        ).all()
    )  # fmt: skip


def _overdue_change(frequency: str, modified: datetime, precision: str) -> dict:
    due = period_end(modified, precision) + timedelta(seconds=PERIOD_SECONDS[frequency])
    return {
        "kind": "overdue",
        "frequency": frequency,
        "modified": modified.isoformat(),
        "due": due.isoformat(),
    }
