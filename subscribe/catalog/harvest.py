"""Running one harvest: pick the harvester, stream its records into the writer, record the run."""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta

from flask import current_app
from sqlalchemy import String, and_, case, cast, func, or_, select, update

from subscribe.catalog.diff import snapshot_keys
from subscribe.catalog.harvesters import ckan
from subscribe.catalog.harvesters.base import HarvestContext, Harvester, make_session
from subscribe.catalog.harvesters.tabular_identity import TOLD_APART
from subscribe.catalog.models import Dataset, HarvestRun, Resource, Source
from subscribe.catalog.records import HarvestError
from subscribe.catalog.writer import CatalogWriter
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify.ssrf import OutboundPolicy

log = logging.getLogger(__name__)

# Modules by source type, imported when first used: the web process never pays for
# openpyxl or ijson, and a new format is one line here.
HARVESTER_MODULES = {
    "ckan": "subscribe.catalog.harvesters.ckan",
    "dcat": "subscribe.catalog.harvesters.dcat",
    "tabular": "subscribe.catalog.harvesters.tabular",
}


def harvester_for(source_type: str) -> Harvester:
    return importlib.import_module(HARVESTER_MODULES[source_type]).harvest


def claim_run(run_id: int) -> bool:
    """Move a queued run to running; False when another worker got it first."""
    result = db.session.execute(
        update(HarvestRun)
        .where(HarvestRun.id == run_id, HarvestRun.status == "queued")
        .values(status="running", started_at=utcnow())
    )
    db.session.commit()
    return result.rowcount == 1


def _last_good_start(source: Source, full_only: bool):
    query = select(func.max(HarvestRun.started_at)).where(
        HarvestRun.source_id == source.id, HarvestRun.status == "succeeded"
    )
    if full_only:
        query = query.where(HarvestRun.incremental.is_(False))
    return db.session.scalar(query)


def harvested_as(source: Source) -> dict:
    """What a run harvests the source as: its type, URL and mapping, and the harvester's
    READINGS ({field: where it is read from}, a module constant changed when a field is
    read from elsewhere). Stored in every succeeded run's report (``harvested_as``)."""
    module = importlib.import_module(HARVESTER_MODULES[source.type])
    return {"type": source.type, "url": source.url, "mapping": source.mapping or {},
            "readings": dict(getattr(module, "READINGS", {}))}  # fmt: skip


def last_harvested_as(source_id: int) -> tuple[bool, dict | None]:
    """(whether the source has a succeeded run, that newest run's ``harvested_as``: None
    for a run from before it was recorded)."""
    report = db.session.execute(
        select(HarvestRun.mapping_report)
        .where(HarvestRun.source_id == source_id, HarvestRun.status == "succeeded")
        .order_by(HarvestRun.id.desc())
        .limit(1)
    ).first()
    if report is None:
        return False, None
    found = report[0].get("harvested_as") if isinstance(report[0], dict) else None
    return True, found if isinstance(found, dict) else None


def rereading(before: dict | None, now: dict, succeeded_before: bool) -> frozenset[str]:
    """The snapshot keys this run reads from elsewhere than the last succeeded run did
    (its READINGS differ, or it recorded none): their changes are a new reading, stored
    quietly (writer.rereading), so an upgrade never floods subscribers."""
    if not succeeded_before:
        return frozenset()
    old = (before or {}).get("readings") or {}
    changed = [name for name, where in now["readings"].items() if old.get(name) != where]
    return frozenset(key for name in changed for key in snapshot_keys(name))


