"""A portal that moves under a path prefix on the same host: every dataset identified by a
URL (a DCAT-US landing page, a DCAT-AP IRI) gains the prefix (…/dataset/abc ->
…/portal/dataset/abc). Before: a deletion and a creation of every dataset, a flood for
subscribers. The identifiers moved by one base mapping (at least 5 datasets, more than
half of those that left the old base, none left on it) are the same datasets: carried
over quietly, their new URLs stored without versions or events, and the run reports the
move once (origins.moved_identities, writer). Real portals on loopback, real database."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.models import CatalogEvent, DatasetVersion, Resource
from subscribe.catalog.origins import identity_moves
from subscribe.extensions import db
from tests.test_harvest_origin_move import Portal, active_identities, harvest, stored_urls
from tests.test_run_decisions_page import run_item, source_page


def events(kind: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(CatalogEvent).where(CatalogEvent.type == kind)
    )


def versions() -> int:
    return db.session.scalar(select(func.count()).select_from(DatasetVersion))


def prefixed(portal: Portal, prefix: str, datasets=None) -> None:
    for n in datasets if datasets is not None else range(portal.count):
        portal.paths[n] = f"{prefix}/dataset/ds{n}"


@pytest.fixture
def portal(httpserver):
    portal = Portal(httpserver, 8)
    portal.url_identifiers = True  # no identifier: the landing page identifies
    return portal


def test_identifiers_gaining_a_path_prefix_are_the_same_datasets(app, portal):
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    assert harvest(source).created == 8
    before = active_identities(source)
    resource_ids = set(db.session.scalars(select(Resource.id)))
    before_versions = versions()

    prefixed(portal, "/portal")
    moved = harvest(source)
    assert (moved.created, moved.updated, moved.deleted, moved.unchanged) == (0, 0, 0, 8)
    assert active_identities(source).keys() == before.keys()
    assert events("dataset.deleted") == 0 and events("dataset.updated") == 0
    assert events("dataset.created") == 8 and versions() == before_versions
    base = f"http://127.0.0.1:{portal.port}"
    assert moved.mapping_report["origin_moves"] == [
        {"from": f"{base}/dataset", "to": f"{base}/portal/dataset", "datasets": 8}
    ]
    assert moved.mapping_report["origin_moved_identifiers"] == 8
    # The new URLs are stored, on the resources that kept their ids.
    assert all(u.startswith(f"{base}/portal/dataset/") for u in stored_urls(source))
    assert set(db.session.scalars(select(Resource.id))) == resource_ids

    item = run_item(source_page(app, app.test_client(), source, "en"), moved.id)
    assert f'data-from="{base}/dataset" data-to="{base}/portal/dataset"' in item
    assert 'data-moved-identifiers="8"' in item

    again = harvest(source)  # carried over again, and nothing to report
    assert (again.created, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 8)
    assert "origin_moves" not in (again.mapping_report or {})
    assert "origin_moved_identifiers" not in (again.mapping_report or {})
    assert active_identities(source).keys() == before.keys()

    portal.titles[3] = "Dataset 3, revised"  # an edit afterwards is an update as ever
    edited = harvest(source)
    assert (edited.updated, edited.unchanged, edited.created, edited.deleted) == (1, 7, 0, 0)
    event = db.session.scalars(select(CatalogEvent).where(
        CatalogEvent.type == "dataset.updated")).one()  # fmt: skip
    assert set(event.changes[0]["fields"]) == {"title"}

    portal.count = 9  # a dataset new on the new base is a creation
    prefixed(portal, "/portal")
    grown = harvest(source)
    assert (grown.created, grown.deleted) == (1, 0)


def test_a_dataset_edited_while_its_identifier_moved_is_an_update(app, portal):
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    before = active_identities(source)
    resource_ids = set(db.session.scalars(select(Resource.id)))
    prefixed(portal, "/portal")
    portal.titles[2] = "Dataset 2, revised"
    run = harvest(source)
    assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 1, 0, 7)
    assert active_identities(source).keys() == before.keys()
    # Every dataset the mapping moved counts, the edited one too (bb9 F4: was 7 beside 8).
    assert run.mapping_report["origin_moves"][0]["datasets"] == 8
    assert run.mapping_report["origin_moved_identifiers"] == 8
    # The news is the title, not also the landing page and files the move explains.
    event = db.session.scalars(select(CatalogEvent).where(
        CatalogEvent.type == "dataset.updated")).one()  # fmt: skip
    assert [c["kind"] for c in event.changes] == ["metadata"]
    assert set(event.changes[0]["fields"]) == {"title"}
    version = db.session.scalars(select(DatasetVersion).where(
        DatasetVersion.dataset_id == event.dataset_id, DatasetVersion.number == 2)).one()  # fmt: skip
    assert set(version.diff["fields"]) == {"title"} and "resources" not in version.diff
    assert set(db.session.scalars(select(Resource.id))) == resource_ids


def test_every_dataset_moved_and_retitled_still_names_the_move(app, portal):
    """bb9 F4 (t4.py swap): all 8 moved under /portal and retitled were 8 updates with
    origin_moved_identifiers 8 but no origin_moves entry: the operator was told 8
    identifiers moved without from or to."""
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    prefixed(portal, "/portal")
    for n in range(portal.count):
        portal.titles[n] = f"Dataset {n}, revised"
    run = harvest(source)
    assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 8, 0, 0)
    base = f"http://127.0.0.1:{portal.port}"
    assert run.mapping_report["origin_moves"] == [
        {"from": f"{base}/dataset", "to": f"{base}/portal/dataset", "datasets": 8}
    ]
    assert run.mapping_report["origin_moved_identifiers"] == 8
    for event in db.session.scalars(select(CatalogEvent).where(
            CatalogEvent.type == "dataset.updated")):  # fmt: skip
        assert set(event.changes[0]["fields"]) == {"title"}  # the move is no news


def test_too_few_datasets_moving_are_deleted_and_created(app, httpserver):
    """Four datasets are no portal move (MIN_DATASETS): news, as before."""
    portal = Portal(httpserver, 4)
    portal.url_identifiers = True
    source = services.create_source("small", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    prefixed(portal, "/portal")
    run = harvest(source)
    assert (run.created, run.deleted) == (4, 4)
    assert "origin_moves" not in (run.mapping_report or {})


def test_half_a_base_moved_is_no_move(app, httpserver):
    """Five of twelve datasets gaining the prefix while seven others went away: the
    moved ones are not more than half of those that left the old base."""
    portal = Portal(httpserver, 12)
    portal.url_identifiers = True
    source = services.create_source("half", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    prefixed(portal, "/portal", range(5))
    for n in range(5, 12):
        portal.paths[n] = f"/elsewhere/other{n}"
    run = harvest(source)
    assert (run.created, run.deleted) == (12, 12)


def test_part_of_a_base_moving_is_still_the_same_datasets(app, httpserver):
    """Six of eight gaining the prefix while two stay listed where they were: the six are
    still the same datasets (each paired 1:1 by the rest of its address, one mapping for
    all), not six deletions and six creations."""
    portal = Portal(httpserver, 8)
    portal.url_identifiers = True
    source = services.create_source("split", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    before = active_identities(source)
    prefixed(portal, "/portal", range(6))
    run = harvest(source)
    assert (run.created, run.deleted, run.unchanged) == (0, 0, 8)
    assert active_identities(source).keys() == before.keys()
    assert run.mapping_report["origin_moved_identifiers"] == 6


class JsonLdPortal:
    """A DCAT-AP JSON-LD catalog whose dataset nodes are named by IRIs under ``prefix``."""

    def __init__(self, httpserver, count: int):
        self.count, self.prefix = count, ""
        httpserver.expect_request("/catalog.jsonld").respond_with_handler(self.respond)
        self.url = httpserver.url_for("/catalog.jsonld")

    def respond(self, request):
        from werkzeug import Response

        here = request.host_url.rstrip("/") + self.prefix
        graph = [
            {"@id": f"{here}/dataset/{n}", "@type": "dcat:Dataset", "dct:title": f"Set {n}",
             "dcat:landingPage": {"@id": f"{here}/dataset/{n}/page"},
             "dcat:distribution": {"@id": f"{here}/dataset/{n}/csv",
                                   "@type": "dcat:Distribution",
                                   "dcat:downloadURL": {"@id": f"{here}/dataset/{n}/data.csv"}}}
            for n in range(self.count)
        ]  # fmt: skip
        context = {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"}
        body = json.dumps({"@context": context, "@graph": graph})
        return Response(body, content_type="application/ld+json")


def test_dcat_ap_iris_gaining_a_prefix_are_the_same_datasets(app, httpserver):
    portal = JsonLdPortal(httpserver, 6)
    source = services.create_source("eu", "dcat", portal.url)
    assert harvest(source).created == 6
    before = active_identities(source)
    portal.prefix = "/portal"
    run = harvest(source)
    assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 0, 0, 6)
    assert active_identities(source).keys() == before.keys()
    assert run.mapping_report["origin_moved_identifiers"] == 6
    assert run.mapping_report["origin_moves"][0]["to"].endswith("/portal/dataset")


def test_moved_identities_pairs_by_one_base_mapping():
    old = [f"https://data.x.gov/dataset/{name}" for name in "abcdef"]
    new = [f"https://data.x.gov/portal/dataset/{name}" for name in "abcdef"]
    assert identity_moves(new, old)[0] == dict(zip(new, old, strict=True))
    # an address two stored identifiers end in pairs nothing; the rest still move
    stored = [*old, "https://data.x.gov/v1/dataset/a"]
    assert identity_moves(new, stored)[0] == dict(zip(new[1:], old[1:], strict=True))
    # four are too few
    assert identity_moves(new[:4], old[:4])[0] == {}
