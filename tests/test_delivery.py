"""Webhook delivery to real receivers on loopback: signatures, retries, disabling, resend."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook
from werkzeug import Response

from subscribe.auth.services import create_token, create_user
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify import payloads, sender
from subscribe.notify.channels.webhook import signature
from subscribe.notify.models import Delivery, DeliveryAttempt, Notification, WebhookEndpoint
from subscribe.notify.services import create_endpoint


class Receiver:
    """A webhook receiver: answers from a script, keeps every request it got."""

    def __init__(self, httpserver, answers=None):
        self.requests: list[dict] = []
        self.answers = list(answers or [])
        httpserver.expect_request("/hook", method="POST").respond_with_handler(self.handle)
        self.url = httpserver.url_for("/hook")

    def handle(self, request):
        self.requests.append(
            {
                "headers": dict(request.headers),
                "body": request.get_data(as_text=True),
                "user_agents": request.headers.getlist("User-Agent"),
            }  # fmt: skip
        )
        status, headers = self.answers.pop(0) if self.answers else (200, {})
        return Response("received" if status < 300 else "nope", status=status, headers=headers)


@pytest.fixture
def loopback(app):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1"]


@pytest.fixture
def user(app):
    return create_user("dev@example.org", "long password")


def queue(endpoint: WebhookEndpoint, event_type: str = "dataset.updated") -> Delivery:
    message_id = payloads.new_message_id()
    body = payloads.message(message_id, event_type, utcnow(), "http://x", dataset_id=1,
                            snapshot={"title": "示例"}, version=2, changes=[{"kind": "content"}])  # fmt: skip
    delivery = Delivery(message_id=message_id, user_id=endpoint.user_id, endpoint_id=endpoint.id,
                        channel="webhook", event_type=event_type, payload=body)  # fmt: skip
    db.session.add(delivery)
    db.session.commit()
    return delivery


def due_now(delivery: Delivery) -> None:
    delivery.next_attempt_at = utcnow() - timedelta(seconds=1)  # time passes, without sleeping
    db.session.commit()


def verify(endpoint_secret: str, request: dict) -> dict:
    return Webhook(endpoint_secret).verify(request["body"], request["headers"])


def test_the_published_standard_webhooks_test_vector():
    at = datetime.fromtimestamp(1614265330, UTC)
    sig = signature(
        ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        at,
        '{"test": 2432232314}',
    )
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signed_delivery_verifies_with_the_public_library(app, httpserver, loopback, user):
    receiver = Receiver(httpserver)
    endpoint = create_endpoint(user, receiver.url)
    delivery = queue(endpoint)
    assert sender.deliver_due() == 1
    [request] = receiver.requests
    assert verify(endpoint.secret, request)["data"]["event_id"] == delivery.message_id
    assert request["headers"]["Webhook-Id"] == delivery.message_id
    assert request["user_agents"] == ["subscribe-webhooks/1.0"]  # ours alone, not requests' too
    db.session.refresh(delivery)
    assert delivery.status == "succeeded" and delivery.attempts == 1


def test_retries_then_recovers_with_the_same_id_and_fresh_signatures(
    app, httpserver, loopback, user
):
    receiver = Receiver(httpserver, answers=[(500, {}), (502, {})])
    endpoint = create_endpoint(user, receiver.url)
    delivery = queue(endpoint)
    before = utcnow()
    sender.deliver_due()
    db.session.refresh(delivery)
    assert delivery.status == "pending" and delivery.attempts == 1
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 4 <= wait <= 6.5  # 5 s ± 20%
    assert sender.deliver_due() == 0  # not due yet
    due_now(delivery)
    sender.deliver_due()
    db.session.refresh(delivery)
    assert 240 <= (delivery.next_attempt_at - utcnow()).total_seconds() <= 361  # 5 min ± 20%
    due_now(delivery)
    sender.deliver_due()
    db.session.refresh(delivery)
    assert delivery.status == "succeeded" and delivery.attempts == 3
    ids = {r["headers"]["Webhook-Id"] for r in receiver.requests}
    assert ids == {delivery.message_id}
    assert all(verify(endpoint.secret, r) for r in receiver.requests)
    attempts = db.session.scalars(
        select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery.id)
    ).all()
    assert [a.status_code for a in attempts] == [500, 502, 200]
    assert attempts[0].response_body == "nope" and attempts[-1].succeeded


def test_retry_after_is_honoured(app, httpserver, loopback, user):
    receiver = Receiver(httpserver, answers=[(503, {"Retry-After": "600"})])
    delivery = queue(create_endpoint(user, receiver.url))
    sender.deliver_due()
    db.session.refresh(delivery)
    assert (delivery.next_attempt_at - utcnow()).total_seconds() >= 590


@pytest.mark.parametrize("header", ["\u00b2", "\u0663", "soon", "Fri, 31 Dec 9999 23:59:59 GMT"])
def test_a_retry_after_that_means_nothing_is_a_plain_retry(app, httpserver, loopback, user,
                                                           header):  # fmt: skip
    """The receiver writes Retry-After: "²" passed isdigit() and float() raised, so the
    delivery crashed (the test ping answered 500) instead of being retried."""
    # A header is bytes: "٣" goes out as its UTF-8 bytes, as a receiver writing it sends
    # them (werkzeug could not write the str: its answer came garbled, the client waited
    # for it until the timeout, 15 s, and no Retry-After was ever read).
    try:
        wire = header.encode("latin-1").decode("latin-1")
    except UnicodeEncodeError:
        wire = header.encode("utf-8").decode("latin-1")
    receiver = Receiver(httpserver, answers=[(503, {"Retry-After": wire})])
    delivery = queue(create_endpoint(user, receiver.url))
    sender.deliver_due()
    db.session.refresh(delivery)
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.next_attempt_at > utcnow()


@pytest.mark.parametrize("answer", [(410, {}), (200 + 300, {"webhook-delivery": "disable"})])
def test_gone_or_disable_header_disables_the_endpoint_and_tells_the_owner(
    app, httpserver, loopback, user, answer
):
    receiver = Receiver(httpserver, answers=[answer])
    endpoint = create_endpoint(user, receiver.url)
    first = queue(endpoint)
    sender.deliver_due()
    db.session.refresh(endpoint)
    assert endpoint.enabled is False and endpoint.disabled_reason
    second = queue(endpoint)
    sender.deliver_due()
    db.session.refresh(first)
    db.session.refresh(second)
    assert (first.status, second.status) == ("failed", "failed")  # no retries after this
    assert second.last_error == "endpoint disabled: the receiver asked to stop (HTTP 410)" or (
        second.last_error.startswith("endpoint disabled: the receiver asked")  # the header
    )
    assert len(receiver.requests) == 1  # nothing more was sent to a disabled endpoint
    inbox = db.session.scalar(select(Notification).where(Notification.user_id == user.id))
    assert inbox.type == "webhook.disabled"
    mail = db.session.scalar(select(Delivery).where(Delivery.channel == "email"))
    assert mail.event_type == "webhook.disabled"


@pytest.mark.parametrize("locale", [None, "en"])
def test_the_disabled_email_names_the_endpoint_why_and_how_to_enable_it(
    app, httpserver, loopback, user, smtp_server, locale
):
    """The e-mail was the blank dataset template: subject "webhook.disabled：（无标题）",
    no URL, no way back. It goes over real SMTP in the owner's language."""
    import email
    from email import policy

    controller, recorder = smtp_server()
    app.config.update(SUBSCRIBE_SMTP_HOST="127.0.0.1", SUBSCRIBE_SMTP_PORT=controller.port)
    user.locale = locale
    db.session.commit()
    receiver = Receiver(httpserver, answers=[(410, {})])
    endpoint = create_endpoint(user, receiver.url)
    queue(endpoint)
    sender.deliver_due()  # the 410: disabled, the e-mail queued
    assert sender.deliver_due() == 1  # the e-mail, sent
    [envelope] = recorder.envelopes
    assert envelope.rcpt_tos == ["dev@example.org"]
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    base = app.config["SUBSCRIBE_BASE_URL"].rstrip("/")
    enable = f"{base}/api/v1/webhooks/{endpoint.id}/enable"
    for body in (text, html):
        assert receiver.url in body and enable in body
        assert f"{base}/webhooks/{endpoint.id}" in body
        assert "webhook.disabled" not in body and "无标题" not in body and "untitled" not in body
    if locale == "en":
        assert message["Subject"] == f"Webhook endpoint disabled: {receiver.url}"
        assert "the receiver answered HTTP 410" in text and "dataset" not in text
    else:
        assert message["Subject"] == f"Webhook 端点已停用：{receiver.url}"
        assert "停用原因：接收端答复 HTTP 410" in text and "重新启用" in text
        assert "数据集" not in text


