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
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import (
    BigInteger,
    Text,
    case,
    cast,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)

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
_PRECISION_CODE = {"year": 1, "month": 2, "day": 3, "quarter": 4, "half": 5, "week": 6}


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
            _present(_listed(d.themes)),
            _present(_listed(d.keywords)),
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
    months = as_dt.astype("datetime64[M]")
    month_end, quarter_end, half_end = (
        (months + n).astype("datetime64[s]").astype(np.int64) for n in (1, 3, 6)
    )
    return np.select([precision == 1, precision == 2, precision == 3, precision == 4, precision == 5,
                      precision == 6],
                     [year_end, month_end, modified + 86_400, quarter_end, half_end,
                      modified + 7 * 86_400],
                     modified)  # fmt: skip


@dataclass
class Stored:
    """The chunk's stored scores as arrays aligned with its ids (NaN / -1: none)."""

    present: np.ndarray
    today: np.ndarray  # stored for this same day (a re-run)
    completeness: np.ndarray
    timeliness: np.ndarray
    timeliness_before: np.ndarray
    timeliness_today: np.ndarray
    accuracy: np.ndarray
    overall: np.ndarray
    unmet: np.ndarray
    skipped: np.ndarray

    @property
    def past(self) -> np.ndarray:
        """The smoothed timeliness as of the day before today (a re-run blends from the
        same past, so a day is blended in once)."""
        return np.where(self.today, self.timeliness_before, self.timeliness)


def _listed(column):
    """SQL: a JSON list column is not empty (compared as JSON to [], which an index-free
    scan does far faster on PostgreSQL than casting every jsonb to text)."""
    return column != literal([], column.type)


def _epoch(column):
    """SQL: a naive-UTC datetime column as whole epoch seconds (NULL stays NULL), so no
    datetime objects are made per row."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", column)), BigInteger)
    return cast(func.strftime("%s", column), BigInteger)


def _core(statement) -> list:
    """Rows through Core on the session's connection (no ORM row processing)."""
    return db.session.connection().execute(statement).all()


def _floats(values, n: int) -> np.ndarray:
    return np.fromiter((np.nan if v is None else v for v in values), dtype=np.float64, count=n)


def _ints(values, n: int) -> np.ndarray:
    return np.fromiter((-1 if v is None else v for v in values), dtype=np.int64, count=n)


def _stored(ids: np.ndarray, lo: int, hi: int, today: date) -> Stored:
    q = QualityScore
    rows = _core(
        select(q.dataset_id, q.day == today, q.completeness, q.timeliness, q.timeliness_before,
               q.timeliness_today, q.accuracy, q.overall, q.unmet, q.skipped)
        .where(q.dataset_id >= lo, q.dataset_id < hi)
    )  # fmt: skip
    n = len(ids)
    stored = Stored(
        present=np.zeros(n, dtype=bool), today=np.zeros(n, dtype=bool),
        completeness=np.full(n, -1, dtype=np.int64), timeliness=np.full(n, np.nan),
        timeliness_before=np.full(n, np.nan), timeliness_today=np.full(n, np.nan),
        accuracy=np.full(n, -1, dtype=np.int64), overall=np.full(n, -1, dtype=np.int64),
        unmet=np.zeros(n, dtype=np.int64), skipped=np.zeros(n, dtype=np.int64),
    )  # fmt: skip
    if not rows:
        return stored
    m = len(rows)
    cols = list(zip(*rows, strict=True))
    found = np.fromiter(cols[0], dtype=np.int64, count=m)
    at = np.searchsorted(ids, found)
    keep = (at < n) & (ids[np.minimum(at, n - 1)] == found)  # rows of live datasets only
    at = at[keep]

    def put(name: str, values: np.ndarray) -> None:
        getattr(stored, name)[at] = values[keep]

    stored.present[at] = True
    put("today", np.fromiter((bool(v) for v in cols[1]), dtype=bool, count=m))
    put("completeness", _ints(cols[2], m))
    put("timeliness", _floats(cols[3], m))
    put("timeliness_before", _floats(cols[4], m))
    put("timeliness_today", _floats(cols[5], m))
    put("accuracy", _ints(cols[6], m))
    put("overall", _ints(cols[7], m))
    put("unmet", _ints(cols[8], m))
    put("skipped", _ints(cols[9], m))
    return stored


