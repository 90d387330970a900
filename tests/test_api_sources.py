"""/api/v1/sources: operators only; queued harvests run by the worker's job function."""

from __future__ import annotations

import json

import pytest

from subscribe.jobs.jobs import run_queued_harvests
from tests.ckan_stub import CkanPortal
from tests.conftest import FIXTURES


@pytest.fixture
def portal_url(app, httpserver):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1", "::1"]  # an intranet portal
    path = FIXTURES / "catalogs" / "catalog.data.gov_harvest_sources_package_search_results.json"
    return CkanPortal(json.loads(path.read_text())).install(httpserver)


def test_operator_adds_source_harvests_and_reads_counts(client, operator_headers, portal_url):
    created = client.post(
        "/api/v1/sources",
        json={"name": "datagov", "type": "ckan", "url": portal_url, "schedule": 600},
        headers=operator_headers,
    )
    assert created.status_code == 201
    source = created.json
    assert source["last_harvest"] is None and source["datasets"] == 0 and source["schedule"] == 600

    queued = client.post(f"/api/v1/sources/{source['id']}/harvest", headers=operator_headers)
    assert queued.status_code == 202 and queued.json["run"]["status"] == "queued"
    assert run_queued_harvests() == 1

    detail = client.get(f"/api/v1/sources/{source['id']}", headers=operator_headers).json
    last = detail["last_harvest"]
    assert last["status"] == "succeeded"
    assert (last["created"], last["updated"], last["unchanged"], last["deleted"], last["bad"]) == (
        145,
        0,
        0,
        0,
        0,
    )
    assert detail["datasets"] == 145

    runs = client.get(f"/api/v1/sources/{source['id']}/runs", headers=operator_headers).json
    assert runs["total"] == 1 and runs["items"][0]["id"] == last["id"]


def test_sources_list_is_paged_like_every_list(client, operator_headers):
    for name in ("a", "b", "c"):
        body = {"name": name, "type": "tabular", "url": f"https://example.org/{name}.csv"}
        assert (
            client.post("/api/v1/sources", json=body, headers=operator_headers).status_code == 201
        )
    first = client.get("/api/v1/sources?per_page=2", headers=operator_headers)
    assert first.status_code == 200
    assert first.json["total"] == 3 and (first.json["page"], first.json["per_page"]) == (1, 2)
    assert [s["name"] for s in first.json["items"]] == ["a", "b"]
    assert first.json["items"][0]["last_harvest"] is None  # presented as GET /sources/{id} is
    rest = client.get("/api/v1/sources?page=2&per_page=2", headers=operator_headers).json
    assert [s["name"] for s in rest["items"]] == ["c"]
    bad = client.get("/api/v1/sources?page=0", headers=operator_headers)
    assert bad.status_code == 400 and bad.json.keys() == {"code", "status", "message", "errors"}


def test_users_and_anonymous_are_refused(client, user_headers):
    body = {"name": "x", "type": "ckan", "url": "http://example.org"}
    assert client.get("/api/v1/sources").status_code == 401
    assert client.post("/api/v1/sources", json=body).status_code == 401
    refused = client.post("/api/v1/sources", json=body, headers=user_headers)
    assert refused.status_code == 403 and refused.json["code"] == 403
    assert client.get("/api/v1/sources", headers=user_headers).status_code == 403