def test_a_disabled_chat_robot_is_named_masked_with_its_own_page(app, user):
    from subscribe.notify.digest import render
    from subscribe.notify.models import WebhookEndpoint

    robot = WebhookEndpoint(user_id=user.id, kind="wecom", secret="",
                            url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRETKEY")  # fmt: skip
    db.session.add(robot)
    db.session.commit()
    sender.disable_endpoint(robot, "failing for more than 5 days", code="failing")
    db.session.commit()
    mail = db.session.scalar(select(Delivery).where(Delivery.channel == "email"))
    subject, text, _html = render("immediate", "zh", mail.payload, None, "http://x")
    assert subject.startswith("群机器人已停用：") and "SECRETKEY" not in subject + text
    assert "连续失败超过 5 天" in text
    assert f"/api/v1/chat-endpoints/{robot.id}/enable" in text and "recover" not in text
    from subscribe.web.inbox import links  # the inbox item links the robot's page, not a 404

    note = db.session.scalar(select(Notification).where(Notification.user_id == user.id))
    with app.test_request_context():
        assert [url for _label, url in links(note)] == [f"/chat-endpoints/{robot.id}"]


def test_failing_for_five_days_disables(app, httpserver, loopback, user):
    receiver = Receiver(httpserver, answers=[(500, {})])
    endpoint = create_endpoint(user, receiver.url)
    endpoint.failing_since = utcnow() - timedelta(days=5, minutes=1)
    db.session.commit()
    queue(endpoint)
    sender.deliver_due()
    db.session.refresh(endpoint)
    assert endpoint.enabled is False and "5 days" in endpoint.disabled_reason


def test_redirects_are_failures_not_followed(app, httpserver, loopback, user):
    receiver = Receiver(httpserver, answers=[(302, {"Location": "http://127.0.0.1:9/elsewhere"})])
    delivery = queue(create_endpoint(user, receiver.url))
    sender.deliver_due()
    db.session.refresh(delivery)
    assert (
        delivery.status == "pending" and delivery.last_status == 302 and len(receiver.requests) == 1
    )


def test_loopback_is_refused_without_the_allow_list(app, httpserver, loopback, user):
    receiver = Receiver(httpserver)
    delivery = queue(create_endpoint(user, receiver.url))
    # Refused at creation too (tests/test_chat_channels.py); delivery checks again, as a
    # name can resolve elsewhere later. Here the allow-list is emptied after creation.
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = []
    sender.deliver_due()
    db.session.refresh(delivery)
    assert receiver.requests == [] and delivery.status == "pending" and delivery.last_error


def test_a_lapsed_claim_is_taken_again(app, httpserver, loopback, user):
    receiver = Receiver(httpserver)
    delivery = queue(create_endpoint(user, receiver.url))
    delivery.status, delivery.claimed_by = "delivering", "a worker that died"
    delivery.claimed_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert sender.deliver_due() == 1
    db.session.refresh(delivery)
    assert delivery.status == "succeeded" and len(receiver.requests) == 1


def test_api_rotation_ping_log_resend_and_recover(app, client, httpserver, loopback, user):
    _t, token = create_token(user, "t")
    headers = {"Authorization": f"Bearer {token}"}
    receiver = Receiver(httpserver, answers=[(200, {}), (500, {})])
    hook = client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=headers).json
    old_secret = hook["secret"]
    rotated = client.post(f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=headers).json
    assert rotated["secret"] != old_secret
    ping = client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=headers).json
    assert (
        ping["attempt"]["status_code"] == 200 and ping["delivery"]["event_type"] == "webhook.ping"
    )
    request = receiver.requests[-1]
    assert len(request["headers"]["Webhook-Signature"].split()) == 2  # both secrets sign
    assert verify(old_secret, request) and verify(rotated["secret"], request)

    endpoint = db.session.get(WebhookEndpoint, hook["id"])
    delivery = queue(endpoint)
    sender.deliver_due()  # 500: pending
    delivery.status = "failed"
    db.session.commit()
    log = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=headers).json
    logged = next(d for d in log["items"] if d["message_id"] == delivery.message_id)
    assert logged["attempt_log"][0]["status_code"] == 500
    resent = client.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery.message_id}/resend", headers=headers
    )
    assert resent.status_code == 202 and resent.json["status"] == "pending"
    sender.deliver_due()
    assert receiver.requests[-1]["headers"]["Webhook-Id"] == delivery.message_id  # same id
    db.session.refresh(delivery)
    assert delivery.status == "succeeded"
    delivery.status = "failed"
    db.session.commit()
    since = (utcnow() - timedelta(hours=1)).isoformat()
    recovered = client.post(
        f"/api/v1/webhooks/{hook['id']}/recover", json={"since": since}, headers=headers
    )
    assert recovered.status_code == 202 and recovered.json == {"requeued": 1}
    enabled = client.post(f"/api/v1/webhooks/{hook['id']}/enable", headers=headers)
    assert enabled.status_code == 200 and enabled.json["enabled"] is True
    assert json.loads(receiver.requests[0]["body"])["type"] == "webhook.ping"


