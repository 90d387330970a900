"""A new index reader warms on a thread of its own in web processes: searches meanwhile
are answered (by the reader before, or at a cold start by the new one, unwarmed), never
held until the warm ends; readers swap safely under searches on other threads."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from subscribe.catalog import services as catalog
from subscribe.search import indexer, reader
from subscribe.search.engine import Filters
from subscribe.search.query import parse
from subscribe.search.service import get_service
from tests.search_helpers import harvest
from tests.test_search_follower import TITLES, publish

NEW_TITLE = "沙漠骆驼饲养登记名录"


class WarmGate:
    """Holds every background warm at its start until `release()`: what a request
    does meanwhile is then seen by behaviour, not by timing."""

    def __init__(self, monkeypatch, request):
        request.addfinalizer(self.release)  # a failed test does not hold its teardown
        self.entered = threading.Event()
        self._open = threading.Event()
        warm = reader.TextIndex.warm

        def held(text, views, **options):
            if threading.current_thread().name == "search-warm":
                self.entered.set()
                assert self._open.wait(60), "the test never released the warm"
            warm(text, views, **options)

        monkeypatch.setattr(reader.TextIndex, "warm", held)

    def release(self) -> None:
        self._open.set()


@pytest.fixture
def titles_source(app, httpserver, monkeypatch):
    """The ranking titles harvested and indexed; every segment counts as large (warmed);
    the service looks for changes on every request."""
    monkeypatch.setattr(reader, "WARM_MIN_DOCS", 1)
    titles = dict(enumerate(TITLES))
    url = publish(httpserver, titles)
    source = catalog.create_source("titles", "tabular", url, mapping={"id_column": "目录编号"})
    harvest(source)
    indexer.apply_changes(get_service().store)
    service = get_service()
    service.refresh_interval = service.text.refresh_interval = 0.0
    return titles


def add_title(httpserver, titles: dict[int, str], title: str) -> None:
    titles[len(TITLES) + len(titles)] = title
    publish(httpserver, titles)
    harvest(catalog.find_source("titles"))
    indexer.apply_changes(get_service().store)


def search(client, q: str) -> dict:
    response = client.get("/api/v1/datasets", query_string={"q": q})
    assert response.status_code == 200, response.json
    return response.json


def ids(page: dict) -> list[int]:
    return [item["id"] for item in page["items"]]


def test_a_cold_start_answers_with_the_new_reader_while_it_warms(
    client, titles_source, monkeypatch, request
):
    service = get_service()
    service.text.warm_in_background = True
    gate = WarmGate(monkeypatch, request)
    during = search(client, "名录")  # opens the reader, starts its warm, answers
    assert gate.entered.is_set() and service.text.warming
    assert service.status()["warming_seconds"] is not None
    assert during["total"] > 0 and during["indexing"] == 0
    gate.release()
    service.text.refresh(force=True)  # waits for the warm
    assert not service.text.warming and service.text.cache.size > 0
    assert search(client, "名录") == during


def test_a_background_warm_leaves_the_frequent_terms_weights_computed(
    client, titles_source, monkeypatch
):
    """Once a web process's warm ends, the frequent words' weights are computed (the
    engine's prewarm): the first search of such a word computes none of them."""
    service = get_service()
    service.text.warm_in_background = True
    search(client, "")  # opens the reader and starts its warm (no words: no weights)
    service.text.refresh(force=True)  # waits for the warm
    computed = []
    field_weights = type(service.engine)._field_weights
    monkeypatch.setattr(type(service.engine), "_field_weights",
                        lambda engine, *args: computed.append(args) or field_weights(engine, *args))  # fmt: skip
    assert search(client, "名录")["total"] > 0
    assert computed == []
    assert search(client, "沙漠骆驼")["total"] == 0  # a word no title has: computed now
    assert computed


def test_the_engine_prewarm_stops_once_the_columns_move(client, titles_source):
    """Weights are kept per (reader, columns): once the columns catch up (a harvest under
    way) the prewarm's weights are dropped, so it stops instead of computing on."""
    service = get_service()
    search(client, "")  # the reader opened, the columns loaded
    terms = [("title", "名录"), ("body", "数据中心"), ("grams", "名录"), ("title", "信息")]
    steps = []

    def catching_up() -> None:  # the keeper's catch-up lands after the first weights
        steps.append(1)
        if len(steps) == 2:
            service.columns.seq += 1

    seq = service.columns.seq
    try:
        assert service.engine.prewarm(terms, catching_up) == 1
    finally:
        service.columns.seq = seq
    assert service.engine.prewarm(terms, lambda: None) == len(terms)  # nothing moved


def test_a_search_during_a_swap_warm_is_answered_by_the_reader_before(
    client, httpserver, titles_source, monkeypatch, request
):
    service = get_service()
    before = search(client, "名录")  # the first reader, warmed on the request (tests' default)
    first_reader = service.text.reader
    service.text.warm_in_background = True
    gate = WarmGate(monkeypatch, request)
    add_title(httpserver, titles_source, NEW_TITLE)

    during = search(client, NEW_TITLE)  # notices the new reader, starts its warm, answers
    assert gate.entered.is_set() and service.text.warming
    assert service.text.reader is first_reader and not first_reader.is_closed
    assert NEW_TITLE not in [item["title"] for item in during["items"]]
    assert during["indexing"] == 1  # counted as not yet searchable, not hidden
    assert ids(search(client, "名录")) == ids(before)  # scores move with the new count

    gate.release()
    service.text.refresh(force=True)  # waits for the warm and its swap
    assert service.text.reader is not first_reader and first_reader.is_closed
    after = search(client, NEW_TITLE)
    assert after["items"][0]["title"] == NEW_TITLE and after["indexing"] == 0


def test_a_replaced_reader_closes_only_when_its_last_call_ends(httpserver, titles_source):
    text = get_service().text
    text.refresh(force=True)
    with text.pinned() as snapshot:
        add_title(httpserver, titles_source, NEW_TITLE)
        text.refresh(force=True)
        assert text.key != snapshot.key
        assert not snapshot.reader.is_closed  # a search on another thread still reads it
        assert len(snapshot.views[0].postings("title", "名录")[0]) > 0
    assert snapshot.reader.is_closed


def test_searches_on_many_threads_while_readers_swap(app, httpserver, titles_source):
    """Four threads read postings straight from the segment files (no cache) and search,
    while new readers open and replace each other: every read of a term in a segment
    gives the same postings, no read fails on a closed reader, counts stay right."""
    service = get_service()
    service.refresh(force=True)
    expected = int(service.engine.members(parse("名录"), Filters())[0].sum())
    terms = ("名录", "环境", "北京市", "公交", "监测")
    stop, errors, answers, seen = threading.Event(), [], [], {}

    def searching() -> None:
        with app.app_context():
            while not stop.is_set():
                try:
                    with service.text.pinned() as snapshot:
                        for view in snapshot.views:
                            for term in terms:
                                ids = view.postings("title", term)[0].tolist()
                                if seen.setdefault((view.segment_id, term), ids) != ids:
                                    errors.append(f"{term} read differently")
                    answers.append(int(service.engine.members(parse("名录"), Filters())[0].sum()))
                except Exception as exc:  # any failure is the finding
                    errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch often, between a seek and its read too
    threads = [threading.Thread(target=searching) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        for n in range(4):  # each round a new reader (and a merge now and then)
            add_title(httpserver, titles_source, f"骆驼{n}号饲养登记")
            service.refresh(force=True)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        sys.setswitchinterval(interval)
    assert not errors, errors[:3]
    assert answers and set(answers) == {expected}  # the new titles hold no 名录


def test_a_web_process_loads_its_columns_and_reader_before_any_search(app, titles_source):
    service = get_service()
    assert not service.loaded and service.text.reader is None
    service.serve_in_background(app)  # what wsgi.py does
    try:
        deadline = time.monotonic() + 120  # a condition, not a speed: a loaded machine
        while not (service.loaded and service.text.reader is not None and not service.text.warming):
            assert time.monotonic() < deadline, service.status()
            time.sleep(0.05)
        assert service.columns.live_count == len(TITLES)
        assert service.text.cache.size > 0  # warmed, by the keeper's reader
        status = service.status()
        assert status["ready"] and status["columns_loaded"] and status["warming_seconds"] is None
    finally:
        service.close()
    assert not service.keeping


def test_the_keeper_reloads_quality_scores_at_most_every_so_often(app, titles_source):
    """Scores change in bulk (the quality job, a growing catalog): the keeper reloads them
    all at most every QUALITY_RELOAD_SECONDS; a request-driven refresh as soon as seen."""
    from subscribe.extensions import db
    from subscribe.quality.job import bump_cursor
    from subscribe.search import service as search_service

    service = get_service()
    service._refresh_columns(force=True, keeper=True)
    loaded = service.columns.quality_seq
    bump_cursor()
    db.session.commit()
    service._refresh_columns(force=True, keeper=True)
    assert service.columns.quality_seq == loaded  # reloaded a moment ago: later
    service._quality_at -= search_service.QUALITY_RELOAD_SECONDS
    service._refresh_columns(force=True, keeper=True)
    assert service.columns.quality_seq == loaded + 1
    bump_cursor()
    db.session.commit()
    service.refresh(force=True)  # not the keeper: at once
    assert service.columns.quality_seq == loaded + 2


class Clock:
    """A time.monotonic() the test moves: the keeper's schedule seen pass by pass."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_keeper_applies_a_burst_of_changes_once_it_ends_and_drops_deletions_meanwhile(
    app, httpserver, titles_source, monkeypatch
):
    """A burst of changes (a bulk harvest) is applied by the keeper once the change
    counter stands still, or BURST_MAX_SECONDS after it began at the latest: each web
    process applies every row once, after the writer, not beside it. Deleted datasets
    leave the columns meanwhile; a request-driven refresh (no keeper) catches up at once."""
    from types import SimpleNamespace

    from sqlalchemy import select, update

    from subscribe.catalog import sequence
    from subscribe.catalog.models import Dataset
    from subscribe.extensions import db
    from subscribe.search import service as search_service

    clock = Clock()
    monkeypatch.setattr(search_service, "time",
                        SimpleNamespace(monotonic=clock, perf_counter=time.perf_counter))  # fmt: skip
    monkeypatch.setattr(search_service, "BURST_CHANGES", 3)
    still, longest = search_service.BURST_STILL_SECONDS, search_service.BURST_MAX_SECONDS
    service = get_service()
    columns = service.columns

    def keep(seconds: float) -> None:  # the keeper's next pass, `seconds` after the last
        clock.now += seconds
        service._refresh_columns(force=True, keeper=True)

    keep(0)
    assert columns.live_count == len(TITLES)
    gone = db.session.scalar(select(Dataset.id).where(Dataset.title == TITLES[5]))
    titles = dict(titles_source)
    del titles[5]  # gone upstream
    titles[len(TITLES)], titles[len(TITLES) + 1] = NEW_TITLE, "骆驼奶产量统计"
    publish(httpserver, titles)
    harvest(catalog.find_source("titles"))  # three changes: a burst
    before = columns.seq
    keep(0.5)
    assert columns.seq == before  # left for later
    assert not columns.alive[gone] and columns.live_count == len(TITLES) - 1  # but it left
    other = db.session.scalar(select(Dataset.id).where(Dataset.title == TITLES[6]))
    del titles[6]
    titles[len(TITLES) + 2] = "骆驼饲料价格"
    publish(httpserver, titles)
    harvest(catalog.find_source("titles"))  # the writer goes on: a new one, one more gone
    keep(search_service.DELETIONS_SECONDS)  # the counter moved
    assert columns.seq == before
    assert not columns.alive[other] and columns.live_count == len(TITLES) - 2
    keep(still - 0.5)  # it stood still, not long enough yet
    assert columns.seq == before
    keep(still)  # stood still: caught up, all at once
    assert columns.seq == sequence.current() and columns.live_count == len(TITLES) + 1

    def touch(count: int) -> None:  # a writer changing rows without a pause
        ids = db.session.scalars(select(Dataset.id).limit(count)).all()
        for dataset_id, seq in zip(ids, sequence.allocate(count), strict=True):
            db.session.execute(update(Dataset).where(Dataset.id == dataset_id)
                               .values(change_seq=seq))  # fmt: skip
        db.session.commit()

    touch(3)
    before, waited = columns.seq, 0.0
    while columns.seq == before:
        assert waited < longest + still, "a burst that never pauses was never applied"
        touch(1)
        keep(still - 0.5)
        waited += still - 0.5
    assert waited >= longest  # at the latest, not before
    touch(3)
    service.refresh(force=True)  # a process without a keeper: at once
    assert columns.seq == sequence.current()


def test_a_burst_the_keeper_leaves_for_later_is_said_to_be_indexing(
    client, httpserver, titles_source, monkeypatch
):
    """While a web process's keeper leaves a burst of changes for later (the writer is
    still at work), a search says those datasets are `indexing`: new datasets are not
    searchable yet, and the user is told so rather than shown a total that silently
    lacks them. Once the keeper catches up they are counted, and `indexing` is 0."""
    from types import SimpleNamespace

    from subscribe.search import service as search_service

    clock = Clock()
    monkeypatch.setattr(search_service, "time",
                        SimpleNamespace(monotonic=clock, perf_counter=time.perf_counter))  # fmt: skip
    monkeypatch.setattr(search_service, "BURST_CHANGES", 3)
    # A web process: requests leave the columns to the keeper (its passes are keep()).
    monkeypatch.setattr(search_service.SearchService, "keeping", property(lambda s: True))
    service = get_service()

    def keep(seconds: float) -> None:
        clock.now += seconds
        service._refresh_columns(force=True, keeper=True)

    keep(0)
    before = search(client, "")
    assert before["indexing"] == 0
    titles = dict(titles_source)
    new = {len(TITLES) + n: title for n, title in enumerate(["骆驼奶产量统计", "骆驼饲料价格",
                                                             NEW_TITLE])}  # fmt: skip
    titles.update(new)
    publish(httpserver, titles)
    harvest(catalog.find_source("titles"))  # three new datasets: a burst
    keep(0.5)
    during = search(client, "")
    assert (during["total"], during["indexing"]) == (before["total"], len(new))
    keep(search_service.BURST_STILL_SECONDS)  # the counter stood still: caught up
    indexer.apply_changes(service.store)
    after = search(client, "")
    assert after["indexing"] == 0 and after["total"] == before["total"] + len(new)

    # Edits: each dataset counted once, however many change numbers its change took.
    from subscribe.catalog import sequence

    counter = sequence.current()
    for key in list(new):
        titles[key] += "（修订）"
    publish(httpserver, titles)
    harvest(catalog.find_source("titles"))
    assert sequence.current() - counter >= len(new)
    keep(search_service.DELETIONS_SECONDS)  # a burst again, counted at its first look
    edited = search(client, "")
    assert (edited["total"], edited["indexing"]) == (after["total"], len(new))


def test_a_long_warm_hands_over_to_the_new_reader_and_goes_on_beside_it(
    client, httpserver, titles_source, monkeypatch
):
    """The reader before answers for WARM_SWAP_SECONDS at most (here none): then the
    new one is shown, fresh, while its warm is still running."""
    from subscribe.search import postings

    service = get_service()
    search(client, "名录")
    first_reader = service.text.reader
    service.text.warm_in_background = True
    monkeypatch.setattr(reader, "WARM_SWAP_SECONDS", 0.0)
    reading, go_on = threading.Event(), threading.Event()
    get = postings.PostingCache.get

    def held(cache, view, field, term):  # the warm's first read waits for the test
        if threading.current_thread().name == "search-warm" and not go_on.is_set():
            reading.set()
            assert go_on.wait(60), "the test never let the warm go on"
        return get(cache, view, field, term)

    monkeypatch.setattr(postings.PostingCache, "get", held)
    try:
        add_title(httpserver, titles_source, NEW_TITLE)
        search(client, "名录")  # opens the new reader and starts its warm
        assert reading.wait(60)
        assert service.text.warming and service.text.reader is not first_reader
        assert search(client, NEW_TITLE)["items"][0]["title"] == NEW_TITLE
    finally:
        go_on.set()
    service.text.refresh(force=True)
    assert not service.text.warming and first_reader.is_closed


def test_while_the_reader_before_answers_a_count_leaves_out_only_what_it_says_is_indexing(
    client, httpserver, titles_source, monkeypatch, request
):
    """One truth for counts: while a new reader warms and the one before answers, the
    columns already hold new and deleted datasets. A count holds only datasets its words
    can find (the new ones not yet, the deleted one no more), and `indexing` says how
    many are left out: with it, a listing adds up to the catalog."""
    from subscribe.catalog.models import Dataset
    from subscribe.extensions import db

    service = get_service()
    before = search(client, "名录")
    assert before["indexing"] == 0 and search(client, "")["indexing"] == 0
    service.text.warm_in_background = True
    gate = WarmGate(monkeypatch, request)
    gone = next(n for n, title in titles_source.items() if "名录" in title)
    del titles_source[gone]
    new = {"骆驼饲养场名录", "沙漠绿洲水源名录"}
    titles_source.update(dict(zip((9001, 9002), sorted(new), strict=True)))
    publish(httpserver, titles_source)
    harvest(catalog.find_source("titles"))
    indexer.apply_changes(service.store)

    during = search(client, "名录")  # notices the new reader, starts its warm, answers
    assert gate.entered.is_set() and service.text.warming  # the reader before answers
    assert during["total"] == before["total"] - 1  # the deleted one out at once
    assert during["indexing"] == len(new)
    assert not new & {item["title"] for item in during["items"]}
    listing = search(client, "")
    live = db.session.scalar(db.select(db.func.count()).where(Dataset.deleted_at.is_(None)))
    assert listing["total"] + listing["indexing"] == live
    assert listing["indexing"] == len(new)

    gate.release()
    service.text.refresh(force=True)  # the warm ends, the new reader is shown
    after = search(client, "名录")
    assert after["total"] == before["total"] + 1 and after["indexing"] == 0
    assert search(client, "")["total"] == live


def test_a_reader_shown_in_the_middle_of_a_search_leaves_no_dataset_uncounted_unsaid(
    client, httpserver, titles_source, monkeypatch, request
):
    """The warm's reader can be shown while a search runs (its warm ends, or its time
    before the handover is up). The search's `indexing` is the one of the reader it
    counted with: a new dataset it left out is said to be indexing, not lost."""
    service = get_service()
    search(client, "名录")
    service.text.warm_in_background = True
    gate = WarmGate(monkeypatch, request)
    add_title(httpserver, titles_source, NEW_TITLE)
    indexed = reader.TextIndex.indexed

    def then_shown(text, size):  # right after the search read what is searchable
        found = indexed(text, size)
        if text._pending is not None:
            text._swap_pending(due=False)
        return found

    monkeypatch.setattr(reader.TextIndex, "indexed", then_shown)
    during = search(client, NEW_TITLE)  # starts the warm, then the swap mid-search
    assert gate.entered.is_set() and service.text.reader is not None
    assert NEW_TITLE not in [item["title"] for item in during["items"]]
    assert during["indexing"] == 1
    gate.release()


def _column_rows(columns, size: int) -> dict:
    """The columns' rows < size as values (ordinals differ with the order values came)."""
    rows = {name: getattr(columns, name)[:size].tolist()
            for name in ("alive", "source", "modified", "title_len", "title_key",
                         "resource_count")}  # fmt: skip
    rows["publisher"] = [columns.publishers.values[o] for o in columns.publisher[:size]]
    rows["themes"] = columns.themes.counts(np.arange(size)).tolist()
    return {**rows, "live": columns.live_count, "sources": columns.source_names}