def _load_chunk(lo: int, hi: int, sources, schema, reports, today: date):
    """(ids, Chunk, Stored) of the live datasets with ids in [lo, hi); (None, …) if none."""
    d = Dataset
    rows = _core(
        select(
            d.id, d.source_id, func.length(d.title), func.length(d.description),
            d.description == d.title, d.publisher != "",
            _listed(d.themes), _listed(d.keywords),
            d.license != "", d.contact_point != "", d.frequency, _epoch(d.modified),
            d.modified_precision, _epoch(d.updated_at), d.version,
        )
        .where(d.id >= lo, d.id < hi, d.deleted_at.is_(None))
        .order_by(d.id)
    )  # fmt: skip
    if not rows:
        return None, None, None
    n = len(rows)
    cols = list(zip(*rows, strict=True))
    ids = np.fromiter(cols[0], dtype=np.int64, count=n)

    res = np.zeros(
        (n, 5), dtype=np.int64
    )  # resources, with format, downloadable, checked, answering
    r = Resource
    counted = _core(
        select(
            r.dataset_id, func.count(),
            func.sum(case((r.format != "", 1), else_=0)),
            func.sum(case(((r.url.like("http://%")) | (r.url.like("https://%")), 1), else_=0)),
            func.sum(case((r.checked_at.is_not(None), 1), else_=0)),
            # answering: no failure and no error (a URL the SSRF guard blocked was never asked)
            func.sum(case((r.checked_at.is_not(None) & (r.failures == 0) & r.unavailable.is_(False)
                           & r.last_error.is_(None), 1), else_=0)),
        )
        .where(r.dataset_id >= lo, r.dataset_id < hi)
        .group_by(r.dataset_id)
    )  # fmt: skip
    if counted:
        found = np.asarray([row[0] for row in counted], dtype=np.int64)
        values = np.asarray([row[1:] for row in counted], dtype=np.int64)
        at = np.searchsorted(ids, found)
        keep = (at < n) & (ids[np.minimum(at, n - 1)] == found)
        res[at[keep]] = values[keep]

    stored = _stored(ids, lo, hi, today)
    modified = _ints(cols[11], n)
    precision = np.fromiter(
        (_PRECISION_CODE.get(p or "", 0) for p in cols[12]), dtype=np.int8, count=n
    )
    updated = _ints(cols[13], n)
    version = np.fromiter(cols[14], dtype=np.int64, count=n)
    # The last update we can see: the catalog's date, else a change we observed ourselves.
    last_update = np.where(modified >= 0, _period_end_epoch(modified, precision),
                           np.where(version > 1, updated, -1))  # fmt: skip
    source_ids = np.fromiter(cols[1], dtype=np.int64, count=n)
    present = np.zeros((n, len(SOURCE_DEPENDENT)), dtype=bool)
    for source_id in np.unique(source_ids).tolist():
        if source_id in sources:
            present[source_ids == source_id] = sources[source_id]
    unknown = FREQUENCY_ORDINAL["unknown"]

    def flags(k: int) -> np.ndarray:
        return np.fromiter((bool(v) for v in cols[k]), dtype=bool, count=n)

    chunk = Chunk(
        source_present=present,
        title_len=_ints(cols[2], n).clip(0),
        description_len=_ints(cols[3], n).clip(0),
        description_is_title=flags(4), publisher=flags(5), themes=flags(6), keywords=flags(7),
        license=flags(8), contact_point=flags(9),
        frequency=np.fromiter((FREQUENCY_ORDINAL.get(f, unknown) for f in cols[10]), dtype=np.int64, count=n),
        last_update=last_update,
        resources=res[:, 0], with_format=res[:, 1], downloadable=res[:, 2], checked=res[:, 3],
        answering=res[:, 4],
        schema_changes=np.fromiter((schema.get(i, 0) for i in cols[0]), dtype=np.int64, count=n),
        confirmed_reports=np.fromiter((reports.get(i, 0) for i in cols[0]), dtype=np.int64, count=n),
        before=stored.past,
    )  # fmt: skip
    return ids, chunk, stored


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a == b) | (np.isnan(a) & np.isnan(b))


def _rounded(values: np.ndarray) -> np.ndarray:
    """Floats → ints (round half to even, as Python's round), NaN → -1."""
    return np.where(np.isnan(values), -1, np.rint(np.nan_to_num(values))).astype(np.int64)


def _none(values: list) -> list:
    return [None if v == -1 or v != v else v for v in values]  # -1 and NaN are "none"


# Scores (with their history points) written per SQLite transaction. SQLite has one
# write lock: a chunk's 20,000 scores and 20,000 history rows in one transaction held it
# 7-8 s during a national run (load 14), while the leader lease, matching, deliveries
# and the harvest waited. A slice holds it well under a second. PostgreSQL locks rows,
# so it keeps one transaction (and COPY) per chunk.
SQLITE_SLICE = 2_000
COPY_FROM = 1000  # rows: from here on PostgreSQL gets them by COPY (a first run writes all)


