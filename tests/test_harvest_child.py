"""The worker runs each harvest in a process of its own (catalog/harvest.run_claimed):
its own interpreter lock beside the worker's threads. The child writes what an in-process
harvest writes, and a child that ends without finishing fails its run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from subscribe.catalog import harvest as harvest_module
from subscribe.catalog import services
from subscribe.catalog.models import Dataset, DatasetVersion, HarvestRun
from subscribe.extensions import db
from subscribe.jobs import jobs
from tests.ckan_stub import CkanPortal
from tests.conftest import FIXTURES
from tests.test_harvest_service import counts


@pytest.fixture
def ckan_portal(httpserver):
    path = FIXTURES / "catalogs" / "catalog.data.gov_harvest_sources_package_search_results.json"
    portal = CkanPortal(json.loads(path.read_text()))
    portal.url = portal.install(httpserver)
    return portal


@pytest.fixture
def portal_source(app, database_url, tmp_path, ckan_portal, monkeypatch):
    """A CKAN source harvested in a child process, which reads its configuration from the
    environment, as the worker's does."""
    app.config["SUBSCRIBE_HARVEST_IN_CHILD"] = True
    monkeypatch.setenv("SUBSCRIBE_DATABASE_URL", database_url)
    monkeypatch.setenv("SUBSCRIBE_INSTANCE_PATH", str(tmp_path / "child"))
    monkeypatch.setenv("SUBSCRIBE_DEMO", "0")
    monkeypatch.setenv("SUBSCRIBE_HARVEST_BATCH_SIZE", "50")
    monkeypatch.setenv("SUBSCRIBE_OUTBOUND_ALLOWLIST", "127.0.0.1,::1")  # portal on loopback
    return services.create_source("portal", "ckan", ckan_portal.url)


def test_a_harvest_in_a_child_process_writes_what_it_read(portal_source):
    source = portal_source
    run_id = services.queue_harvest(source).id
    assert jobs.run_queued_harvests() == 1
    run = db.session.get(HarvestRun, run_id)
    assert run.status == "succeeded" and run.created > 0 and run.finished_at, run.error
    assert run.created == db.session.scalar(select(func.count()).select_from(Dataset))
    assert run.created == db.session.scalar(select(func.count()).select_from(DatasetVersion))
    again = services.queue_harvest(source).id  # the next run sees the child's rows
    jobs.run_queued_harvests()
    assert counts(db.session.get(HarvestRun, again))[:3] == ("succeeded", 0, 0)


def test_a_child_that_ends_unfinished_fails_its_run(portal_source, monkeypatch):
    monkeypatch.setattr(harvest_module.subprocess, "call", lambda argv: -9)  # SIGKILLed
    run_id = services.queue_harvest(portal_source).id
    jobs.run_queued_harvests()
    run = db.session.get(HarvestRun, run_id)
    assert run.status == "failed" and "exit code -9" in run.error and run.finished_at
    assert db.session.scalar(select(func.count()).select_from(Dataset)) == 0


def test_the_harvest_process_leaves_the_apps_objects_out_of_collection():
    import gc

    before = gc.get_threshold()
    with pytest.raises(RuntimeError), harvest_module.harvest_process_gc():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == harvest_module.HARVEST_GC_THRESHOLD
        raise RuntimeError("a harvest that fails")
    assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


def test_the_harvest_process_starts_without_the_services_other_modules():
    """A harvest process imports the catalog and the database, not the API, pages,
    commands, demo catalog, bundles or search (most of its start before)."""
    code = (
        "import sys\n"
        "from subscribe import create_harvest_app\n"
        "import subscribe.catalog.harvest_process, subscribe.catalog.harvest\n"
        "import subscribe.catalog.harvesters.tabular\n"
        "create_harvest_app()\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    modules = set(subprocess.check_output([sys.executable, "-c", code], text=True).split())
    heavy = {"subscribe.api", "subscribe.demo", "subscribe.bundles", "subscribe.search",
             "subscribe.web", "subscribe.scenarios", "flask_migrate", "flask_smorest",
             "flask_babel", "flask_limiter"}  # fmt: skip
    assert not heavy & modules
    assert "subscribe.catalog.writer" in modules


def test_the_harvest_process_refuses_a_run_that_is_not_running(portal_source):
    run = services.queue_harvest(portal_source)  # queued, not claimed
    db.session.commit()
    command = [sys.executable, "-m", "subscribe.catalog.harvest_process", str(run.id),
               "--parent", str(os.getpid())]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "not a claimed, running run" in done.stderr
    db.session.expire_all()
    assert db.session.get(HarvestRun, run.id).status == "queued"


def test_the_lazy_extensions_are_made_once():
    from subscribe import extensions

    assert extensions.api is extensions.api
    from subscribe.extensions import limiter

    assert limiter is extensions.limiter
