"""Search as the rest of the app uses it: one object per process, refreshed from the database."""

from __future__ import annotations

import logging
import threading
import time
import weakref
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import bindparam, select

from subscribe.catalog import sequence
from subscribe.catalog.models import Dataset, Source
from subscribe.extensions import db
from subscribe.jobs.memory import trim_heap
from subscribe.metrics import observe_search
from subscribe.search.columns import CatalogColumns
from subscribe.search.engine import FACETS, Filters, SearchEngine, SearchResult
from subscribe.search.highlight import mark, snippet
from subscribe.search.postings import PostingCache
from subscribe.search.query import ParsedQuery, parse
from subscribe.search.reader import TextIndex
from subscribe.search.schemas import QUALITY_MIN_ARGS, DatasetFieldsSchema
from subscribe.search.store import IndexStore

EXTENSION = "search"
QUALITY_RELOAD_SECONDS = 30.0  # see SearchService._refresh_columns
COLUMNS_SNAPSHOT = "columns.pickle"  # in the index root: see SearchService._keep
SNAPSHOT_CHANGES = 50_000  # a web process saves the columns again after this many changes
# The keeper's catch-up schedule under a burst of changes (see SearchService._due):
BURST_CHANGES = 1_000  # this many changes waiting at a pass: a bulk writer is at work
BURST_STILL_SECONDS = 3.0  # caught up once the change counter stood still this long
BURST_MAX_SECONDS = 120.0  # or at the latest this long after the burst was first seen
DELETIONS_SECONDS = 5.0  # meanwhile, deleted datasets leave results this often
log = logging.getLogger(__name__)