def test_end_to_end_a_change_reaches_the_webhook_and_the_inbox(
    app, client, httpserver, loopback, user
):
    from subscribe.catalog import services as catalog
    from subscribe.notify.services import create_subscription
    from subscribe.scenarios.matching import PercolatorCache, match_pending_events
    from subscribe.scenarios.services import create_scenario
    from tests.search_helpers import CHINESE_CSV, harvest

    header, *rows = CHINESE_CSV.read_text(encoding="utf-8").splitlines()
    bus = next(r for r in rows if r.startswith("JT-001"))

    def serve(lines):
        httpserver.expect_request("/catalog.csv").respond_with_data(
            ("\n".join([header, *lines]) + "\n").encode(), content_type="text/csv"
        )

    serve([bus])
    source = catalog.create_source(
        "city", "tabular", httpserver.url_for("/catalog.csv"), mapping={"id_column": "目录编号"}
    )
    harvest(source)
    receiver = Receiver(httpserver)
    endpoint = create_endpoint(user, receiver.url)
    scenario = create_scenario(
        user, {"name": "公交", "q": "公交", "filters": {}, "include": [], "exclude": []}
    )
    base = {
        "scenario_id": scenario.id,
        "events": ["dataset.updated"],
        "cadence": "immediate",
        "push": "alert",
    }
    create_subscription(user, {**base, "channel": "webhook", "endpoint_id": endpoint.id})
    create_subscription(user, {**base, "channel": "inbox"})
    cache = PercolatorCache()
    match_pending_events(cache=cache)  # the first harvest's dataset.created: not subscribed

    httpserver.clear()
    serve([bus.replace("每月", "每日")])
    receiver = Receiver(httpserver)
    harvest(source)
    match_pending_events(cache=cache)
    assert sender.deliver_due() == 2
    [request] = receiver.requests
    body = verify(endpoint.secret, request)
    assert body["type"] == "dataset.updated"
    data = body["data"]
    assert data["scenario"] == {"id": scenario.id, "name": "公交"}
    assert data["dataset"]["title"] == "示例市公交线路站点信息" and data["dataset"]["version"] == 2
    assert data["changes"][0]["kind"] == "metadata"
    assert data["changes"][0]["fields"]["frequency"] == {"old": "monthly", "new": "daily"}
    assert data["matched_because"] == {"words": ["公交"]} and data["reason"] == "changed"

    _t, token = create_token(user, "t")
    inbox = client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {token}"}).json
    assert inbox["total"] == 1 and inbox["items"][0]["title"] == "公交: 示例市公交线路站点信息"
    read = client.post(
        f"/api/v1/notifications/{inbox['items'][0]['id']}/read",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert read.status_code == 200 and read.json["read_at"]
    unread = client.get(
        "/api/v1/notifications?unread=true", headers={"Authorization": f"Bearer {token}"}
    ).json
    assert unread["total"] == 0


def test_a_daily_digest_goes_out_whole_at_the_users_hour_and_is_retried_whole(
    app, smtp_server, user
):
    from tests.smtp_helpers import Recorder

    controller, handler = smtp_server(Recorder(data_reply="451 try later"))
    app.config.update(SUBSCRIBE_SMTP_HOST="127.0.0.1", SUBSCRIBE_SMTP_PORT=controller.port)
    from subscribe.notify.models import Subscription
    from subscribe.scenarios.services import create_scenario

    scenario = create_scenario(
        user, {"name": "空气", "q": "空气", "filters": {}, "include": [], "exclude": []}
    )
    subscription = Subscription(user_id=user.id, scenario_id=scenario.id, channel="email", cadence="daily",
                                hour=8, timezone="Asia/Shanghai")  # fmt: skip
    db.session.add(subscription)
    db.session.commit()
    from subscribe.notify.outbox import first_attempt_at

    due = first_attempt_at(subscription, datetime(2026, 3, 1, 1, 0))  # 09:00 in Shanghai
    assert due == datetime(2026, 3, 2, 0, 0)  # the next 08:00 Shanghai time, in UTC
    for n in range(3):
        message_id = payloads.new_message_id()
        body = payloads.message(message_id, "dataset.updated", utcnow(), "http://x", dataset_id=n + 1,
                                snapshot={"title": f"空气质量 {n}"}, version=2, changes=[{"kind": "content"}],
                                scenario={"id": scenario.id, "name": "空气"})  # fmt: skip
        db.session.add(Delivery(message_id=message_id, subscription_id=subscription.id, user_id=user.id,
                                channel="email", event_type="dataset.updated", payload=body,
                                next_attempt_at=utcnow() - timedelta(seconds=1)))  # fmt: skip
    db.session.commit()
    assert sender.deliver_due() == 3
    mails = db.session.scalars(select(Delivery).where(Delivery.channel == "email")).all()
    assert {d.status for d in mails} == {
        "pending"
    } and handler.envelopes == []  # all retried, none lost
    handler.data_reply = "250 OK"
    for delivery in mails:
        delivery.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert sender.deliver_due() == 3
    assert len(handler.envelopes) == 1  # one digest with all three
    content = handler.envelopes[0].content.decode()
    assert {
        d.status for d in db.session.scalars(select(Delivery).where(Delivery.channel == "email"))
    } == {"succeeded"}
    assert "dev@example.org" in content


def test_immediate_emails_of_one_subscription_go_out_one_by_one(app, smtp_server, user):
    from tests.smtp_helpers import Recorder, immediate_email_subscription, queue_email_delivery

    controller, handler = smtp_server(Recorder())
    subscription = immediate_email_subscription(app, controller, user, "空气")
    for n in range(2):  # both due in the same round
        queue_email_delivery(subscription, dataset_id=n + 1, title=f"空气质量 {n}")
    db.session.commit()
    assert sender.deliver_due() == 2
    assert len(handler.envelopes) == 2  # an immediate e-mail is about one event
    statuses = db.session.scalars(select(Delivery.status).where(Delivery.channel == "email"))
    assert set(statuses) == {"succeeded"}


def test_a_response_body_cut_short_is_still_an_answer(app, loopback, user):
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer_then_hang_up():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly a few bytes")
        connection.close()

    thread = threading.Thread(target=answer_then_hang_up)
    thread.start()
    try:
        endpoint = create_endpoint(user, f"http://127.0.0.1:{listener.getsockname()[1]}/hook")
        delivery = queue(endpoint)
        assert sender.deliver_due() == 1
    finally:
        thread.join(timeout=5)
        listener.close()
    db.session.refresh(delivery)
    assert delivery.status == "succeeded" and delivery.attempts == 1


def test_the_worker_deliverer_sends_what_matching_queues_while_it_lingers(
    app, httpserver, loopback, user, monkeypatch
):
    """Nothing due: the scheduled deliverer waits up to its poll interval for this
    process's matching (sender.wake), sends what it queued then, and polls on until its
    run's time is up."""
    from subscribe.jobs import jobs

    receiver = Receiver(httpserver)
    endpoint = create_endpoint(user, receiver.url)
    waits = []

    def matching_meanwhile(seconds: float) -> bool:  # matching commits during the first wait
        waits.append(seconds)
        if len(waits) == 1:
            queue(endpoint)
            return True
        time.sleep(seconds)  # nobody wakes it: a poll interval passes
        return False

    monkeypatch.setattr(sender, "wait_for_queued", matching_meanwhile)
    assert jobs.deliver_notifications(seconds=0.3, linger=0.1) == 1
    assert len(receiver.requests) == 1 and len(waits) >= 2
    waits.clear()
    assert jobs.deliver_notifications() == 0 and waits == []  # `flask detect`: no wait
    monkeypatch.setattr(sender, "_stopping", threading.Event())
    monkeypatch.setattr(sender, "_queued", threading.Event())
    sender.stop_lingering()  # the worker is stopping: its deliverer's run ends, no wait
    assert jobs.deliver_notifications(seconds=20.0, linger=1.0) == 0 and waits == []


class KeepAliveReceiver(ThreadingHTTPServer):
    """A webhook receiver over HTTP/1.1 keep-alive, as receivers commonly answer: notes
    each request's body, headers and client port (one port = one connection)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"port": self.client_address[1],
                                          "headers": dict(self.headers), "body": body.decode()})  # fmt: skip
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/hook"


def test_webhooks_one_by_one_reuse_the_endpoints_connection(app, loopback, user, monkeypatch):
    """Each round drains the queue (deliveries come one by one, as matching queues them),
    yet the next round sends over the same keep-alive connection, signed as always; the
    connections are closed by a round with nothing due once idle KEEP_IDLE_SECONDS."""
    receiver = KeepAliveReceiver()
    try:
        endpoint = create_endpoint(user, receiver.url)
        deliveries = []
        for _ in range(3):
            deliveries.append(queue(endpoint))
            assert sender.deliver_due() == 1
        assert sender.deliver_due() == 0  # nothing due, not idle long enough: kept
        deliveries.append(queue(endpoint))
        assert sender.deliver_due() == 1
        ports = [r["port"] for r in receiver.requests]
        assert len(ports) == 4 and len(set(ports)) == 1  # one connection for all four
        for delivery, request in zip(deliveries, receiver.requests, strict=True):
            assert verify(endpoint.secret, request)["data"]["event_id"] == delivery.message_id
        monkeypatch.setattr(sender, "KEEP_IDLE_SECONDS", 0.0)
        assert sender.deliver_due() == 0 and sender._Outbound.KEY not in app.extensions
        queue(endpoint)
        assert sender.deliver_due() == 1
        assert receiver.requests[-1]["port"] not in ports  # closed when idle: a new one
        statuses = db.session.scalars(select(Delivery.status))
        assert set(statuses) == {"succeeded"}
    finally:
        receiver.shutdown()
        receiver.server_close()


def test_webhooks_of_a_round_are_shared_by_the_sending_threads():
    """sender._in_threads: every item once, results in the items' order, whatever the
    number of threads; an error in one is raised after every task ended."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from subscribe.notify.sender import _in_threads

    seen, lock = [], threading.Lock()

    def work(item):
        with lock:
            seen.append(item)
        return item * 2

    with ThreadPoolExecutor(4) as pool:
        for threads, count in ((4, 200), (16, 3), (1, 10), (4, 0)):
            seen.clear()
            assert _in_threads(pool, threads, work, list(range(count))) == [
                2 * n for n in range(count)
            ]
            assert sorted(seen) == list(range(count))

        def fails(item):
            if item == 5:
                raise RuntimeError("boom")
            return item

        with pytest.raises(RuntimeError, match="boom"):
            _in_threads(pool, 4, fails, list(range(50)))


def test_a_rounds_outcomes_are_written_row_by_row_as_they_came(app, httpserver, loopback, user):
    """_write_outcomes (on PostgreSQL by arrays): each delivery its own state and one
    attempt row, in the round's order, whatever else the round held."""
    good = create_endpoint(user, Receiver(httpserver).url)
    httpserver.expect_request("/bad", method="POST").respond_with_data("nope", status=500)
    bad = create_endpoint(user, httpserver.url_for("/bad"))
    queued = [queue(endpoint) for endpoint in (good, bad, good, bad, good)]
    ids = [d.id for d in queued]
    assert sender.deliver_due() == 5
    db.session.expire_all()
    rows = {d.id: d for d in db.session.scalars(select(Delivery).where(Delivery.id.in_(ids)))}
    assert [rows[i].status for i in ids] == ["succeeded", "pending"] * 2 + ["succeeded"]
    assert [rows[i].last_status for i in ids] == [200, 500, 200, 500, 200]
    assert all(rows[i].attempts == 1 and rows[i].claimed_by is None for i in ids)
    assert all(rows[i].next_attempt_at > utcnow() for i in ids[1::2])
    attempts = db.session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)).all()
    assert [(a.delivery_id, a.status_code, a.succeeded) for a in attempts] == [
        (i, 500 if n % 2 else 200, not n % 2) for n, i in enumerate(ids)
    ]
    assert [a.response_body for a in attempts] == ["received", "nope"] * 2 + ["received"]
    assert attempts[1].error == "HTTP 500" and attempts[0].error is None
    assert db.session.get(WebhookEndpoint, good.id).last_success_at is not None
    assert db.session.get(WebhookEndpoint, bad.id).failing_since is not None


