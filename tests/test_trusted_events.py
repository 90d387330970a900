"""Events users can trust: only changes after subscribing, overdue as a transition, one
subscription per channel, one inbox item per change, no empty bundles, channel health,
empty scenarios. Real database, real loopback webhook receiver, real SMTP (aiosmtpd)."""

from __future__ import annotations

import copy
import json
import socket

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from subscribe.auth.services import create_user
from subscribe.bundles.build import build_bundle, claim_next
from subscribe.bundles.models import Bundle
from subscribe.bundles.select import changed_resources
from subscribe.catalog import services as catalog
from subscribe.catalog.models import CatalogEvent, Dataset
from subscribe.extensions import db
from subscribe.notify import sender
from subscribe.notify import services as notify
from subscribe.notify.models import Delivery, Notification, Subscription
from subscribe.scenarios import services as scenarios
from subscribe.scenarios.matching import PercolatorCache, match_pending_events
from subscribe.scenarios.models import ScenarioEvent
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.catalog_helpers import serve_csv_rows
from tests.search_helpers import CHINESE_CSV, EDUCATION, harvest
from tests.smtp_helpers import Recorder
from tests.test_delivery import Receiver

HEADER, *ROWS = CHINESE_CSV.read_text(encoding="utf-8").splitlines()
BY_ID = {row.split(",", 1)[0]: row for row in ROWS}


def serve_csv(httpserver, rows: list[str]) -> str:
    return serve_csv_rows(httpserver, HEADER, rows)


@pytest.fixture
def loopback(app):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1"]


@pytest.fixture
def user(app):
    return create_user("analyst@example.org", "long password")


@pytest.fixture
def city(httpserver, app):
    url = serve_csv(httpserver, ROWS)
    source = catalog.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    harvest(source)
    return source


def scenario_of(user, q="", **values):
    body = {"name": values.pop("name", q or "pins"), "q": q, "filters": {}, "include": [],
            "exclude": [], **values}  # fmt: skip
    return scenarios.create_scenario(user, body)


def match_all(cache) -> None:
    while match_pending_events(cache=cache):
        pass


def deliver_all() -> None:
    while sender.deliver_due(limit=500):
        pass


def reharvest(httpserver, source, rows) -> None:
    serve_csv(httpserver, rows)
    harvest(source)


def test_a_new_subscription_gets_only_changes_after_it(app, httpserver, loopback, user, city):
    """Subscribe after a harvest; change one dataset; exactly one webhook arrives."""
    receiver = Receiver(httpserver)
    endpoint = notify.create_endpoint(user, receiver.url)
    scenario = scenario_of(user, "示例市")
    notify.create_subscription(user, {"scenario_id": scenario.id, "channel": "webhook",
                                      "endpoint_id": endpoint.id, "events": ["dataset.created",
                                      "dataset.updated", "dataset.deleted", "dataset.overdue"]})  # fmt: skip
    cache = PercolatorCache()
    match_all(cache)
    deliver_all()
    assert receiver.requests == []  # the catalog's history is the starting state
    assert db.session.scalar(select(func.count()).select_from(ScenarioEvent)) == 0

    changed = [r.replace("全市公交线路", "全市公交线路（含夜班线）") if r.startswith("JT-001") else r
               for r in ROWS]  # fmt: skip
    reharvest(httpserver, city, changed)
    receiver = Receiver(httpserver)  # serving the new catalog cleared the server's handlers
    match_all(cache)
    deliver_all()
    assert len(receiver.requests) == 1
    body = json.loads(receiver.requests[0]["body"])
    assert body["type"] == "dataset.updated"
    assert body["data"]["dataset"]["title"] == "示例市公交线路站点信息"
    # The timeline starts at the scenario's creation: one entry, the change.
    timeline = scenarios.events_page(scenario, 1, 50)
    assert [(e.type, e.dataset_id) for e in timeline["items"]] == [
        ("dataset.updated", body["data"]["dataset"]["id"])
    ]


def test_paused_subscription_skips_or_catches_up(app, httpserver, user, city):
    scenario = scenario_of(user, "示例市")
    subscription = notify.create_subscription(user, {"scenario_id": scenario.id, "channel": "inbox",
                                                     "events": ["dataset.updated"]})  # fmt: skip
    cache = PercolatorCache()
    match_all(cache)
    notify.update_subscription(user, subscription, {"active": False})
    rows = [r.replace("2024", "2025") if r.startswith("JT-001") else r for r in ROWS]
    reharvest(httpserver, city, rows)
    match_all(cache)
    notify.update_subscription(user, subscription, {"active": True})
    deliver_all()
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 0

    notify.update_subscription(user, subscription, {"active": False})
    rows = [r.replace("2024", "2026") if r.startswith("HJ-001") else r for r in rows]
    reharvest(httpserver, city, rows)
    match_all(cache)
    notify.update_subscription(user, subscription, {"active": True, "catch_up": True})
    deliver_all()
    titles = db.session.scalars(select(Notification.title)).all()
    assert len(titles) == 1 and "示例市空气质量日报" in titles[0]


