"""A portal moving its pages under a path prefix on its host while its files move to a
CDN, in the same run (bb9 F4, the tester's t12.py): the identifiers (landing pages)
…/dataset/mfN -> …/portal/dataset/mfN are carried over by a base mapping, and the
download URLs http://127.0.0.1/files/fN.csv -> http://localhost/cdn/files/fN.csv move
origin. Before: all 8 datasets dataset.updated (resource added + removed), new resource
ids, no origin_moves, though each half alone was quiet. Both mappings are moves: stored
quietly, resources keep their ids, each reported once. Real portal on loopback."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.models import CatalogEvent, DatasetVersion, Resource
from subscribe.extensions import db
from tests.test_harvest_origin_move import active_identities, harvest, stored_urls

PAGES = "https://data.qa.gov/dataset"
MOVED_PAGES = "https://data.qa.gov/portal/dataset"
FILES = "http://127.0.0.1:8799/files"
CDN = "http://localhost:8799/cdn/files"
# The brief's case: the files leave the host the pages stay on.
HOST_FILES = "https://data.qa.gov/files"
HOST_CDN = "https://cdn.qa.gov/files"


def dataset(pages: str, files: str, n: int, title: str | None = None) -> dict:
    return {
        "@type": "dcat:Dataset", "identifier": f"{pages}/mf{n}", "landingPage": f"{pages}/mf{n}",
        "title": title or f"文件迁移{n}", "description": "描述", "keyword": ["测试"],
        "modified": "2026-01-01", "accessLevel": "public",
        "publisher": {"@type": "org:Organization", "name": "测试局"},
        "distribution": [{"@type": "dcat:Distribution", "downloadURL": f"{files}/f{n}.csv",
                          "mediaType": "text/csv", "format": "CSV"}],
    }  # fmt: skip


class Catalog:
    """A data.json served from loopback, its datasets replaced between runs."""

    def __init__(self, httpserver):
        self.datasets: list[dict] = []
        httpserver.expect_request("/data.json").respond_with_handler(self.respond)
        self.url = httpserver.url_for("/data.json")

    def respond(self, _request):
        from werkzeug import Response

        body = {"@type": "dcat:Catalog", "conformsTo": "https://project-open-data.cio.gov/v1.1/schema",
                "dataset": self.datasets}  # fmt: skip
        return Response(json.dumps(body, ensure_ascii=False), content_type="application/json")

    def publish(self, pages: str, files: str, edited: int | None = None) -> None:
        self.datasets = [dataset(pages, files, n, "改" if n == edited else None) for n in range(8)]


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


@pytest.fixture
def catalog(httpserver):
    return Catalog(httpserver)


def test_pages_under_a_prefix_and_files_to_a_cdn_in_one_run_are_one_move(app, catalog):
    catalog.publish(PAGES, FILES)
    source = services.create_source("split", "dcat", catalog.url)
    assert harvest(source).created == 8
    identities = active_identities(source)
    resource_ids = set(db.session.scalars(select(Resource.id)))
    before_versions = count(DatasetVersion)

    catalog.publish(MOVED_PAGES, CDN)
    moved = harvest(source)
    assert (moved.created, moved.updated, moved.deleted, moved.unchanged) == (0, 0, 0, 8)
    assert active_identities(source).keys() == identities.keys()
    assert count(CatalogEvent, CatalogEvent.type != "dataset.created") == 0
    assert count(DatasetVersion) == before_versions
    assert sorted(moved.mapping_report["origin_moves"], key=lambda m: m["from"]) == [
        {"from": "http://127.0.0.1:8799", "to": "http://localhost:8799/cdn", "datasets": 8},
        {"from": PAGES, "to": MOVED_PAGES, "datasets": 8},
    ]
    # The new URLs are stored, on the resources that kept their ids.
    assert set(db.session.scalars(select(Resource.id))) == resource_ids
    assert {u for u in stored_urls(source) if u.endswith(".csv")} == {
        f"{CDN}/f{n}.csv" for n in range(8)
    }
    assert sorted(active_identities(source).values()) == [f"{MOVED_PAGES}/mf{n}" for n in range(8)]

    again = harvest(source)  # nothing left to move or report
    assert (again.created, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 8)
    assert "origin_moves" not in (again.mapping_report or {})

    catalog.publish(MOVED_PAGES, CDN, edited=0)  # an edit afterwards is an update as ever
    edited = harvest(source)
    assert (edited.updated, edited.unchanged) == (1, 7)


def test_an_edit_during_the_split_move_is_told_without_the_urls(app, catalog):
    catalog.publish(PAGES, FILES)
    source = services.create_source("split", "dcat", catalog.url)
    harvest(source)
    resource_ids = set(db.session.scalars(select(Resource.id)))
    catalog.publish(MOVED_PAGES, CDN, edited=2)
    run = harvest(source)
    assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 1, 0, 7)
    assert set(db.session.scalars(select(Resource.id))) == resource_ids
    event = db.session.scalars(select(CatalogEvent).where(
        CatalogEvent.type == "dataset.updated")).one()  # fmt: skip
    assert [c["kind"] for c in event.changes] == ["metadata"]
    assert set(event.changes[0]["fields"]) == {"title"}


def test_files_moving_for_too_few_datasets_stay_news(app, catalog):
    catalog.publish(PAGES, FILES)
    source = services.create_source("split", "dcat", catalog.url)
    harvest(source)
    catalog.datasets = [dataset(MOVED_PAGES, CDN if n < 3 else FILES, n) for n in range(8)]
    run = harvest(source)
    assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 3, 0, 5)
    assert run.mapping_report["origin_moves"] == [{"from": PAGES, "to": MOVED_PAGES, "datasets": 8}]
    changes = [e.changes for e in db.session.scalars(select(CatalogEvent).where(
        CatalogEvent.type == "dataset.updated"))]  # fmt: skip
    assert len(changes) == 3
    assert all("landing_page" not in json.dumps(c) for c in changes)


@pytest.mark.parametrize("pages", [PAGES, MOVED_PAGES])
def test_files_leaving_the_pages_host_for_a_cdn_are_a_move(app, catalog, pages):
    """https://data.qa.gov/files/fN.csv -> https://cdn.qa.gov/files/fN.csv while the pages
    stay on data.qa.gov (moved under /portal or not): the files' base is /files, which
    no page holds (before: the pages held the whole host, 8 updates)."""
    catalog.publish(PAGES, HOST_FILES)
    source = services.create_source("split", "dcat", catalog.url)
    harvest(source)
    resource_ids = set(db.session.scalars(select(Resource.id)))
    catalog.publish(pages, HOST_CDN)
    run = harvest(source)
    assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 0, 0, 8)
    assert count(CatalogEvent, CatalogEvent.type != "dataset.created") == 0
    assert set(db.session.scalars(select(Resource.id))) == resource_ids
    lines = [{"from": HOST_FILES, "to": HOST_CDN, "datasets": 8}]
    if pages == MOVED_PAGES:
        lines.append({"from": PAGES, "to": MOVED_PAGES, "datasets": 8})
    by_from = sorted(run.mapping_report["origin_moves"], key=lambda m: m["from"])
    assert by_from == sorted(lines, key=lambda m: m["from"])
    assert {u for u in stored_urls(source) if u.endswith(".csv")} == {
        f"{HOST_CDN}/f{n}.csv" for n in range(8)
    }
    again = harvest(source)
    assert (again.updated, again.unchanged) == (0, 8)
    assert "origin_moves" not in (again.mapping_report or {})


def test_files_leaving_the_pages_host_with_one_left_behind_are_news(app, catalog):
    catalog.publish(PAGES, HOST_FILES)
    source = services.create_source("split", "dcat", catalog.url)
    harvest(source)
    catalog.datasets = [dataset(PAGES, HOST_CDN if n else HOST_FILES, n) for n in range(8)]
    run = harvest(source)
    assert (run.updated, run.unchanged) == (7, 1)
    assert "origin_moves" not in (run.mapping_report or {})


def test_files_leaving_with_a_page_on_their_base_are_news(app, catalog):
    """A landing page under /files too: the base is no file store of its own."""
    catalog.publish(PAGES, HOST_FILES)
    catalog.datasets[0]["landingPage"] = f"{HOST_FILES}/about"
    source = services.create_source("split", "dcat", catalog.url)
    harvest(source)
    catalog.publish(PAGES, HOST_CDN)
    catalog.datasets[0]["landingPage"] = f"{HOST_FILES}/about"
    run = harvest(source)
    assert run.updated >= 1
    assert "origin_moves" not in (run.mapping_report or {})
