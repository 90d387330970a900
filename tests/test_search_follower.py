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