class SearchService:
    """Holds the index reader, the columns and the engine; nothing opens until first use,
    or in a web process (`serve_in_background`) from its start, on a thread of its own."""

    def __init__(self, root: Path, refresh_interval: float, cache_postings: int,
                 ready_wait: float = 120.0):  # fmt: skip
        self.store = IndexStore(root)
        self.columns = CatalogColumns()
        self.text = TextIndex(self.store, PostingCache(cache_postings), refresh_interval)
        self.engine = SearchEngine(self.text, self.columns)
        self.text.after_warm = self.engine.prewarm  # web processes' background warms
        self.refresh_interval = refresh_interval
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self.loaded = False  # the columns caught up with the database at least once
        self._quality_at = 0.0  # when the keeper last reloaded quality scores
        self._keeper: threading.Thread | None = None
        self._stop = threading.Event()
        # Readiness of a web process (see status): its first columns load and reader
        # warm, waited for at most `ready_wait` seconds from the keeper's start.
        self.ready_wait = ready_wait
        self._kept_since: float | None = None  # time.monotonic() the keeper started
        self._first_pass = False  # the keeper's first columns load and reader open ended
        self._ready: str | None = None  # once ready (for good): how it became so
        self._saved_seq: int | None = None  # the columns' seq in the last snapshot
        self.snapshot_loaded = False  # the first load started from a snapshot
        # The keeper's catch-up schedule (see _due), in time.monotonic() seconds.
        self._burst_since: float | None = None  # a burst of changes waits since then
        self._counter_seen, self._counter_moved = 0, 0.0  # the change counter last seen moving
        self._deletions_at = 0.0  # deleted datasets last dropped during a burst
        self._deletions_seq = 0  # the change counter read at that look
        # Datasets changed that the columns have not applied while the keeper leaves a
        # burst for later (counted at each DELETIONS_SECONDS look: columns.changed_since):
        # not searchable yet, counted in a search's `indexing` beside those the reader
        # has not caught up with; 0 out of a burst.
        self.waiting = 0

    def refresh(self, force: bool = False) -> None:
        """Bring columns and text reader up to the database's change sequence.

        With a keeper (web processes) a request leaves the columns to it, and waits only
        for their first load (a search before it would count nothing); the text reader
        is looked at without waiting for anyone (reader.TextIndex.refresh)."""
        if force or not self.loaded or not self.keeping:
            self._refresh_columns(force)
        self.text.refresh(force)

    def _refresh_columns(self, force: bool = False, keeper: bool = False) -> None:
        now = time.monotonic()
        if force or not self.loaded or now - self._checked_at >= self.refresh_interval:
            with self._lock:
                self._checked_at = now
                if keeper and not self.loaded and self.columns.seq == 0:
                    # A web process's start: the columns as last saved, then only the
                    # changes since (a full load at 345,853 datasets is ~12 CPU-s).
                    self.snapshot_loaded = self.columns.load(self._snapshot_path)
                    if self.snapshot_loaded:
                        self._saved_seq = self.columns.seq
                counter = sequence.current()
                if counter != self.columns.seq:
                    if not keeper or not self.loaded or self._due(counter, now):
                        self.columns.catch_up()
                        self._burst_since = None
                    elif now - self._deletions_at >= DELETIONS_SECONDS:
                        # Rows up to a counter read are committed (the counter row is
                        # updated in their transaction): the next look starts past it.
                        self.columns.drop_deleted(after=self._deletions_seq)
                        self._deletions_at, self._deletions_seq = now, counter
                        self.waiting = self.columns.changed_since()
                if self._burst_since is None:
                    self.waiting = 0
                self.columns.drop_deleted_sources()  # one small query: see its docstring
                quality = self.columns.quality_cursor()
                stale = quality != self.columns.quality_seq or (
                    self.columns.capacity != self.columns.quality_capacity
                )
                # The keeper reloads every score at most every QUALITY_RELOAD_SECONDS:
                # during a national harvest the columns grow a dozen times and the
                # quality job scores as it goes (each web process reloaded 345,853
                # scores per step, as many CPU-s as the harvest's own).
                if stale and (not keeper or self.columns.quality_seq < 0
                              or now - self._quality_at >= QUALITY_RELOAD_SECONDS):  # fmt: skip
                    self.columns.load_quality(quality)
                    self._quality_at = now
                self.loaded = True

    def _due(self, counter: int, now: float) -> bool:
        """Whether the keeper catches the columns up at this pass (`counter`: the change
        counter read now).

        A catch-up costs per changed row (~20 µs at 345,853: a pass every 0.5 s or one
        at the end apply the same rows), and every web process applies each row. During
        a burst of changes (a bulk harvest: BURST_CHANGES or more waiting at a pass) the
        keeper leaves them until the counter has stood still BURST_STILL_SECONDS (the
        writer ended or paused), or BURST_MAX_SECONDS after the burst was first seen at
        the latest, so they are applied once, after the writer, not beside it. Meanwhile
        deleted datasets leave results every DELETIONS_SECONDS (columns.drop_deleted);
        new and updated ones show when the columns catch up."""
        if self._burst_since is None:
            if counter - self.columns.seq < BURST_CHANGES:
                return True
            self._burst_since, self._counter_seen, self._counter_moved = now, counter, now
            return False
        if counter != self._counter_seen:
            self._counter_seen, self._counter_moved = counter, now
        return (now - self._counter_moved >= BURST_STILL_SECONDS
                or now - self._burst_since >= BURST_MAX_SECONDS)  # fmt: skip

    # --- web processes ----------------------------------------------------------------
    @property
    def keeping(self) -> bool:
        """A keeper thread follows the database and the index for this process."""
        return self._keeper is not None and self._keeper.is_alive()

    def serve_in_background(self, app: Flask) -> None:
        """Start the keeper (web processes: wsgi.py): it loads the columns and opens the
        reader at once, then keeps both current every refresh interval; new readers warm
        on a thread of their own while the one before serves. The worker and the CLI do
        not call this: they pay for the columns only if they search."""
        if self.keeping:
            return
        self.text.warm_in_background = True
        self._stop.clear()
        self._kept_since, self._first_pass, self._ready = time.monotonic(), False, None
        self._keeper = threading.Thread(target=self._keep, args=(app,), name="search-keeper",
                                        daemon=True)  # fmt: skip
        self._keeper.start()

    def _keep(self, app: Flask) -> None:
        from subscribe.search.query import parse

        parse("数据 PM2.5")  # the segmenter's dictionary, before a first query needs it
        wait = 0.0
        while not self._stop.wait(wait):
            wait = self.refresh_interval
            with app.app_context():
                try:
                    # The columns first: a request needs them to count anything; the
                    # reader opens next, and warms on a thread of its own.
                    self._refresh_columns(force=True, keeper=True)
                    self.text.refresh()
                    # The reader is open and its warm (if any) started: readiness
                    # now waits for that warm only (status).
                    self._first_pass = True
                    self._save_columns()
                    # Freed transients (a warm's postings reads, the columns load, the
                    # searches' whole-range arrays) back to the system: they stayed
                    # resident as free heap, ~20 MB warmed, ~80 MB under the query mix.
                    trim_heap()
                except Exception:  # the database away for a moment: try again next time
                    log.exception("search: keeping the columns and reader current failed")
                    wait = max(self.refresh_interval, 5.0)

    @property
    def _snapshot_path(self) -> Path:
        return self.store.root / COLUMNS_SNAPSHOT

    def _save_columns(self) -> None:
        """The keeper saves the columns for the next start: after a first load that did
        not come from a snapshot, then every SNAPSHOT_CHANGES changes (each web
        process: the files are equal, the last rename wins)."""
        seq, saved = self.columns.seq, self._saved_seq
        if seq == 0 or (saved is not None and seq - saved < SNAPSHOT_CHANGES):
            return
        self.store.root.mkdir(parents=True, exist_ok=True)
        self.columns.save(self._snapshot_path)
        self._saved_seq = seq

    def status(self) -> dict:
        """For /readyz: {"ready": bool, "columns_loaded": bool, "warming_seconds": float
        or None, "detail": str}.

        A web process (keeper running) is ready once its first columns load and its
        first reader's warm have ended, as a balancer should meet a new process: before
        that its searches wait for the columns or read postings from disk (first pass
        after a start p95 154 ms against 32 ms warm, at 345,853 datasets). Ready for good
        after that: a later warm has the reader before answer meanwhile. After
        `ready_wait` seconds it is ready anyway, and says so. A process without a
        keeper (worker, CLI, tests' app) loads on its first search: always ready."""
        now = time.monotonic()
        since = self.text.warming_since
        status = {"ready": True, "columns_loaded": self.loaded,
                  "warming_seconds": None if since is None else round(now - since, 1)}  # fmt: skip
        started = self._kept_since
        if started is None:
            return {**status, "detail": "search loads on its first use (no keeper)"}
        if self._ready is None:
            if self._first_pass and self.loaded and not self.text.warming:
                self._ready = f"search warmed {now - started:.1f} s after the start"
            elif now - started >= self.ready_wait:
                self._ready = (f"search still warming after {self.ready_wait:g} s "
                               "(SUBSCRIBE_READY_MAX_SEARCH_WARM): ready anyway, slower at first")  # fmt: skip
                log.warning("search: %s", self._ready)
        if self._ready is not None:
            return {**status, "detail": self._ready}
        if not self.loaded:
            doing = f"loading columns for {now - started:.0f} s"
        elif since is not None:
            doing = f"columns loaded, warming for {now - since:.0f} s"
        else:
            doing = f"columns loaded, opening the index reader ({now - started:.0f} s)"
        return {**status, "ready": False,
                "detail": f"search warming: {doing} (ready at the latest {self.ready_wait:g} s "
                          "after the start)"}  # fmt: skip

    def close(self) -> None:
        """Release the index files (the app is going away); the keeper stops."""
        self._stop.set()
        keeper = self._keeper
        if keeper is not None and keeper is not threading.current_thread():
            keeper.join()
        self.text.close()

    def search(self, query: ParsedQuery, filters: Filters, **options) -> SearchResult:
        started = time.perf_counter()
        try:
            with self.text.serving():  # a background warm steps aside meanwhile
                self.refresh()
                result = self.engine.search(query, filters, **options)
            # A burst the keeper leaves for later is new datasets not searchable yet:
            # said so (`indexing`), not silently missing from the total.
            if self.waiting:
                result.pending += self.waiting
            return result
        finally:
            observe_search(time.perf_counter() - started)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = SearchService(
        Path(app.instance_path) / "search",
        refresh_interval=app.config["SUBSCRIBE_SEARCH_REFRESH_SECONDS"],
        cache_postings=app.config["SUBSCRIBE_SEARCH_CACHE_POSTINGS"],
        ready_wait=app.config["SUBSCRIBE_READY_MAX_SEARCH_WARM"],
    )


