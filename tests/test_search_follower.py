"""The follower (indexer.apply_changes): one truth for counts and text, any backlog size."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from subscribe.catalog import services as catalog
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.search_helpers import harvest

TITLES = (
    (Path(__file__).parent / "fixtures" / "search" / "ranking_titles.txt")
    .read_text(encoding="utf-8")
    .split()
)


def publish(httpserver, titles: dict[int, str]) -> str:
    rows = ["目录编号,目录名称,数源单位,更新时间"]
    rows += [f"T-{i},{t},市大数据中心,2024-03-01" for i, t in titles.items()]
    httpserver.clear()
    httpserver.expect_request("/titles.csv").respond_with_data(
        "\n".join(rows).encode("utf-8"), content_type="text/csv"
    )
    return httpserver.url_for("/titles.csv")


def api(client, **params) -> dict:
    get_service().refresh(force=True)  # as a server does within a refresh interval
    response = client.get("/api/v1/datasets", query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def indexed_ids() -> list[int]:
    ix = get_service().store.open_current()
    with ix.searcher() as searcher:
        return sorted(searcher.reader().column_reader("id")[n] for n in searcher.document_numbers())


@pytest.mark.parametrize("mode", ["one-writer", "segment-writers", "small-commits"])
def test_a_backlog_is_indexed_once_per_dataset_with_updates_and_deletions(
    client, app, httpserver, monkeypatch, mode
):
    if mode == "segment-writers":  # the bulk path (separate writer processes), on a small catalog
        monkeypatch.setattr(indexer, "BULK", 10)
    if mode == "small-commits":  # written here, a few rows a commit (the worker's memory)
        monkeypatch.setattr(indexer, "SOLO_CHUNK", 3)
    url = publish(httpserver, dict(enumerate(TITLES)))
    source = catalog.create_source("titles", "tabular", url, mapping={"id_column": "目录编号"})
    harvest(source)
    assert api(client)["indexing"] == len(TITLES)  # counted only once searchable
    assert indexer.apply_changes(get_service().store, chunk=20) == len(TITLES)
    body = api(client)
    assert (body["total"], body["indexing"]) == (len(TITLES), 0)

    changed = dict(enumerate(TITLES))
    changed[0] = "环境噪声监测点位"  # renamed
    del changed[5]  # gone upstream (the dataset "公交站点")
    publish(httpserver, changed)
    harvest(source)
    assert indexer.apply_changes(get_service().store, chunk=20) == 2
    live = db.session.scalars(select(Dataset.id).where(Dataset.deleted_at.is_(None))).all()
    assert indexed_ids() == sorted(live)  # no duplicate, no leftover
    assert api(client, q="噪声")["total"] == 1
    assert "公交站点" not in [i["title"] for i in api(client, q="公交站点")["items"]]
    body = api(client)
    assert (body["total"], body["indexing"]) == (len(TITLES) - 1, 0)


def test_opening_a_reader_pre_reads_the_most_frequent_terms(client, app, httpserver, monkeypatch):
    from subscribe.search import reader

    monkeypatch.setattr(reader, "WARM_MIN_DOCS", 1)
    url = publish(httpserver, dict(enumerate(TITLES)))
    harvest(catalog.create_source("titles", "tabular", url, mapping={"id_column": "目录编号"}))
    indexer.apply_changes(get_service().store)
    cache = get_service().text.cache
    assert cache.size == 0
    get_service().refresh(force=True)
    warmed = {(field, term) for _segment, field, term in cache.entries}
    assert {("title", "名录"), ("grams", "名录"), ("body", "数据中心")} <= warmed


def test_batch_processes_do_not_warm_a_new_reader(app, httpserver, monkeypatch):
    """The worker and the bundle builder answer no one's searches: a reader they open
    is not pre-read (tens of MB of postings held for nothing), yet searches still work."""
    from subscribe.search import reader
    from subscribe.search.engine import Filters
    from subscribe.search.service import batch_process, search_datasets

    monkeypatch.setattr(reader, "WARM_MIN_DOCS", 1)
    url = publish(httpserver, dict(enumerate(TITLES)))
    harvest(catalog.create_source("titles", "tabular", url, mapping={"id_column": "目录编号"}))
    indexer.apply_changes(get_service().store)
    batch_process()
    get_service().refresh(force=True)
    cache = get_service().text.cache
    assert get_service().text.reader is not None and cache.size == 0
    found = search_datasets("名录", Filters(), "relevance", 1, 5)
    assert found["total"] > 0 and cache.size > 0  # read on demand


class _Segment:
    def __init__(self, total: int, deleted: int = 0):
        self.total, self.deleted = total, deleted

    def doc_count_all(self) -> int:
        return self.total

    def doc_count(self) -> int:
        return self.total - self.deleted


def test_the_follower_merges_small_segments_by_level_and_leaves_large_ones():
    large = [_Segment(25_000), _Segment(25_000, deleted=12_500), _Segment(20_000)]
    sparse = _Segment(25_000, deleted=12_501)  # over half deleted: its live ones rewritten
    fives = [_Segment(5_000) for _ in range(indexer.MERGE_FACTOR - 1)]
    ones = [_Segment(1) for _ in range(indexer.MERGE_FACTOR)]
    empty = _Segment(40, deleted=40)
    merge, keep = indexer.merge_plan([*large, sparse, *fives, *ones, empty])
    assert set(map(id, merge)) == set(map(id, [sparse, *ones, empty]))
    assert set(map(id, keep)) == set(map(id, [*large, *fives]))
    # one more segment of the 1,000s level: the level is merged (into one of ~50,000)
    merge, keep = indexer.merge_plan([*large, *fives, _Segment(4_000)])
    assert len(merge) == indexer.MERGE_FACTOR and set(map(id, keep)) == set(map(id, large))
    assert indexer.merge_plan(large) == ([], large)


def test_a_segment_writers_segments_are_never_merged_in_the_worker():
    """A backlog of BULK rows is split over the two segment writers: their smallest
    segments (BULK // 2) are large, kept as written. Counted as small, ten of them (a
    national first harvest written in 20,000-row steps) were merged in the worker's
    128 MB pool, spilling to disk and merging back in Python."""
    halves = [_Segment(indexer.BULK // 2) for _ in range(indexer.MERGE_FACTOR)]
    assert indexer.merge_plan(halves) == ([], halves)


def test_many_small_commits_keep_few_segments_and_every_document(
    client, app, httpserver, monkeypatch
):
    """Small commits (a few rows each) merge by level into larger segments, which are
    then left alone: the index holds every live dataset once, in a bounded number of
    segments, and a large segment is never rewritten while mostly live."""
    monkeypatch.setattr(indexer, "SOLO_CHUNK", 2)
    monkeypatch.setattr(indexer, "MERGE_FACTOR", 3)
    monkeypatch.setattr(indexer, "LARGE_SEGMENT", 30)
    titles = dict(enumerate(TITLES))
    source = catalog.create_source("titles", "tabular", publish(httpserver, titles),
                                   mapping={"id_column": "目录编号"})  # fmt: skip
    harvest(source)
    sizes = []  # the segments' sizes at each commit, before it merges
    policy = indexer.follower_merge

    def recorded(writer, segments):
        sizes.append(sorted(s.doc_count_all() for s in segments))
        return policy(writer, segments)

    monkeypatch.setattr(indexer, "follower_merge", recorded)
    assert indexer.apply_changes(get_service().store, chunk=2) == len(TITLES)
    assert len(sizes) == (len(TITLES) + 1) // 2  # one commit per two rows
    large = {n for step in sizes for n in step if n >= 30}
    assert large, sizes  # small segments grew into a large one by merging
    for before, after in zip(sizes, sizes[1:], strict=False):
        # a large segment, once written, stays (none of them has deletions here)
        assert all(after.count(n) >= before.count(n) for n in set(before) if n >= 30)
    assert max(map(len, sizes)) <= 2 * indexer.MERGE_FACTOR, sizes
    live = db.session.scalars(select(Dataset.id).where(Dataset.deleted_at.is_(None))).all()
    assert indexed_ids() == sorted(live)
    assert api(client, q="名录")["total"] > 0


def test_a_burst_longer_than_a_read_is_still_seen_growing(app, httpserver, monkeypatch):
    """The follower reads at most `chunk` rows a look: past that, the last row it reads
    stays the same while the harvest writes on. Growth is the change counter's."""
    from types import SimpleNamespace

    now = [1000.0]
    monkeypatch.setattr(indexer, "time", SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(indexer, "BURST_ROWS", 5)
    titles: dict[int, str] = {}

    def harvest_more(upto: int) -> None:
        titles.update((i, TITLES[i]) for i in range(len(titles), upto))
        publish(httpserver, titles)
        harvest(catalog.find_source("titles"))

    url = publish(httpserver, {})
    catalog.create_source("titles", "tabular", url, mapping={"id_column": "目录编号"})
    store = get_service().store
    harvest_more(10)
    assert indexer.apply_changes(store, chunk=5, leave_bursts=True) == 0
    for upto in (20, 30):
        harvest_more(upto)
        now[0] += indexer.BURST_STILL_SECONDS  # the first 5 rows are the same; more came
        assert indexer.apply_changes(store, chunk=5, leave_bursts=True) == 0
    now[0] += indexer.BURST_STILL_SECONDS
    assert indexer.apply_changes(store, chunk=5, leave_bursts=True) == 30


def test_a_catch_up_after_a_pause_stops_when_the_writer_resumes(app, httpserver, monkeypatch):
    """A harvest that pauses over BURST_STILL_SECONDS (a checkpoint's flush) starts the
    catch-up; once BURST_ROWS more changes come, the rest is left again rather than
    indexed beside the harvest to its end. After the writer stops, it is all written."""
    from types import SimpleNamespace

    now = [1000.0]
    monkeypatch.setattr(indexer, "time", SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(indexer, "BURST_ROWS", 5)
    titles = {i: TITLES[i] for i in range(30)}
    url = publish(httpserver, titles)
    catalog.create_source("titles", "tabular", url, mapping={"id_column": "目录编号"})
    harvest(catalog.find_source("titles"))
    store = get_service().store
    assert indexer.apply_changes(store, chunk=10, leave_bursts=True) == 0  # a burst
    now[0] += indexer.BURST_STILL_SECONDS  # the writer paused
    real = indexer.sequence.current
    resumed = [False]

    def counter() -> int:  # the harvest writes on once the first chunk is written
        return real() + (100 if resumed[0] else 0)

    monkeypatch.setattr(indexer.sequence, "current", counter)
    write_applied = indexer.write_applied

    def applied_then_resume(*args) -> None:
        write_applied(*args)
        resumed[0] = True

    monkeypatch.setattr(indexer, "write_applied", applied_then_resume)
    assert indexer.apply_changes(store, chunk=10, leave_bursts=True) == 10  # one chunk
    now[0] += 1
    assert indexer.apply_changes(store, chunk=10, leave_bursts=True) == 0  # left again
    now[0] += indexer.BURST_STILL_SECONDS  # the writer stopped for good
    monkeypatch.setattr(indexer, "write_applied", write_applied)
    assert indexer.apply_changes(store, chunk=10, leave_bursts=True) == 20


def test_a_growing_backlog_is_indexed_once_it_stands_still(app, httpserver, monkeypatch):
    """A bulk harvest keeps the backlog growing: the follower leaves it (whatever its
    size) until the newest change is BURST_STILL_SECONDS old, or BURST_MAX_SECONDS after
    the burst began, so the harvest has the cores; then it is written at once (by the
    segment writers from BULK rows)."""
    from types import SimpleNamespace

    now = [1000.0]
    monkeypatch.setattr(indexer, "time", SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(indexer, "BURST_ROWS", 5)
    monkeypatch.setattr(indexer, "BULK", 25)
    writers = []
    make_writer = indexer._writer
    monkeypatch.setattr(indexer, "_writer", lambda ix, procs: writers.append(procs)
                        or make_writer(ix, procs))  # fmt: skip
    store = get_service().store
    titles: dict[int, str] = {}

    def harvest_more(upto: int) -> None:  # the harvest writes on: `upto` rows in all
        titles.update((i, TITLES[i]) for i in range(len(titles), upto))
        publish(httpserver, titles)
        harvest(catalog.find_source("titles"))

    url = publish(httpserver, {})
    catalog.create_source("titles", "tabular", url, mapping={"id_column": "目录编号"})
    harvest_more(10)
    assert indexer.apply_changes(store, leave_bursts=True) == 0  # 10 waiting: a burst, left
    for upto in (20, 30):
        harvest_more(upto)
        now[0] += 1
        assert (
            indexer.apply_changes(store, leave_bursts=True) == 0
        )  # grew, past BULK too: left again
    now[0] += indexer.BURST_STILL_SECONDS - 1
    assert indexer.apply_changes(store, leave_bursts=True) == 0  # still, but not for long enough
    now[0] += 1
    assert (indexer.apply_changes(store, leave_bursts=True), writers) == (
        30,
        [2],
    )  # stood still: BULK, writers
    harvest_more(40)
    assert indexer.apply_changes(store, leave_bursts=True) == 0
    now[0] += indexer.BURST_STILL_SECONDS
    assert (indexer.apply_changes(store, leave_bursts=True), writers) == (
        10,
        [2, 1],
    )  # stood still: here
    began, applied = now[0], 0
    for upto in range(45, 56, 5):  # grows on, past BURST_MAX_SECONDS
        harvest_more(upto)
        applied = indexer.apply_changes(store, leave_bursts=True)
        if applied:
            break
        now[0] += indexer.BURST_MAX_SECONDS / 2
    assert now[0] - began == indexer.BURST_MAX_SECONDS  # waited that long at most
    assert (applied, writers) == (15, [2, 1, 1])
    live = db.session.scalars(select(Dataset.id).where(Dataset.deleted_at.is_(None))).all()
    assert indexed_ids() == sorted(live)
