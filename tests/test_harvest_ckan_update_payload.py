"""A CKAN package read whole (package_show), then as its package_update payload.

The acceptance tester's case (bb3): HDX's UNESCO package harvested as a file, then
replaced by the payload that updates it (the real pair, tests/fixtures/catalogs, from
OCHA-DAP/hdx-python-api). The payload lists 9 CSV resources by name, without URL or id;
names its organization by ``owner_org``'s id only; its ``maintainer`` is a user id.
Before: every resource vanished (all 9 "removed", formats []), the publisher became the
maintainer's user id (and the themes the groups' codes, the license its id, the dates
null), and the identity was carried over "by title" though the names are equal. Real files on loopback, real database (SQLite and PostgreSQL).
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from subscribe.bundles.select import _dataset_items
from subscribe.catalog import services
from subscribe.catalog.check_jobs import _due_rows
from subscribe.catalog.diff import pair_resources
from subscribe.catalog.harvesters import ckan
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion, Resource
from subscribe.catalog.records import DatasetRecord
from subscribe.extensions import db
from subscribe.models_base import utcnow
from tests.catalog_helpers import LOOPBACK
from tests.conftest import FIXTURES
from tests.search_helpers import harvest, serve

CATALOGS = FIXTURES / "catalogs"
SHOWN = json.loads((CATALOGS / "hdx_unesco_dataset_package_show_result.json").read_text())
PAYLOAD = json.loads((CATALOGS / "hdx_unesco_update_dataset_payload.json").read_text())
MAINTAINER = "a5c5296a-3206-4e51-b2de-bfe34857185f"


def shaped(package: dict, shape: str) -> bytes:
    """The package as a file of one of the shapes CKAN gives."""
    body = {
        "package": package,  # a package_show result, or a package_update payload
        "show_answer": {"help": "package_show", "success": True, "result": package},
        "search_answer": {"success": True, "result": {"count": 1, "results": [package]}},
        "list": [package],
    }[shape]
    return json.dumps(body).encode()


def publish(httpserver, body: bytes) -> str:
    httpserver.clear()
    return serve(httpserver, "/hdx.json", body, "application/json")


def only_dataset() -> Dataset:
    (dataset,) = db.session.scalars(select(Dataset).where(Dataset.deleted_at.is_(None))).all()
    return dataset


def resources(dataset_id: int) -> list[Resource]:
    query = select(Resource).where(Resource.dataset_id == dataset_id).order_by(Resource.position)
    return db.session.scalars(query).all()


def test_the_update_payload_keeps_its_resources_publisher_and_identity(app, httpserver):
    source = services.create_source("hdx", "ckan", publish(httpserver, shaped(SHOWN, "package")))
    assert harvest(source).created == 1
    dataset = only_dataset()
    stored = {r.name: r.id for r in resources(dataset.id)}
    assert len(stored) == 9 and dataset.publisher == "UNESCO"
    shown = {name: getattr(dataset, name) for name in ("themes", "license", "issued", "modified")}

    publish(httpserver, shaped(PAYLOAD, "package"))
    run = harvest(source)
    assert (run.created, run.updated, run.deleted) == (0, 1, 0)
    carried = run.mapping_report["identity"]["carried_over"]
    assert carried["by"] == {"name": 1}  # the names are equal: not "title"
    dataset = only_dataset()
    db.session.refresh(dataset)
    assert dataset.publisher == "UNESCO"  # not the maintainer's user id
    assert dataset.formats == ["CSV"]
    now = resources(dataset.id)
    assert [r.name for r in now] == [r["name"] for r in PAYLOAD["resources"]]
    assert all(r.url == "" and r.format == "CSV" and r.identifier is None for r in now)
    # The same resources (by name: neither an id nor a URL) keep their rows.
    same = {r.name for r in now} & set(stored)
    assert len(same) == 5 and all(r.id == stored[r.name] for r in now if r.name in same)

    version = db.session.scalars(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
        .order_by(DatasetVersion.number.desc()).limit(1)
    ).one()  # fmt: skip
    kinds = [change["kind"] for change in version.diff["resources"]]
    assert kinds.count("resource_changed") == 5  # the URL left; not removed and added
    assert kinds.count("resource_added") == 4 and kinds.count("resource_removed") == 4
    changed = [c for c in version.diff["resources"] if c["kind"] == "resource_changed"]
    assert all(c["fields"]["url"]["new"] == "" for c in changed)
    # What the payload names by reference (organization, groups, license by id) or not at
    # all (the timestamps CKAN sets) is no change: only its real edits are.
    assert set(version.diff["fields"]) == {"description", "keywords"}
    assert {name: getattr(dataset, name) for name in shown} == shown

    # Shown without a link, never fetched: not due for a check, skipped by bundles.
    assert not [row for row in _due_rows(100, utcnow()) if row.dataset_id == dataset.id]
    items = _dataset_items(dataset, None)
    assert len(items) == 9 and {item.skip for item in items} == {"no_url"}
    page = app.test_client().get(f"/datasets/{dataset.id}").get_data(as_text=True)
    assert "SDG 4 Global and Thematic data" in page and 'class="muted no-url"' in page
    api = app.test_client().get(f"/api/v1/datasets/{dataset.id}").json
    assert {r["url"] for r in api["resources"]} == {""} and len(api["resources"]) == 9

    events = db.session.query(CatalogEvent).count()
    run = harvest(source)  # the payload again: nothing changed
    assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 0, 0, 1)
    assert db.session.query(CatalogEvent).count() == events

    publish(httpserver, shaped(SHOWN, "package"))  # shown whole again: URLs and ids back
    run = harvest(source)
    assert (run.created, run.updated, run.deleted) == (0, 1, 0)
    assert only_dataset().id == dataset.id
    assert {r.name: r.id for r in resources(dataset.id) if r.name in same} == {
        name: stored[name] for name in same
    }


@pytest.mark.parametrize("shape", ["package", "show_answer", "search_answer", "list"])
def test_identity_is_carried_by_name_in_every_file_shape(app, httpserver, shape):
    source = services.create_source("hdx", "ckan", publish(httpserver, shaped(SHOWN, shape)))
    harvest(source)
    dataset_id = only_dataset().id
    publish(httpserver, shaped(PAYLOAD, shape))
    run = harvest(source)
    assert (run.created, run.deleted) == (0, 0) and only_dataset().id == dataset_id
    assert run.mapping_report["identity"]["carried_over"]["by"] == {"name": 1}


def test_a_package_stored_by_its_name_keeps_its_dataset_when_it_shows_its_id(app, httpserver):
    """The other way round: the payload first (no id: identified by name), then the
    package shown whole (its id), again and again."""
    source = services.create_source("hdx", "ckan", publish(httpserver, shaped(PAYLOAD, "list")))
    harvest(source)
    dataset_id = only_dataset().id
    publish(httpserver, shaped(SHOWN, "list"))
    run = harvest(source)
    assert (run.created, run.updated, run.deleted) == (0, 1, 0)
    assert run.mapping_report["identity"]["carried_over"]["by"] == {"name": 1}
    for _ in range(2):  # the next runs look again: the dataset is still stored by name
        run = harvest(source)
        assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 0, 0, 1)
        assert only_dataset().id == dataset_id
    publish(httpserver, shaped(PAYLOAD, "list"))
    run = harvest(source)
    assert (run.created, run.deleted) == (0, 0) and only_dataset().id == dataset_id


def test_the_report_says_title_when_only_the_title_matched(app, httpserver):
    source = services.create_source("hdx", "ckan", publish(httpserver, shaped(SHOWN, "package")))
    harvest(source)
    renamed = {**PAYLOAD, "name": "unesco-data-for-zimbabwe-2"}
    publish(httpserver, shaped(renamed, "package"))
    run = harvest(source)
    assert run.mapping_report["identity"]["carried_over"]["by"] == {"title": 1}


# --- the harvester alone (no database) ----------------------------------------------


def read_file(httpserver, packages: list) -> list[DatasetRecord]:
    url = publish(httpserver, json.dumps(packages).encode())
    ctx = HarvestContext(url=url, session=make_session(LOOPBACK, retries=0), timeout=5)
    return list(ckan.harvest(ctx))


def test_an_id_is_never_the_publisher(httpserver):
    """The payload's only people field is a user id; its organization is an id."""
    [record] = read_file(httpserver, [PAYLOAD])
    assert record.publisher == "" and MAINTAINER not in record.publisher
    named = {**PAYLOAD, "maintainer": "UIS Data Team"}
    [record] = read_file(httpserver, [named])
    assert record.publisher == "UIS Data Team"  # a name in a people field still reads
    for value in ("18f2d467dcf84b7ebffab3c338ba3a7c", "uis@unesco.org", "https://uis.unesco.org/"):
        [record] = read_file(httpserver, [{**PAYLOAD, "maintainer": value, "author": value}])
        assert record.publisher == "", value


