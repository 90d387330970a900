"""A source whose URL (or type, mapping) changed is listed whole at its next run (bb8
acceptance 5): an incremental run saw only the packages modified since, so the rule that
carries moved URLs quietly (a full listing's) never applied: 3 landing-page-only
"updates" were pushed and every other dataset kept its old URLs.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from tests.catalog_helpers import run_harvest as harvest
from tests.ckan_stub import CkanPortal
from tests.conftest import FIXTURES


@pytest.fixture
def portal(httpserver):
    path = FIXTURES / "catalogs" / "catalog.data.gov_harvest_sources_package_search_results.json"
    portal = CkanPortal(json.loads(path.read_text()))
    portal.url = portal.install(httpserver)
    return portal


def test_a_changed_url_gets_a_full_listing(app, portal):
    source = services.create_source("datagov", "ckan", portal.url)
    harvest(source)
    assert harvest(source).incremental is True  # unchanged: incremental as ever
    moved = portal.url.replace("localhost", "127.0.0.1")  # the same server, another origin
    assert moved != portal.url
    services.update_source(source, {"url": moved})  # PATCH /api/v1/sources/{id}
    run = harvest(source)
    assert run.incremental is False and run.since is None
    assert (run.status, run.updated, run.unchanged, run.deleted) == ("succeeded", 0, 145, 0)
    pages = db.session.scalars(select(Dataset.landing_page)).all()
    assert all(page.startswith(moved) for page in pages)  # every one moved, quietly
    assert run.mapping_report["origin_moves"][0]["datasets"] == 145
    assert harvest(source).incremental is True  # and incremental again after


def test_a_changed_mapping_gets_a_full_listing(app, portal):
    source = services.create_source("datagov", "ckan", portal.url)
    harvest(source)
    services.update_source(source, {"mapping": {}, "url": portal.url + "api/3/action/"})
    assert harvest(source).incremental is False
    assert harvest(source).incremental is True
