"""A CKAN full listing that comes back short is no proof of deletions (bb8 acceptance 1).

A lagging Solr replica answers a later page with ``results: []`` and the same count; a
portal that ignores ``start`` answers page 1 for every page. Either way the run received
fewer distinct packages than the count the portal announced: it keeps what it read,
deletes nothing, and says so in its errors and mapping report.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvesters import ckan
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from tests.catalog_helpers import LOOPBACK
from tests.catalog_helpers import run_harvest as harvest
from tests.ckan_stub import CkanPortal
from tests.conftest import FIXTURES


@pytest.fixture
def packages():
    path = FIXTURES / "catalogs" / "catalog.data.gov_harvest_sources_package_search_results.json"
    return json.loads(path.read_text())


class ShortPortal(CkanPortal):
    """A CKAN portal whose listing misbehaves: ``empty_from`` answers pages from that
    start on with no results (the count unchanged), ``ignore_start`` answers page 1."""

    empty_from: int | None = None
    ignore_start = False
    on_page = None  # called with each page's start before it is answered

    def search(self, request):
        args = request.args.to_dict()
        start = int(args.get("start", 0))
        if self.on_page is not None:
            self.on_page(start)
        if args.get("rows") != "0" and self.empty_from is not None and start >= self.empty_from:
            self.requests.append(args)
            total = len(self.packages)
            body = {"success": True, "result": {"count": total, "results": []}}
            return self._json(body)
        if self.ignore_start:
            request.args = request.args.copy()
            request.args["start"] = "0"
        return super().search(request)

    @staticmethod
    def _json(body):
        from werkzeug import Response

        return Response(json.dumps(body), content_type="application/json")


@pytest.fixture
def portal(httpserver, packages):
    portal = ShortPortal(packages)
    portal.url = portal.install(httpserver)
    return portal


def deleted_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(Dataset).where(Dataset.deleted_at.is_not(None))
    )


def test_an_empty_page_before_the_count_deletes_nothing(app, portal):
    app.config["SUBSCRIBE_HARVEST_PAGE_SIZE"] = 50
    app.config["SUBSCRIBE_HARVEST_FULL_EVERY"] = 0  # every run a full listing
    source = services.create_source("datagov", "ckan", portal.url)
    assert harvest(source).created == 145
    portal.empty_from = 100  # the replica behind: start=100 answers results: []
    run = harvest(source)
    assert (run.status, run.deleted, run.unchanged) == ("succeeded", 0, 100)
    assert deleted_count() == 0
    reason = "listing incomplete: 100 of 145 packages received"
    assert run.mapping_report["listing_incomplete"].startswith(reason)
    assert "no deletions this run" in run.mapping_report["listing_incomplete"]
    assert any(e["reason"].startswith(reason) for e in run.errors)
    assert run.incremental is True  # not counted as the full listing: the next run lists all
    # The replica caught up: a whole listing, nothing to say, nothing deleted.
    portal.empty_from = None
    run = harvest(source)
    assert (run.status, run.deleted, run.unchanged) == ("succeeded", 0, 145)
    assert "listing_incomplete" not in (run.mapping_report or {})
    assert deleted_count() == 0


def test_a_portal_ignoring_start_deletes_nothing(app, portal):
    app.config["SUBSCRIBE_HARVEST_PAGE_SIZE"] = 50
    app.config["SUBSCRIBE_HARVEST_FULL_EVERY"] = 0
    source = services.create_source("datagov", "ckan", portal.url)
    harvest(source)
    portal.ignore_start = True  # every page is page 1
    portal.requests.clear()
    run = harvest(source)
    assert (run.status, run.deleted, run.unchanged) == ("succeeded", 0, 50)
    assert deleted_count() == 0
    assert run.mapping_report["listing_incomplete"].startswith(
        "listing incomplete: 50 of 145 packages received"
    )
    assert len(portal.requests) == 2  # it stops at the first page that repeats


def test_a_real_deletion_in_a_whole_listing_is_still_one(app, portal, packages):
    app.config["SUBSCRIBE_HARVEST_FULL_EVERY"] = 0
    source = services.create_source("datagov", "ckan", portal.url)
    harvest(source)
    portal.packages = packages[1:]
    run = harvest(source)
    assert (run.status, run.deleted) == ("succeeded", 1)
    assert "listing_incomplete" not in (run.mapping_report or {})


def test_the_harvester_says_why_the_listing_is_short(httpserver, packages):
    portal = ShortPortal(packages)
    portal.empty_from = 40
    ctx = HarvestContext(url=portal.install(httpserver), session=make_session(LOOPBACK, retries=0),
                         page_size=40, timeout=5)  # fmt: skip
    assert len(list(ckan.harvest(ctx))) == 40
    assert ctx.full_listing is False
    assert ctx.listing_incomplete == (
        "listing incomplete: 40 of 145 packages received (page start=40 came back empty);"
        " no deletions this run"
    )


def test_a_changed_url_still_gets_its_full_listing_after_an_incomplete_one(app, portal):
    """The first run after a URL change came back short: the next run still lists
    everything (review: the short run stored the new harvested_as, so the next run was
    incremental and the moved URLs of the datasets it did not read stayed old)."""
    app.config["SUBSCRIBE_HARVEST_PAGE_SIZE"] = 50
    source = services.create_source("datagov", "ckan", portal.url)
    harvest(source)
    services.update_source(source, {"url": portal.url.replace("localhost", "127.0.0.1")})
    portal.empty_from = 100
    short = harvest(source)
    assert short.mapping_report["listing_incomplete"] and short.deleted == 0
    portal.empty_from = None
    assert harvest(source).incremental is False


def test_a_package_withdrawn_while_the_listing_pages_is_a_whole_listing(app, portal, packages):
    """A package removed upstream while a long listing pages (the last page's count is
    one lower): the listing received every package still there, so it is whole, and the
    removed one is deleted (review: every such run was 'incomplete', deleting nothing)."""
    app.config["SUBSCRIBE_HARVEST_PAGE_SIZE"] = 50
    app.config["SUBSCRIBE_HARVEST_FULL_EVERY"] = 0  # every run a full listing
    source = services.create_source("datagov", "ckan", portal.url)
    assert harvest(source).created == 145
    gone = sorted(packages, key=lambda p: p["id"])[-1]  # the last page's last package

    def withdrawing(start: int) -> None:
        if start >= 100 and gone in portal.packages:
            portal.packages.remove(gone)  # removed between page 2 and page 3

    portal.on_page = withdrawing
    run = harvest(source)
    assert "listing_incomplete" not in (run.mapping_report or {})
    assert (run.deleted, run.unchanged) == (1, 144)