def incremental_since(source: Source, listed_otherwise: bool = False):
    """Lower bound for an incremental CKAN harvest (the last good run, less an overlap),
    or None for a full listing: other formats, first runs, when the source is harvested
    otherwise than at its last succeeded run (``listed_otherwise``: URL, type, mapping or
    a reading changed; an incremental run would see only what changed upstream), and when
    the last full listing is older than SUBSCRIBE_HARVEST_FULL_EVERY (it also catches
    deletions that the count check after an incremental run cannot see)."""
    config = current_app.config
    last_full = _last_good_start(source, full_only=True)
    if source.type != "ckan" or last_full is None or listed_otherwise:
        return None
    if utcnow() - last_full > timedelta(seconds=config["SUBSCRIBE_HARVEST_FULL_EVERY"]):
        return None
    last_good = _last_good_start(source, full_only=False)
    return last_good - timedelta(seconds=config["SUBSCRIBE_HARVEST_OVERLAP_SECONDS"])


def _active_count(source_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Dataset)
        .where(Dataset.source_id == source_id, Dataset.deleted_at.is_(None))
    )


def stored_datasets(source_id: int, bases: list[str], titles: list[str]) -> list[tuple]:
    """The source's active datasets whose identifier is one of ``bases`` or one told
    apart from it ("A006#…"), or whose title is one of ``titles`` (those of rows sharing
    a title-and-publisher hash), in creation order, as (identifier, title, publisher,
    fingerprint, distinguished_by):
    what a tabular harvest needs to keep the identities of rows that share one
    (tabular_identity.keep_stored). On a connection of its own, closed at once, so no
    read transaction stays open under the writer."""
    columns = (Dataset.id, Dataset.identifier, Dataset.title, Dataset.publisher,
               Dataset.source_fingerprint, Dataset.distinguished_by)  # fmt: skip
    active = (Dataset.source_id == source_id, Dataset.deleted_at.is_(None))
    found: dict[int, tuple] = {}
    with db.engine.connect() as connection:
        for start in range(0, len(bases), 100):
            chunk = bases[start : start + 100]
            # base#… by LIKE, not a range of the index: PostgreSQL's collation may order
            # "#" and "$" by locale; the rows of one source are read through source_id.
            told_apart = [
                Dataset.identifier.startswith(base + "#", autoescape=True)
                for base in chunk
                if not base.startswith("sha1:")
            ]
            query = select(*columns).where(*active, or_(Dataset.identifier.in_(chunk), *told_apart))
            found.update((row[0], tuple(row[1:])) for row in connection.execute(query))
        unique_titles = sorted(set(titles))
        for start in range(0, len(unique_titles), 500):
            query = select(*columns).where(
                *active, Dataset.title.in_(unique_titles[start : start + 500])
            )
            found.update((row[0], tuple(row[1:])) for row in connection.execute(query))
    return [(identifier, title, publisher or "", fingerprint or "", distinguished or {})
            for _, (identifier, title, publisher, fingerprint, distinguished)
            in sorted(found.items())]  # fmt: skip


def previous_identity(source_id: int) -> dict | None:
    """The ``identity`` section of the newest successful run's mapping report (None when
    no such run recorded one): what identified rows last time (tabular_carry)."""
    report = db.session.scalar(
        select(HarvestRun.mapping_report)
        .where(HarvestRun.source_id == source_id, HarvestRun.status == "succeeded",
               HarvestRun.mapping_report.is_not(None))
        .order_by(HarvestRun.id.desc())
        .limit(1)
    )  # fmt: skip
    identity = report.get("identity") if isinstance(report, dict) else None
    return identity if isinstance(identity, dict) else None


def stored_identities(source_id: int) -> Iterator[tuple[int, str, str, str, str]]:
    """(dataset id, identifier, title, publisher, landing page) of every active dataset
    of the source, streamed on a connection of its own (a national source is 345,853
    rows: the caller keeps ints of them, not the rows)."""
    query = select(Dataset.id, Dataset.identifier, Dataset.title, Dataset.publisher,
                   Dataset.landing_page).where(Dataset.source_id == source_id,
                                               Dataset.deleted_at.is_(None))  # fmt: skip
    with db.engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=5000).execute(query)
        for row in result:
            yield row[0], row[1], row[2] or "", row[3] or "", row[4] or ""


