"""The quality job: every live dataset scored in chunks of ids, set-based.

Per chunk: one query for the datasets' fields, one grouped query for their resources,
one for their stored scores; numpy scores them (scoring.py); only rows whose values
changed are written (upserts), plus a history row when the day's rounded scores differ
from the stored ones. Per run: which fields each source carries, schema changes of the
last 90 days, confirmed error reports. Memory stays flat: nothing of the whole catalog
is held but a few small per-source and per-dataset dicts.

Nothing here touches datasets, versions or change_seq: a score is not a catalog change.
The `quality` cursor counts runs that wrote something; search columns reload when it moves.
"""

from __future__ import annotations

import logging
import time
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import Text, case, cast, delete, func, insert, select, update

from subscribe.catalog.models import CatalogEvent, Cursor, Dataset, Resource
from subscribe.extensions import db
from subscribe.models_base import epoch_seconds, utcnow
from subscribe.quality.models import QualityHistory, QualityScore
from subscribe.quality.scoring import (
    FREQUENCY_ORDINAL,
    SCHEMA_WINDOW_DAYS,
    SOURCE_DEPENDENT,
    Chunk,
    score,
)

log = logging.getLogger(__name__)

CHUNK_IDS = 20_000
CURSOR = "quality"
_PRECISION_CODE = {"year": 1, "month": 2, "day": 3}


def confirmed_reports() -> dict[int, int]:
    """Dataset id → confirmed (resolved) error reports, from subscribe.feedback when that
    package is installed (it arrives separately); {} without it."""
    try:
        from subscribe.feedback.services import confirmed_report_counts
    except ImportError:
        return {}
    return confirmed_report_counts()


def _present(column) -> object:
    return func.max(case((column, 1), else_=0))


def source_fields() -> dict[int, np.ndarray]:
    """Source id → for each SOURCE_DEPENDENT field, whether any live dataset has it."""
    d = Dataset
    rows = db.session.execute(
        select(
            d.source_id,
            _present(func.length(d.description) > 0),
            _present(d.publisher != ""),
            _present(func.length(cast(d.themes, Text)) > 2),
            _present(func.length(cast(d.keywords, Text)) > 2),
            _present(d.license != ""),
            _present(d.contact_point != ""),
            _present(d.frequency != "unknown"),
        )
        .where(d.deleted_at.is_(None))
        .group_by(d.source_id)
    ).all()
    formats = dict(
        db.session.execute(
            select(d.source_id, _present(Resource.format != ""))
            .join(d, d.id == Resource.dataset_id)
            .where(d.deleted_at.is_(None))
            .group_by(d.source_id)
        ).all()
    )
    return {
        row[0]: np.array([*(bool(v) for v in row[1:]), bool(formats.get(row[0], 0))])
        for row in rows
    }


def schema_changes(now: datetime) -> dict[int, int]:
    """Dataset id → CSV column changes found by resource checks in the window."""
    counts: dict[int, int] = {}
    rows = db.session.execute(
        select(CatalogEvent.dataset_id, CatalogEvent.changes).where(
            CatalogEvent.type == "dataset.updated",
            CatalogEvent.created_at >= now - timedelta(days=SCHEMA_WINDOW_DAYS),
            cast(CatalogEvent.changes, Text).like("%schema%"),
        )
    )
    for dataset_id, changes in rows:
        found = sum(1 for change in changes or [] if change.get("kind") == "schema")
        if found:
            counts[dataset_id] = counts.get(dataset_id, 0) + found
    return counts