@pytest.mark.parametrize(
    "snapshot",
    [{"title": "示例"}, {"title": "示例", "landing_page": "https://data.example.cn/d/1"}],
)
def test_the_dataset_url_is_its_page_and_api_url_its_json(snapshot):
    """dataset.url is the page the feed and chat link, never the API URL again (it was
    api_url when the dataset had no landing page, the publisher's page when it had one)."""
    body = payloads.message("msg_1", "dataset.updated", utcnow(), "https://subscribe.example/",
                            dataset_id=42, snapshot=snapshot, version=2, changes=[])  # fmt: skip
    dataset = body["data"]["dataset"]
    assert dataset["url"] == "https://subscribe.example/datasets/42"
    assert dataset["api_url"] == "https://subscribe.example/api/v1/datasets/42"


@pytest.mark.parametrize("locale", [None, "en"])
def test_a_410_after_a_500_is_the_subscription_health_and_the_inbox_speaks_the_owner_language(
    app, client, httpserver, loopback, user, locale
):
    """A 500 for one subscription, then the 410 that disabled the endpoint for another:
    the first's health.last_error still said "HTTP 500" (until its own next attempt),
    and the inbox item was English for a Chinese (default) owner whose e-mail was
    Chinese. Both subscriptions now say the 410; the item speaks the owner's language
    and the inbox page its own."""
    from subscribe.notify.models import Subscription
    from subscribe.scenarios.services import create_scenario

    user.locale = locale
    receiver = Receiver(httpserver, answers=[(500, {}), (410, {})])
    endpoint = create_endpoint(user, receiver.url)
    subscriptions = []
    for name in ("空气", "水质"):
        scenario = create_scenario(user, {"name": name, "q": name})
        subscriptions.append(Subscription(user_id=user.id, scenario_id=scenario.id,
                                          channel="webhook", endpoint_id=endpoint.id))  # fmt: skip
    db.session.add_all(subscriptions)
    db.session.commit()
    for subscription in subscriptions:  # the first now, the second after the first's 500
        delivery = queue(endpoint)
        delivery.subscription_id = subscription.id
        db.session.commit()
        sender.deliver_due()
        db.session.refresh(subscription)
    db.session.refresh(endpoint)
    assert endpoint.enabled is False and len(receiver.requests) == 2
    for subscription in subscriptions:
        db.session.refresh(subscription)
        assert "HTTP 410" in subscription.health["last_error"], subscription.health
        assert subscription.health["status"] == "failing"
    inbox = db.session.scalar(select(Notification).where(Notification.type == "webhook.disabled"))
    english = f"Webhook endpoint disabled: {receiver.url}, Why: the receiver answered HTTP 410"
    chinese = f"Webhook 端点已停用：{receiver.url}，停用原因：接收端答复 HTTP 410"
    assert inbox.title.startswith(english if locale == "en" else chinese)
    from subscribe.web.i18n import COOKIE
    from tests.test_web import login

    login(client, "dev@example.org", "long password")
    client.set_cookie(COOKIE, "en")  # the page's language (the owner's choice comes first)
    page = client.get("/inbox").get_data(as_text=True)
    assert english in page and chinese not in page


@pytest.mark.parametrize(
    ("locale", "title"), [(None, "数据包已就绪：26 个文件"), ("en", "bundle ready: 26 files")]
)
def test_a_bundle_ready_inbox_item_is_titled_in_the_owners_language(app, locale, title):
    """The stored title (what GET /api/v1/inbox gives) is in one language, the owner's,
    as their e-mail is (black-box run 2 saw "数据包已就绪 / bundle ready" for an English
    user); the inbox page says it in the page's own."""
    user = create_user("bundles@example.org", "long password")
    user.locale = locale
    payload = {"type": "bundle.ready", "data": {"scenario": {"id": 1, "name": "城市数据"},
                                                 "bundle": {"id": 3, "file_count": 26}}}  # fmt: skip
    delivery = Delivery(message_id="msg_bundle_3", user_id=user.id, channel="inbox",
                        event_type="bundle.ready", payload=payload)  # fmt: skip
    db.session.add(delivery)
    db.session.flush()
    sender._to_inbox(delivery)
    db.session.commit()
    [note] = db.session.scalars(select(Notification).where(Notification.user_id == user.id))
    assert note.title == f"城市数据: {title}"