def stored_identifiers(source_id: int) -> Iterator[tuple[str, str | None, str | None]]:
    """(identifier, title, publisher) of every active dataset of the source, title and
    publisher None unless the identifier is a title-and-publisher hash ("sha1:…"): the
    light query a derived identity's re-harvest makes (tabular_carry), streamed on a
    connection of its own."""
    hashed = Dataset.identifier.startswith("sha1:", autoescape=True)
    query = select(Dataset.identifier, case((hashed, Dataset.title), else_=None),
                   case((hashed, func.coalesce(Dataset.publisher, "")), else_=None)).where(
        Dataset.source_id == source_id, Dataset.deleted_at.is_(None))  # fmt: skip
    with db.engine.connect() as connection:
        yield from connection.execution_options(stream_results=True, yield_per=5000).execute(query)


def stored_download_urls(ids: list[int]) -> dict[int, str]:
    """The first file URL (by position) of each of these datasets that has one (a
    resource without a URL is passed over)."""
    found: dict[int, str] = {}
    with db.engine.connect() as connection:
        for start in range(0, len(ids), 1000):
            query = (
                select(Resource.dataset_id, Resource.url)
                .where(Resource.dataset_id.in_(ids[start : start + 1000]), Resource.url != "")
                .order_by(Resource.dataset_id, Resource.position.desc(), Resource.id.desc())
            )
            found.update((row[0], row[1]) for row in connection.execute(query))  # the last wins
    return found


def stored_descriptions(ids: list[int]) -> dict[int, str]:
    """The description of each of these datasets that has one (tabular_rename's evidence:
    only the few stored datasets a renamed title may belong to are asked for)."""
    found: dict[int, str] = {}
    with db.engine.connect() as connection:
        for start in range(0, len(ids), 1000):
            query = select(Dataset.id, Dataset.description).where(
                Dataset.id.in_(ids[start : start + 1000]), Dataset.description != ""
            )
            found.update((row[0], row[1]) for row in connection.execute(query))
    return found


def stored_names(ids: list[int]) -> dict[int, str]:
    """The upstream short name (CKAN's package name) of each of these datasets that has
    one."""
    found: dict[int, str] = {}
    with db.engine.connect() as connection:
        for start in range(0, len(ids), 1000):
            query = select(Dataset.id, Dataset.upstream_name).where(
                Dataset.id.in_(ids[start : start + 1000]), Dataset.upstream_name.is_not(None)
            )
            found.update((row[0], row[1]) for row in connection.execute(query) if row[1])
    return found


def stored_values(source_id: int, identifiers: list[str], columns: tuple[str, ...]
                  ) -> dict[str, dict]:  # fmt: skip
    """{identifier: {column: value}} of the source's active datasets of these
    identifiers (Dataset columns named in ``columns``)."""
    found: dict[str, dict] = {}
    selected = [getattr(Dataset, name) for name in columns]
    with db.engine.connect() as connection:  # like the others: no read left open in the session
        for start in range(0, len(identifiers), 1000):
            query = select(Dataset.identifier, *selected).where(
                Dataset.source_id == source_id, Dataset.deleted_at.is_(None),
                Dataset.identifier.in_(identifiers[start : start + 1000]),
            )  # fmt: skip
            for row in connection.execute(query):
                found[row[0]] = dict(zip(columns, row[1:], strict=True))
    return found


def stored_told_apart(source_id: int) -> list[tuple[str, str, str, dict]]:
    """The source's active datasets told apart from twins, as (identifier, title,
    publisher, distinguished_by): those told apart from an id or URL (base#<10 hex>) and
    those shown with what tells them from their twins (distinguished_by; told-apart
    title-and-publisher hashes among them). A row alone again, or a bad row, is matched
    with them (tabular.RowMapper._alone_again, _readable_identity)."""
    told = and_(Dataset.identifier.like("%#__________"), Dataset.identifier.not_like("sha1:%"))
    shown = func.length(func.coalesce(cast(Dataset.distinguished_by, String), "")) > 2
    query = select(
        Dataset.identifier, Dataset.title, Dataset.publisher, Dataset.distinguished_by
    ).where(Dataset.source_id == source_id, Dataset.deleted_at.is_(None), or_(told, shown))
    with db.engine.connect() as connection:
        found = connection.execute(query).all()
    return [
        (identifier, title or "", publisher or "", distinguished or {})
        for identifier, title, publisher, distinguished in found
        if distinguished or TOLD_APART.search(identifier)
    ]


