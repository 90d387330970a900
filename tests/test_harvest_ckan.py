"""The CKAN harvester against real package dicts served by a CKAN-like server on loopback."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from subscribe.catalog.harvesters import ckan
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.catalog.records import BadRecord, DatasetRecord, HarvestError
from tests.catalog_helpers import LOOPBACK
from tests.ckan_stub import CkanPortal
from tests.conftest import FIXTURES

CATALOGS = FIXTURES / "catalogs"


@pytest.fixture
def real_packages():
    return json.loads(
        (CATALOGS / "catalog.data.gov_harvest_sources_package_search_results.json").read_text()
    )


def _context(url: str, **kwargs) -> HarvestContext:
    return HarvestContext(
        url=url, session=make_session(LOOPBACK, retries=0), page_size=40, timeout=5, **kwargs
    )


def test_pages_through_every_real_package_once(httpserver, real_packages):
    portal = CkanPortal(real_packages)
    ctx = _context(portal.install(httpserver))
    records = list(ckan.harvest(ctx))
    assert len(records) == 145
    assert all(isinstance(r, DatasetRecord) for r in records)
    assert len({r.identifier for r in records}) == 145
    assert [r["start"] for r in portal.requests] == ["0", "40", "80", "120"]
    assert all(r["sort"] == "id asc" and r["rows"] == "40" for r in portal.requests)
    assert ctx.full_listing is True


def test_maps_real_package_fields(httpserver, real_packages):
    ctx = _context(CkanPortal(real_packages).install(httpserver))
    by_id = {r.identifier: r for r in ckan.harvest(ctx)}
    record = by_id["11cd07d8-f5a7-4207-9852-6160e09ff240"]
    assert record.title == "U.S. Forest Service Geospatial Data Discovery"
    assert record.publisher == "Department of Agriculture"
    assert record.modified == datetime(2018, 8, 3, 1, 45, 47, 874032)
    assert record.issued == datetime(2018, 8, 2, 18, 15, 34, 198842)
    assert (
        record.frequency == "irregular" and record.frequency_raw == "MANUAL"
    )  # run by hand: no schedule
    assert record.landing_page.endswith("/dataset/u-s-forest-service-geospatial-data-discovery")
    assert record.description.startswith("The U.S. Forest Service has configured")


def test_hdx_package_resources_tags_and_frequency_in_days(httpserver):
    package = json.loads((CATALOGS / "hdx_unesco_dataset_package_show_result.json").read_text())
    ctx = _context(CkanPortal([package]).install(httpserver))
    [record] = list(ckan.harvest(ctx))
    assert record.identifier == package["id"]
    assert record.publisher == package["organization"]["title"]
    assert len(record.resources) == len(package["resources"])
    assert record.resources[0].url == package["resources"][0]["url"]
    assert record.resources[0].identifier == package["resources"][0]["id"]
    assert record.formats == list(dict.fromkeys(r.format for r in record.resources))
    assert record.keywords == [t["display_name"] for t in package["tags"]]
    assert package["data_update_frequency"] == "90"  # HDX gives the period in days
    assert (record.frequency, record.frequency_raw) == ("quarterly", "90")


def test_incremental_asks_for_metadata_modified_since(httpserver, real_packages):
    portal = CkanPortal(real_packages)
    since = datetime(2018, 8, 3)
    ctx = _context(portal.install(httpserver), since=since)
    records = list(ckan.harvest(ctx))
    expected = [p for p in real_packages if p["metadata_modified"] >= "2018-08-03T00:00:00"]
    assert 0 < len(records) == len(expected) < 145
    assert portal.requests[0]["fq"] == "metadata_modified:[2018-08-03T00:00:00Z TO *]"
    assert ctx.full_listing is False  # deletions cannot be judged from an incremental listing


def test_broken_packages_are_bad_records_and_the_rest_comes_through(httpserver, real_packages):
    broken = [
        "not a package",
        {"title": "no id"},
        {"id": "x-1", "title": ""},
        {"id": "x-2", "title": "ok", "resources": "junk"},
    ]
    portal = CkanPortal(real_packages[:10] + broken)
    records = list(ckan.harvest(_context(portal.install(httpserver))))
    bad = [r for r in records if isinstance(r, BadRecord)]
    good = [r for r in records if isinstance(r, DatasetRecord)]
    assert len(good) == 11  # the 10 real ones and x-2, whose junk resources are just dropped
    assert sorted(b.reason for b in bad) == [
        "package has no id or name",
        "package has no title",
        "package is not an object",
    ]


def test_success_false_is_a_harvest_error(httpserver):
    body = {
        "success": False,
        "error": {"__type": "Authorization Error", "message": "Access denied"},
    }
    httpserver.expect_request("/api/3/action/package_search").respond_with_json(body, status=403)
    with pytest.raises(HarvestError, match="HTTP 403"):
        list(ckan.harvest(_context(httpserver.url_for("/"))))
    httpserver.clear()
    httpserver.expect_request("/api/3/action/package_search").respond_with_json(body)
    with pytest.raises(HarvestError, match="Access denied"):
        list(ckan.harvest(_context(httpserver.url_for("/"))))


def test_not_json_is_a_harvest_error(httpserver):
    httpserver.expect_request("/api/3/action/package_search").respond_with_data(
        "<html>hello</html>"
    )
    with pytest.raises(HarvestError, match="did not answer JSON"):
        list(ckan.harvest(_context(httpserver.url_for("/"))))


def test_retries_server_errors_with_backoff(httpserver, real_packages):
    portal = CkanPortal(real_packages[:5])
    portal.fail_next = 2
    ctx = HarvestContext(
        url=portal.install(httpserver),
        session=make_session(LOOPBACK, retries=3, backoff=0.01),
        timeout=5,
    )
    assert len(list(ckan.harvest(ctx))) == 5
    assert len(portal.requests) == 3  # two 500s, then the answer


def test_timeout_is_a_harvest_error():
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection but never answers
    try:
        ctx = HarvestContext(
            url=f"http://127.0.0.1:{listener.getsockname()[1]}",
            session=make_session(LOOPBACK, retries=0),
            timeout=0.5,
        )
        with pytest.raises(HarvestError, match=r"could not fetch .*: no answer within 0.5 s$"):
            list(ckan.harvest(ctx))
    finally:
        listener.close()


def test_a_refused_connection_is_said_in_words():
    """The run's error is read on the source page: the socket's reason, not urllib3's
    nested "HTTPConnectionPool(...): Max retries exceeded ... NewConnectionError(...)"."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ctx = HarvestContext(
        url=f"http://127.0.0.1:{port}", session=make_session(LOOPBACK, retries=1, backoff=0)
    )
    with pytest.raises(HarvestError) as failed:
        list(ckan.harvest(ctx))
    assert str(failed.value).endswith(": connection refused")
    assert "HTTPConnectionPool" not in str(failed.value) and "Errno" not in str(failed.value)