def test_owner_org_is_read_from_the_organizations_of_the_same_file(httpserver):
    neighbour = {**PAYLOAD, "name": "unesco-data-for-zambia", "title": "Zambia"}
    records = read_file(httpserver, [SHOWN, neighbour])
    assert [r.publisher for r in records] == ["UNESCO", "UNESCO"]


def test_the_publisher_order_follows_ckanext_dcat(httpserver):
    """dct:publisher: the scheming publisher field, publisher_* extras, the organization;
    author and maintainer (people) only after them."""
    extras = [{"key": "publisher_name", "value": "UNESCO Institute for Statistics"}]
    [record] = read_file(httpserver, [{**SHOWN, "extras": extras, "author": "Someone"}])
    assert record.publisher == "UNESCO Institute for Statistics"
    scheming = {**SHOWN, "publisher": [{"name": "UIS", "uri": "http://uis.unesco.org"}]}
    [record] = read_file(httpserver, [scheming])
    assert record.publisher == "UIS"
    [record] = read_file(httpserver, [{**SHOWN, "author": "Someone"}])
    assert record.publisher == "UNESCO"


def test_a_license_given_by_id_alone_reads_as_the_portal_shows_it():
    record = ckan.read_package(PAYLOAD, "", "payload")
    assert record.license == SHOWN["license_title"] and "license_title" not in PAYLOAD
    assert ckan.read_package({**PAYLOAD, "license_id": "odc-odbl"}, "", "").license == (
        "Open Data Commons Open Database License (ODbL)"
    )
    assert ckan.read_package({**PAYLOAD, "license_id": "my-own"}, "", "").license == "my-own"