def get_service() -> SearchService:
    return current_app.extensions[EXTENSION]


def batch_process() -> None:
    """This process answers no one's searches (worker, CLI): no warm-up of new readers."""
    get_service().text.warm_on_open = False


FILTER_FIELDS = FACETS  # every facet is also a filter, and only those


def catalog_spelling(field: str, values: list[str]) -> list[str]:
    """Filter values as the catalog spells them: `csv`, `ＣＳＶ`, a traditional-character
    publisher or a stray space match the catalog's `CSV` / 市交通运输局 (the way the
    search box folds words: NFKC, 繁→简, lower case, spaces). A value the catalog does not
    hold (yet) is kept as typed. For publisher, theme and format; a source's name in any
    case (`GBK` finds the source `gbk`); other fields as given."""
    if field == "source" and values:
        return _source_spelling(values)
    vocabulary = _vocabulary(field) if values else None
    if vocabulary is None or all(value in vocabulary.ordinals for value in values):
        return values  # the usual case (facet links): exact, nothing to fold
    folded = _folded_spellings(vocabulary)
    return list(dict.fromkeys(
        value if value in vocabulary.ordinals else folded.get(_spelling_key(value), value.strip())
        for value in values
    ))  # fmt: skip


def _source_spelling(values: list[str]) -> list[str]:
    """Source names as stored: the exact name, else every name equal to it ignoring case
    and surrounding spaces. Names are unique in any case (Source.name_key); two that
    differ only in case from before that rule are both found by a third spelling
    ("Bom": "bom" and "BOM"), each by its own."""
    names = set(db.session.scalars(select(Source.name)))  # a few rows: no columns needed
    by_fold: dict[str, list[str]] = {}
    for name in sorted(names):
        by_fold.setdefault(name.casefold(), []).append(name)
    spelled = []
    for value in values:
        if value in names:
            spelled.append(value)
        else:
            spelled.extend(by_fold.get(value.strip().casefold(), [value]))
    return list(dict.fromkeys(spelled))