def test_update_and_delete(client, operator_headers):
    body = {"name": "tab", "type": "tabular", "url": "https://example.org/catalog.csv"}
    source = client.post("/api/v1/sources", json=body, headers=operator_headers).json
    patched = client.patch(
        f"/api/v1/sources/{source['id']}",
        json={"mapping": {"fields": {"title": "数据名称"}}, "enabled": False},
        headers=operator_headers,
    )
    assert patched.status_code == 200
    assert (
        patched.json["mapping"] == {"fields": {"title": "数据名称"}}
        and patched.json["enabled"] is False
    )
    assert (
        client.delete(f"/api/v1/sources/{source['id']}", headers=operator_headers).status_code
        == 204
    )
    assert (
        client.get(f"/api/v1/sources/{source['id']}", headers=operator_headers).status_code == 404
    )


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "type": "ftp", "url": "https://example.org"},
        {"name": "x", "type": "ckan", "url": "file:///etc/passwd"},
        {"name": "bad name!", "type": "ckan", "url": "https://example.org"},
        {"name": "x", "type": "ckan"},
        {"name": "x", "type": "ckan", "url": "https://example.org", "schedule": "often"},
        {"name": "x", "type": "ckan", "url": "https://example.org", "extra": 1},
        # a mapping the tabular harvester would refuse is refused when saved
        {"name": "x", "type": "tabular", "url": "https://example.org/c.csv", "mapping": {"bogus": 1}},
        {"name": "x", "type": "tabular", "url": "https://example.org/c.csv",
         "mapping": {"fields": {"titel": "名称"}}},
        {"name": "x", "type": "tabular", "url": "https://example.org/c.csv",
         "mapping": {"fields": ["名称"]}},
    ],
)  # fmt: skip
def test_invalid_sources_are_422(client, operator_headers, body):
    response = client.post("/api/v1/sources", json=body, headers=operator_headers)
    assert response.status_code == 422
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_a_tabular_mapping_is_checked_when_saved(client, operator_headers):
    """PATCH checks the mapping as preview does (it was stored, then the next harvest
    failed on it); a good one is saved."""
    body = {"name": "city", "type": "tabular", "url": "https://example.org/c.csv"}
    source = client.post("/api/v1/sources", json=body, headers=operator_headers).json
    url = f"/api/v1/sources/{source['id']}"
    bad = {"mapping": {"bogus": 1, "fields": {"title": "不存在的列"}}}
    response = client.patch(url, json=bad, headers=operator_headers)
    assert response.status_code == 422
    assert "unknown key(s) bogus" in response.json["errors"]["mapping"][0]
    assert client.get(url, headers=operator_headers).json["mapping"] == {}
    for mapping, says in (  # settings of a form the reader would refuse (bb7 M6)
        ({"id_column": 123}, "id_column must be a column name"),
        ({"sheet": ["第一页"]}, "sheet must be a sheet's name"),
        ({"encoding": "no-such-codec"}, "unknown encoding 'no-such-codec'"),
        ({"delimiter": ";;"}, "delimiter must be one character"),
    ):
        response = client.patch(url, json={"mapping": mapping}, headers=operator_headers)
        assert response.status_code == 422, mapping
        assert says in response.json["errors"]["mapping"][0]
        created = client.post("/api/v1/sources", json={**body, "name": "c2", "mapping": mapping},
                              headers=operator_headers)  # fmt: skip
        assert created.status_code == 422 and says in created.json["errors"]["mapping"][0]
    good = {"mapping": {"fields": {"title": "数据名称"}, "id_column": "目录编号",
                        "encoding": "gbk", "delimiter": "tab", "sheet": "第一页"}}  # fmt: skip
    response = client.patch(url, json=good, headers=operator_headers)
    assert response.status_code == 200 and response.json["mapping"] == good["mapping"]


def test_duplicate_name_conflicts(client, operator_headers):
    body = {"name": "dup", "type": "ckan", "url": "https://example.org"}
    assert client.post("/api/v1/sources", json=body, headers=operator_headers).status_code == 201
    assert client.post("/api/v1/sources", json=body, headers=operator_headers).status_code == 409


def test_health_endpoints(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    # No worker in this test: the database is fine, the scheduler leader is missing.
    assert ready.status_code == 503 and ready.json["checks"]["database"]["ok"] is True
    assert ready.json["checks"]["scheduler_leader"]["ok"] is False


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/", "link-local address"),  # bb5: was harvested ("HTTP 403")
        ("http://169.254.169.254/latest/meta-data/", "link-local address"),
        ("http://10.255.255.1/catalog.csv", "private address"),
        ("http://127.0.0.1:5000/api/3/action/package_search", "loopback address"),
        ("http://[::1]/catalog.csv", "loopback address"),
        ("http://0x7f.1/catalog.csv", "loopback address"),
    ],
)
def test_a_source_reaching_an_internal_address_is_422_unless_allow_listed(
    app, client, operator_headers, url, reason
):
    """Field case (bb5 H2, lower): an operator source at http://169.254.169.254/ was
    accepted and harvested. Source URLs are vetted as webhook endpoints are: 422 on `url`
    with the guard's reason; SUBSCRIBE_OUTBOUND_ALLOWLIST is the way to let one in."""
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = []  # the default (tests allow loopback)
    body = {"name": "inside", "type": "ckan", "url": url}
    refused = client.post("/api/v1/sources", json=body, headers=operator_headers)
    assert refused.status_code == 422
    (detail,) = refused.json["errors"]["url"]
    assert reason in detail and "allow-list" in detail
    assert client.get("/api/v1/sources", headers=operator_headers).json["total"] == 0

    fine = {"name": "outside", "type": "ckan", "url": "https://data.example.org/"}
    source = client.post("/api/v1/sources", json=fine, headers=operator_headers).json
    moved = client.patch(f"/api/v1/sources/{source['id']}", json={"url": url},
                         headers=operator_headers)  # fmt: skip
    assert moved.status_code == 422 and reason in moved.json["errors"]["url"][0]
    other = client.patch(f"/api/v1/sources/{source['id']}", json={"schedule": 900},
                         headers=operator_headers)  # fmt: skip
    assert other.status_code == 200  # only a new URL is vetted

    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = [
        "169.254.0.0/16",
        "10.0.0.0/8",
        "127.0.0.1",
        "::1",
    ]
    allowed = client.post("/api/v1/sources", json=body, headers=operator_headers)
    assert allowed.status_code == 201 and allowed.json["url"] == url