def execute_run(
    run: HarvestRun,
    on_total: Callable[[int], None] = lambda total: None,
    on_record: Callable[[], None] = lambda: None,
) -> HarvestRun:
    """Harvest a claimed (running) run to completion; never raises for source failures."""
    config = current_app.config
    source = run.source
    session = make_session(
        OutboundPolicy(config["SUBSCRIBE_OUTBOUND_ALLOWLIST"]),
        config["SUBSCRIBE_HTTP_RETRIES"],
        config["SUBSCRIBE_HTTP_BACKOFF"],
    )
    writer = CatalogWriter(
        run,
        batch_size=config["SUBSCRIBE_HARVEST_BATCH_SIZE"],
        max_errors_kept=config["SUBSCRIBE_HARVEST_MAX_ERRORS_KEPT"],
        on_record=on_record,
    )

    def context(since) -> HarvestContext:
        return HarvestContext(
            url=source.url,
            session=session,
            mapping=source.mapping or {},
            since=since,
            page_size=config["SUBSCRIBE_HARVEST_PAGE_SIZE"],
            timeout=config["SUBSCRIBE_HTTP_TIMEOUT"],
            on_total=on_total,
            raw_rows=True,
            stored_datasets=lambda bases, titles: stored_datasets(source.id, bases, titles),
            stored_told_apart=lambda: stored_told_apart(source.id),
            previous_identity=identity,
            stored_identities=lambda: stored_identities(source.id),
            stored_download_urls=stored_download_urls,
            stored_identifiers=lambda: stored_identifiers(source.id),
            stored_names=stored_names,
            stored_descriptions=stored_descriptions,
            stored_values=lambda identifiers, columns: stored_values(
                source.id, identifiers, columns
            ),
            carried_identifiers=writer.carried,
            carried_bases=writer.carried_bases,
            carried_listed=writer.carried_listed,
        )

    identity = previous_identity(source.id)
    try:
        harvester = harvester_for(source.type)
        now_as = harvested_as(source)
        succeeded_before, before_as = last_harvested_as(source.id)
        writer.rereading = rereading(before_as, now_as, succeeded_before)
        ctx = context(incremental_since(source, before_as != now_as))
        run.incremental, run.since = ctx.since is not None, ctx.since
        for item in harvester(ctx):
            writer.add(item)
        writer.flush()
        if run.incremental and ckan.upstream_count(ctx) != _active_count(source.id):
            # Counts disagree: something was deleted upstream (an incremental listing
            # cannot show that), so list everything once to find out what.
            log.info("source %s: count differs after incremental run; full listing", source.name)
            ctx = context(None)
            run.incremental = False
            writer.begin_second_pass()
            for item in harvester(ctx):
                writer.add(item)
            writer.flush()
        if ctx.withdrawn:  # deleted, draft or private upstream: no longer published
            writer.mark_withdrawn(sorted(ctx.withdrawn))
        report = with_dates_not_read(ctx.report, writer.dates_not_read)
        if ctx.listing_incomplete:
            # Not a full listing after all: nothing is deleted, and the run does not
            # count as one (the next run lists everything again, incremental_since).
            run.incremental = True
            report = {**(report or {}), "listing_incomplete": ctx.listing_incomplete}
            run.errors = [*run.errors, {"reference": "listing", "reason": ctx.listing_incomplete}]
            log.warning("source %s: %s", source.name, ctx.listing_incomplete)
        if ctx.full_listing:
            _mark_deletions(writer, run)
            report = with_deletion_report(report, writer.deletion_report)
        # After deletions: an origin still held only by datasets gone upstream is moved.
        moves = writer.finish()
        # An incomplete listing read not every dataset as the source is now harvested:
        # the next run must still see the change (a full listing, everything re-read).
        report = {**(report or {}),
                  "harvested_as": before_as if ctx.listing_incomplete else now_as}  # fmt: skip
        run.mapping_report = with_origin_moves(report, moves, writer.moved_identities)
        for move in moves:
            log.info("source %s: origin moved: %s -> %s, %s datasets (no events)",
                     source.name, move["from"], move["to"], move["datasets"])  # fmt: skip
        run.status = "succeeded"
    except HarvestError as exc:
        db.session.rollback()
        writer.flush()  # keep what was read before the failure; it is good data
        moves = writer.finish()
        run.mapping_report = with_origin_moves(run.mapping_report, moves, writer.moved_identities)
        run.status, run.error = "failed", str(exc)
        log.warning("harvest of %s failed: %s", source.name, exc)
    except Exception as exc:  # a bug must not leave the run "running" forever
        db.session.rollback()
        run.status, run.error = "failed", f"internal error: {exc!r}"
        log.exception("harvest of %s crashed", source.name)
        _settle_origins(writer)
    finally:
        session.close()
    run.finished_at = utcnow()
    db.session.commit()
    log.info(
        "harvest %s %s: created=%s updated=%s unchanged=%s deleted=%s bad=%s; %s",
        source.name, run.status, run.created, run.updated, run.unchanged, run.deleted, run.bad,
        writer.lock_summary(),
    )  # fmt: skip
    return run