def _spelling_key(value: str) -> str:
    from subscribe.search.analysis import fold

    return " ".join(fold(value).split())


# Folded spelling → the catalog's, per vocabulary, rebuilt when it grows (vocabularies
# only grow): a national catalog has thousands of publishers, folded once, not per search.
_FOLDED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _folded_spellings(vocabulary) -> dict[str, str]:
    cached = _FOLDED.get(vocabulary)
    if cached is not None and cached[0] == len(vocabulary):
        return cached[1]
    folded: dict[str, str] = {}
    for value in vocabulary.values:
        folded.setdefault(_spelling_key(value), value)
    _FOLDED[vocabulary] = (len(vocabulary), folded)
    return folded


def _vocabulary(field: str):
    if field not in ("publisher", "theme", "format"):
        return None
    get_service().refresh()  # the columns, loaded once per process
    columns = get_service().columns
    return {"publisher": columns.publishers, "theme": columns.themes.vocabulary,
            "format": columns.formats.vocabulary}[field]  # fmt: skip


def default_sort(q: str) -> str:
    return "relevance" if q.strip() else "newest"


def search_from_args(args: dict, partial: bool = True, summaries: bool = False) -> dict:
    """The search for loaded `DatasetQueryArgsSchema` arguments (the API and the search
    page): filters from the args, relevance first when there are words, else newest.
    `summaries`: items as dicts (see search_datasets), for the API."""
    filters = Filters(
        **{name: catalog_spelling(name, args[name]) for name in FILTER_FIELDS},
        modified_from=args["modified_from"],
        modified_to=args["modified_to"],
        quality_min={
            axis: args[name]
            for name, axis in QUALITY_MIN_ARGS.items()
            if args.get(name) is not None
        },
    )
    sort = args["sort"] or default_sort(args["q"])
    return search_datasets(
        args["q"], filters, sort, args["page"], args["per_page"], partial=partial,
        summaries=summaries,
    )  # fmt: skip