def test_a_web_process_starts_from_the_columns_the_one_before_saved(app, httpserver, titles_source):
    """The keeper saves its columns; the next web process takes them and applies only
    the changes since: the same columns as a full load. A snapshot whose last dataset
    changed since, or an unreadable one, is not taken (a full load instead)."""
    from subscribe.search.columns import CatalogColumns
    from subscribe.search.service import COLUMNS_SNAPSHOT, SearchService

    service = get_service()
    saved = service.store.root / COLUMNS_SNAPSHOT
    service.serve_in_background(app)
    try:
        deadline = time.monotonic() + 120  # a condition, not a speed
        while not saved.exists():
            assert time.monotonic() < deadline, service.status()
            time.sleep(0.05)
    finally:
        service.close()
    assert not service.snapshot_loaded  # the first start loaded in full, then saved
    add_title(httpserver, titles_source, NEW_TITLE)  # a change after the save

    started = SearchService(service.store.root, 0.0, 1000)
    started._refresh_columns(force=True, keeper=True)
    assert started.snapshot_loaded
    full = CatalogColumns()
    full.catch_up()
    size = int(np.flatnonzero(full.alive).max()) + 1
    assert _column_rows(started.columns, size) == _column_rows(full, size)
    assert started.columns.seq == full.seq

    from subscribe.catalog.models import Cursor
    from subscribe.extensions import db
    from subscribe.search.columns import DATABASE_TOKEN

    # Taken again, only the change since to catch up (the new title).
    again = CatalogColumns()
    assert again.load(saved) and again.catch_up() == 1 and again.seq == full.seq
    # Another database in this instance folder (its own token): not taken.
    db.session.get(Cursor, DATABASE_TOKEN).value += 1
    db.session.commit()
    assert not CatalogColumns().load(saved)
    saved.write_bytes(b"not a snapshot")
    assert not CatalogColumns().load(saved)