def test_resources_without_a_url_are_kept():
    record = ckan.read_package(PAYLOAD, "", "payload")
    assert [r.name for r in record.resources] == [r["name"] for r in PAYLOAD["resources"]]
    assert {r.url for r in record.resources} == {""} and record.formats == ["CSV"]
    pending = {**SHOWN, "resources": [{**SHOWN["resources"][0], "url": ""}]}
    [resource] = ckan.read_package(pending, "", "upload pending").resources
    assert (resource.url, resource.identifier) == ("", SHOWN["resources"][0]["id"])


def test_resources_pair_by_id_then_url_then_name():
    old = [{"identifier": "a", "url": "u1", "name": "A"}, {"identifier": "b", "url": "u2",
           "name": "B"}, {"identifier": None, "url": "u3", "name": "C"}]  # fmt: skip
    new = [{"identifier": None, "url": "", "name": "B"},  # known by its name only
           {"identifier": "c", "url": "u3", "name": "C"},  # the URL, one side has no id
           {"identifier": "z", "url": "", "name": "A"}]  # fmt: skip
    # "A" has another id (deleted and made again upstream) and is not paired by name.
    assert pair_resources(old, new) == {0: 1, 1: 2}
    twins = [{"identifier": None, "url": "", "name": "B"}] * 2
    assert pair_resources(old, twins) == {}  # a shared name pairs nothing