def with_dates_not_read(report: dict | None, counts: dict[str, dict[str, int]]) -> dict | None:
    """The run's report with ``dates_not_read`` ({field: {note: records}}: why records read
    this run kept an issued/modified text but no date, records.date_notes) when any;
    a counted reason, never a bad record: the dataset is stored with its raw text."""
    if not counts:
        return report
    return {**(report or {}), "dates_not_read": counts}


def with_deletion_report(report: dict | None, deletions: dict) -> dict | None:
    """The run's report with what bad records did to deletions (writer.mark_unseen_deleted)
    when anything: ``kept_by_bad_records`` (stored datasets a bad record named, kept as
    they are) and ``deletions_held_back`` ({"datasets_unseen", "records_unreadable"}:
    no dataset deleted this run, as the unreadable records may be the unseen datasets)."""
    if not deletions:
        return report
    return {**(report or {}), **deletions}


def with_origin_moves(report: dict | None, moves: list[dict], moved_identities=()) -> dict | None:
    """The run's report with ``origin_moves`` ([{"from", "to", "datasets"}]: origins
    whose datasets' URLs all moved in this run, stored without versions or events,
    origins.py; "datasets" counts every dataset a move took, edited ones too) and ``origin_moved_identifiers`` (datasets identified by a URL that kept
    their identity while their URLs moved in this run, ``moved_identities`` their ids;
    later runs carry the same identities over again and report nothing) when any."""
    if moves:
        report = {**(report or {}), "origin_moves": moves}
    if moved_identities:
        report = {**(report or {}), "origin_moved_identifiers": len(moved_identities)}
    return report


def _settle_origins(writer: CatalogWriter) -> None:
    """After a crash: datasets written quietly as origin candidates still get settled
    (a move stays quiet, the rest their events), or their news would be lost."""
    writer.pending.clear()  # the batch that failed is not written now either
    try:
        writer.finish()
    except Exception:
        db.session.rollback()
        log.exception("settling origin moves after the crash failed")


