"""Writes harvested records into the catalog in batches: create, update, restore, delete.

Each batch is one short transaction: datasets, their resources, a version per change
(with its diff) and change sequence numbers commit together, so every downstream follower
(search index, change events) sees whole changes, and a worker killed mid-harvest leaves
only whole batches behind. Between batches no transaction is open, so other writers (the
leader lease, deliveries) get the database in turn even on SQLite.

Speed: a record's canonical form and hash are computed once, when it arrives; a batch is
compared with the stored hashes in one query, and everything is written with bulk Core
statements (no per-row ORM objects), so unchanged rows cost one hash and are not
written at all: the run keeps the ids it saw in a bitmap (SeenIds) for deletion detection.
A RawRecord (a tabular row not yet parsed) is compared by its raw fingerprint first and
built only when that differs from the stored ``source_fingerprint``.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter, itemgetter

import numpy as np
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    MetaData,
    Table,
    Text,
    and_,
    cast,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from subscribe.catalog import sequence
from subscribe.catalog.diff import diff_snapshots, pair_resources
from subscribe.catalog.events import changes_from_diff
from subscribe.catalog.harvesters.tabular_identity import TOLD_APART
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion, HarvestRun, Resource
from subscribe.catalog.origins import (
    FILE,
    OriginTally,
    base_mapping,
    inverse,
    map_snapshot,
    moved_by,
    split_base,
    url_mapper,
    written_as,
)
from subscribe.catalog.records import (
    BadRecord,
    DatasetRecord,
    RawRecord,
    canonical_json,
    date_notes,
)
from subscribe.catalog.urls import DEFAULT_PORTS
from subscribe.extensions import db
from subscribe.models_base import utcnow

DATASET_FIELDS = (
    "title", "description", "publisher", "themes", "keywords", "formats", "open_type",
    "open_type_raw", "frequency", "frequency_raw", "issued", "issued_precision", "issued_raw",
    "modified", "modified_precision", "modified_raw", "landing_page", "license", "contact_point",
    "record_count", "translations", "upstream_name", "distinguished_by",
)  # fmt: skip


@dataclass(slots=True)
class _Existing:
    id: int
    content_hash: str
    version: int
    deleted: bool
    seen_this_run: bool
    fingerprint: str | None  # listed twice in one run (a second, full pass): count it once


# Core tables: bulk statements on them skip the ORM's per-row bookkeeping.
DATASETS, RESOURCES = Dataset.__table__, Resource.__table__
VERSIONS, EVENTS = DatasetVersion.__table__, CatalogEvent.__table__


@dataclass(slots=True)
class _Pending:
    """A record waiting for its batch, with its canonical form and hash made once
    (a RawRecord's only when its fingerprint shows it is needed: ``raw`` set, the rest
    empty until then)."""

    record: DatasetRecord | None
    snapshot: dict | None
    digest: str | None
    raw: RawRecord | None = None
    payload: str | None = None  # the snapshot as its canonical JSON text (what digest hashes)
    bad: BadRecord | None = None  # the RawRecord could not be read (set by build)
    # Why its dates were not read, [(field, note)] (records.date_notes; set by the writer)
    notes: list[tuple[str, str]] | None = None

    @property
    def fingerprint(self) -> str | None:
        return self.raw.fingerprint if self.raw else None

    @property
    def stored_fingerprint(self) -> str | None:
        """The fingerprint to store: the raw row's, or None for a row with a date not
        credible yet (in the future): the next run then reads the row again, and takes
        the date once it is past (a new reading: stored quietly), rather than finding the
        row unchanged forever."""
        if self.notes and any(note == "future" for _, note in self.notes):
            return None
        return self.fingerprint

    def build(self) -> None:
        """Parse a RawRecord's row: ``record`` and the rest, or ``bad`` when it cannot be
        read."""
        try:
            record = self.raw.build()
        except Exception as exc:  # one unreadable row never sinks the harvest
            self.bad = BadRecord(f"unreadable row: {exc}", self.raw.reference,
                                 identifier=self.raw.identifier)  # fmt: skip
            return
        self.record = record
        self.snapshot = record.canonical()
        self.payload, self.digest = canonical_json(self.snapshot)


_duplicate_reason = "duplicate identifier with different content in one listing; the first was kept"


def _duplicate(record: DatasetRecord) -> BadRecord:
    return BadRecord(_duplicate_reason, record.identifier, identifier=record.identifier)


_dataset_fields = attrgetter(*DATASET_FIELDS)  # every field in one C call


def _dataset_values(record: DatasetRecord) -> dict:
    values = dict(zip(DATASET_FIELDS, _dataset_fields(record), strict=True))
    values["title"] = values["title"][:10_000]
    values["publisher"] = values["publisher"][:500]
    values["landing_page"] = values["landing_page"][:2000]
    values["license"] = values["license"][:500]
    values["contact_point"] = values["contact_point"][:500]
    values["upstream_name"] = values["upstream_name"][:500] or None
    values["open_type_raw"] = values["open_type_raw"][:200]
    values["frequency_raw"] = values["frequency_raw"][:200]
    values["issued_raw"] = values["issued_raw"][:200]
    values["modified_raw"] = values["modified_raw"][:200]
    return values


class _JSONBFromText(TypeDecorator):
    """JSON text bound as text and cast to JSONB in the statement (PostgreSQL)."""

    impl = Text
    cache_ok = True

    def bind_expression(self, bindvalue):
        return cast(bindvalue, JSONB)


_json_text_tables: dict[tuple[str, str], Table] = {}


def _json_text(table: Table) -> Table:
    """``table`` with its JSON columns taking text that is already JSON (no second
    serialisation), for inserts only: a Table on its own MetaData, so the models'
    metadata and migrations never see it."""
    dialect = db.session.get_bind().dialect.name
    found = _json_text_tables.get((table.name, dialect))
    if found is None:
        json_type = _JSONBFromText() if dialect == "postgresql" else Text()
        columns = [
            Column(
                c.name, json_type if isinstance(c.type, JSON) else c.type, primary_key=c.primary_key
            )
            for c in table.columns
        ]
        found = Table(table.name, MetaData(), *columns)
        _json_text_tables[(table.name, dialect)] = found
    return found


@dataclass(slots=True)
class _InsertPlan:
    """How rows with a given set of keys go into a table through the DBAPI cursor."""

    columns: tuple[str, ...]  # the rows' keys, then the scalar defaults they leave out
    defaults: tuple  # values of the columns the rows leave out
    processors: tuple  # per column: the dialect's bind processor, or None
    repeated: tuple  # per column: "datetime" or "json" when its values repeat, else None


_insert_plans: dict[tuple, _InsertPlan] = {}


def _insert_plan(table: Table, keys: tuple[str, ...], dialect, with_defaults: bool = True,
                 copy: bool = False) -> _InsertPlan:  # fmt: skip
    """The column list, defaults and bind processors for rows with these keys: the same
    values SQLAlchemy's insert() would send (its Python-side scalar defaults for the
    columns left out, its own bind processors: JSON text, SQLite's datetime text).

    ``copy``: the values go into PostgreSQL's COPY, where a JSON column takes its JSON
    text. SQLAlchemy's psycopg processor only wraps the value (``Json``) and psycopg
    serialised every row's wrapper again as it wrote the row, so the memo of _values
    never applied (a twentieth of a first harvest's CPU); here the text is made by
    _values, once per distinct value, with psycopg's own default (``json.dumps``)."""
    key = (table.name, id(table), keys, dialect.name, with_defaults, copy)
    found = _insert_plans.get(key)
    if found is not None:
        return found
    missing = []
    for column in table.columns if with_defaults else ():
        if column.name in keys or column.primary_key:
            continue
        default = column.default
        if default is not None and default.is_scalar:
            missing.append((column.name, default.arg))
        elif default is not None:  # a callable default (utcnow): the caller gives it
            raise ValueError(f"{table.name}.{column.name} must be given")
    columns = (*keys, *(name for name, _ in missing))
    processors = tuple(
        json.dumps
        if copy and isinstance(table.c[name].type, JSON)
        else table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in columns
    )
    repeated = tuple(_repeats(table.c[name].type) for name in columns)
    found = _InsertPlan(columns, tuple(value for _, value in missing), processors, repeated)
    _insert_plans[key] = found
    return found


def _repeats(column_type) -> str | None:
    """Which kind of repeated values a column holds (see _values), by its type."""
    if isinstance(column_type, DateTime):
        return "datetime"
    if isinstance(column_type, JSON):
        return "json"
    return None


_EMPTY_DICT = object()  # the memo's key for {} (no list's tuple key can equal it)


def _values(plan: _InsertPlan, rows: list[dict]) -> list[list]:
    """Each row as the list of its bound values, in ``plan.columns`` order.

    Only the columns with a bind processor go through it (SQLite's datetimes, JSON), and
    a datetime or JSON list column's processor sees each distinct value once per call:
    the batch's ``now`` fills several columns of every row, catalog dates, themes and
    formats repeat (formatting them was 9 % of a first harvest on SQLite)."""
    keys, defaults = plan.columns[: len(plan.columns) - len(plan.defaults)], list(plan.defaults)
    take = itemgetter(*keys)
    if len(keys) == 1:
        rows_values = [[take(row), *defaults] for row in rows]
    else:
        rows_values = [[*take(row), *defaults] for row in rows]
    for index, processor in enumerate(plan.processors):
        if processor is None:
            continue
        if plan.repeated[index] == "datetime":
            memo: dict = {}
            for values in rows_values:
                value = values[index]
                if getattr(value, "tzinfo", None) is not None:  # equal instants, other zones
                    values[index] = processor(value)
                    continue
                found = memo.get(value, memo)
                if found is memo:
                    found = memo[value] = processor(value)
                values[index] = found
        elif plan.repeated[index] == "json":
            # Lists of texts (themes, keywords, formats) repeat as much: keyed as tuples,
            # only when every item is a str (1 == True: [1] and [true] must not meet).
            memo = {}
            for values in rows_values:
                value = values[index]
                if type(value) is dict and not value:  # translations, distinguished_by
                    key = _EMPTY_DICT
                elif type(value) is not list or not all(type(item) is str for item in value):
                    values[index] = processor(value)
                    continue
                else:
                    key = tuple(value)
                found = memo.get(key, memo)
                if found is memo:
                    found = memo[key] = processor(value)
                values[index] = found
        else:
            # None too goes through its processor: a JSON column stores it as 'null'.
            for values in rows_values:
                values[index] = processor(values[index])
    return rows_values


def _bulk_insert(table: Table, rows: list[dict]) -> None:
    """INSERT ``rows`` (dicts, all with the same keys) straight through the DBAPI cursor:
    SQLite's executemany, PostgreSQL's COPY. The values are those insert() would send
    (see _insert_plan); what goes is only the per-row parameter processing of
    SQLAlchemy's executemany, which was a sixth of a first harvest."""
    if not rows:
        return
    connection = db.session.connection()
    dialect = connection.dialect
    plan = _insert_plan(table, tuple(rows[0]), dialect, copy=dialect.name == "postgresql")
    values = _values(plan, rows)
    names = ", ".join(plan.columns)
    cursor = connection.connection.driver_connection.cursor()
    try:
        if dialect.name == "postgresql":
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" * len(plan.columns))
            cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", values)
    finally:
        cursor.close()


def _insert_datasets(rows: list[dict]) -> list[tuple[str, int]]:
    """INSERT new datasets (rows as _bulk_insert's, of one source); (identifier, id) of
    each, in no particular order. SQLite: multi-row VALUES … RETURNING. PostgreSQL: the
    ids drawn from the table's own sequence in one query (in the rows' order, as COPY's
    defaults would draw them), then COPY with them (a multi-row VALUES is parsed again by
    psycopg at each execution: see _driver_rows; looking the ids up by identifier after
    the COPY cost the server an index search a row)."""
    table, returning = DATASETS, "identifier"
    connection = db.session.connection()
    dialect = connection.dialect
    if dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence('datasets', 'id'))"
                " FROM generate_series(1, %s) ORDER BY 1",
                [len(rows)],
            )
            ids = [id_ for (id_,) in cursor.fetchall()]
        finally:
            cursor.close()
        for row, id_ in zip(rows, ids, strict=True):
            row["id"] = id_
        _bulk_insert(table, rows)
        return [(row["identifier"], row["id"]) for row in rows]
    plan = _insert_plan(table, tuple(rows[0]), dialect)
    values = _values(plan, rows)
    mark = "?"
    row_marks = "(" + ", ".join([mark] * len(plan.columns)) + ")"
    per_statement = max(1, 30_000 // len(plan.columns))  # SQLite's limit: 32,766 parameters
    head = f"INSERT INTO {table.name} ({', '.join(plan.columns)}) VALUES "
    found = []
    cursor = connection.connection.driver_connection.cursor()
    try:
        for start in range(0, len(values), per_statement):
            chunk = values[start : start + per_statement]
            cursor.execute(
                head + ", ".join([row_marks] * len(chunk)) + f" RETURNING {returning}, id",
                [value for row in chunk for value in row],
            )
            found.extend(cursor.fetchall())
    finally:
        cursor.close()
    return found


def _created_events_from_versions(dataset_ids: list[int], now) -> None:
    """The ``dataset.created`` events of datasets just inserted with their version 1,
    the event's ``after`` copied from the version's snapshot in the database (the same
    canonical text as the version's). PostgreSQL: parsed into jsonb once, not twice, and
    not sent twice (the second parse was a sixth of the server's work in a first
    harvest). SQLite: the text copied in the engine, not bound again row by row. Inserted
    in dataset id order, the order of the batch."""
    dialect = db.session.get_bind().dialect
    if dialect.name == "postgresql":
        changes, before = "'[]'::jsonb", "'null'::jsonb"
    else:  # JSON columns hold their text; the datetime as SQLAlchemy's SQLite type writes it
        changes, before = "'[]'", "'null'"
        now = EVENTS.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)(now)
    _driver_rows(
        "INSERT INTO catalog_events (dataset_id, type, version, changes, before, after,"
        f" created_at) SELECT dataset_id, 'dataset.created', 1, {changes}, {before},"
        " snapshot, {mark} FROM dataset_versions WHERE number = 1 AND dataset_id {in_values}"
        " ORDER BY dataset_id",
        now,
        dataset_ids,
    )