def test_duplicate_subscription_is_409_and_the_index_refuses_twins(app, client, user, city):
    token = client.post(
        "/api/v1/auth/tokens", json={"email": user.email, "password": "long password"}
    ).json
    headers = {"Authorization": f"Bearer {token['token']}"}
    scenario = scenario_of(user, "交通")
    body = {"scenario_id": scenario.id, "channel": "inbox"}
    first = client.post("/api/v1/subscriptions", json=body, headers=headers)
    assert first.status_code == 201
    second = client.post("/api/v1/subscriptions", json={**body, "events": ["dataset.updated"]},
                         headers=headers)  # fmt: skip
    assert second.status_code == 409
    assert set(second.json) == {"code", "status", "message", "errors"}
    assert second.json["errors"]["subscription_id"] == [first.json["id"]]
    assert second.json["errors"]["url"] == [f"/api/v1/subscriptions/{first.json['id']}"]
    # Another channel is another subscription; turning it into the first's twin is refused.
    email = client.post("/api/v1/subscriptions", json={**body, "channel": "email"}, headers=headers)
    assert email.status_code == 201
    twin = client.patch(f"/api/v1/subscriptions/{email.json['id']}", json={"channel": "inbox"},
                        headers=headers)  # fmt: skip
    assert twin.status_code == 409 and twin.json["errors"]["subscription_id"] == [first.json["id"]]
    assert db.session.get(Subscription, email.json["id"]).channel == "email"
    # The database itself refuses a twin that bypasses the service.
    row = {c: getattr(db.session.get(Subscription, first.json["id"]), c)
           for c in ("user_id", "scenario_id", "channel", "events", "dedupe_key")}  # fmt: skip
    with pytest.raises(IntegrityError):
        db.session.execute(insert(Subscription), [row])
    db.session.rollback()
    # The page says "subscribed" with a link to the existing one.
    client.post("/api/v1/auth/login", json={"email": user.email, "password": "long password"})
    page = client.get(f"/subscriptions/new?scenario_id={scenario.id}").get_data(as_text=True)
    assert f"/subscriptions/{first.json['id']}/edit" in page


def test_inbox_has_one_item_per_change_naming_every_scenario(app, httpserver, user, city):
    one, two = scenario_of(user, "公交", name="公交"), scenario_of(user, "线路", name="线路")
    for scenario in (one, two):
        notify.create_subscription(user, {"scenario_id": scenario.id, "channel": "inbox"})
    jt1 = db.session.scalar(select(Dataset.id).where(Dataset.identifier == "JT-001"))
    notify.create_subscription(user, {"dataset_id": jt1, "channel": "inbox"})
    cache = PercolatorCache()
    match_all(cache)
    rows = [r.replace("全市公交线路", "全市公交线路（含夜班线）") if r.startswith("JT-001") else r
            for r in ROWS]  # fmt: skip
    reharvest(httpserver, city, rows)
    match_all(cache)
    deliver_all()
    items = db.session.scalars(select(Notification)).all()
    assert len(items) == 1
    assert {s["name"] for s in items[0].payload["data"]["scenarios"]} == {"公交", "线路"}
    assert "公交" in items[0].title and "线路" in items[0].title


