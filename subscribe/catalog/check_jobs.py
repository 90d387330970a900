"""The resource check job: due resources checked outside any transaction, then stored."""

from __future__ import annotations

import logging
import time
import zlib
from collections import Counter, defaultdict
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.exc import SQLAlchemyError

from subscribe.catalog.checks import CheckOutcome, CheckSettings, CheckState, run_checks
from subscribe.catalog.events import record_content_change
from subscribe.catalog.models import ChangeCounter, Dataset, Resource
from subscribe.catalog.sequence import COUNTER_ID
from subscribe.extensions import db
from subscribe.models_base import utcnow

log = logging.getLogger(__name__)

# How often a resource is looked at, by its dataset's declared update frequency: often
# enough to notice an update soon after it is due, rarely enough to stay polite.
INTERVALS = {
    "realtime": timedelta(minutes=15),
    "daily": timedelta(hours=1),
    "weekly": timedelta(hours=6),
    "biweekly": timedelta(hours=12),
    "monthly": timedelta(hours=24),
    "quarterly": timedelta(days=3),
    "semiannual": timedelta(days=5),
    "yearly": timedelta(days=7),
    "biennial": timedelta(days=7),
}
DEFAULT_INTERVAL = timedelta(hours=24)  # irregular and unknown
JITTER = 0.1  # up to +10%, so resources harvested together are not all due together
DATASETS_PER_COMMIT = 100
STATE_COLUMNS = (
    "etag", "last_modified_header", "content_length", "sha256", "row_count", "columns",
    "truncated", "failures", "unavailable", "last_status", "last_error",
)  # fmt: skip


def check_interval(frequency: str, resource_id: int, scale: float = 1.0) -> timedelta:
    """The declared frequency's interval, scaled, plus a jitter fixed per resource."""
    fraction = zlib.crc32(str(resource_id).encode()) / 0xFFFFFFFF
    return INTERVALS.get(frequency, DEFAULT_INTERVAL) * scale * (1 + JITTER * fraction)


def _due_rows(limit: int, now: datetime) -> list:
    """Never-checked resources first, then the longest overdue; two indexed queries
    rather than one ORDER BY … NULLS FIRST, which SQLite and PostgreSQL sort unlike."""
    columns = [getattr(Resource, name) for name in ("id", "url", "format", "name", *STATE_COLUMNS)]
    query = (
        select(Resource.dataset_id, Dataset.frequency, *columns)
        .join(Dataset, Dataset.id == Resource.dataset_id)
        # A resource without a URL (records.ResourceRecord) has nothing to fetch.
        .where(Dataset.deleted_at.is_(None), Resource.url != "")
    )
    rows = db.session.execute(
        query.where(Resource.next_check_at.is_(None)).order_by(Resource.id).limit(limit)
    ).all()
    if len(rows) < limit:
        overdue = query.where(Resource.next_check_at <= now)
        order = (Resource.next_check_at, Resource.id)
        rows += db.session.execute(overdue.order_by(*order).limit(limit - len(rows))).all()
    return rows


def _state(row) -> CheckState:
    return CheckState(
        resource_id=row.id, url=row.url, format=row.format or "", name=row.name or "",
        **{name: getattr(row, name) for name in STATE_COLUMNS},
    )  # fmt: skip


def _write_states(pairs: list[tuple], now: datetime, scale: float) -> None:
    """Store each checked state; the url guard skips a row a harvest re-pointed meanwhile."""
    table = Resource.__table__
    statement = (
        table.update()
        .where(table.c.id == bindparam("b_id"), table.c.url == bindparam("b_url"))
        .values(
            checked_at=bindparam("b_checked_at"),
            next_check_at=bindparam("b_next_check_at"),
            **{name: bindparam(f"b_{name}") for name in STATE_COLUMNS},
        )
    )
    params = []
    for row, outcome in pairs:
        state = outcome.state
        values = {f"b_{name}": getattr(state, name) for name in STATE_COLUMNS}
        values["b_next_check_at"] = now + check_interval(row.frequency, row.id, scale)
        params.append({"b_id": row.id, "b_url": row.url, "b_checked_at": now, **values})
    if params:
        db.session.execute(statement, params)


def _record_changes(changes: dict[int, list[dict]]) -> int:
    """One new version and dataset.updated event per dataset, with all its changes."""
    # The change counter is locked first, the same order the harvest writer takes, so
    # the versions read below cannot move until commit (and the two never deadlock).
    db.session.execute(
        select(ChangeCounter.id).where(ChangeCounter.id == COUNTER_ID).with_for_update()
    )
    datasets = db.session.scalars(
        select(Dataset).where(Dataset.id.in_(changes), Dataset.deleted_at.is_(None))
    ).all()
    for dataset in sorted(datasets, key=lambda d: d.id):
        record_content_change(dataset, changes[dataset.id])
    return len(datasets)


def _store(pairs: list[tuple], now: datetime, scale: float) -> int:
    """Write one batch of datasets' checks in one transaction; returns events written."""
    ids = [row.id for row, _ in pairs]
    current = dict(
        db.session.execute(select(Resource.id, Resource.url).where(Resource.id.in_(ids))).all()
    )
    pairs = [(row, outcome) for row, outcome in pairs if current.get(row.id) == row.url]
    _write_states(pairs, now, scale)
    changes: dict[int, list[dict]] = defaultdict(list)
    for row, outcome in pairs:
        if outcome.change is not None:
            changes[row.dataset_id].append(outcome.change)
    events = _record_changes(changes) if changes else 0
    db.session.commit()
    return events


def run_resource_checks(limit: int = 500, now: datetime | None = None) -> dict:
    """Check up to `limit` due resources; returns counts for the log and the CLI."""
    started = time.perf_counter()
    now = now or utcnow()
    config = current_app.config
    scale = config["SUBSCRIBE_CHECK_INTERVAL_SCALE"]
    rows = _due_rows(limit, now)
    db.session.commit()  # no transaction stays open while the network is waited on
    outcomes: list[CheckOutcome] = run_checks(
        [_state(row) for row in rows], CheckSettings.from_config(config)
    )
    by_dataset: dict[int, list[tuple]] = defaultdict(list)
    for row, outcome in zip(rows, outcomes, strict=True):
        by_dataset[row.dataset_id].append((row, outcome))
    dataset_ids, events, failed_batches = sorted(by_dataset), 0, 0
    for start in range(0, len(dataset_ids), DATASETS_PER_COMMIT):
        batch = dataset_ids[start : start + DATASETS_PER_COMMIT]
        try:
            events += _store([pair for d in batch for pair in by_dataset[d]], now, scale)
        except SQLAlchemyError:
            # e.g. a harvest wrote a version of the same dataset meanwhile. Nothing of the
            # batch is stored, so its resources stay due and the next run finds it all again.
            db.session.rollback()
            failed_batches += 1
            log.exception("resource checks: a batch of %d datasets was not stored", len(batch))
    results = Counter(outcome.result for outcome in outcomes)
    kinds = Counter(o.change["kind"] for o in outcomes if o.change is not None)
    summary = {
        "checked": len(outcomes),
        **{name: results[name] for name in ("not_modified", "unchanged", "changed", "baseline",
                                            "failed", "blocked", "skipped")},
        "changes": dict(kinds),
        "events": events,
        "failed_batches": failed_batches,
        "downloaded_bytes": sum(outcome.downloaded for outcome in outcomes),
        "seconds": round(time.perf_counter() - started, 3),
    }  # fmt: skip
    log.info("resource checks: %s", summary)
    return summary