def _period_end_epoch(modified: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """End of the period each `modified` names (freshness counts lateness from there)."""
    as_dt = modified.astype("datetime64[s]")
    year_end = (as_dt.astype("datetime64[Y]") + 1).astype("datetime64[s]").astype(np.int64)
    month_end = (as_dt.astype("datetime64[M]") + 1).astype("datetime64[s]").astype(np.int64)
    return np.select([precision == 1, precision == 2, precision == 3],
                     [year_end, month_end, modified + 86_400], modified)  # fmt: skip


def _load_chunk(lo: int, hi: int, sources, schema, reports, today: date):
    d = Dataset
    rows = db.session.execute(
        select(
            d.id, d.source_id, func.length(d.title), func.length(d.description),
            d.description == d.title, d.publisher != "",
            func.length(cast(d.themes, Text)) > 2, func.length(cast(d.keywords, Text)) > 2,
            d.license != "", d.contact_point != "", d.frequency, d.modified,
            d.modified_precision, d.updated_at, d.version,
        )
        .where(d.id >= lo, d.id < hi, d.deleted_at.is_(None))
        .order_by(d.id)
    ).all()  # fmt: skip
    if not rows:
        return None, None, None
    n = len(rows)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=n)
    cols = list(zip(*rows, strict=True))
    position = {int(i): k for k, i in enumerate(ids)}

    res = np.zeros((n, 4), dtype=np.int64)  # resources, with format, downloadable, checked
    answering = np.zeros(n, dtype=np.int64)
    r = Resource
    for row in db.session.execute(
        select(
            r.dataset_id, func.count(),
            func.sum(case((r.format != "", 1), else_=0)),
            func.sum(case(((r.url.like("http://%")) | (r.url.like("https://%")), 1), else_=0)),
            func.sum(case((r.checked_at.is_not(None), 1), else_=0)),
            func.sum(case((r.checked_at.is_not(None) & (r.failures == 0) & r.unavailable.is_(False), 1), else_=0)),
        )
        .where(r.dataset_id >= lo, r.dataset_id < hi)
        .group_by(r.dataset_id)
    ):  # fmt: skip
        k = position.get(row[0])
        if k is not None:
            res[k] = row[1:5]
            answering[k] = row[5]

    stored = {
        row.dataset_id: row
        for row in db.session.execute(
            select(QualityScore).where(QualityScore.dataset_id >= lo, QualityScore.dataset_id < hi)
        ).scalars()
    }
    before = np.full(n, np.nan)
    for k, dataset_id in enumerate(ids.tolist()):
        row = stored.get(dataset_id)
        if row is None:
            continue
        past = row.timeliness_before if row.day == today else row.timeliness
        if past is not None:
            before[k] = past

    modified = np.fromiter(
        (epoch_seconds(m) if m is not None else -1 for m in cols[11]), dtype=np.int64, count=n
    )
    precision = np.fromiter(
        (_PRECISION_CODE.get(p or "", 0) for p in cols[12]), dtype=np.int8, count=n
    )
    updated = np.fromiter((epoch_seconds(u) for u in cols[13]), dtype=np.int64, count=n)
    version = np.asarray(cols[14], dtype=np.int64)
    # The last update we can see: the catalog's date, else a change we observed ourselves.
    last_update = np.where(modified >= 0, _period_end_epoch(modified, precision),
                           np.where(version > 1, updated, -1))  # fmt: skip
    missing = np.zeros(len(SOURCE_DEPENDENT), dtype=bool)
    chunk = Chunk(
        source_present=np.vstack([sources.get(s, missing) for s in cols[1]]),
        title_len=np.asarray([v or 0 for v in cols[2]], dtype=np.int64),
        description_len=np.asarray([v or 0 for v in cols[3]], dtype=np.int64),
        description_is_title=np.asarray([bool(v) for v in cols[4]]),
        publisher=np.asarray([bool(v) for v in cols[5]]),
        themes=np.asarray([bool(v) for v in cols[6]]),
        keywords=np.asarray([bool(v) for v in cols[7]]),
        license=np.asarray([bool(v) for v in cols[8]]),
        contact_point=np.asarray([bool(v) for v in cols[9]]),
        frequency=np.fromiter((FREQUENCY_ORDINAL.get(f, FREQUENCY_ORDINAL["unknown"]) for f in cols[10]),
                              dtype=np.int64, count=n),
        last_update=last_update,
        resources=res[:, 0], with_format=res[:, 1], downloadable=res[:, 2], checked=res[:, 3],
        answering=answering,
        schema_changes=np.fromiter((schema.get(i, 0) for i in ids.tolist()), dtype=np.int64, count=n),
        confirmed_reports=np.fromiter((reports.get(i, 0) for i in ids.tolist()), dtype=np.int64, count=n),
        before=before,
    )  # fmt: skip
    return ids, chunk, stored


