"""CKAN: the dataset's own `modified` extra and its contact point (bb8 acceptance 2).

catalog.data.gov's harvested packages keep the source's dct:modified in a `modified`
extra; `metadata_modified` is when CKAN last wrote the package, which a nightly
re-harvest upstream moves for every package. Reading it from elsewhere must not flood an
existing source with updates: the first run after the change lists everything and
stores the new readings quietly.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvesters import ckan
from subscribe.catalog.models import Dataset, DatasetVersion
from subscribe.catalog.normalize import normalize_date
from subscribe.extensions import db
from tests.catalog_helpers import run_harvest as harvest
from tests.ckan_stub import CkanPortal
from tests.conftest import DATA

DG = DATA / "ckan-bb8" / "dg.json"


@pytest.fixture
def packages():
    return json.loads(DG.read_text())


@pytest.fixture
def portal(httpserver, packages):
    portal = CkanPortal(packages)
    portal.url = portal.install(httpserver)
    return portal


def test_modified_and_contact_point_come_from_the_extras(packages):
    record = ckan.read_package(packages[0], "https://catalog.data.gov/", "p")
    assert record.modified == datetime(2019, 5, 1) and record.modified_raw == "2019-05-01"
    assert record.contact_point == "CMS Data <x@cms.gov>"
    bare = {k: v for k, v in packages[0].items() if k != "extras"}
    record = ckan.read_package(bare, "https://catalog.data.gov/", "p")
    assert record.modified_raw == packages[0]["metadata_modified"]  # no extra: CKAN's date
    assert record.contact_point == ""
    people = {**bare, "maintainer": "Jane Roe", "maintainer_email": "jane@example.org"}
    assert ckan.read_package(people, "", "p").contact_point == "Jane Roe <jane@example.org>"


def test_a_re_harvest_upstream_is_no_update(app, portal, packages):
    source = services.create_source("dg", "ckan", portal.url)
    assert harvest(source).created == 6
    # Upstream re-harvested every package: only metadata_modified and harvest_object_id moved.
    now = datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")
    moved = copy.deepcopy(packages)
    for package in moved:
        package["metadata_modified"] = now
        for extra in package["extras"]:
            if extra["key"] == "harvest_object_id":
                extra["value"] = extra["value"][::-1]
    portal.packages = moved
    run = harvest(source)
    assert run.incremental is True
    assert (run.status, run.created, run.updated, run.unchanged) == ("succeeded", 0, 0, 6)


def test_the_new_readings_are_stored_quietly_on_upgrade(app, portal, monkeypatch):
    # Harvested as before the change: modified from metadata_modified, no contact point.
    with monkeypatch.context() as patch:
        patch.setattr(ckan, "READINGS", {})
        patch.setattr(ckan, "_contact_point", lambda package, extras: "")
        patch.setattr(ckan, "_modified", lambda package, extras: normalize_date(
            package.get("metadata_modified"), latest=True))  # fmt: skip
        source = services.create_source("dg", "ckan", portal.url)
        first = harvest(source)
        first.mapping_report = None  # a run from before harvested_as was recorded
        db.session.commit()
    run = harvest(source)
    assert run.incremental is False  # read otherwise: everything listed once
    assert (run.status, run.created, run.updated, run.unchanged) == ("succeeded", 0, 0, 6)
    stored = db.session.scalars(select(Dataset)).all()
    assert {d.modified_raw for d in stored} == {"2019-05-01"}
    assert {d.contact_point for d in stored} == {"CMS Data <x@cms.gov>"}
    assert db.session.scalar(select(func.count()).select_from(DatasetVersion)) == 6
    assert run.mapping_report["harvested_as"]["readings"] == ckan.READINGS
    # Later a real change of the extra is an update again.
    portal.packages[0]["extras"][0]["value"] = "2020-01-01"
    portal.packages[0]["metadata_modified"] = datetime.utcnow().isoformat()
    run = harvest(source)
    assert run.updated == 1 and run.incremental is True