def _copy_upsert(table, rows: list[dict], keys: list[str]) -> None:
    """PostgreSQL: COPY the rows into a temporary table, then one INSERT … SELECT … ON
    CONFLICT DO UPDATE (an executemany of upserts is several times slower). Same
    transaction as the rest of the chunk; the temporary table empties at commit."""
    names = list(rows[0])
    temp = f"tmp_{table.name}"
    column_list = ", ".join(names)
    updates = ", ".join(f"{n} = EXCLUDED.{n}" for n in names if n not in keys)
    cursor = db.session.connection().connection.dbapi_connection.cursor()
    try:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} "
                       f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")  # fmt: skip
        with cursor.copy(f"COPY {temp} ({column_list}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[n] for n in names))
        cursor.execute(
            f"INSERT INTO {table.name} ({column_list}) SELECT {column_list} FROM {temp} "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )
        cursor.execute(f"DELETE FROM {temp}")
    finally:
        cursor.close()


def _upsert(model, rows: list[dict], keys: list[str]) -> None:
    if not rows:
        return
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql" and len(rows) >= COPY_FROM:
        _copy_upsert(model.__table__, rows, keys)
        return
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    # Core on the table (one executemany), not the ORM's bulk path (a statement per row).
    statement = dialect_insert(model.__table__)
    columns = [name for name in rows[0] if name not in keys]
    statement = statement.on_conflict_do_update(
        index_elements=keys, set_={name: statement.excluded[name] for name in columns}
    )
    db.session.connection().execute(statement, rows)


def _write(ids, chunk: Chunk, stored: Stored, now: datetime, today: date) -> tuple[int, int]:
    """Upsert the rows whose values changed (an unchanged row blended again on a later
    day gives the same value, so it is left alone) and the day's history points."""
    # Judged as of the day's start (UTC): every run of a day gives the same values.
    new = score(chunk, epoch_seconds(datetime.combine(today, datetime.min.time())))
    accuracy, overall = _rounded(new.accuracy), _rounded(new.overall)
    same = (
        stored.present
        & (stored.completeness == new.completeness)
        & _same(stored.timeliness, new.timeliness)
        & _same(stored.timeliness_today, new.timeliness_today)
        & (stored.accuracy == accuracy) & (stored.overall == overall)
        & (stored.unmet == new.unmet) & (stored.skipped == new.skipped)
    )  # fmt: skip
    changed = np.flatnonzero(~same)
    if len(changed) == 0:
        return 0, 0
    timeliness_int = _rounded(new.timeliness)
    moved = ~stored.present | (stored.completeness != new.completeness) | (
        _rounded(stored.timeliness) != timeliness_int) | (stored.accuracy != accuracy)  # fmt: skip
    columns = {
        "dataset_id": ids[changed].tolist(),
        "completeness": new.completeness[changed].tolist(),
        "timeliness": _none(new.timeliness[changed].tolist()),
        "timeliness_today": _none(new.timeliness_today[changed].tolist()),
        "accuracy": _none(accuracy[changed].tolist()),
        "overall": _none(overall[changed].tolist()),
        "unmet": new.unmet[changed].tolist(),
        "skipped": new.skipped[changed].tolist(),
        "timeliness_before": _none(stored.past[changed].tolist()),
    }
    names = list(columns)
    scores = [
        {**dict(zip(names, values, strict=True)), "day": today, "computed_at": now}
        for values in zip(*columns.values(), strict=True)
    ]
    points = np.flatnonzero(moved)
    history = [
        {"dataset_id": i, "day": today, "completeness": c, "timeliness": t, "accuracy": a}
        for i, c, t, a in zip(
            ids[points].tolist(), new.completeness[points].tolist(),
            _none(timeliness_int[points].tolist()), _none(accuracy[points].tolist()), strict=True,
        )
    ]  # fmt: skip
    # A slice's scores and their history points commit together (a history point is
    # written only where a score moved, judged against the stored score).
    points_of = {row["dataset_id"]: row for row in history}
    step = len(scores) if db.session.get_bind().dialect.name == "postgresql" else SQLITE_SLICE
    for start in range(0, len(scores), step):
        part = scores[start : start + step]
        _upsert(QualityScore, part, ["dataset_id"])
        _upsert(QualityHistory, [points_of[row["dataset_id"]] for row in part
                                 if row["dataset_id"] in points_of], ["dataset_id", "day"])  # fmt: skip
        db.session.commit()
    return len(scores), len(history)


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
    # The day's start, not the hour: every run of a day counts the same window.
    schema = schema_changes(datetime.combine(today, datetime.min.time()))
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
            db.session.commit()  # short transactions: a chunk's (PostgreSQL), a slice's (SQLite)
    if written or removed:
        bump_cursor()
        db.session.commit()
    summary = {"datasets": seen, "written": written, "history": history, "removed": removed,
               "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
    log.info("quality: %s", summary)
    return summary