def test_empty_scenario_holds_only_its_pins(app, httpserver, user, city):
    indexer.apply_changes(get_service().store)
    pinned = db.session.scalar(select(Dataset.id).where(Dataset.identifier == "QX-001"))
    empty, pins = scenario_of(user, name="空"), scenario_of(user, include=[pinned], name="钉")
    assert scenarios.members_page(empty, "newest", 1, 20)["total"] == 0
    assert [d.id for d in scenarios.members_page(pins, "newest", 1, 20)["items"]] == [pinned]
    assert scenarios.report(pins)["members"] == 1 and scenarios.report(empty)["members"] == 0
    # The matcher agrees: a change to another dataset is not the empty scenario's.
    cache = PercolatorCache()
    match_all(cache)
    rows = [r.replace("2024", "2025") if r.startswith(("JT-001", "QX-001")) else r for r in ROWS]
    reharvest(httpserver, city, rows + [BY_ID["JT-001"].replace("JT-001", "JT-900")])
    match_all(cache)
    assert (
        db.session.scalars(
            select(ScenarioEvent.dataset_id).where(ScenarioEvent.scenario_id == empty.id)
        ).all()
        == []
    )
    assert db.session.scalars(
        select(ScenarioEvent.dataset_id).where(ScenarioEvent.scenario_id == pins.id)
    ).all() == [pinned]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_failing_channel_is_shown_and_told_once(app, client, httpserver, user, city, smtp_server,
                                                operator_headers):  # fmt: skip
    app.config.update(SUBSCRIBE_SMTP_HOST="127.0.0.1", SUBSCRIBE_SMTP_PORT=str(_closed_port()),
                      SUBSCRIBE_SMTP_TIMEOUT="2")  # fmt: skip
    scenario = scenario_of(user, "示例市")
    subscription = notify.create_subscription(
        user, {"scenario_id": scenario.id, "channel": "email"}
    )
    cache = PercolatorCache()
    for year in ("2025", "2026"):  # two changes, two failing deliveries
        rows = [r.replace("2024", year) if r.startswith("JT-001") else r for r in ROWS]
        reharvest(httpserver, city, rows)
        match_all(cache)
        deliver_all()
        for delivery in db.session.scalars(select(Delivery).where(Delivery.status == "pending")):
            delivery.next_attempt_at = delivery.created_at  # due again without waiting
        db.session.commit()
    token = client.post(
        "/api/v1/auth/tokens", json={"email": user.email, "password": "long password"}
    ).json
    shown = client.get(f"/api/v1/subscriptions/{subscription.id}",
                       headers={"Authorization": f"Bearer {token['token']}"}).json  # fmt: skip
    assert shown["health"]["status"] == "failing" and shown["health"]["failing_since"]
    assert shown["health"]["last_error"]
    told = db.session.scalars(
        select(Notification).where(Notification.type == "subscription.failing")
    ).all()
    assert len(told) == 1 and told[0].user_id == user.id
    # In the owner's language (Chinese by default), not both at once.
    assert told[0].title.startswith(f"订阅 #{subscription.id} 发送失败（邮件）：")
    assert "cannot deliver" not in told[0].title
    ready = client.get("/readyz").json["checks"]["smtp"]
    assert ready["ok"] is True and ready["detail"]["degraded"] is True
    queue = client.get("/api/v1/jobs", headers=operator_headers).json
    assert json.dumps(queue).count('"failing"') >= 1
    # The mail server comes back: the next delivery clears the failure.
    controller, handler = smtp_server(Recorder())
    app.config["SUBSCRIBE_SMTP_PORT"] = str(controller.port)
    deliver_all()
    db.session.expire_all()
    assert db.session.get(Subscription, subscription.id).failing_since is None
    assert (
        handler.envelopes
        and client.get("/readyz").json["checks"]["smtp"]["detail"]["status"] == "ok"
    )


def test_incremental_bundle_with_nothing_changed_is_not_built(app, httpserver, user, city):
    scenario = scenario_of(user, "示例市")
    notify.create_subscription(
        user, {"scenario_id": scenario.id, "channel": "inbox", "push": "bundle"}
    )
    cache = PercolatorCache()
    match_all(cache)
    # A metadata-only change queues an incremental bundle; it has no changed files.
    rows = [r.replace("全市公交线路", "全市公交线路（含夜班线）") if r.startswith("JT-001") else r
            for r in ROWS]  # fmt: skip
    reharvest(httpserver, city, rows)
    match_all(cache)
    indexer.apply_changes(get_service().store)
    bundle_id = claim_next("test", 60)
    assert bundle_id is not None
    bundle = build_bundle(bundle_id, "test")
    assert bundle.status == "empty" and bundle.file_name is None
    assert (
        db.session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.event_type == "bundle.ready")
        )
        == 0
    )
    assert db.session.scalar(select(func.count()).select_from(Bundle)) == 1


def _week(data: dict, *, add: int = 0, edit: int = 0, drop: int = 0) -> dict:
    """The next weekly snapshot of a DCAT-US catalog: `add` new datasets, `edit` retitled,
    the last `drop` removed."""
    week = copy.deepcopy(data)
    datasets = week["dataset"]
    for n in range(add):
        new = copy.deepcopy(datasets[n])
        new["identifier"] = f"{new['identifier']}-week-copy-{n}"
        new["title"] = f"{new['title']} (new series {n})"
        datasets.append(new)
    for n in range(edit):
        datasets[10 + n]["title"] += " (revised)"
    if drop:
        del datasets[-drop:]
    return week


