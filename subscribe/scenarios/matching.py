"""Matching: turn catalog events into scenario events (enter, change, leave, overdue).

Reads catalog_events after its cursor, judges each changed dataset before and after the
change against the scenarios the percolator wakes, writes the scenario events and moves
the cursor in one transaction — so every catalog event is matched exactly once.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import threading
from array import array
from bisect import bisect_left
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from subscribe import FOREIGN_KEYS_OFF
from subscribe.catalog.baseline import first_harvest_finished, is_initial_load
from subscribe.catalog.models import CatalogEvent, Cursor, Dataset, Source
from subscribe.extensions import db
from subscribe.models_base import to_naive_utc, utcnow
from subscribe.notify import outbox, sender
from subscribe.notify.models import Subscription
from subscribe.scenarios.models import Scenario
from subscribe.scenarios.services import filters_of
from subscribe.search.docmatch import MatchSpec, analyse, matched_because
from subscribe.search.percolate import ChangedDocs, Percolator, slots
from subscribe.search.query import ParsedQuery, parse
from subscribe.suggest.push import enqueue_suggestions

log = logging.getLogger(__name__)
CURSOR = "scenario-matching"
# SQLite page cache while a batch's scenario events are written (the worker's memory while
# it does: 32 MB wrote 200,000 rows as fast as 64 MB, 34 MB less at the worker's peak).
INSERT_CACHE_KB = 32 * 1024
# Catalog events per batch. A batch holds its events' snapshots, their analysed documents
# and its scenario-event rows at once: for 1 % of a national catalog against 100,000
# scenarios, 5,000 a batch peaked ~85 MB higher than 1,000, for ~8 % less CPU (the
# worker's national peak is the re-harvest's matching beside the follower and deliveries).
BATCH = 1000


def spec_of(scenario: Scenario, parsed: dict[str, ParsedQuery] | None = None) -> MatchSpec:
    """The scenario (or a row with its q, filters, include, exclude) as matching needs it;
    `parsed` memoizes parse() by query text across many scenarios (it is pure)."""
    if parsed is None:
        query = parse(scenario.q)
    elif (query := parsed.get(scenario.q)) is None:
        query = parsed[scenario.q] = parse(scenario.q)
    return MatchSpec(query, filters_of(scenario), _ids(scenario.include), _ids(scenario.exclude))


_NO_IDS: frozenset[int] = frozenset()


def _ids(ids) -> frozenset[int]:
    """Pinned or excluded ids; most scenarios have none, and share one empty frozenset
    (each of its own was 200 bytes: two per distinct scenario, ~6 MB for 15,000)."""
    return frozenset(ids) if ids else _NO_IDS


def _micros(value: datetime) -> int:
    """Microseconds since 1970 (UTC): created_at compared exactly, as a machine integer."""
    return (to_naive_utc(value) - _EPOCH) // _MICROSECOND


_EPOCH, _MICROSECOND = datetime(1970, 1, 1), timedelta(microseconds=1)


class Started:
    """When each scenario was made, compactly: scenario ids in ascending order and their
    created_at in microseconds (`_micros`), two arrays of machine integers. A dict of
    100,000 ids to datetimes was ~10 MB of the matching process's heap; these are 1.6 MB."""

    def __init__(self) -> None:
        self.ids, self.micros = array("q"), array("q")  # filled in ascending id order

    def __getitem__(self, scenario_id: int) -> int:
        """The scenario's created_at in microseconds (`_micros`); KeyError if unknown."""
        index = bisect_left(self.ids, scenario_id)
        if index == len(self.ids) or self.ids[index] != scenario_id:
            raise KeyError(scenario_id)
        return self.micros[index]


