"""Scenarios and subscriptions through the HTTP API, as a client would use them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from tests.search_helpers import load_catalogs

ERROR_KEYS = {"code", "status", "message", "errors"}


@pytest.fixture
def catalog(app, httpserver):
    load_catalogs(httpserver)


def account(client, email: str) -> dict:
    client.post("/api/v1/auth/register", json={"email": email, "password": "long password"})
    token = client.post(
        "/api/v1/auth/tokens", json={"email": email, "password": "long password"}
    ).json
    return {"Authorization": f"Bearer {token['token']}"}


def dataset_id(identifier: str) -> int:
    return db.session.scalar(select(Dataset.id).where(Dataset.identifier == identifier))


def test_a_scenario_stores_filter_values_as_the_catalog_spells_them(client, catalog):
    """Typed `csv` / traditional characters are stored as the catalog's `CSV` / simplified
    publisher, so members and event matching (which compare exactly) agree (QA)."""
    headers = account(client, "typist@example.org")
    body = {
        "name": "手打筛选",
        "filters": {"publisher": ["市生態環境局 "], "format": ["ｃｓｖ", "CSV"]},
    }
    created = client.post("/api/v1/scenarios", json=body, headers=headers)
    assert created.status_code == 201, created.json
    assert created.json["filters"] == {"publisher": ["市生态环境局"], "format": ["CSV"]}
    members = client.get(f"/api/v1/scenarios/{created.json['id']}/datasets", headers=headers).json
    live = db.session.scalars(select(Dataset).where(Dataset.deleted_at.is_(None))).all()
    expected = sum(d.publisher == "市生态环境局" and "CSV" in d.formats for d in live)
    assert members["total"] == expected > 0


def test_scenario_flow_from_a_chinese_query(client, catalog):
    headers = account(client, "analyst@example.org")
    pinned = dataset_id("QX-001")  # weather: not matched by the query, pinned in
    left_out = dataset_id("HJ-003")
    body = {
        "name": "城市环境监测",
        "q": "监测",
        "filters": {"publisher": ["市生态环境局"], "open_type": ["unconditional"]},
        "include": [pinned],
        "exclude": [left_out],
    }
    created = client.post("/api/v1/scenarios", json=body, headers=headers)
    assert created.status_code == 201, created.json
    scenario = created.json
    assert scenario["filters"] == body["filters"] and scenario["include"] == [pinned]

    members = client.get(f"/api/v1/scenarios/{scenario['id']}/datasets", headers=headers).json
    titles = {item["title"] for item in members["items"]}
    # The search for the same query and filters, plus the pin, minus the exclusion:
    searched = client.get(
        "/api/v1/datasets",
        query_string={"q": "监测", "publisher": "市生态环境局", "open_type": "unconditional"},
    ).json
    expected = ({i["title"] for i in searched["items"]} | {"示例市天气预报数据"}) - {
        "示例市重点排污单位名录"
    }
    assert titles == expected and members["total"] == len(expected)
    assert "示例市噪声监测数据" not in titles  # on request only: filtered out

    report = client.get(f"/api/v1/scenarios/{scenario['id']}/report", headers=headers).json
    assert report["members"] == members["total"]
    assert {p["value"]: p["count"] for p in report["by_publisher"]} == {
        "市生态环境局": members["total"] - 1,
        "市气象局": 1,
    }
    freshness = report["freshness"]
    assert sum(freshness.values()) == members["total"]
    # The tabular export lists no files: every member is counted as without resources.
    assert report["resources"] == {
        "count": 0,
        "declared_bytes": 0,
        "datasets_without_resources": members["total"],
    }

    events = client.get(f"/api/v1/scenarios/{scenario['id']}/events", headers=headers).json
    assert events == {"items": [], "total": 0, "page": 1, "per_page": 20}

    hook = client.post(
        "/api/v1/webhooks", json={"url": "https://hooks.example.org/in"}, headers=headers
    )
    assert hook.status_code == 201 and hook.json["secret"].startswith("whsec_")
    assert "secret" not in client.get(f"/api/v1/webhooks/{hook.json['id']}", headers=headers).json
    subscription = client.post(
        "/api/v1/subscriptions",
        json={"scenario_id": scenario["id"], "channel": "webhook", "endpoint_id": hook.json["id"],
              "events": ["dataset.updated", "dataset.created"], "cadence": "daily", "hour": 9},
        headers=headers,
    )  # fmt: skip
    assert subscription.status_code == 201, subscription.json
    assert subscription.json["timezone"] == "Asia/Shanghai" and subscription.json["push"] == "alert"
    listed = client.get("/api/v1/subscriptions", headers=headers).json
    assert [s["id"] for s in listed["items"]] == [subscription.json["id"]]


def test_unknown_pins_are_reported(client, catalog):
    headers = account(client, "a@example.org")
    known = dataset_id("JT-001")
    response = client.post(
        "/api/v1/scenarios",
        json={"name": "x", "include": [known, 999999], "exclude": [888888]},
        headers=headers,
    )
    assert response.status_code == 422
    assert "999999" in response.json["errors"]["include"][0]
    assert "888888" in response.json["errors"]["exclude"][0]


def test_update_keeps_other_fields(client, catalog):
    headers = account(client, "a@example.org")
    scenario = client.post(
        "/api/v1/scenarios", json={"name": "公交", "q": "公交"}, headers=headers
    ).json
    patched = client.patch(
        f"/api/v1/scenarios/{scenario['id']}", json={"name": "公交出行"}, headers=headers
    )
    assert patched.status_code == 200
    assert (patched.json["name"], patched.json["q"]) == ("公交出行", "公交")
    assert client.delete(f"/api/v1/scenarios/{scenario['id']}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/scenarios/{scenario['id']}", headers=headers).status_code == 404


def test_subscription_validation(client, catalog):
    alice = account(client, "alice@example.org")
    bob = account(client, "bob@example.org")
    scenario = client.post("/api/v1/scenarios", json={"name": "s"}, headers=alice).json
    bobs_hook = client.post(
        "/api/v1/webhooks", json={"url": "https://b.example.org"}, headers=bob
    ).json

    def post(body, headers=alice):
        return client.post("/api/v1/subscriptions", json=body, headers=headers)

    both = post(
        {"scenario_id": scenario["id"], "dataset_id": dataset_id("JT-001"), "channel": "inbox"}
    )
    assert both.status_code == 422
    neither = post({"channel": "inbox"})
    assert neither.status_code == 422
    foreign_endpoint = post(
        {"scenario_id": scenario["id"], "channel": "webhook", "endpoint_id": bobs_hook["id"]}
    )
    assert foreign_endpoint.status_code == 422 and "endpoint_id" in foreign_endpoint.json["errors"]
    foreign_scenario = post({"scenario_id": scenario["id"], "channel": "inbox"}, headers=bob)
    assert foreign_scenario.status_code == 422 and "scenario_id" in foreign_scenario.json["errors"]
    # ZoneInfo reads a name as a path: a folder or an over-long name is an OSError there.
    for zone in ("Mars/Olympus", "Asia", "Europe", "x" * 300):
        bad_zone = post({"scenario_id": scenario["id"], "channel": "email", "timezone": zone})
        assert bad_zone.status_code == 422 and "timezone" in bad_zone.json["errors"], zone
    bad_event = post(
        {"scenario_id": scenario["id"], "channel": "email", "events": ["dataset.eaten"]}
    )
    assert bad_event.status_code == 422
    ok = post(
        {"dataset_id": dataset_id("JT-001"), "channel": "email", "cadence": "weekly", "weekday": 4}
    )
    assert ok.status_code == 201 and ok.json["weekday"] == 4
    for zone in ("Asia", "x" * 300):
        patched = client.patch(f"/api/v1/subscriptions/{ok.json['id']}", json={"timezone": zone},
                               headers=alice)  # fmt: skip
        assert patched.status_code == 422 and "timezone" in patched.json["errors"], zone


def test_every_owner_scoped_endpoint_refuses_another_user(client, catalog):
    alice = account(client, "alice@example.org")
    mallory = account(client, "mallory@example.org")
    scenario = client.post(
        "/api/v1/scenarios", json={"name": "mine", "q": "公交"}, headers=alice
    ).json
    hook = client.post(
        "/api/v1/webhooks", json={"url": "https://a.example.org"}, headers=alice
    ).json
    subscription = client.post(
        "/api/v1/subscriptions",
        json={"scenario_id": scenario["id"], "channel": "inbox"},
        headers=alice,
    ).json
    s, w, u = scenario["id"], hook["id"], subscription["id"]
    attempts = [
        ("get", f"/api/v1/scenarios/{s}", None), ("patch", f"/api/v1/scenarios/{s}", {"name": "x"}),
        ("delete", f"/api/v1/scenarios/{s}", None), ("get", f"/api/v1/scenarios/{s}/datasets", None),
        ("get", f"/api/v1/scenarios/{s}/report", None), ("get", f"/api/v1/scenarios/{s}/events", None),
        ("get", f"/api/v1/webhooks/{w}", None), ("patch", f"/api/v1/webhooks/{w}", {"description": "x"}),
        ("delete", f"/api/v1/webhooks/{w}", None), ("get", f"/api/v1/subscriptions/{u}", None),
        ("patch", f"/api/v1/subscriptions/{u}", {"active": False}), ("delete", f"/api/v1/subscriptions/{u}", None),
    ]  # fmt: skip
    for method, path, body in attempts:
        response = getattr(client, method)(path, json=body, headers=mallory)
        assert response.status_code == 404, (method, path, response.status_code)
        assert set(response.json) == ERROR_KEYS
    assert client.get("/api/v1/scenarios", headers=mallory).json["total"] == 0
    assert client.get("/api/v1/webhooks", headers=mallory).json["total"] == 0
    assert client.get("/api/v1/subscriptions", headers=mallory).json["total"] == 0
    # Alice still has everything.
    assert client.get(f"/api/v1/scenarios/{s}", headers=alice).status_code == 200
    assert client.get(f"/api/v1/subscriptions/{u}", headers=alice).json["active"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"name": "x" * 201},
        {"name": "x", "q": "y" * 501},
        {"name": "x", "include": ["one"]},
        {"name": "x", "include": "1,2"},
        {"name": "x", "filters": {"colour": ["red"]}},
        {"name": "x", "filters": {"open_type": ["sometimes"]}},
        {"name": "x", "filters": {"modified_from": "last week"}},
        {"name": "x", "owner": 1},
        {"name": 42},
        {"name": "x", "include": list(range(1, 10_002))},
    ],
)
def test_bad_scenario_bodies_are_422_with_the_error_shape(client, app, body):
    headers = account(client, "a@example.org")
    response = client.post("/api/v1/scenarios", json=body, headers=headers)
    assert response.status_code == 422, response.json
    assert set(response.json) == ERROR_KEYS


def test_anonymous_requests_are_401(client, app):
    for path in ("/api/v1/scenarios", "/api/v1/subscriptions", "/api/v1/webhooks"):
        response = client.get(path)
        assert response.status_code == 401 and set(response.json) == ERROR_KEYS


def test_nul_characters_are_refused_not_crashed_on(client, app):
    headers = account(client, "a@example.org")
    response = client.post("/api/v1/scenarios", json={"name": "bad\u0000name"}, headers=headers)
    assert response.status_code == 422 and set(response.json) == ERROR_KEYS


def test_non_ascii_secrets_are_refused_not_crashed_on(client, app):
    """A feed token or CSRF token with non-ASCII characters is a wrong secret (404 / 403 /
    400), never a TypeError from compare_digest (found by the schemathesis fuzz test)."""
    headers = account(client, "a@example.org")
    created = client.post("/api/v1/scenarios", json={"name": "空气", "q": "空气"}, headers=headers)
    feed = f"/api/v1/scenarios/{created.json['id']}/feed.atom"
    response = client.get(feed, query_string={"token": "\u00a0é"})
    assert response.status_code == 404 and set(response.json) == ERROR_KEYS
    # A C1 control character is refused as text before the token is compared.
    response = client.get(feed, query_string={"token": "\u0080é"})
    assert response.status_code == 400 and set(response.json) == ERROR_KEYS
    client.post("/api/v1/auth/login", json={"email": "a@example.org", "password": "long password"})
    response = client.post("/api/v1/scenarios", json={"name": "x"}, headers={"X-CSRF-Token": "é"})
    assert response.status_code == 403 and set(response.json) == ERROR_KEYS
    assert client.post("/logout", data={"csrf_token": "é"}).status_code == 400
