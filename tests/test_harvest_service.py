"""Harvest runs end to end: a CKAN-like portal on loopback into the real database."""

from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run
from subscribe.catalog.models import Dataset, DatasetVersion, HarvestRun
from subscribe.extensions import db
from tests.catalog_helpers import run_harvest as harvest
from tests.ckan_stub import CkanPortal
from tests.conftest import FIXTURES


@pytest.fixture
def packages():
    path = FIXTURES / "catalogs" / "catalog.data.gov_harvest_sources_package_search_results.json"
    return json.loads(path.read_text())


@pytest.fixture
def portal(httpserver, packages):
    portal = CkanPortal(packages)
    portal.url = portal.install(httpserver)
    return portal


def counts(run: HarvestRun) -> tuple:
    return run.status, run.created, run.updated, run.unchanged, run.deleted, run.bad


def test_first_harvest_creates_every_dataset_with_a_version(app, portal):
    source = services.create_source("datagov", "ckan", portal.url)
    run = harvest(source)
    assert counts(run) == ("succeeded", 145, 0, 0, 0, 0)
    assert run.incremental is False and run.finished_at >= run.started_at
    assert db.session.scalar(select(func.count()).select_from(DatasetVersion)) == 145
    seqs = db.session.scalars(select(Dataset.change_seq)).all()
    assert sorted(seqs) == list(range(1, 146))  # every change has its own sequence number


def test_reharvest_updates_adds_and_deletes(app, portal, packages):
    source = services.create_source("datagov", "ckan", portal.url)
    harvest(source)
    now = datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")
    edited = copy.deepcopy(packages[3])
    edited["title"] = "Renamed harvest source"
    edited["metadata_modified"] = now
    added = {
        **copy.deepcopy(packages[4]),
        "id": "new-dataset-id",
        "name": "brand-new",
        "metadata_modified": now,
    }
    removed_id = packages[7]["id"]
    portal.packages = [edited if p is packages[3] else p for p in packages if p["id"] != removed_id]
    portal.packages.append(added)
    portal.requests.clear()

    run = harvest(source)
    # Incremental listing saw the edit and the addition; the count check then noticed a
    # deletion and listed everything once to find it.
    assert portal.requests[0]["fq"].startswith("metadata_modified:[")
    assert counts(run) == ("succeeded", 1, 1, 143, 1, 0)
    changed = db.session.scalar(select(Dataset).where(Dataset.identifier == packages[3]["id"]))
    assert changed.title == "Renamed harvest source" and changed.version == 2
    version = db.session.scalar(
        select(DatasetVersion).where(
            DatasetVersion.dataset_id == changed.id, DatasetVersion.number == 2
        )
    )
    assert version.kind == "updated"
    assert version.diff["fields"]["title"] == {
        "old": packages[3]["title"],
        "new": "Renamed harvest source",
    }
    gone = db.session.scalar(select(Dataset).where(Dataset.identifier == removed_id))
    assert gone.deleted_at is not None and gone.version == 2  # marked, never dropped
    assert services.dataset_count(source) == 145

    # It comes back: restored, with a new version.
    portal.packages.append(next(p for p in packages if p["id"] == removed_id))
    run = harvest(source)
    db.session.refresh(gone)
    assert gone.deleted_at is None and gone.version == 3
    kinds = db.session.scalars(
        select(DatasetVersion.kind)
        .where(DatasetVersion.dataset_id == gone.id)
        .order_by(DatasetVersion.number)
    ).all()
    assert kinds == ["created", "deleted", "restored"]


def test_unchanged_full_reharvest_writes_no_versions(app, portal):
    app.config["SUBSCRIBE_HARVEST_FULL_EVERY"] = 0  # every run lists everything
    source = services.create_source("datagov", "ckan", portal.url)
    harvest(source)
    run = harvest(source)
    assert counts(run) == ("succeeded", 0, 0, 145, 0, 0)
    assert db.session.scalar(select(func.count()).select_from(DatasetVersion)) == 145


def test_bad_records_are_counted_and_reported(app, portal, packages):
    portal.packages = packages[:20] + ["junk", {"id": "no-title", "title": ""}]
    source = services.create_source("datagov", "ckan", portal.url)
    run = harvest(source)
    assert counts(run) == ("succeeded", 20, 0, 0, 0, 2)
    assert {e["reason"] for e in run.errors} == {"package is not an object", "package has no title"}


def test_failed_harvest_keeps_what_it_read_and_deletes_nothing(app, portal, packages):
    app.config["SUBSCRIBE_HARVEST_PAGE_SIZE"] = 50
    source = services.create_source("datagov", "ckan", portal.url)

    def fail_after_first_page(request, original=portal.search):
        if request.args.get("start") not in (None, "0"):
            return portal._error("Internal Error", "search index down", 500)
        return original(request)

    portal.search = fail_after_first_page
    portal_server_handler_swap(portal)
    run = harvest(source)
    assert run.status == "failed" and "HTTP 500" in run.error
    assert run.created == 50
    assert (
        db.session.scalar(
            select(func.count()).select_from(Dataset).where(Dataset.deleted_at.isnot(None))
        )
        == 0
    )


def portal_server_handler_swap(portal) -> None:
    """Re-point the loopback server at portal.search after a test replaced it."""
    portal._server.clear()
    portal.install(portal._server)


def test_empty_listing_marks_nothing_deleted(app, portal):
    source = services.create_source("datagov", "ckan", portal.url)
    harvest(source)
    app.config["SUBSCRIBE_HARVEST_FULL_EVERY"] = 0
    portal.packages = []
    run = harvest(source)
    assert run.status == "succeeded" and run.deleted == 0
    assert any("empty listing" in e["reason"] for e in run.errors)
    assert services.dataset_count(source) == 145


def test_a_queued_run_is_claimed_once(app, portal):
    source = services.create_source("datagov", "ckan", portal.url)
    run = services.queue_harvest(source)
    assert services.queue_harvest(source).id == run.id  # no second run while one waits
    assert claim_run(run.id) is True
    assert claim_run(run.id) is False