def run_claimed(run_id: int) -> None:
    """Harvest a claimed (running) run: in a process of its own when the app says so
    (SUBSCRIBE_HARVEST_IN_CHILD, which ``flask worker`` sets), else in this thread.

    Why a process: the worker is one Python process, and its threads (search follower,
    matching, deliveries) take turns on one interpreter lock, so a national harvest ran
    at a fraction of one core beside the follower indexing what it wrote. The child
    (``python -m subscribe.catalog.harvest_process``, a fresh interpreter: a fork would
    inherit the worker's open SQLite connections, which SQLite forbids) has its own lock
    and the machine's other core. It dies with the worker (PR_SET_PDEATHSIG: a SIGKILLed worker leaves no
    harvest writing), and every batch is its own transaction, so a child killed
    mid-harvest leaves only whole batches. A child that ends without finishing the run
    fails it here.
    """
    app = current_app._get_current_object()
    if not (app.config.get("SUBSCRIBE_HARVEST_IN_CHILD") and sys.platform == "linux"):
        execute_run(db.session.get(HarvestRun, run_id))
        return
    db.session.commit()  # no transaction of ours stays open while it runs
    argv = [sys.executable, "-m", "subscribe.catalog.harvest_process", str(run_id),
            "--parent", str(os.getpid())]  # fmt: skip
    code = subprocess.call(argv)  # the worker's environment, log and working directory
    if code != 0:
        ended = db.session.execute(
            update(HarvestRun)
            .where(HarvestRun.id == run_id, HarvestRun.status == "running")
            .values(status="failed", finished_at=utcnow(),
                    error=f"harvest process ended unexpectedly (exit code {code})")
        )  # fmt: skip
        db.session.commit()
        if ended.rowcount:
            log.error("harvest run %s: process ended with exit code %s", run_id, code)


# A harvest keeps each batch's records (a few objects a row) alive until it is written,
# so they outlive the young generations and every few thousand rows the collector walked
# every object of the app (SQLAlchemy, Flask, the models: hundreds of thousands) for no
# cycle to free: a fifth of a harvest's CPU. The app's objects are frozen out of it.
HARVEST_GC_THRESHOLD = (20_000, 20, 10)


@contextlib.contextmanager
def harvest_process_gc():
    """For a process that only harvests (catalog/harvest_process.py): the objects that
    exist when it starts are left out of garbage collection (gc.freeze) and the young
    generation is collected every 20,000 allocations instead of 700. Restored after.
    Never used in the worker's own process: the settings are the whole process's."""
    gc.collect()
    gc.freeze()
    previous = gc.get_threshold()
    gc.set_threshold(*HARVEST_GC_THRESHOLD)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


def _unreadable_last_time(run: HarvestRun) -> int:
    """Bad records without an identity in the source's last succeeded full listing
    before this run that read every stored dataset (its report's
    ``records_unreadable``). A run that held deletions back did not read the unseen
    ones: its own baseline (``already_unreadable``) carries on, so a row still broken
    keeps its dataset run after run. 0 when none, or a run from before the count was
    kept: deletions are then held back more, never less."""
    report = db.session.scalar(
        select(HarvestRun.mapping_report)
        .where(HarvestRun.source_id == run.source_id, HarvestRun.id < run.id,
               HarvestRun.status == "succeeded", HarvestRun.incremental.is_(False))
        .order_by(HarvestRun.id.desc())
        .limit(1)
    )  # fmt: skip
    if not isinstance(report, dict):
        return 0
    held = report.get("deletions_held_back")
    value = held.get("already_unreadable") if isinstance(held, dict) else None
    if value is None:
        value = report.get("records_unreadable")
    return value if isinstance(value, int) else 0


def _mark_deletions(writer: CatalogWriter, run: HarvestRun) -> None:
    if writer.seen == 0 and _active_count(run.source_id) > 0:
        # An empty listing from a portal that had datasets is far more likely an outage
        # than everything being withdrawn: keep the datasets and say so.
        run.errors = [
            *run.errors,
            {"reference": "listing", "reason": "empty listing; nothing marked deleted"},
        ]
        return
    writer.mark_unseen_deleted(already_unreadable=_unreadable_last_time(run))
    if held := writer.deletion_report.get("deletions_held_back"):
        log.info("source %s: deletions held back: %s datasets unseen, %s records unreadable",
                 run.source_id, held["datasets_unseen"], held["records_unreadable"])  # fmt: skip