def test_weekly_dcat_snapshots_give_exactly_the_diff(app, httpserver, loopback, user):
    original = json.loads(EDUCATION.read_text(encoding="utf-8"))
    httpserver.expect_request("/data.json").respond_with_json(original)
    source = catalog.create_source("ed", "dcat", httpserver.url_for("/data.json"))
    harvest(source)
    receiver = Receiver(httpserver)
    endpoint = notify.create_endpoint(user, receiver.url)
    scenario = scenario_of(user, filters={"source": ["ed"]}, name="education")
    notify.create_subscription(user, {"scenario_id": scenario.id, "channel": "webhook",
                                      "endpoint_id": endpoint.id})  # fmt: skip
    cache = PercolatorCache()
    match_all(cache)
    deliver_all()
    assert receiver.requests == []
    first = db.session.scalar(select(func.count()).select_from(CatalogEvent))

    week2 = _week(original, add=1, edit=5)
    week3 = _week(week2, edit=0, drop=1)
    week3["dataset"][20]["title"] += " (second revision)"
    week3["dataset"][21]["title"] += " (second revision)"
    for week, expected in ((week2, {"dataset.created": 1, "dataset.updated": 5}),
                           (week3, {"dataset.deleted": 1, "dataset.updated": 2})):  # fmt: skip
        httpserver.clear()
        httpserver.expect_request("/data.json").respond_with_json(week)
        receiver = Receiver(httpserver)
        harvest(source)
        match_all(cache)
        deliver_all()
        got: dict[str, int] = {}
        for request in receiver.requests:
            kind = json.loads(request["body"])["type"]
            got[kind] = got.get(kind, 0) + 1
        assert got == expected
    assert (
        db.session.scalar(select(func.count()).select_from(CatalogEvent)) == first + 1 + 5 + 1 + 2
    )


def test_a_sources_first_harvest_is_the_starting_state_not_news(app, httpserver, user):
    """Scenarios saved before a source is first harvested get nothing from that initial
    load (it is not a change); a dataset published later is news."""
    scenario = scenario_of(user, "示例市")
    subscription = notify.create_subscription(
        user, {"scenario_id": scenario.id, "channel": "inbox"}
    )
    url = serve_csv(httpserver, ROWS)
    source = catalog.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    harvest(source)
    cache = PercolatorCache()
    match_all(cache)
    assert db.session.scalar(select(func.count()).select_from(ScenarioEvent)) == 0
    assert db.session.scalar(select(func.count()).select_from(CatalogEvent)) == len(ROWS)
    all_ids = db.session.scalars(select(Dataset.id)).all()
    assert changed_resources(all_ids, subscription.created_at) == {}  # bundles agree
    reharvest(httpserver, source, [*ROWS, BY_ID["JT-001"].replace("JT-001", "JT-900")])
    new = db.session.scalar(select(Dataset.id).where(Dataset.identifier == "JT-900"))
    assert changed_resources([*all_ids, new], subscription.created_at) == {new: None}
    match_all(cache)
    deliver_all()
    assert [(e.type, e.payload["reason"]) for e in db.session.scalars(select(ScenarioEvent))] == [
        ("dataset.created", "published")
    ]
    assert db.session.scalar(select(func.count()).select_from(Notification)) == 1


def test_a_flapping_channel_tells_its_owner_once_a_day(app, user):
    """A receiver failing one request in ten, results of a round interleaved: every
    failure after a success starts a spell, but the owner gets one notice a day (QA: 30
    inbox items in 70 ms)."""
    from datetime import timedelta

    from subscribe.models_base import utcnow
    from subscribe.notify import health

    scenario = scenario_of(user, "示例市")
    subscription = notify.create_subscription(
        user, {"scenario_id": scenario.id, "channel": "inbox"}
    )
    other = notify.create_subscription(user, {"dataset_id": None, "scenario_id": scenario.id,
                                              "channel": "email"})  # fmt: skip
    now = utcnow()
    for n in range(60):
        health.record(subscription, n % 2 == 0, "HTTP 500", now)
    health.record(other, False, "SMTP down", now)  # another subscription is told apart
    db.session.commit()

    def told(sub) -> list[Notification]:
        return [n for n in db.session.scalars(select(Notification).where(
                    Notification.type == "subscription.failing")
                ) if n.payload["data"]["subscription_id"] == sub.id]  # fmt: skip

    assert len(told(subscription)) == 1 and len(told(other)) == 1
    assert subscription.failing_since is not None  # health still says failing

    told(subscription)[0].created_at = now - timedelta(hours=25)  # a day later, it flaps again
    health.record(subscription, True, None, now)
    health.record(subscription, False, "HTTP 502", now)
    db.session.commit()
    assert len(told(subscription)) == 2