class PercolatorCache:
    """The scenarios' percolator, rebuilt only when scenarios change (it takes seconds
    for 100,000 scenarios, so the worker keeps it between runs)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._version = None
        self.percolator: Percolator | None = None
        self.started = Started()  # scenario id → created_at (microseconds)
        self.newest = None  # the latest created_at of them

    def get(self) -> Percolator:
        version = db.session.execute(
            select(func.count(Scenario.id), func.max(Scenario.updated_at), func.max(Scenario.id))
        ).one()
        with self._lock:
            if self.percolator is None or tuple(version) != self._version:
                # Rows, not ORM objects, streamed into the percolator (no dict of every
                # scenario besides it); each distinct query parsed once and each distinct
                # scenario (query, filters, pins) one shared MatchSpec: 100,000 saved
                # scenarios hold ~15,000 distinct ones (200 MB → ~40 MB).
                self.percolator = self.started = None  # the old one can go while building
                scenarios = db.session.execute(
                    select(Scenario.id, Scenario.q, Scenario.filters, Scenario.include,
                           Scenario.exclude, Scenario.created_at)
                    .order_by(Scenario.id)
                    .execution_options(yield_per=5000)
                )  # fmt: skip
                parsed: dict[str, ParsedQuery] = {}
                shared: dict[tuple, MatchSpec] = {}
                started = Started()
                # Appended here directly (100,000 rows): the column holds naive UTC.
                add_id, add_micros = started.ids.append, started.micros.append

                def specs():
                    for s in scenarios:
                        key = (s.q, json.dumps(s.filters, sort_keys=True, default=str),
                               tuple(s.include or ()), tuple(s.exclude or ()))  # fmt: skip
                        spec = shared.get(key)
                        if spec is None:
                            spec = shared[key] = spec_of(s, parsed)
                        add_id(s.id)
                        add_micros((s.created_at - _EPOCH) // _MICROSECOND)
                        yield s.id, spec

                self.percolator = Percolator(specs())
                self.started = started
                self.newest = (
                    _EPOCH + timedelta(microseconds=max(started.micros)) if started.micros else None
                )
                self._version = tuple(version)
            return self.percolator


_cache = PercolatorCache()
# One encoder made once: json.dumps(..., ensure_ascii=False) builds one per call, most of
# the cost of a payload this small (a batch encodes one per scenario group and reason).
_encode = json.JSONEncoder(ensure_ascii=False).encode


def _cursor() -> Cursor:
    cursor = db.session.get(Cursor, CURSOR)
    if cursor is None:
        cursor = Cursor(name=CURSOR, value=0)
        db.session.add(cursor)
    return cursor


def _transition(kind: str, was: bool, now: bool) -> tuple[str, str] | None:
    """(scenario event type, reason) for a catalog event seen by one scenario (one that
    was detected after the scenario was made: what existed before is its starting state)."""
    if kind == "dataset.overdue":
        return ("dataset.overdue", "overdue") if now else None
    if not was and now:
        return "dataset.created", ("published" if kind == "dataset.created" else "now_matches")
    if was and not now:
        return "dataset.deleted", (
            "deleted_upstream" if kind == "dataset.deleted" else "no_longer_matches"
        )
    if was and now and kind == "dataset.updated":
        return "dataset.updated", "changed"
    return None


def _initial_load(rows: list, sources: dict[int, int]) -> set[int]:
    """Ids of the events of sources' first harvests (`catalog/baseline.py`); `rows`:
    (id, dataset_id, type, version, created_at, …) of catalog events."""
    first = [row for row in rows if row[2] == "dataset.created" and row[3] == 1]
    finished = first_harvest_finished(sources.get(row[1]) for row in first)
    return {
        row[0]
        for row in first
        if is_initial_load(row[2], row[3], row[4], finished.get(sources.get(row[1])))
    }


def _stamp(now: datetime) -> datetime | str:
    """`now` as the driver takes it: SQLite gets SQLAlchemy's own text form of a DATETIME."""
    if db.session.connection().dialect.name == "postgresql":
        return now
    return now.strftime("%Y-%m-%d %H:%M:%S.%f")


def _suggestions(events: list, matches: list[tuple]) -> int:
    """enqueue_suggestions in a savepoint: a failure there (a suggestion is an extra, and
    needs the search index) is logged and leaves the batch's alerts to commit. Before,
    one bad scoring rolled back every batch and stopped all pushes until fixed."""
    try:
        with db.session.begin_nested():
            return enqueue_suggestions(events, matches)
    except Exception:
        log.exception("suggestions for %s catalog events failed; their alerts go on", len(events))
        return 0


_COLUMNS = "scenario_id, dataset_id, type, catalog_event_id, created_at, payload"