def _num(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def _int(value: float) -> int | None:
    return None if np.isnan(value) else int(round(float(value)))


def _upsert(model, rows: list[dict], keys: list[str]) -> None:
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    statement = dialect_insert(model)
    columns = [name for name in rows[0] if name not in keys]
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={name: statement.excluded[name] for name in columns}
    )
    db.session.execute(statement, rows)


def _write(ids, chunk: Chunk, stored: dict, now: datetime, today: date) -> tuple[int, int]:
    # Judged as of the day's start (UTC): every run of a day gives the same values.
    result = score(chunk, epoch_seconds(datetime.combine(today, datetime.min.time())))
    scores, history = [], []
    for k, dataset_id in enumerate(ids.tolist()):
        row = {
            "dataset_id": dataset_id,
            "completeness": int(result.completeness[k]),
            "timeliness": _num(result.timeliness[k]),
            "timeliness_today": _num(result.timeliness_today[k]),
            "accuracy": _int(result.accuracy[k]),
            "overall": _int(result.overall[k]),
            "unmet": int(result.unmet[k]),
            "skipped": int(result.skipped[k]),
        }
        old = stored.get(dataset_id)
        if old is not None and all(getattr(old, name) == value for name, value in row.items()):
            continue  # unchanged: blending it again on a later day gives the same value
        past = (
            None if old is None else (old.timeliness_before if old.day == today else old.timeliness)
        )
        scores.append({**row, "day": today, "timeliness_before": past, "computed_at": now})
        rounded = (row["completeness"], _int(result.timeliness[k]), row["accuracy"])
        if old is None or rounded != (old.completeness, _int_or_none(old.timeliness), old.accuracy):
            history.append({"dataset_id": dataset_id, "day": today, "completeness": rounded[0],
                            "timeliness": rounded[1], "accuracy": rounded[2]})  # fmt: skip
    _upsert(QualityScore, scores, ["dataset_id"])
    _upsert(QualityHistory, history, ["dataset_id", "day"])
    return len(scores), len(history)


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(round(value))


def bump_cursor() -> None:
    """Tell search columns (every web process) that scores changed."""
    if (
        db.session.execute(
            update(Cursor).where(Cursor.name == CURSOR).values(value=Cursor.value + 1)
        ).rowcount
        == 0
    ):
        db.session.execute(insert(Cursor).values(name=CURSOR, value=1))


def cursor_value() -> int:
    return db.session.scalar(select(Cursor.value).where(Cursor.name == CURSOR)) or 0


def run_quality(now: datetime | None = None, chunk_ids: int = CHUNK_IDS) -> dict:
    """Score every live dataset; returns counts for the log, the job record and the CLI:
    {datasets, written, history, removed, seconds}. `now`: naive UTC (tests pin a day)."""
    started = time.perf_counter()
    now = now or utcnow()
    today = now.date()
    sources = source_fields()
    schema = schema_changes(now)
    reports = confirmed_reports()
    removed = db.session.execute(
        delete(QualityScore).where(
            QualityScore.dataset_id.in_(select(Dataset.id).where(Dataset.deleted_at.is_not(None)))
        )
    ).rowcount
    db.session.commit()
    low, high = db.session.execute(select(func.min(Dataset.id), func.max(Dataset.id))).one()
    seen = written = history = 0
    if low is not None:
        for lo in range(low, high + 1, chunk_ids):
            ids, chunk, stored = _load_chunk(lo, lo + chunk_ids, sources, schema, reports, today)
            if ids is None:
                continue
            done, added = _write(ids, chunk, stored, now, today)
            seen, written, history = seen + len(ids), written + done, history + added
            db.session.commit()  # one short transaction per chunk
    if written or removed:
        bump_cursor()
        db.session.commit()
    summary = {"datasets": seen, "written": written, "history": history, "removed": removed,
               "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
    log.info("quality: %s", summary)
    return summary