# Built once: composing the IN expression anew cost ~0.6 ms of every search.
_IDS = bindparam("ids", expanding=True)
_HITS = select(Dataset).where(Dataset.id.in_(_IDS))
# A hit as the API shows it: only DatasetFieldsSchema's columns, read as plain rows, not
# models (their other columns — translations, raw texts — and the ORM's bookkeeping;
# the compiled dump reads a dict's keys faster than a model's attributes).
_SUMMARY_FIELDS = tuple(DatasetFieldsSchema().dump_fields)
_SUMMARIES = select(*(getattr(Dataset, name) for name in _SUMMARY_FIELDS)).where(
    Dataset.id.in_(_IDS)
)


def search_datasets(q: str, filters: Filters, sort: str, page: int, per_page: int,
                    include=(), exclude=(), partial: bool = True,
                    pins_only: bool = False, summaries: bool = False) -> dict:  # fmt: skip
    """The search API's answer (and a scenario's member page): items with highlights,
    total, facets, `partial` (best partial matches shown because none had every word;
    only when `partial` allows it), `indexing` (datasets not yet searchable) and
    `ignored` (typed words holding nothing searchable, such as "%": list of str) and
    `searched` (False when nothing searchable was typed: every dataset is listed).
    `include`/`exclude` pin and drop dataset ids; `pins_only` keeps only `include` (a
    scenario with no words and no filters). Items are Dataset models with `score`,
    `quality` and `highlights` set, or with `summaries` dicts of DatasetSummarySchema's
    fields (the same values; what the API dumps)."""
    with get_service().text.serving():  # the page's rows too: a background warm waits
        return _search_datasets(q, filters, sort, page, per_page, include, exclude, partial,
                                pins_only, summaries)  # fmt: skip


def _search_datasets(q, filters, sort, page, per_page, include, exclude, partial, pins_only,
                     summaries):  # fmt: skip
    query = parse(q)
    result = get_service().search(
        query, filters, sort=sort, page=page, per_page=per_page, include=include,
        exclude=exclude, partial=partial, pins_only=pins_only,
    )  # fmt: skip
    if summaries:
        rows = {
            row.id: row._asdict() for row in db.session.execute(_SUMMARIES, {"ids": result.ids})
        }
    else:
        rows = {d.id: d for d in db.session.scalars(_HITS, {"ids": result.ids})}
    columns = get_service().columns
    items = []
    for dataset_id in result.ids:
        dataset = rows.get(dataset_id)
        if dataset is None:
            continue
        extra = {
            "score": result.scores.get(dataset_id),
            "quality": columns.quality_of(dataset_id),
            "highlights": {
                "title": mark(
                    dataset["title"] if summaries else dataset.title,
                    query.highlight,
                    query.highlight_parts,
                ),
                "description": snippet(
                    (dataset["description"] if summaries else dataset.description) or "",
                    query.highlight,
                    query.highlight_parts,
                ),
            },
        }
        if summaries:
            dataset.update(extra)
        else:
            for name, value in extra.items():
                setattr(dataset, name, value)
        items.append(dataset)
    return {"items": items, "total": result.total, "page": page, "per_page": per_page,
            "facets": result.facets, "partial": result.partial,
            "indexing": result.pending, "ignored": query.ignored,
            "searched": not query.is_empty}  # fmt: skip