def _chunks(values: list, size: int = 10_000):
    """``values`` in slices of at most ``size`` (SQLite binds at most 32,766 parameters)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _driver_rows(sql: str, param, values: list, *, no_param: bool = False) -> list[tuple]:
    """Run ``sql`` on the session's connection through the DBAPI cursor; its rows (none
    for a statement without a result). In ``sql``, ``{mark}`` is the placeholder of
    ``param`` (``no_param``: there is none), and ``{in_values}`` the test that a column is
    one of ``values``: an IN (?, ?, …) list on SQLite, ``= ANY(%s)`` with one array on
    PostgreSQL (psycopg parses a query's text at each execution, and a 500-placeholder
    one was a fifth of a first harvest)."""
    connection = db.session.connection()
    head = [] if no_param else [param]
    if connection.dialect.name == "postgresql":
        text_, params = sql.format(mark="%s", in_values="= ANY(%s)"), [*head, list(values)]
    else:
        in_values = f"IN ({', '.join('?' * len(values))})"
        text_, params = sql.format(mark="?", in_values=in_values), [*head, *values]
    cursor = connection.connection.driver_connection.cursor()
    try:
        cursor.execute(text_, params)
        return cursor.fetchall() if cursor.description else []
    finally:
        cursor.close()


def _latest_snapshot_texts(dataset_ids: list[int]) -> dict[int, str]:
    """Dataset id -> the JSON text of its current version's snapshot (the version whose
    number is the dataset's ``version``), for datasets read in this transaction. One
    query through the DBAPI cursor per 10,000 ids: the ORM's row-value IN and a JSON
    load per row in SQLAlchemy were most of a changed row's cost (~470 us a row)."""
    dialect = db.session.get_bind().dialect.name
    snapshot = "v.snapshot::text" if dialect == "postgresql" else "v.snapshot"
    found: dict[int, str] = {}
    for chunk in _chunks(dataset_ids):
        rows = _driver_rows(
            f"SELECT v.dataset_id, {snapshot} FROM datasets d JOIN dataset_versions v"
            " ON v.dataset_id = d.id AND v.number = d.version WHERE d.id {in_values}",
            None,
            chunk,
            no_param=True,
        )
        found.update(rows)
    return found


