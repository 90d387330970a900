"""Chat robots (DingTalk, WeCom, Feishu) against loopback stubs that check each platform's
request format and signature (recomputed here with hmac, independently of the code under
test); errors in a 200, rate limits, size caps, digests; endpoint URLs refused at creation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import quote_plus

import pytest
from sqlalchemy import select
from werkzeug import Response

from subscribe.auth.services import create_token, create_user
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify import chat_endpoints, chat_message, outbox, payloads, sender
from subscribe.notify import services as notify
from subscribe.notify.models import (
    Delivery,
    DeliveryAttempt,
    Notification,
    Subscription,
    WebhookEndpoint,
)
from subscribe.scenarios import services as scenarios

PATHS = {
    "dingtalk": ("/robot/send", "?access_token=dt-token-0123456789"),
    "wecom": ("/cgi-bin/webhook/send", "?key=0f1e2d3c-aaaa-bbbb-cccc-123456789abc"),
    "feishu": ("/open-apis/bot/v2/hook/8a6f2c1e-feishu-hook", ""),
}
OK = {"dingtalk": {"errcode": 0, "errmsg": "ok"}, "wecom": {"errcode": 0, "errmsg": "ok"},
      "feishu": {"code": 0, "msg": "success", "data": {}}}  # fmt: skip
BASE = "http://subscribe.test"


class Robot:
    """A chat platform's webhook on loopback: answers from a script (default: code 0),
    keeps every request (query, raw query string, JSON body)."""

    def __init__(self, httpserver, kind: str, answers=None):
        self.kind = kind
        self.requests: list[dict] = []
        self.answers = list(answers or [])
        path, query = PATHS[kind]
        httpserver.expect_request(path, method="POST").respond_with_handler(self.handle)
        self.url = httpserver.url_for(path) + query

    def handle(self, request):
        self.requests.append({
            "args": dict(request.args), "query": request.query_string.decode(),
            "headers": dict(request.headers), "raw": request.get_data(),
            "json": json.loads(request.get_data() or b"null"),
        })  # fmt: skip
        status, body, headers = self.answers.pop(0) if self.answers else (200, OK[self.kind], {})
        return Response(json.dumps(body), status=status, headers=headers,
                        content_type="application/json")  # fmt: skip


@pytest.fixture
def loopback(app):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1"]
    app.config["SUBSCRIBE_BASE_URL"] = BASE


@pytest.fixture
def user(app):
    return create_user("chat@example.org", "long password")


@pytest.fixture
def headers(user):
    _t, token = create_token(user, "t")
    return {"Authorization": f"Bearer {token}"}


def robot_endpoint(user, robot: Robot, secret: str = "") -> WebhookEndpoint:
    return chat_endpoints.create_chat_endpoint(user, robot.kind, robot.url, secret, "测试群")


def queue(endpoint: WebhookEndpoint, n: int = 1, subscription: Subscription | None = None,
          title: str = "空气质量日报", scenario: dict | None = None) -> list[Delivery]:  # fmt: skip
    rows = []
    for i in range(n):
        message_id = payloads.new_message_id()
        body = payloads.message(
            message_id, "dataset.updated", utcnow(), BASE, dataset_id=i + 1,
            snapshot={"title": f"{title}{i if n > 1 else ''}"}, version=2,
            changes=[{"kind": "content", "name": "日报.csv", "rows": {"old": 99, "new": 147}}],
            reason="changed", scenario=scenario,
        )  # fmt: skip
        delivery = Delivery(
            message_id=message_id, user_id=endpoint.user_id, endpoint_id=endpoint.id,
            channel=endpoint.kind, event_type="dataset.updated", payload=body,
            subscription_id=subscription.id if subscription else None,
        )  # fmt: skip
        db.session.add(delivery)
        rows.append(delivery)
    db.session.commit()
    return rows


def dingtalk_sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def feishu_sign(secret: str, timestamp: str) -> str:
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


# --- each platform's request -----------------------------------------------------------


def test_dingtalk_markdown_with_its_signature_in_the_query(app, httpserver, loopback, user):
    robot = Robot(httpserver, "dingtalk")
    secret = "SEC0123456789abcdef+/signing-secret"
    [delivery] = queue(robot_endpoint(user, robot, secret), scenario={"id": 7, "name": "城市空气"})
    before = int(time.time() * 1000)
    assert sender.deliver_due() == 1
    [request] = robot.requests
    timestamp = request["args"]["timestamp"]
    assert before - 1000 <= int(timestamp) <= int(time.time() * 1000) + 1000  # milliseconds
    assert request["args"]["access_token"] == "dt-token-0123456789"
    assert request["args"]["sign"] == dingtalk_sign(secret, timestamp)
    # urlencode(base64(...)): '+', '/' and '=' travel percent-encoded
    assert f"sign={quote_plus(dingtalk_sign(secret, timestamp))}" in request["query"]
    assert request["headers"]["Content-Type"].startswith("application/json")
    body = request["json"]
    assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"title", "text"}
    assert body["markdown"]["title"] == "【数据订阅】城市空气：数据集更新"
    text = body["markdown"]["text"]
    assert f"[空气质量日报]({BASE}/datasets/1)" in text and f"({BASE}/scenarios/7)" in text
    assert "行数 99 → 147" in text
    db.session.refresh(delivery)
    attempt = db.session.scalar(select(DeliveryAttempt))
    assert (
        delivery.status == "succeeded"
        and attempt.succeeded
        and '"errcode": 0' in attempt.response_body
    )


def test_dingtalk_without_a_secret_sends_no_signature(app, httpserver, loopback, user):
    robot = Robot(httpserver, "dingtalk")
    queue(robot_endpoint(user, robot))
    sender.deliver_due()
    assert set(robot.requests[0]["args"]) == {"access_token"}


def test_wecom_markdown_without_signing(app, httpserver, loopback, user):
    robot = Robot(httpserver, "wecom")
    [delivery] = queue(robot_endpoint(user, robot))
    sender.deliver_due()
    [request] = robot.requests
    assert request["args"] == {"key": "0f1e2d3c-aaaa-bbbb-cccc-123456789abc"}
    body = request["json"]
    assert body["msgtype"] == "markdown" and set(body["markdown"]) == {"content"}
    assert f"[空气质量日报]({BASE}/datasets/1)" in body["markdown"]["content"]
    assert body["markdown"]["content"].startswith("### 【数据订阅】数据集更新")
    db.session.refresh(delivery)
    assert delivery.status == "succeeded"


def test_feishu_post_with_its_signature_in_the_body(app, httpserver, loopback, user):
    robot = Robot(httpserver, "feishu")
    secret = "feishu-signing-secret-XYZ"
    [delivery] = queue(robot_endpoint(user, robot, secret), scenario={"id": 3, "name": "公交"})
    before = int(time.time())
    sender.deliver_due()
    [request] = robot.requests
    body = request["json"]
    assert request["args"] == {}
    assert before - 1 <= int(body["timestamp"]) <= int(time.time()) + 1  # seconds
    assert body["sign"] == feishu_sign(secret, body["timestamp"])
    assert body["msg_type"] == "post"
    post = body["content"]["post"]["zh_cn"]
    assert post["title"] == "【数据订阅】公交：数据集更新"
    tags = [tag for line in post["content"] for tag in line]
    assert {"tag": "a", "text": "空气质量日报", "href": f"{BASE}/datasets/1"} in tags
    assert {"tag": "a", "text": "查看场景：公交", "href": f"{BASE}/scenarios/3"} in tags
    assert len(request["raw"]) <= 20 * 1024
    db.session.refresh(delivery)
    assert delivery.status == "succeeded"


# --- failures ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind, answer, words", [
    ("dingtalk", {"errcode": 310000, "errmsg": "keywords not in content"}, "310000: keywords"),
    ("wecom", {"errcode": 93000, "errmsg": "invalid webhook url"}, "93000: invalid webhook url"),
    ("feishu", {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"},
     "19021: sign match fail"),
])  # fmt: skip
def test_an_error_code_in_a_200_is_a_failed_attempt_retried(app, httpserver, loopback, user,
                                                             kind, answer, words):  # fmt: skip
    robot = Robot(httpserver, kind, answers=[(200, answer, {})])
    [delivery] = queue(robot_endpoint(user, robot))
    sender.deliver_due()
    db.session.refresh(delivery)
    attempt = db.session.scalar(select(DeliveryAttempt))
    assert delivery.status == "pending" and delivery.attempts == 1
    assert words in delivery.last_error and delivery.last_status == 200
    assert attempt.status_code == 200 and not attempt.succeeded and words in attempt.error
    assert delivery.next_attempt_at > utcnow()  # a retry is scheduled
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    assert endpoint.failing_since is not None
    delivery.next_attempt_at = utcnow() - timedelta(seconds=1)  # time passes
    db.session.commit()
    sender.deliver_due()
    db.session.refresh(delivery)
    db.session.refresh(endpoint)
    assert delivery.status == "succeeded" and delivery.attempts == 2 and len(robot.requests) == 2
    assert endpoint.failing_since is None


@pytest.mark.parametrize("body", ["<html>portal</html>", {"errcode": float("inf")},
                                  {"code": float("-inf")}, {"errcode": "abc"}, []])  # fmt: skip
def test_an_answer_that_is_not_the_platforms_json_is_a_failure(app, httpserver, loopback, user,
                                                               body):  # fmt: skip
    """Including codes int() cannot take: an answer of {"errcode": Infinity} (or 1e400)
    made int() raise OverflowError out of a sender that must never raise."""
    kind = "feishu" if isinstance(body, dict) and "code" in body else "wecom"
    robot = Robot(httpserver, kind, answers=[(200, body, {})])
    [delivery] = queue(robot_endpoint(user, robot))
    sender.deliver_due()
    db.session.refresh(delivery)
    assert delivery.status == "pending" and "no error code" in delivery.last_error


@pytest.mark.parametrize("kind, answer, wait", [
    ("dingtalk", (200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}, {}), 600),
    ("wecom", (200, {"errcode": 45009, "errmsg": "api freq out of limit"}, {}), 60),
    ("feishu", (200, {"code": 11232, "msg": "frequency limited"}, {}), 60),
    ("feishu", (429, {"code": 99991400, "msg": "request trigger frequency limit"},
                {"Retry-After": "120"}), 120),
])  # fmt: skip
def test_a_rate_limit_waits_and_holds_back_the_robots_other_messages(
    app, httpserver, loopback, user, kind, answer, wait
):
    robot = Robot(httpserver, kind, answers=[answer])
    first, second, third = queue(robot_endpoint(user, robot), n=3)  # three separate messages
    start = utcnow()
    sender.deliver_due()
    assert len(robot.requests) == 1  # the robot said "too fast": nothing more this round
    for delivery in (first, second, third):
        db.session.refresh(delivery)
        assert delivery.status == "pending"
        assert delivery.next_attempt_at >= start + timedelta(seconds=wait - 1)
    assert first.attempts == 1 and first.last_error
    assert second.attempts == third.attempts == 0  # not tried, so not counted
    for delivery in (first, second, third):
        delivery.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    sender.deliver_due()
    assert len(robot.requests) == 4
    assert all(db.session.get(Delivery, d.id).status == "succeeded" for d in (first, second, third))


def test_refused_at_delivery_when_the_address_is_no_longer_allowed(app, httpserver, loopback, user):
    robot = Robot(httpserver, "dingtalk")
    [delivery] = queue(robot_endpoint(user, robot))
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = []  # or the name now resolves elsewhere
    sender.deliver_due()
    db.session.refresh(delivery)
    assert robot.requests == [] and "loopback" in delivery.last_error
    assert "dt-token-0123456789" not in delivery.last_error  # the credential stays out of logs


# --- digests and size caps ----------------------------------------------------------------


@pytest.mark.parametrize("kind, measure, limit", [
    ("wecom", lambda r: len(r["json"]["markdown"]["content"].encode()), 4096),
    ("dingtalk", lambda r: len(r["json"]["markdown"]["text"].encode()), 20_000),
    ("feishu", lambda r: len(r["raw"]), 20 * 1024),
])  # fmt: skip
def test_a_digest_is_one_message_under_the_platforms_limit(app, httpserver, loopback, user,
                                                           kind, measure, limit):  # fmt: skip
    robot = Robot(httpserver, kind)
    endpoint = robot_endpoint(user, robot, "" if kind == "wecom" else "s3cret")
    scenario = scenarios.create_scenario(user, {"name": "城市空气"})
    subscription = notify.create_subscription(user, {
        "scenario_id": scenario.id, "channel": kind, "endpoint_id": endpoint.id,
        "cadence": "daily", "hour": 8})  # fmt: skip
    long_title = "某某市生态环境局空气质量自动监测站点逐小时数据" * 3
    deliveries = queue(endpoint, n=400, subscription=subscription, title=long_title,
                       scenario={"id": scenario.id, "name": "城市空气"})  # fmt: skip
    sender.deliver_due(limit=500)
    [request] = robot.requests  # 400 changes, one message
    assert measure(request) <= limit
    text = json.dumps(request["json"], ensure_ascii=False)
    assert (
        "数据变更 400 项" in text
        and "项未列出" in text
        and f"{BASE}/scenarios/{scenario.id}" in text
    )
    statuses = {db.session.get(Delivery, d.id).status for d in deliveries}
    assert statuses == {"succeeded"}


def test_a_digest_that_fails_is_retried_whole(app, httpserver, loopback, user):
    robot = Robot(httpserver, "dingtalk", answers=[(500, {"errcode": -1, "errmsg": "busy"}, {})])
    endpoint = robot_endpoint(user, robot)
    scenario = scenarios.create_scenario(user, {"name": "公交"})
    subscription = notify.create_subscription(user, {
        "scenario_id": scenario.id, "channel": "dingtalk", "endpoint_id": endpoint.id,
        "cadence": "weekly"})  # fmt: skip
    deliveries = queue(endpoint, n=5, subscription=subscription)
    sender.deliver_due()
    assert len(robot.requests) == 1
    for delivery in deliveries:
        db.session.refresh(delivery)
        assert delivery.status == "pending" and delivery.attempts == 1
        assert delivery.last_error == "HTTP 500"
    db.session.refresh(subscription)
    assert subscription.failing_since is not None and subscription.last_error == "HTTP 500"


def test_untrusted_titles_cannot_make_links_or_tags():
    payload = payloads.message(
        "msg_x", "dataset.created", utcnow(), BASE, dataset_id=5,
        snapshot={"title": '[点我](http://evil.example) <font color="warning">**假**</font>'},
        version=1, changes=[], reason="published",
    )  # fmt: skip
    for kind, key in (("dingtalk", "text"), ("wecom", "content")):
        text = chat_message.render(kind, [payload], BASE)["markdown"][key]
        assert "](http://evil" not in text and "<font" not in text and "**假**" not in text
        assert f"({BASE}/datasets/5)" in text


def test_the_outbox_queues_chat_deliveries_for_chat_subscriptions(app, loopback, user):
    endpoint = chat_endpoints.create_chat_endpoint(
        user, "feishu", "http://127.0.0.1:9/open-apis/bot/v2/hook/abc"
    )
    scenario = scenarios.create_scenario(user, {"name": "城市空气"})
    subscription = notify.create_subscription(user, {
        "scenario_id": scenario.id, "channel": "feishu", "endpoint_id": endpoint.id})  # fmt: skip
    event = SimpleNamespace(id=1, dataset_id=9, created_at=utcnow(), after={"title": "新数据"},
                            before=None, version=1, changes=[])  # fmt: skip
    assert outbox._enqueue([(subscription, event, "dataset.created", {})]) == 1
    delivery = db.session.scalar(select(Delivery))
    assert (delivery.channel, delivery.endpoint_id) == ("feishu", endpoint.id)


# --- the API -------------------------------------------------------------------------------


def test_chat_endpoint_api_create_list_get_test_log_delete(app, client, httpserver, loopback,
                                                           user, headers):  # fmt: skip
    robot = Robot(httpserver, "dingtalk")
    created = client.post(
        "/api/v1/chat-endpoints",
        headers=headers,
        json={
            "kind": "dingtalk",
            "url": robot.url,
            "secret": "SECtopsecret",
            "description": "值班群",
        },
    )
    assert created.status_code == 201, created.json
    endpoint = created.json
    assert endpoint["kind"] == "dingtalk" and endpoint["signed"] is True
    assert "secret" not in endpoint and "SECtopsecret" not in json.dumps(endpoint)
    assert "dt-token-0123456789" not in endpoint["url"] and "access_token=dt-t…" in endpoint["url"]
    listed = client.get("/api/v1/chat-endpoints?kind=dingtalk", headers=headers).json
    assert [e["id"] for e in listed["items"]] == [endpoint["id"]] and listed["total"] == 1
    assert client.get("/api/v1/chat-endpoints?kind=wecom", headers=headers).json["total"] == 0
    # A chat endpoint is not a webhook, and a webhook is not a chat endpoint.
    assert client.get(f"/api/v1/webhooks/{endpoint['id']}", headers=headers).status_code == 404
    assert client.get("/api/v1/webhooks", headers=headers).json["total"] == 0

    test = client.post(f"/api/v1/chat-endpoints/{endpoint['id']}/test", headers=headers)
    assert test.status_code == 200 and test.json["attempt"]["succeeded"] is True
    [request] = robot.requests
    assert request["json"]["markdown"]["title"] == "【数据订阅】群机器人测试消息"
    assert request["args"]["sign"] == dingtalk_sign("SECtopsecret", request["args"]["timestamp"])
    log = client.get(f"/api/v1/chat-endpoints/{endpoint['id']}/deliveries", headers=headers).json
    assert log["items"][0]["event_type"] == "chat.test"
    assert log["items"][0]["attempt_log"][0]["status_code"] == 200

    scenario = scenarios.create_scenario(user, {"name": "城市空气"})
    subscribed = client.post(
        "/api/v1/subscriptions",
        headers=headers,
        json={"scenario_id": scenario.id, "channel": "dingtalk", "endpoint_id": endpoint["id"]},
    )
    assert subscribed.status_code == 201 and subscribed.json["channel"] == "dingtalk"
    patched = client.patch(f"/api/v1/chat-endpoints/{endpoint['id']}", headers=headers,
                           json={"secret": ""})  # fmt: skip
    assert patched.status_code == 200 and patched.json["signed"] is False
    assert (
        client.delete(f"/api/v1/chat-endpoints/{endpoint['id']}", headers=headers).status_code
        == 204
    )
    assert db.session.scalar(select(Subscription)) is None  # its subscriptions went with it


def test_a_failed_test_message_shows_the_platforms_error(app, client, httpserver, loopback,
                                                        user, headers):  # fmt: skip
    robot = Robot(
        httpserver, "feishu", answers=[(200, {"code": 19021, "msg": "sign match fail"}, {})]
    )
    endpoint = robot_endpoint(user, robot, "wrong")
    test = client.post(f"/api/v1/chat-endpoints/{endpoint.id}/test", headers=headers).json
    assert (
        test["attempt"]["succeeded"] is False
        and "19021: sign match fail" in test["attempt"]["error"]
    )
    assert test["delivery"]["status"] == "failed"  # a test is tried once


@pytest.mark.parametrize("body, field", [
    ({"kind": "dingtalk", "url": "http://robot.example.cn/robot/send"}, "url"),  # no access_token
    ({"kind": "wecom", "url": "http://robot.example.cn/cgi-bin/webhook/send"}, "url"),  # no key
    ({"kind": "feishu", "url": "http://robot.example.cn/open-apis/bot/v2/hook/"}, "url"),
    ({"kind": "wecom", "url": "http://robot.example.cn/send?key=k", "secret": "x"}, "secret"),
    ({"kind": "slack", "url": "http://robot.example.cn/x"}, "kind"),
    ({"kind": "dingtalk", "url": "ftp://robot.example.cn/x?access_token=t"}, "url"),
    ({"kind": "dingtalk", "url": "http://robot.example.cn/x?access_token=t", "extra": 1}, "extra"),
])  # fmt: skip
def test_bad_chat_endpoints_are_422_with_the_error_shape(app, client, headers, body, field):
    response = client.post("/api/v1/chat-endpoints", headers=headers, json=body)
    assert response.status_code == 422
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert field in json.dumps(response.json["errors"])


def test_a_subscription_needs_an_endpoint_of_its_channels_kind(app, client, loopback, user,
                                                               headers):  # fmt: skip
    wecom = chat_endpoints.create_chat_endpoint(user, "wecom", "http://127.0.0.1:9/send?key=k")
    hook = notify.create_endpoint(user, "http://127.0.0.1:9/hook")
    scenario = scenarios.create_scenario(user, {"name": "城市空气"})
    for channel, endpoint_id in (("dingtalk", wecom.id), ("dingtalk", hook.id),
                                 ("webhook", wecom.id), ("dingtalk", None)):  # fmt: skip
        response = client.post(
            "/api/v1/subscriptions",
            headers=headers,
            json={"scenario_id": scenario.id, "channel": channel, "endpoint_id": endpoint_id},
        )
        assert response.status_code == 422 and "endpoint_id" in response.json["errors"], channel


# --- the SSRF guard at creation ---------------------------------------------------------------

INTERNAL = ["http://127.0.0.1:9/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest",
            "http://[::1]:8080/hook", "http://192.168.1.10/hook", "http://2130706433/hook",
            "http://localhost:9/hook"]  # fmt: skip


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_webhook_urls_are_refused_at_creation(app, client, headers, url):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = []  # the default (tests allow loopback)
    response = client.post("/api/v1/webhooks", headers=headers, json={"url": url})
    assert response.status_code == 422, response.json
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert "refused" in response.json["errors"]["url"][0]
    chat = client.post("/api/v1/chat-endpoints", headers=headers,
                       json={"kind": "dingtalk", "url": url + "?access_token=t"})  # fmt: skip
    assert chat.status_code == 422 and "url" in chat.json["errors"]
    assert db.session.scalar(select(WebhookEndpoint)) is None


def test_the_allow_list_lets_an_internal_url_through_and_updates_are_checked(app, client,
                                                                            headers):  # fmt: skip
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1"]
    created = client.post("/api/v1/webhooks", headers=headers,
                          json={"url": "http://127.0.0.1:9/hook"})  # fmt: skip
    assert created.status_code == 201
    moved = client.patch(f"/api/v1/webhooks/{created.json['id']}", headers=headers,
                         json={"url": "http://10.0.0.8/hook"})  # fmt: skip
    assert moved.status_code == 422 and "url" in moved.json["errors"]
    # A name that does not resolve now is accepted: delivery checks it again when it does.
    later = client.post("/api/v1/webhooks", headers=headers,
                        json={"url": "https://hooks.example.invalid/x"})  # fmt: skip
    assert later.status_code == 201


def test_a_robot_failing_for_days_is_disabled_and_its_owner_told_without_its_token(
    app, httpserver, loopback, user
):
    robot = Robot(httpserver, "wecom", answers=[(200, {"errcode": 93000, "errmsg": "invalid"}, {})])
    endpoint = robot_endpoint(user, robot)
    endpoint.failing_since = utcnow() - timedelta(days=6)
    db.session.commit()
    queue(endpoint)
    sender.deliver_due()
    db.session.refresh(endpoint)
    assert not endpoint.enabled and endpoint.disabled_reason == "failing for more than 5 days"
    note = db.session.scalar(select(Notification).where(Notification.type == "webhook.disabled"))
    assert note.title.startswith("群机器人已停用：") and "key=0f1e…" in note.title  # the owner: zh
    assert "0f1e2d3c-aaaa" not in note.title + json.dumps(note.payload)


def test_a_bundle_ready_message_links_to_the_bundle_page():
    payload = {"type": "bundle.ready", "timestamp": "2026-11-30T03:00:00Z",
               "data": {"event_id": "msg_b", "title": "城市空气",
                        "bundle": {"id": 12, "file_count": 7,
                                   "download_url": f"{BASE}/api/v1/bundles/12/download"},
                        "scenario": {"id": 3, "name": "城市空气"}}}  # fmt: skip
    text = chat_message.render("wecom", [payload], BASE)["markdown"]["content"]
    assert text.startswith("### 【数据订阅】城市空气：数据包已就绪")
    assert f"[7 个文件]({BASE}/bundles/12)" in text