@pytest.mark.parametrize(
    "url",
    ["http://portal.example", "http://portal.example/", "http://portal.example/api/3",
     "http://portal.example/api/3/action/package_search"],
)  # fmt: skip
def test_action_url_accepts_any_api_prefix(url):
    assert (
        ckan.action_url(url, "package_search")
        == "http://portal.example/api/3/action/package_search"
    )


def test_a_markdown_description_reads_as_text(httpserver):
    """CKAN's notes are Markdown (bb8 F18: HDX's "[bulk data service](http://…)" was shown
    raw on pages, in snippets and e-mails): its links read as their text with the address
    after it, as an HTML description's do; stored raw before, it is the same text (no
    update). Plain text with a "*" stays as written."""
    from subscribe.catalog.text import clean_description, same_text

    package = json.loads((CATALOGS / "hdx_unesco_dataset_package_show_result.json").read_text())
    ctx = _context(CkanPortal([package]).install(httpserver))
    [record] = list(ckan.harvest(ctx))
    assert "[bulk data service](" not in record.description
    assert "bulk data service (http://data.uis.unesco.org) covering" in record.description
    assert same_text(package["notes"], record.description)
    assert clean_description("价格 * 数量，见 a_b_c 字段") == "价格 * 数量，见 a_b_c 字段"
    assert clean_description("**重点** 数据\n\n# 说明") == "重点 数据\n\n说明"