def _update_by_id(table: Table, rows: list[dict]) -> None:
    """Bulk UPDATE of ``table`` rows by primary key ``id``: one DBAPI executemany per set
    of columns, with the columns' bind processors (as _bulk_insert: SQLAlchemy's own
    executemany spent more on each row's parameters than the database on the row)."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row)].append(row)
    connection = db.session.connection()
    dialect = connection.dialect
    mark = "%s" if dialect.name == "postgresql" else "?"
    for keys, group in groups.items():
        names = tuple(k for k in keys if k != "id")  # SET: the other keys, named after columns
        plan = _insert_plan(table, (*names, "id"), dialect, with_defaults=False)
        sql = (f"UPDATE {table.name} SET {', '.join(f'{n} = {mark}' for n in names)}"
               f" WHERE id = {mark}")  # fmt: skip
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.executemany(sql, _values(plan, group))
        finally:
            cursor.close()


def _resource_rows(dataset_id: int, record: DatasetRecord) -> list[dict]:
    return [
        {
            "dataset_id": dataset_id,
            "position": position,
            "identifier": (res.identifier or None) and res.identifier[:500],
            "name": res.name,
            "format": res.format[:50],
            "url": res.url[:2000],
            "size": res.size,
            "checksum": (res.checksum or None) and res.checksum[:200],
        }
        for position, res in enumerate(record.resources)
    ]


def _mapped_resources(stored: list[dict], mapping: dict | None) -> list[dict]:
    """Stored resources as pair_resources should see them after an origin move: their
    URL and identifier (a DCAT distribution's IRI) on the new origin."""
    if not mapping:
        return stored
    for step in mapping if isinstance(mapping, tuple) else (mapping,):
        # (a carried dataset's base mapping, then its origin move: one after the other)
        moved = url_mapper(step, FILE)
        stored = [{**row, "url": moved(row["url"]), "identifier": moved(row["identifier"])}
                  for row in stored]  # fmt: skip
    return stored


def _take_write_lock() -> None:
    """On SQLite, start the batch's transaction with the write lock (BEGIN IMMEDIATE).

    A batch reads (stored hashes) and then writes. Begun deferred, its read snapshot goes
    stale as soon as another connection commits, and the first write then fails at once
    with "database is locked" (busy_timeout cannot help a stale snapshot). Taking the
    lock first waits out busy_timeout instead; the batch stays short. Pending ORM changes
    (the run's counters) are flushed first: that write, if any, begins the transaction
    with the lock just the same."""
    db.session.flush()
    connection = db.session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


_COUNTS = ("created", "updated", "unchanged", "deleted", "bad")


class SeenIds:
    """The dataset ids a run has seen (written or found unchanged): one bit per id.

    Unchanged datasets were stamped with the run's id (``last_seen_run_id``) for
    deletion detection: an UPDATE rewriting every row of a 99 %-unchanged re-harvest (on
    PostgreSQL a new version of each row, on SQLite every page into the WAL). The bitmap
    costs id/8 bytes: 43 KB for ids up to 345,853."""

    def __init__(self):
        self.bits = bytearray()

    def add(self, dataset_id: int) -> None:
        byte = dataset_id >> 3
        if byte >= len(self.bits):
            self.bits.extend(bytes(max(byte + 1 - len(self.bits), len(self.bits))))
        self.bits[byte] |= 1 << (dataset_id & 7)

    def update(self, dataset_ids) -> None:
        """Add each id: ``add`` inline (a method call an id was a fortieth of an
        unchanged re-harvest's batch work)."""
        bits = self.bits
        for dataset_id in dataset_ids:
            byte = dataset_id >> 3
            if byte >= len(bits):
                bits.extend(bytes(max(byte + 1 - len(bits), len(bits))))
            bits[byte] |= 1 << (dataset_id & 7)

    def __contains__(self, dataset_id: int) -> bool:
        byte = dataset_id >> 3
        return byte < len(self.bits) and bool(self.bits[byte] >> (dataset_id & 7) & 1)


class CatalogWriter:
    """Accumulates one run's records and writes them a batch at a time."""

    def __init__(
        self,
        run: HarvestRun,
        batch_size: int = 500,
        max_errors_kept: int = 200,
        on_record: Callable[[], None] = lambda: None,
    ):
        self.run = run
        # The run's id, source and counters as plain values: after each batch's commit
        # the run object is expired, and reading an attribute of it reloads it (a query
        # a batch). Counters go into the run when a batch is committed (_store_counts).
        self.run_id, self.source_id = run.id, run.source_id
        self.counts = {name: getattr(run, name) or 0 for name in _COUNTS}
        self.stored = dict(self.counts)
        self.batch_size = batch_size
        # Raw rows pending before a flush: batch_size, or up to 4x while the last batch's
        # raw rows were nearly all unchanged (a re-harvest: a few SQL statements and a
        # commit per batch were a third of its time; such a batch writes one stamp a row).
        self.raw_limit = batch_size
        self.max_errors_kept = max_errors_kept
        self.on_record = on_record
        self.pending: dict[str, _Pending] = {}
        self.seen = 0
        self.errors: list[dict] = list(run.errors or [])
        self.stored_errors = len(self.errors)
        # In a run's first listing an identifier seen twice is an upstream duplicate; a
        # second listing (the full pass after an incremental one) sees everything again.
        self.first_pass = True
        # Ids of this run's datasets, written or unchanged (unchanged rows are not written).
        self.seen_ids = SeenIds()
        # Bad records, for deletions (mark_unseen_deleted): the identifiers of those whose
        # identity could be read (how many bad records named each), and how many could
        # not be placed at all.
        self.bad_identifiers: Counter[str] = Counter()
        self.unidentified_bad = 0
        # What mark_unseen_deleted did instead of deleting, for the run's report.
        self.deletion_report: dict = {}
        # Snapshot keys this run reads from elsewhere than the last succeeded run
        # (harvest.rereading): a diff in them alone is stored quietly, no version or event.
        self.rereading: frozenset[str] = frozenset()
        self.next_analyze = 1_000  # created datasets at which statistics are refreshed
        # Why records read this run have no issued/modified date despite a raw text:
        # {field: {note: count}} (records.date_notes), for the run's report.
        self.dates_not_read: dict[str, dict[str, int]] = {}
        # Datasets whose URLs only moved origin, written quietly until finish() decides
        # (origins.py).
        self.origins = OriginTally()
        # Stored identifiers the harvester carried over to listed datasets whose
        # identifying URL moved origin (HarvestContext.carried_identifiers), and the ids
        # of those whose URLs moved in this run: the run's origin_moved_identifiers.
        self.carried: set[str] = set()
        self.moved_identities: set[int] = set()
        # Of those, the ones carried by a base mapping (a portal moved under a path
        # prefix: origins.identity_moves), with their (old base, new base), and how many
        # datasets each base move stored quietly in this run (reported as an origin move).
        self.carried_bases: dict[str, tuple[str, str]] = {}
        self.identity_moves: Counter[tuple[str, str]] = Counter()
        # Every carried stored identifier with the listed one it is stored as at the end
        # of the run (HarvestContext.carried_listed, _rename_carried).
        self.carried_listed: dict[str, str] = {}
        self.locked_at: float | None = None  # when the open write transaction began
        self.lock_seconds: list[float] = []  # how long each write transaction lasted

    def begin_second_pass(self) -> None:
        self.flush()
        self.first_pass = False
        # The full listing reads every record again: its unreadable ones are the count.
        self.unidentified_bad = 0

    # --- intake -------------------------------------------------------------------
    def add(self, item: DatasetRecord | RawRecord | BadRecord) -> None:
        self.on_record()
        if isinstance(item, BadRecord):
            self._bad(item)
            return
        self.seen += 1
        if isinstance(item, RawRecord):
            earlier = self.pending.get(item.identifier)
            if earlier is not None:
                if earlier.fingerprint != item.fingerprint:
                    self._bad(BadRecord(_duplicate_reason, item.identifier,
                                        identifier=item.identifier))  # fmt: skip
                return
            self.pending[item.identifier] = _Pending(None, None, None, item)
            if len(self.pending) >= self.raw_limit:
                self.flush()
            return
        snapshot = item.canonical()
        payload, digest = canonical_json(snapshot)
        earlier = self.pending.get(item.identifier)
        if earlier is not None:
            if earlier.digest != digest:
                self._bad(_duplicate(item))
            return  # the same record twice (a page boundary moved): once is enough
        self.pending[item.identifier] = _Pending(item, snapshot, digest, payload=payload,
                                                 notes=self._note_dates(item))  # fmt: skip
        if len(self.pending) >= self.batch_size:
            self.flush()

    def _note_dates(self, record: DatasetRecord) -> list[tuple[str, str]]:
        """Count why the record's dates were not read (dates_not_read); the notes."""
        notes = date_notes(record)
        for name, note in notes:
            counts = self.dates_not_read.setdefault(name, {})
            counts[note] = counts.get(note, 0) + 1
        return notes

    def _bad(self, item: BadRecord) -> None:
        self.counts["bad"] += 1
        if item.identifier:
            self.bad_identifiers[item.identifier] += 1
        else:
            self.unidentified_bad += 1
        if len(self.errors) < self.max_errors_kept:
            self.errors.append({"reference": item.reference[:300], "reason": item.reason[:1000]})

    def flush(self) -> None:
        if self.pending:
            self._write_batch(list(self.pending.values()))
            self.pending.clear()
        self._store_counts()
        self._commit()
        self._analyze_as_it_grows()

    def _lock(self) -> None:
        """Begin a write transaction (SQLite: with the write lock), timed until _commit."""
        _take_write_lock()
        self.locked_at = time.perf_counter()

    def _commit(self) -> None:
        db.session.commit()
        if self.locked_at is not None:
            self.lock_seconds.append(time.perf_counter() - self.locked_at)
            self.locked_at = None

    def lock_summary(self) -> str:
        """How long this run's write transactions held the database (SQLite: the write
        lock every other writer waits for): count, median, 95th percentile, longest."""
        times = sorted(self.lock_seconds)
        if not times:
            return "no write transactions"
        at = lambda share: times[min(len(times) - 1, int(len(times) * share))]  # noqa: E731
        return (f"{len(times)} write transactions, {sum(times):.1f} s in all, median"
                f" {at(0.5) * 1000:.0f} ms, p95 {at(0.95) * 1000:.0f} ms,"
                f" longest {times[-1] * 1000:.0f} ms")  # fmt: skip

    def _store_counts(self) -> None:
        """Put the counters and errors that changed into the run (written by the commit
        that follows)."""
        for name, value in self.counts.items():
            if self.stored[name] != value:
                setattr(self.run, name, value)
                self.stored[name] = value
        if self.stored_errors != len(self.errors):
            self.run.errors = list(self.errors)
            self.stored_errors = len(self.errors)

    def _analyze_as_it_grows(self) -> None:
        """On PostgreSQL, refresh the planner's statistics each time this run's new
        datasets double (from 1,000): a first harvest starts on an empty table, and with
        its stale row estimate the planner read every dataset of the source for each
        batch's ``identifier IN (…)`` lookup (185 ms a batch at 300,000, growing: quadratic
        over the run). Autovacuum's ANALYZE comes too late. A handful of runs, each a
        sample of the table."""
        created = self.counts["created"]
        if created < self.next_analyze or db.session.get_bind().dialect.name != "postgresql":
            return
        first = self.next_analyze == 1_000
        self.next_analyze = created * 2
        if first:  # every column's statistics once, while the table is small
            db.session.execute(text("ANALYZE datasets, dataset_versions"))
        else:
            # Then only the columns a batch looks rows up by (the row counts are refreshed
            # all the same): every column's statistics took 2.8 s of the server at 345,853
            # datasets, these 0.5 s; autovacuum's own ANALYZE keeps the others fresh.
            db.session.execute(text("ANALYZE datasets (source_id, identifier),"
                                    " dataset_versions (dataset_id, number)"))  # fmt: skip
        db.session.commit()

    # --- one batch ----------------------------------------------------------------
    def _write_batch(self, items: list[_Pending]) -> None:
        """Decide and write one batch. The raw rows that need parsing are parsed before
        the write lock is taken (a WAL read does not wait for a writer, nor make one
        wait): parsing was half of a first harvest's batch, and while the lock is held
        the leader lease's renewal and every other job's write wait. Under the lock the
        stored rows are read again only when a dataset changed meanwhile (the change
        counter moved: another source's harvest, a resource check's new version); a row
        that this shows must be parsed after all is parsed there."""
        identifiers = [item.raw.identifier if item.raw else item.record.identifier
                       for item in items]  # fmt: skip
        counter = sequence.current()  # read first: a change after it moves it
        existing = self._load_existing(identifiers)
        needed = self._needs_build(items, existing)
        for item, need in zip(items, needed, strict=True):
            if need:
                item.build()
        self._lock()
        if sequence.current() != counter:
            existing = self._load_existing(identifiers)
            needed = self._needs_build(items, existing)
        new, changed, unchanged_ids, refingerprinted = [], [], [], []
        for item, need in zip(items, needed, strict=True):
            if item.raw is not None:
                if not need:
                    row = existing[item.raw.identifier]
                    if not row.seen_this_run:  # the raw row is as stored: nothing to parse
                        unchanged_ids.append(row.id)
                    continue
                if item.record is None and item.bad is None:  # needed only since the lock
                    item.build()
                if item.bad is not None:
                    self._bad(item.bad)
                    continue
                item.notes = self._note_dates(item.record)
            row = existing.get(item.record.identifier)
            if row is None:
                new.append(item)
            elif row.seen_this_run and self.first_pass:
                # Listed earlier in this run: keep the first, report a different second.
                if row.content_hash != item.digest:
                    self._bad(_duplicate(item.record))
            elif row.deleted or row.content_hash != item.digest:
                changed.append((item, row))
            elif row.seen_this_run:
                continue  # counted when first seen (a second, full pass)
            elif row.fingerprint != item.fingerprint:  # same content from a different raw row
                refingerprinted.append({"id": row.id, "last_seen_run_id": self.run_id,
                                        "source_fingerprint": item.stored_fingerprint})  # fmt: skip
            else:
                unchanged_ids.append(row.id)
        raw = built = 0
        for item in items:
            if item.raw is not None:
                raw += 1
                built += item.record is not None
        self.raw_limit = self.batch_size * 4 if raw and built * 20 <= raw else self.batch_size
        seqs = iter(sequence.allocate(len(new) + len(changed)))
        self._insert_new(new, seqs)
        self._update_changed(changed, seqs)
        seen = self.seen_ids
        seen.update(unchanged_ids)  # as stored: nothing to write
        seen.update(row.id for _item, row in changed)
        if refingerprinted:
            _update_by_id(DATASETS, refingerprinted)
            seen.update(row["id"] for row in refingerprinted)
        self.counts["created"] += len(new)
        self.counts["updated"] += len(changed)
        self.counts["unchanged"] += len(unchanged_ids) + len(refingerprinted)

    def _needs_build(self, items: list[_Pending], existing: dict[str, _Existing]) -> list[bool]:
        """Per item, whether it is a raw row that must be parsed: no stored row, or one
        deleted, built from another raw row, or listed before in this run's first pass
        (a duplicate to tell from a repeat by content)."""
        first_pass, get = self.first_pass, existing.get
        needed = []
        for item in items:
            raw = item.raw
            if raw is None:
                needed.append(False)
                continue
            row = get(raw.identifier)
            needed.append(
                row is None
                or row.deleted
                or row.fingerprint != raw.fingerprint
                or (row.seen_this_run and first_pass)
            )
        return needed

    def _load_existing(self, identifiers: list[str]) -> dict[str, _Existing]:
        # Plain DBAPI rows, not ORM or even Core ones: building the IN (…) expression and
        # its result rows was a fifth of an unchanged re-harvest.
        seen = self.seen_ids
        found = {}
        for chunk in _chunks(identifiers):
            rows = _driver_rows(
                "SELECT identifier, id, content_hash, version, deleted_at, source_fingerprint"
                " FROM datasets WHERE source_id = {mark} AND identifier {in_values}",
                self.source_id,
                chunk,
            )
            bits = seen.bits  # SeenIds.__contains__ inline: no method call a row
            size = len(bits)
            for identifier, id_, content_hash, version, deleted_at, print_ in rows:
                seen_this_run = (id_ >> 3) < size and bits[id_ >> 3] >> (id_ & 7) & 1 == 1
                found[identifier] = _Existing(id_, content_hash, version, deleted_at is not None,
                                              seen_this_run, print_)  # fmt: skip
        return found

    def _insert_new(self, new: list[_Pending], seqs) -> None:
        if not new:
            return
        now = utcnow()
        rows = [
            {
                **_dataset_values(item.record),
                "source_id": self.source_id,
                "identifier": item.record.identifier,
                "content_hash": item.digest,
                "source_fingerprint": item.stored_fingerprint,
                "version": 1,
                "change_seq": next(seqs),
                "last_seen_run_id": self.run_id,
                "created_at": now,
                "updated_at": now,
            }
            for item in new
        ]
        # RETURNING the identifier rather than asking for rows in parameter order: with
        # that order guaranteed SQLite inserts one row per statement; this way, in batches.
        by_identifier = dict(_insert_datasets(rows))
        self.seen_ids.update(by_identifier.values())
        resources, versions = [], []
        run_id = self.run_id
        for item in new:
            dataset_id = by_identifier[item.record.identifier]
            resources.extend(_resource_rows(dataset_id, item.record))
            # The snapshot goes in as the JSON text its hash was made from (the event's
            # "after" is copied from it); it reads back as the same dict.
            versions.append({"dataset_id": dataset_id, "number": 1, "kind": "created",
                             "snapshot": item.payload, "diff": "{}", "harvest_run_id": run_id,
                             "created_at": now})  # fmt: skip
        _bulk_insert(RESOURCES, resources)
        _bulk_insert(_json_text(VERSIONS), versions)
        _created_events_from_versions([row["dataset_id"] for row in versions], now)

    def _update_changed(self, changed: list[tuple[_Pending, _Existing]], seqs) -> None:
        """Write changed (or restored) datasets: the row, a version with its diff, an
        event, their resources. The previous snapshots come as their stored JSON text in
        one query (the event's ``before`` is that text, the version's snapshot and the
        event's ``after`` the record's canonical text): no JSON is encoded twice."""
        if not changed:
            return
        previous = _latest_snapshot_texts([row.id for _item, row in changed])
        now = utcnow()
        updates, versions, events, backfilled, synced = [], [], [], [], []
        run_id, dumps = self.run_id, json.dumps

        def store_quietly(item: _Pending, row: _Existing, mapping: dict | None) -> None:
            """The dataset's row and resources as the record says, its stored snapshot
            replaced (no new version, no event)."""
            backfilled.append((row.id, row.version, item.payload))
            synced.append((row.id, item.record, mapping))
            updates.append(
                {**_dataset_values(item.record), "id": row.id, "content_hash": item.digest,
                 "source_fingerprint": item.stored_fingerprint, "change_seq": next(seqs),
                 "last_seen_run_id": run_id}
            )  # fmt: skip

        for item, row in changed:
            snapshot = item.snapshot
            kind = "restored" if row.deleted else "updated"
            before_text = previous.get(row.id, "{}")
            before = json.loads(before_text)
            diff = diff_snapshots(before, snapshot)
            if not row.deleted and before and diff and self._reread_only(diff):
                diff = {}  # a field read from elsewhere since the last run (harvest.rereading)
            if not row.deleted and before and not diff:
                # Only fields added to the model since this version were filled in (the
                # hash covers them), or a new reading of the same text: store them, with
                # no new version and no event (a resource's format read since too).
                store_quietly(item, row, None)
                continue
            bases = self.carried_bases.get(item.record.identifier) if self.carried_bases else None
            carried = None  # the base mapping its identifier and URLs moved by this run
            if bases is not None and not row.deleted and before:
                moved = base_mapping(bases)
                if moved_by(before, snapshot, moved):
                    carried = moved
            if carried is not None:
                # Carried over by a base mapping (origins.identity_moves, decided on the
                # listing's identifiers): quiet when the mapping explains every change;
                # else an edit, told without the URL changes the move explains.
                # Counted in the move, edited or not (bb9 F4: 8 moved, 2 of them edited,
                # were "datasets: 6" beside origin_moved_identifiers 8; all 8 edited, no
                # origin_moves entry at all).
                self.moved_identities.add(row.id)
                self.identity_moves[bases] += 1
                mapped = written_as(map_snapshot(before, carried), snapshot)
                diff = diff_snapshots(mapped, snapshot)
                if not diff:
                    store_quietly(item, row, carried)
                    continue
                before_text = canonical_json(mapped)[0]
            # A carried dataset's other URLs may have moved origin in the same run (its
            # pages under a prefix, its files to a CDN: bb9 F4): the rule of origins.py
            # then looks at what the base mapping leaves.
            mapping, candidate = (
                (None, False)
                if row.deleted or not before
                else self.origins.observe(mapped if carried is not None else before, snapshot)
            )
            if mapping is not None and self.carried and item.record.identifier in self.carried:
                self.moved_identities.add(row.id)  # its identity went with its URLs
            if candidate:
                # Only its URLs moved origin (origins.py): stored now, quietly, like a
                # backfill; the end of the run (finish) says whether it was a move of the
                # whole origin or news after all (told then without the base mapping's
                # part: _origin_news maps the stored snapshot back by ``mapping`` only).
                self.origins.add(row.id, mapping)
                store_quietly(item, row, mapping if carried is None else (carried, mapping))
                continue
            if row.deleted:  # back after being deleted upstream: it is new to every scenario
                event_type, changes, was = "dataset.created", [{"kind": "restored"}], "null"
            else:
                event_type, changes, was = "dataset.updated", changes_from_diff(diff), before_text
            if mapping is not None:
                # Edited while its URLs moved: the event waits for the end of the run, to
                # be told without the URL changes a move explains (finish).
                self.origins.hold(row.id, row.version + 1, mapping, carried)
            else:
                events.append({"dataset_id": row.id, "type": event_type,
                               "version": row.version + 1, "changes": dumps(changes),
                               "before": was, "after": item.payload,
                               "created_at": now})  # fmt: skip
            updates.append(
                {
                    **_dataset_values(item.record),
                    "id": row.id,
                    "content_hash": item.digest,
                    "source_fingerprint": item.stored_fingerprint,
                    "version": row.version + 1,
                    "change_seq": next(seqs),
                    "last_seen_run_id": run_id,
                    "deleted_at": None,
                    "updated_at": now,
                }
            )
            versions.append({"dataset_id": row.id, "number": row.version + 1, "kind": kind,
                             "snapshot": item.payload, "diff": dumps(diff),
                             "harvest_run_id": run_id, "created_at": now})  # fmt: skip
            both = (carried, mapping) if carried is not None and mapping is not None else None
            synced.append((row.id, item.record, both or carried))
        self.counts["updated"] -= len(backfilled)
        self.counts["unchanged"] += len(backfilled)
        _update_by_id(DATASETS, updates)
        if backfilled:
            self._backfill_snapshots(backfilled)
        if synced:
            self._sync_resources(synced)
        _bulk_insert(_json_text(VERSIONS), versions)
        _bulk_insert(_json_text(EVENTS), events)

    def _reread_only(self, diff: dict) -> bool:
        """True when every change of ``diff`` is in a field this run reads from elsewhere
        than the last one did (``rereading``, harvest.rereading): a new reading, not news."""
        return (
            bool(self.rereading)
            and "resources" not in diff
            and all(name in self.rereading for name in diff.get("fields", {}))
        )

    def _backfill_snapshots(self, rows: list[tuple[int, int, str]]) -> None:
        """Rewrite the current version's snapshot (given as the record's canonical JSON
        text) with the new fields filled in, or its URLs moved, so the next real change
        is diffed against them. One DBAPI executemany: an ORM UPDATE a row was ~1.4 ms,
        and an origin move rewrites every dataset's (5,000 rows: 6.8 of 14.8 CPU-s)."""
        if not rows:
            return
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            sql = ("UPDATE dataset_versions SET snapshot = %s::jsonb"
                   " WHERE dataset_id = %s AND number = %s")  # fmt: skip
        else:
            sql = "UPDATE dataset_versions SET snapshot = ? WHERE dataset_id = ? AND number = ?"
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.executemany(sql, [(text_, id_, number) for id_, number, text_ in rows])
        finally:
            cursor.close()

    def _sync_resources(self, changed: list[tuple[int, DatasetRecord, dict | None]]) -> None:
        """Update resources in place (matched as the diff matches them: upstream id, else
        URL, else a resource without either by its name; diff.pair_resources) so their
        ids, and the check state later attached to them, survive metadata edits. A
        dataset whose URLs moved origin (its mapping given, origins.py) pairs its stored
        resources by their URLs mapped, so an origin move keeps every resource's id. One
        query (DBAPI cursor) loads the batch's resources; inserts, updates and deletes go
        in bulk."""
        current: dict[int, list[dict]] = defaultdict(list)
        rows = _driver_rows(
            "SELECT id, dataset_id, identifier, url, name FROM resources"
            " WHERE dataset_id {in_values} ORDER BY id",
            None,
            [dataset_id for dataset_id, _record, _mapping in changed],
            no_param=True,
        )
        for id_, dataset_id, identifier, url, name in rows:
            current[dataset_id].append({"id": id_, "identifier": identifier, "url": url,
                                        "name": name})  # fmt: skip
        inserts, updates, gone = [], [], []
        for dataset_id, record, mapping in changed:
            stored = current.pop(dataset_id, [])
            harvested = _resource_rows(dataset_id, record)
            pairs = pair_resources(_mapped_resources(stored, mapping), harvested)
            for index, values in enumerate(harvested):
                if index in pairs:
                    updates.append({**values, "id": stored[pairs[index]]["id"]})
                else:
                    inserts.append(values)
            kept = set(pairs.values())
            gone.extend(row["id"] for index, row in enumerate(stored) if index not in kept)
        gone.extend(row["id"] for rows_left in current.values() for row in rows_left)
        for chunk in _chunks(gone):
            _driver_rows("DELETE FROM resources WHERE id {in_values}", None, chunk, no_param=True)
        if updates:
            _update_by_id(RESOURCES, updates)
        _bulk_insert(RESOURCES, inserts)

    # --- deletions ----------------------------------------------------------------
    def mark_unseen_deleted(self, chunk: int = 500, already_unreadable: int = 0) -> int:
        """After a full listing: datasets this run did not see are gone upstream.

        The source's active ids are streamed once (no lock held) and those not in
        ``seen_ids`` kept (usually few); they are then marked deleted
        ``chunk`` at a time, each chunk a transaction of its own that reads their versions
        again under the write lock. (Paging through the ids by ``id > last`` instead made
        SQLite sort the source's rows by id again for every page.)

        Bad input loses nothing. A bad record whose identity was read (BadRecord.identifier)
        keeps that stored dataset as it is: seen, not deleted, not changed. Bad records
        with no readable identity (U) may each be any stored dataset, except as many as
        the last full listing had too (``already_unreadable``, P: a row bad then is not a
        dataset read then, and every unseen dataset was read then). So when the unseen
        ones are no more than the new unreadable ones (D <= U - P) none is deleted this
        run, and ``deletion_report`` says so ({"deletions_held_back": {"datasets_unseen":
        D, "records_unreadable": U, "already_unreadable": P}}). More unseen than that
        are deleted as before: the bad rows cannot all be the unseen datasets, and
        holding a real mass removal back on one bad row would keep every withdrawn
        dataset alive as long as the file has a typo. ``deletion_report`` also keeps U
        (``records_unreadable``) for the next run's P."""
        self.flush()
        kept = self._keep_bad_identified()
        active = and_(Dataset.source_id == self.source_id, Dataset.deleted_at.is_(None))
        unseen = sorted(self._unseen_active_ids())
        db.session.commit()  # the read ends here: each write below takes the lock afresh
        unreadable = self.unidentified_bad
        if kept:
            self.deletion_report["kept_by_bad_records"] = kept
        if unreadable:
            self.deletion_report["records_unreadable"] = unreadable
        if unseen and len(unseen) <= unreadable - already_unreadable:
            self.deletion_report["deletions_held_back"] = {
                "datasets_unseen": len(unseen), "records_unreadable": unreadable,
                "already_unreadable": already_unreadable,
            }  # fmt: skip
            return 0
        deleted = 0
        for start in range(0, len(unseen), chunk):  # in id order, as they were always marked
            deleted += self._mark_deleted(unseen[start : start + chunk], active)
        return deleted

    def mark_withdrawn(self, identifiers: list[str], chunk: int = 500) -> int:
        """Mark deleted the source's active datasets of these identifiers: packages the
        catalog lists as deleted, draft or private (ckan: ``HarvestContext.withdrawn``),
        in any listing, full or not. Each one ``dataset.deleted``; how many. A dataset this
        run wrote or saw is not withdrawn: its identity went to a live package (a package
        re-created under a new id carries the old one's dataset over, ckan.carry_names,
        while the file still lists the old package as deleted)."""
        self.flush()
        active = and_(Dataset.source_id == self.source_id, Dataset.deleted_at.is_(None))
        ids: list[int] = []
        for start in range(0, len(identifiers), 1000):
            found = db.session.scalars(select(Dataset.id).where(
                active, Dataset.identifier.in_(identifiers[start : start + 1000])))  # fmt: skip
            ids.extend(id_ for id_ in found if id_ not in self.seen_ids)
        db.session.commit()
        ids.sort()
        deleted = 0
        for start in range(0, len(ids), chunk):
            deleted += self._mark_deleted(ids[start : start + chunk], active)
        return deleted

    def _keep_bad_identified(self) -> int:
        """Count the source's active datasets named by this run's bad records as seen;
        how many. One lookup per 1,000 identifiers (bad records are few).

        A bad row of a twin (rows sharing an id or URL, stored told apart as
        ``A006#<10 hex>``, tabular_identity) names only ``A006``: what told it apart may lie
        past the break. Its family's unseen members are kept when they are no more than
        the bad records naming ``A006`` that its own identity did not use: each may be
        one of them. More unseen than that are deleted (the bad rows cannot all be them),
        as mark_unseen_deleted does with unreadable rows."""
        identifiers = sorted(self.bad_identifiers)
        kept, unused = 0, Counter(self.bad_identifiers)
        for start in range(0, len(identifiers), 1000):
            rows = db.session.execute(
                select(Dataset.id, Dataset.identifier).where(
                    Dataset.source_id == self.source_id,
                    Dataset.deleted_at.is_(None),
                    Dataset.identifier.in_(identifiers[start : start + 1000]),
                )
            ).all()
            for id_, identifier in rows:
                if id_ not in self.seen_ids:
                    self.seen_ids.add(id_)
                    unused[identifier] -= 1
                    kept += 1
        return kept + self._keep_bad_twins(+unused)

    def _keep_bad_twins(self, unused: Counter[str]) -> int:
        """Keep (count as seen) the unseen told-apart twins of ``unused`` bad records'
        identities (see _keep_bad_identified); how many. One read of the source's
        told-apart identifiers, only when a bad record named an id or URL."""
        if not any(not identifier.startswith("sha1:") for identifier in unused):
            return 0
        families: dict[str, list[int]] = defaultdict(list)
        rows = db.session.execute(
            select(Dataset.id, Dataset.identifier).where(
                Dataset.source_id == self.source_id,
                Dataset.deleted_at.is_(None),
                Dataset.identifier.like("%#__________"),
            )
        )
        for id_, identifier in rows:
            base = identifier[:-11]
            if base in unused and id_ not in self.seen_ids and TOLD_APART.search(identifier):
                families[base].append(id_)
        kept = 0
        for base, ids in families.items():
            if len(ids) <= unused[base]:
                self.seen_ids.update(ids)
                kept += len(ids)
        return kept

    def _unseen_active_ids(self) -> list[int]:
        """The source's active dataset ids not in ``seen_ids``, read through the DBAPI
        cursor 10,000 at a time and tested against the bitmap with numpy (the ORM's rows
        and a test per id were a twentieth of a 99 %-unchanged re-harvest). PostgreSQL:
        a server-side cursor, so the ids are never all in memory at once."""
        connection = db.session.connection()
        driver = connection.connection.driver_connection
        if connection.dialect.name == "postgresql":
            cursor, mark = driver.cursor(name="unseen_active_ids"), "%s"
        else:
            cursor, mark = driver.cursor(), "?"
        bits = np.frombuffer(bytes(self.seen_ids.bits), dtype=np.uint8)
        unseen: list[int] = []
        try:
            cursor.execute(f"SELECT id FROM datasets WHERE source_id = {mark}"
                           " AND deleted_at IS NULL", [self.source_id])  # fmt: skip
            while rows := cursor.fetchmany(10_000):
                ids = np.fromiter((id_ for (id_,) in rows), dtype=np.int64, count=len(rows))
                byte = ids >> 3
                inside = byte < len(bits)
                seen = np.zeros(len(ids), dtype=bool)
                seen[inside] = (bits[byte[inside]] >> (ids[inside] & 7).astype(np.uint8)) & 1 == 1
                unseen.extend(ids[~seen].tolist())
        finally:
            cursor.close()
        return unseen

    def _mark_deleted(self, ids: list[int], active) -> int:
        self._lock()
        rows = db.session.execute(
            select(Dataset.id, Dataset.version).where(active, Dataset.id.in_(ids))
        ).all()
        if not rows:
            self._commit()
            return 0
        snapshots = _latest_snapshot_texts([r.id for r in rows])
        seqs = iter(sequence.allocate(len(rows)))
        now = utcnow()
        _update_by_id(
            DATASETS,
            [
                {"id": r.id, "deleted_at": now, "version": r.version + 1,
                 "change_seq": next(seqs), "updated_at": now}
                for r in rows
            ],
        )  # fmt: skip
        run_id = self.run_id
        _bulk_insert(
            _json_text(VERSIONS),
            [
                {"dataset_id": r.id, "number": r.version + 1, "kind": "deleted",
                 "snapshot": snapshots.get(r.id, "{}"), "diff": "{}", "harvest_run_id": run_id,
                 "created_at": now}
                for r in rows
            ],
        )  # fmt: skip
        _bulk_insert(
            _json_text(EVENTS),
            [
                {"dataset_id": r.id, "type": "dataset.deleted", "version": r.version + 1,
                 "changes": "[]", "before": snapshots.get(r.id, "null"), "after": "null",
                 "created_at": now}
                for r in rows
            ],
        )  # fmt: skip
        self.counts["deleted"] += len(rows)
        self._store_counts()
        self._commit()
        return len(rows)

    # --- origin moves (origins.py) -------------------------------------------------
    def finish(self, chunk: int = 500) -> list[dict]:
        """End of the run: settle the datasets whose URLs only moved origin. Those of a
        move stay as written (quiet); the others get the version and ``dataset.updated``
        event they were held back from, ``chunk`` datasets a transaction. Returns the
        moves, [{"from", "to", "datasets"}] (also ``origins.moves``), for the run's report.
        Call after the last flush and after deletions (a dataset marked deleted no longer
        holds its old origin)."""
        self.flush()
        self._rename_carried()
        by_identity = [{"from": old, "to": new, "datasets": n}
                       for (old, new), n in self.identity_moves.most_common()]  # fmt: skip
        self.identity_moves.clear()
        if not self.origins.candidates and not self.origins.edited:
            return by_identity
        news = self.origins.decide(self._origin_still_used)
        db.session.commit()  # the reads end here
        for mapping, ids in news:
            back = inverse(mapping)
            for start in range(0, len(ids), chunk):
                self._origin_news(list(ids[start : start + chunk]), back)
        for key, held in self.origins.edited.items():
            moved = self.origins.moved_part(key)
            for start in range(0, len(held), chunk * 2):
                pairs = held[start : start + chunk * 2]
                self._edited_news(list(zip(pairs[::2], pairs[1::2], strict=True)), moved)
        self.origins.candidates.clear()
        self.origins.edited.clear()
        self.origins.carried_first.clear()
        return [*self.origins.moves, *by_identity]

    def _rename_carried(self) -> None:
        """Store each carried dataset under the identifier the catalog lists it by now
        (bb9 F2): with the old URL kept, a dataset published later at that URL took the
        moved dataset's identity (its title an update of the pinned dataset, the moved
        one created anew). Only an active dataset this run saw, and only where no
        dataset of the source (deleted ones too) holds the new identifier. Its snapshot
        keeps the old identifier until the next run stores it quietly (an identifier is
        how the catalog names a dataset, no change: records.IDENTITY_FIELDS)."""
        if not self.carried_listed:
            return
        self._lock()
        by_identifier, taken = {}, set()
        for chunk in _chunks(list(self.carried_listed)):
            by_identifier.update(_driver_rows(
                "SELECT identifier, id FROM datasets WHERE source_id = {mark}"
                " AND deleted_at IS NULL AND identifier {in_values}",
                self.source_id, chunk,
            ))  # fmt: skip
            taken.update(identifier for (identifier,) in _driver_rows(
                "SELECT identifier FROM datasets WHERE source_id = {mark}"
                " AND identifier {in_values}",
                self.source_id, [self.carried_listed[stored] for stored in chunk],
            ))  # fmt: skip
        renames = [
            {"id": id_, "identifier": self.carried_listed[stored]}
            for stored, id_ in by_identifier.items()
            if id_ in self.seen_ids and self.carried_listed[stored] not in taken
        ]
        _update_by_id(DATASETS, renames)
        self.carried_listed.clear()
        self._commit()

    def _origin_still_used(self, base: str, inside: tuple[str, ...] = ()) -> bool:
        """Does an active dataset of the source hold a landing page or a file URL on
        ``base`` (scheme://host[:port] in normal form, then a path prefix of whole
        segments, origins.py)? Two queries a spelling of the base (with and without the
        scheme's default port), each stops at its first row (the source's rows are
        scanned only when none does)."""
        origin, prefix = split_base(base)
        port = DEFAULT_PORTS[origin.partition(":")[0]]
        # A base a move put inside the old one (a prefix gained on one origin), in both
        # spellings: URLs on it do not hold the old base.
        skip = [spelled for new in inside
                for spelled in (new, origin + port + split_base(new)[1])]  # fmt: skip
        return any(self._base_held(spelled, skip) for spelled in (base, origin + port + prefix))

    def _base_held(self, base: str, skip: list[str] = ()) -> bool:
        # A URL is on the base when it, with "/" appended, starts with the base and
        # "/", "?" or "#" (http://a.b is not on http://a.bc; a bare http://a.b is on it).
        # Compared in lower case, the path prefix too: a URL on /V2 when the base says
        # /v2 counts as still used, the conservative side (no move). A URL on a base of
        # ``skip`` (each inside ``base``) does not count, compared the same way, in
        # exact case: one on /Portal when the move went to /portal holds the base.
        postgres = db.session.connection().dialect.name == "postgresql"
        mark = "%s" if postgres else "?"

        def on(column: str, spelled: str, lower: bool) -> tuple[str, list[str]]:
            size = len(spelled) + 1
            cut = f"substr({column} || '/', 1, {size})"
            starts = [spelled + end for end in "/?#"]
            if lower:
                cut, starts = f"lower({cut})", [start.lower() for start in starts]
            return f"{cut} IN ({mark}, {mark}, {mark})", starts

        for table, column in (
            ("datasets d", "d.landing_page"),
            ("resources r JOIN datasets d ON d.id = r.dataset_id", "r.url"),
        ):
            test, params = on(column, base, True)
            for inner in skip:
                inner_test, inner_params = on(column, inner, False)
                test += f" AND NOT {inner_test}"
                params += inner_params
            sql = (f"SELECT 1 FROM {table} WHERE d.source_id = {mark}"
                   f" AND d.deleted_at IS NULL AND {test} LIMIT 1")  # fmt: skip
            cursor = db.session.connection().connection.driver_connection.cursor()
            try:
                cursor.execute(sql, [self.source_id, *params])
                if cursor.fetchall():
                    return True
            finally:
                cursor.close()
        return False

    def _edited_news(self, held: list[tuple[int, int]], moved: dict) -> None:
        """The held-back events of datasets edited while their URLs moved, [(dataset id,
        version number)]: diffed from the stored snapshot (the version before) mapped
        through ``moved`` (the dataset's mappings that were decided moves), so the news
        is the edit and not the URLs the move explains; the version's diff is rewritten
        the same. Without a move, or when the mapped diff would be empty (a URL left
        behind), the diff as written stands."""
        self._lock()
        dialect = db.session.get_bind().dialect.name
        snapshot = "v.snapshot::text" if dialect == "postgresql" else "v.snapshot"
        rows = _driver_rows(
            f"SELECT v.dataset_id, v.number, {snapshot}, v.diff FROM dataset_versions v"
            " JOIN datasets d ON d.id = v.dataset_id"
            " WHERE d.id {in_values} AND v.number >= d.version - 1",
            None,
            [id_ for id_, _ in held],
            no_param=True,
        )
        texts = {(id_, number): (text_, diff) for id_, number, text_, diff in rows}
        now, dumps = utcnow(), json.dumps
        events, rewritten = [], []
        for id_, number in held:
            after, before = texts.get((id_, number)), texts.get((id_, number - 1))
            if after is None or before is None:
                continue
            after_text, written = after
            before_text = before[0]
            diff = written if type(written) is not str else json.loads(written)
            first = self.origins.carried_first.get(id_)
            if moved:
                mapped = json.loads(before_text)
                if first is not None:  # carried by a base mapping too (bb9 F4)
                    mapped = map_snapshot(mapped, first)
                mapped = map_snapshot(mapped, moved)
                through = diff_snapshots(mapped, json.loads(after_text))
                if through:
                    diff, before_text = through, canonical_json(mapped)[0]
                    rewritten.append((dumps(diff), id_, number))
            events.append({"dataset_id": id_, "type": "dataset.updated", "version": number,
                           "changes": dumps(changes_from_diff(diff)), "before": before_text,
                           "after": after_text, "created_at": now})  # fmt: skip
        if rewritten:
            cast = "%s::jsonb" if dialect == "postgresql" else "?"
            mark = "%s" if dialect == "postgresql" else "?"
            cursor = db.session.connection().connection.driver_connection.cursor()
            try:
                cursor.executemany(
                    f"UPDATE dataset_versions SET diff = {cast}"
                    f" WHERE dataset_id = {mark} AND number = {mark}",
                    rewritten,
                )
            finally:
                cursor.close()
        _bulk_insert(_json_text(EVENTS), events)
        self._commit()

    def _origin_news(self, ids: list[int], back: dict) -> None:
        """The held-back version and ``dataset.updated`` event of candidates that were no
        move: the diff from the stored snapshot with its URLs mapped back (exact, by the
        candidate rule) to the stored snapshot."""
        self._lock()
        rows = _driver_rows(
            "SELECT id, version FROM datasets WHERE deleted_at IS NULL AND id {in_values}",
            None,
            ids,
            no_param=True,
        )
        texts = _latest_snapshot_texts([id_ for id_, _ in rows])
        now, run_id, dumps = utcnow(), self.run_id, json.dumps
        told = []
        for id_, version in rows:
            after_text = texts.get(id_)
            if after_text is None:
                continue
            after = json.loads(after_text)
            before = map_snapshot(after, back)
            diff = diff_snapshots(before, after)
            if diff:
                told.append((id_, version, before, after_text, diff))
        seqs = iter(sequence.allocate(len(told)))
        updates, versions, events = [], [], []
        for id_, version, before, after_text, diff in told:
            updates.append({"id": id_, "version": version + 1, "change_seq": next(seqs),
                            "updated_at": now})  # fmt: skip
            versions.append({"dataset_id": id_, "number": version + 1, "kind": "updated",
                             "snapshot": after_text, "diff": dumps(diff),
                             "harvest_run_id": run_id, "created_at": now})  # fmt: skip
            events.append({"dataset_id": id_, "type": "dataset.updated", "version": version + 1,
                           "changes": dumps(changes_from_diff(diff)),
                           "before": canonical_json(before)[0], "after": after_text,
                           "created_at": now})  # fmt: skip
        _update_by_id(DATASETS, updates)
        _bulk_insert(_json_text(VERSIONS), versions)
        _bulk_insert(_json_text(EVENTS), events)
        self.counts["updated"] += len(told)
        self.counts["unchanged"] -= len(told)
        self._store_counts()
        self._commit()
