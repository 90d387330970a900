"""CKAN packages that are deleted, draft or private are not published (bb8 acceptance 3).

A package search or a saved file may show packages with ``state: "deleted"`` or
``"draft"``, or ``private: true``: they are no datasets, and a stored dataset whose
package turns so is deleted (``dataset.deleted``), counted in the run's
``skipped_states``.
"""

from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.harvesters import ckan
from subscribe.catalog.models import Dataset, DatasetVersion
from subscribe.extensions import db
from tests.catalog_helpers import run_harvest as harvest
from tests.ckan_stub import CkanPortal
from tests.conftest import DATA

STATES = DATA / "ckan-bb8" / "states.json"
LIVE = {"0b62f640", "0d58273e", "6ecff745", "a400d398"}  # active and not private


@pytest.fixture
def packages():
    return json.loads(STATES.read_text())


def live() -> set[str]:
    rows = db.session.scalars(select(Dataset.identifier).where(Dataset.deleted_at.is_(None)))
    return {identifier[:8] for identifier in rows}


def test_unpublished_packages_are_no_datasets(packages):
    assert [ckan.unpublished(p) for p in packages] == [
        "deleted", "private", "draft", "deleted", "", "", "", ""
    ]  # fmt: skip


def test_a_portal_listing_them_publishes_only_the_live_ones(app, httpserver, packages):
    portal = CkanPortal(packages)
    source = services.create_source("states", "ckan", portal.install(httpserver))
    run = harvest(source)
    assert (run.status, run.created) == ("succeeded", 4)
    assert live() == LIVE
    assert run.mapping_report["skipped_states"] == {"deleted": 2, "draft": 1, "private": 1}


def test_a_stored_dataset_turning_deleted_draft_or_private_is_deleted(app, httpserver, packages):
    published = copy.deepcopy(packages)
    for package in published:
        package["state"], package["private"] = "active", False
    portal = CkanPortal(published)
    source = services.create_source("states", "ckan", portal.install(httpserver))
    assert harvest(source).created == 8
    now = datetime.utcnow().isoformat()
    for package in packages:  # CKAN stamps the change: an incremental run lists them
        if ckan.unpublished(package):
            package["metadata_modified"] = now
    portal.packages = packages
    run = harvest(source)
    assert run.incremental is True
    assert (run.status, run.deleted, run.created) == ("succeeded", 4, 0)
    assert live() == LIVE
    kinds = db.session.scalars(select(DatasetVersion.kind).where(DatasetVersion.number == 2))
    assert sorted(kinds) == ["deleted"] * 4


def test_a_file_of_packages_skips_them_too(app, httpserver, packages):
    httpserver.expect_request("/states.json").respond_with_data(
        json.dumps(packages), content_type="application/json"
    )
    source = services.create_source("file", "ckan", httpserver.url_for("/states.json"))
    run = harvest(source)
    assert (run.status, run.created) == ("succeeded", 4)
    assert live() == LIVE
    assert run.mapping_report["skipped_states"] == {"deleted": 2, "draft": 1, "private": 1}
