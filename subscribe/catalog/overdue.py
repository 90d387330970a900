"""Overdue detection: a dataset late for its declared frequency (plus grace) gets one
`dataset.overdue` event per lateness — not one a day while it stays late."""

from __future__ import annotations

from datetime import datetime, timedelta

from dateutil.relativedelta import relativedelta
from sqlalchemy import ColumnElement, and_, insert, or_, select, update

from subscribe.catalog.events import event_row
from subscribe.catalog.freshness import PERIOD_SECONDS, allowed_gap
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion
from subscribe.catalog.normalize import period_end
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
                select(Dataset.id, Dataset.version, Dataset.modified, Dataset.modified_precision,
                       DatasetVersion.snapshot)
                .join(DatasetVersion, (DatasetVersion.dataset_id == Dataset.id) & (DatasetVersion.number == Dataset.version))
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
            db.session.execute(
                insert(CatalogEvent),
                [
                    event_row(
                        r.id,
                        "dataset.overdue",
                        r.version,
                        [_overdue_change(frequency, r.modified, r.modified_precision)],
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


def modified_period_ended_before(deadline: datetime) -> ColumnElement[bool]:
    """SQL: the period `modified` names ended before `deadline`.

    Lateness counts from the END of the period, never its start: "modified 2019" may
    mean 2019-12-31, so a yearly dataset is not late in March 2020 (a start-of-period
    reading would raise false alarms). Month and year lengths vary, so the deadline is
    moved back by calendar arithmetic instead of adding to the column.
    """
    by_precision = {
        "year": relativedelta(years=1),
        "month": relativedelta(months=1),
        "day": relativedelta(days=1),
    }
    return or_(
        *(
            and_(Dataset.modified_precision == name, Dataset.modified < deadline - length)
            for name, length in by_precision.items()
        ),
        and_(Dataset.modified_precision.not_in(list(by_precision)), Dataset.modified < deadline),
    )


def _overdue_change(frequency: str, modified: datetime, precision: str) -> dict:
    due = period_end(modified, precision) + timedelta(seconds=PERIOD_SECONDS[frequency])
    return {
        "kind": "overdue",
        "frequency": frequency,
        "modified": modified.isoformat(),
        "due": due.isoformat(),
    }