class _Rows:
    """A batch's scenario-event rows as groups: every member of a scenario group gets each
    of the group's hits, kept as (members, hit tails) rather than multiplied out in
    Python (a scenario matched on its own is a group of one). `write()` inserts them in
    ascending scenario id, each scenario's hits in catalog-event order. Tails: (dataset_id, type,
    catalog_event_id, created_at (`_stamp`), payload)."""

    def __init__(self) -> None:
        self.groups: list[tuple[array, list[tuple]]] = []
        self.count = 0

    def add_group(self, members: array, tails: list[tuple]) -> None:
        self.groups.append((members, tails))
        self.count += len(members) * len(tails)

    def write(self) -> None:
        """Insert the rows, in the batch's transaction. On SQLite, a row naming a scenario,
        dataset or catalog event no longer there is not written (or, for the catalog
        event, written without it), as its deletion would have done."""
        if not self.count:
            return
        connection = db.session.connection()
        if connection.dialect.name == "postgresql":
            rows = [(m, *tail) for members, tails in self.groups for m in members for tail in tails]
            connection.exec_driver_sql(
                f"INSERT INTO scenario_events ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s::jsonb)",
                rows,
            )
            return
        # Each row's foreign keys look up its scenario, dataset and catalog event: a batch
        # touches ~30 MB of those pages again and again, which SQLite's default 2 MB page
        # cache keeps re-reading. A larger cache for this insert only (given back after).
        cache_pages = connection.exec_driver_sql("PRAGMA cache_size").scalar()
        connection.exec_driver_sql(f"PRAGMA cache_size = {-INSERT_CACHE_KB}")
        try:
            self._write_groups(connection)
        finally:
            connection.exec_driver_sql(f"PRAGMA cache_size = {int(cache_pages)}")

    def _write_groups(self, connection) -> None:
        """SQLite: the groups' members and hits into two temporary tables, multiplied out
        by one INSERT ... SELECT join: a tenth of the values bound (a row's six, for each of
        ~300,000 rows, were most of executemany's time) and one statement, not one per row
        (AUTOINCREMENT's sqlite_sequence is written once). The references are checked
        here, once a member and a hit (`_batch_transaction` may have turned off SQLite's
        own checks, once a row and reference)."""
        run = connection.exec_driver_sql
        # Members keyed by (scenario, group) and hits by (group, position), so the join reads
        # both in the rows' order: no sort for the ORDER BY. In scenario order, the rows'
        # (scenario_id, id) index entries go in one ascending sweep (each at the end of its
        # scenario's range), not group by group across the whole index: fewer pages
        # touched, written and checkpointed.
        run("CREATE TEMP TABLE IF NOT EXISTS match_members (scenario_id INTEGER, grp INTEGER, "
            "PRIMARY KEY (scenario_id, grp)) WITHOUT ROWID")  # fmt: skip
        run("CREATE TEMP TABLE IF NOT EXISTS match_hits (grp INTEGER, pos INTEGER, dataset_id INTEGER, "
            "type TEXT, catalog_event_id INTEGER, created_at TEXT, payload TEXT, PRIMARY KEY (grp, pos)) "
            "WITHOUT ROWID")  # fmt: skip
        try:
            run("INSERT INTO temp.match_members VALUES (?, ?)",
                [(m, g) for g, (members, _t) in enumerate(self.groups) for m in members])  # fmt: skip
            run("INSERT INTO temp.match_hits VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(g, pos, *tail) for g, (_m, tails) in enumerate(self.groups) for pos, tail in enumerate(tails)])  # fmt: skip
            # What a deletion since the batch read them would have done (ON DELETE CASCADE,
            # SET NULL): a scenario or dataset gone has no rows, a catalog event gone is none.
            run("DELETE FROM temp.match_members WHERE NOT EXISTS "
                "(SELECT 1 FROM main.scenarios s WHERE s.id = scenario_id)")  # fmt: skip
            run("DELETE FROM temp.match_hits WHERE NOT EXISTS "
                "(SELECT 1 FROM main.datasets d WHERE d.id = dataset_id)")  # fmt: skip
            run("UPDATE temp.match_hits SET catalog_event_id = NULL WHERE catalog_event_id IS NOT NULL "
                "AND NOT EXISTS (SELECT 1 FROM main.catalog_events e WHERE e.id = catalog_event_id)")  # fmt: skip
            run(f"INSERT INTO scenario_events ({_COLUMNS}) "
                "SELECT m.scenario_id, h.dataset_id, h.type, h.catalog_event_id, h.created_at, h.payload "
                "FROM temp.match_members m JOIN temp.match_hits h ON h.grp = m.grp "
                "ORDER BY m.scenario_id, m.grp, h.pos")  # fmt: skip
        finally:
            run("DELETE FROM temp.match_members")
            run("DELETE FROM temp.match_hits")


@contextlib.contextmanager
def _batch_transaction():
    """The batch's writes in one transaction. On SQLite, when none is open yet, it begins
    with the write lock (BEGIN IMMEDIATE) and without SQLite's foreign-key checks, which
    looked up each scenario-event row's scenario, dataset and catalog event: ~285,000 rows
    for 1 % of a national catalog against 100,000 scenarios, and half the insert's CPU.
    Nothing can be deleted while the lock is held, so `_Rows.write` checks those
    references itself, once per member and hit, and the outbox's rows refer to the
    subscriptions it reads under the lock. The checks come back on as the connection
    returns to the pool, committed or rolled back (subscribe.restore_foreign_keys);
    PRAGMA foreign_keys cannot change inside a transaction, so a batch that finds one
    open (pending writes of its caller) keeps them."""
    db.session.flush()
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        pooled = connection.connection
        raw = pooled.dbapi_connection
        if not raw.in_transaction:
            pooled.info[FOREIGN_KEYS_OFF] = True
            raw.execute("PRAGMA foreign_keys=OFF")
            raw.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.session.rollback()  # the connection goes back to the pool, its checks on again
        raise


@contextlib.contextmanager
def _without_cyclic_gc():
    """A batch allocates ~a million small containers (analysed documents, rows) that all
    live until it ends, so each generational collection they trigger finds no garbage
    but walks the worker's large heap (the percolator of 100,000 scenarios): with the
    collector on, that walk was over half the batch's time. Reference counting still
    frees everything; the collector runs again when the batch is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _subscribed_scenarios() -> set[int]:
    """Ids of the scenarios with an active subscription: the only ones whose matches the
    outbox and the suggestions read (both look at active scenario subscriptions alone)."""
    return set(
        db.session.scalars(
            select(Subscription.scenario_id)
            .where(Subscription.scenario_id.is_not(None), Subscription.active.is_(True))
            .distinct()
        )
    )


def match_all(
    on_queued: Callable[[], object] | None = None, stop: Callable[[], bool] = lambda: False
) -> int:
    """Match batches until no catalog event is left or `stop()` is true (checked before
    each batch); how many were processed. `on_queued` is called after each batch that
    committed deliveries (default `sender.wake`: this process's deliverer sends them now)."""
    total, batch = 0, current_app.config.get("SUBSCRIBE_MATCH_BATCH", BATCH)
    while not stop() and (done := match_pending_events(batch, on_queued=on_queued)):
        total += done
    return total


def match_pending_events(
    batch: int = BATCH,
    cache: PercolatorCache = _cache,
    on_queued: Callable[[], object] | None = None,
) -> int:
    """Match the next batch of catalog events; returns how many were processed.
    `on_queued`: as in `match_all`."""
    with _without_cyclic_gc():
        return _match_batch(batch, cache, on_queued or sender.wake)


def _match_batch(batch: int, cache: PercolatorCache, on_queued: Callable[[], object]) -> int:
    cursor = _cursor()
    # The batch's events without their snapshots first: a source's first harvest (the
    # catalog's starting state, never matched) is most of a national catalog's events,
    # and loading each one's `after` (a JSON parse and an ORM object) only to drop it
    # was most of the matching process's CPU beside a first harvest.
    read = db.session.execute(
        select(CatalogEvent.id, CatalogEvent.dataset_id, CatalogEvent.type,
               CatalogEvent.version, CatalogEvent.created_at, Dataset.source_id)
        .outerjoin(Dataset, Dataset.id == CatalogEvent.dataset_id)
        .where(CatalogEvent.id > cursor.value)
        .order_by(CatalogEvent.id)
        .limit(batch)
    ).all()  # fmt: skip
    if not read:
        db.session.commit()
        return 0
    sources = {row[1]: row[5] for row in read if row[5] is not None}  # dataset → source
    baseline = _initial_load(read, sources)
    wanted = {row[0] for row in read if row[0] not in baseline}
    events = []
    if wanted:  # by their id range (no IN of a thousand ids), kept if wanted
        events = [
            event
            for event in db.session.scalars(
                select(CatalogEvent)
                .where(CatalogEvent.id.between(min(wanted), max(wanted)))
                .order_by(CatalogEvent.id)
            )
            if event.id in wanted
        ]
    names = dict(db.session.execute(select(Source.id, Source.name)).all())
    docs = []
    texts: dict = {}  # each text analysed once (a change's before and after share most)
    for event in events:
        source = sources.get(event.dataset_id, 0)
        for snapshot in (event.before, event.after):
            docs.append(
                analyse(event.dataset_id, source, names.get(source, ""), snapshot, texts)
                if snapshot
                else None
            )
    changed = ChangedDocs(docs)
    percolator = cache.get()
    # Plain lists: the loops below read these per row, ORM attributes are slow to read.
    kinds = [e.type for e in events]
    created = [e.created_at for e in events]
    event_ids = [e.id for e in events]
    event_datasets = [e.dataset_id for e in events]
    earliest = min(created, default=None)
    before_bits = int("01" * len(events), 2) if events else 0  # slot 2i of every event i
    rows = _Rows()
    # Matches are kept only where a subscription reads them: 100,000 scenarios make
    # ~200,000 rows for 1 % of a national catalog, and a second list as long held ~18 MB.
    subscribed = _subscribed_scenarios()
    stamp = _stamp(utcnow())
    payloads: dict[tuple, str] = {}  # the same few JSON texts, serialized once each
    matches: list[tuple] = []
    # Scenarios made after the batch's first change may skip some of it (their starting
    # state); when none is that new, every scenario of a group takes every hit as is.
    none_newer = cache.newest is None or earliest is None or cache.newest <= earliest
    created_micros: list[int] | None = None  # made when a group needs them
    earliest_micros = 0
    for group in percolator.candidate_groups(changed):
        spec = percolator.groups[group]
        bits = changed.evaluate(percolator.plans[group])
        if not bits:
            continue
        # What the change means to this group's spec, once for all its scenarios.
        hits = []
        for slot in slots((bits | bits >> 1) & before_bits):
            index = slot >> 1
            was, is_now = bool(bits >> slot & 1), bool(bits >> (slot + 1) & 1)
            outcome = _transition(kinds[index], was, is_now)
            if outcome is None:
                continue
            because = matched_because(spec, docs[slot + 1] if is_now else docs[slot])
            key = (outcome[1], id(because))
            if key not in payloads:
                payloads[key] = _encode({"reason": outcome[1], "matched_because": because})
            hits.append((index, outcome[0], outcome[1], because, payloads[key]))
        if not hits:
            continue
        # Per scenario: (dataset, type, catalog event, created, payload) and the match.
        row_tails = [(event_datasets[i], kind, event_ids[i], stamp, payload)
                     for i, kind, _reason, _because, payload in hits]  # fmt: skip
        match_tails = [(event_ids[i], kind, reason, because)
                       for i, kind, reason, because, _payload in hits]  # fmt: skip
        members = percolator.members[group]
        if none_newer:
            rows.add_group(members, row_tails)
            matches += [(scenario_id, *tail) for scenario_id in members
                        if scenario_id in subscribed for tail in match_tails]  # fmt: skip
            continue
        if created_micros is None:
            created_micros = [_micros(c) for c in created]
            earliest_micros = _micros(earliest)
        for scenario_id in members:
            started = cache.started[scenario_id]
            kept = [
                (row_tail, match_tail)
                for hit, row_tail, match_tail in zip(hits, row_tails, match_tails, strict=True)
                # one detected before the scenario existed is part of its starting state
                if not (started > earliest_micros and created_micros[hit[0]] < started)
            ]
            if kept:
                rows.add_group(array("q", (scenario_id,)), [row_tail for row_tail, _m in kept])
                if scenario_id in subscribed:
                    matches += [(scenario_id, *match_tail) for _r, match_tail in kept]
    # The batch's analysed documents (a third of its peak) go before the insert's page cache
    # is taken; the events stay: the outbox reads their snapshots.
    del docs, changed, texts
    with _batch_transaction():
        rows.write()
        # The outbox rows commit with the events that cause them: nothing sent is lost.
        queued = outbox.enqueue_changes(matches, events)
        queued += _suggestions(events, matches)  # dataset.suggested, for those who opted in
        cursor.value = read[-1].id
        db.session.commit()
    if queued:
        on_queued()  # the worker's deliverer sends them now, not at its next poll
    log.info("matched %s catalog events (%s of sources' first harvests): %s scenario events",
             len(read), len(baseline), rows.count)  # fmt: skip
    return len(read)