def test_columns_saved_with_more_room_load_fitted_to_their_rows(app, titles_source, tmp_path):
    """A snapshot saved with a capacity grown half again at a time (older code) loads
    holding its rows and an eighth more (every search's whole-range arrays are capacity
    long), with the rows of a full load."""
    from subscribe.search.columns import CatalogColumns

    full = CatalogColumns()
    full.catch_up()
    roomy = CatalogColumns()
    roomy.catch_up()
    roomy._resize(roomy.capacity * 4)
    saved = tmp_path / "columns.pickle"
    roomy.save(saved)
    loaded = CatalogColumns()
    assert loaded.load(saved)
    size = int(np.flatnonzero(full.alive).max()) + 1
    assert size <= loaded.capacity < roomy.capacity
    assert _column_rows(loaded, size) == _column_rows(full, size)


def test_a_generation_deleted_while_opened_opens_the_next(httpserver, titles_source, monkeypatch):
    """The writer commits and deletes the generation a reader is opening (its TOC file
    gone: FileNotFoundError, logged as a failed refresh by a black-box run's web
    process): the reader opens the newer one instead of failing the refresh."""
    text = get_service().text
    text.refresh(force=True)
    add_title(httpserver, titles_source, NEW_TITLE)
    store, calls = text.store, []
    open_current = store.open_current

    def raced(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise FileNotFoundError(2, "No such file or directory", "_MAIN_21.toc")
        return open_current(*args, **kwargs)

    monkeypatch.setattr(store, "open_current", raced)
    before = text.key
    text.refresh(force=True)
    assert len(calls) == 2 and text.key != before
    assert len(text.views) and any(len(v.postings("grams", "骆驼")[0]) for v in text.views)
