"""A CKAN portal re-created on another instance: every package gets a new ``id`` and
keeps its ``name`` (bb8 F21: 6 deleted + 6 created, mapping_report null, though the
README promises carry-over, "CKAN: the name first"). A package under an id not stored
takes the stored dataset of its name that the file no longer lists, one to one,
reported in the mapping report's ``identity.carried_over``; no events. The tester's
file (tests/data/ckan/renewed_ids.json, a copy of /work/bb8/inputs/ckan/dg.json) on
loopback, real database."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.models import CatalogEvent, Dataset
from subscribe.extensions import db
from tests.search_helpers import harvest, serve

PACKAGES = json.loads(
    (Path(__file__).resolve().parent / "data" / "ckan" / "renewed_ids.json").read_text()
)


def publish(httpserver, packages: list) -> str:
    httpserver.clear()
    return serve(httpserver, "/dg.json", json.dumps(packages).encode(), "application/json")


def active() -> dict[int, str]:
    query = select(Dataset.id, Dataset.identifier).where(Dataset.deleted_at.is_(None))
    return dict(db.session.execute(query).all())


def events() -> list[str]:
    return list(db.session.scalars(select(CatalogEvent.type).order_by(CatalogEvent.id)))


def renewed(packages: list) -> list:
    return [{**package, "id": str(uuid.uuid4())} for package in packages]


def test_packages_under_new_ids_keep_their_datasets_by_name(app, httpserver):
    source = services.create_source("dg", "ckan", publish(httpserver, PACKAGES))
    assert harvest(source).created == len(PACKAGES) == 6
    before, told = active(), len(events())

    renewed_packages = renewed(PACKAGES)
    publish(httpserver, renewed_packages)
    run = harvest(source)
    assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 0, 0, 6)
    assert active().keys() == before.keys() and events()[told:] == []
    carried = run.mapping_report["identity"]["carried_over"]
    assert carried["datasets"] == 6 and carried["by"] == {"name": 6}
    # Stored under the new ids: the next run carries nothing, reports nothing.
    assert sorted(active().values()) == sorted(p["id"] for p in renewed_packages)
    again = harvest(source)
    assert (again.created, again.deleted, again.updated, again.unchanged) == (0, 0, 0, 6)
    assert "identity" not in (again.mapping_report or {}) and events()[told:] == []


def test_a_new_package_and_a_removed_one_stay_news(app, httpserver):
    """Another name is another package: created, and the removed one deleted."""
    source = services.create_source("dg", "ckan", publish(httpserver, PACKAGES))
    harvest(source)
    other = {**PACKAGES[0], "id": str(uuid.uuid4()), "name": "another-package",
             "title": "Another package"}  # fmt: skip
    publish(httpserver, [other, *PACKAGES[1:]])
    run = harvest(source)
    assert (run.created, run.deleted, run.unchanged) == (1, 1, 5)
    assert "identity" not in (run.mapping_report or {})


def test_the_old_package_listed_deleted_beside_its_renewal_deletes_nothing(app, httpserver):
    """The file lists a package re-created under a new id and the old one as
    state: deleted (review of 9324719 + a64c096): the dataset went to the live package,
    so it stays (no dataset.deleted), and the old entry is no dataset."""
    source = services.create_source("dg", "ckan", publish(httpserver, PACKAGES))
    harvest(source)
    before, told = active(), len(events())
    old = {**PACKAGES[0], "state": "deleted"}
    new = {**PACKAGES[0], "id": str(uuid.uuid4())}
    publish(httpserver, [old, new, *PACKAGES[1:]])
    run = harvest(source)
    assert (run.created, run.deleted) == (0, 0)
    assert active().keys() == before.keys() and events()[told:] == []
