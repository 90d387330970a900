"""Pausing or unsubscribing cancels what is queued: a user who unsubscribed gets nothing
more, not even the messages that were waiting (a digest's hour, a retry) at the time."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subscribe.auth.services import create_token, create_user
from subscribe.extensions import db
from subscribe.notify import sender
from subscribe.notify.models import Delivery, Subscription
from subscribe.notify.services import create_endpoint
from subscribe.notify.unsubscribe import make_token
from subscribe.scenarios.services import create_scenario
from tests.smtp_helpers import Recorder, immediate_email_subscription, queue_email_delivery
from tests.test_delivery import Receiver


@pytest.fixture
def ana(app):
    return create_user("ana@example.org", "correct horse battery")


def statuses(subscription) -> list[str]:
    return list(
        db.session.scalars(
            select(Delivery.status)
            .where(Delivery.subscription_id == subscription.id)
            .order_by(Delivery.id)
        )
    )


def test_unsubscribe_link_cancels_queued_mail(app, client, smtp_server, ana):
    controller, handler = smtp_server(Recorder())
    subscription = immediate_email_subscription(app, controller, ana, "空气质量")
    queue_email_delivery(subscription, title="空气质量日报")
    queue_email_delivery(subscription, title="空气质量月报")
    db.session.commit()
    token = make_token(app.config["SECRET_KEY"], subscription)
    assert client.post(f"/unsubscribe/{token}", data="List-Unsubscribe=One-Click",
                       content_type="application/x-www-form-urlencoded").status_code == 200  # fmt: skip
    assert sender.deliver_due() == 0
    assert handler.envelopes == []
    assert statuses(subscription) == ["cancelled", "cancelled"]
    reasons = db.session.scalars(
        select(Delivery.last_error).where(Delivery.subscription_id == subscription.id)
    ).all()
    assert set(reasons) == {"unsubscribed"}


@pytest.fixture
def hooked(app, client, httpserver, ana):
    """ana's webhook subscription (made over the API) with one queued message."""
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1"]
    receiver = Receiver(httpserver)
    endpoint = create_endpoint(ana, receiver.url)
    scenario = create_scenario(
        ana, {"name": "空气", "q": "空气", "filters": {}, "include": [], "exclude": []}
    )
    headers = {"Authorization": f"Bearer {create_token(ana, 'test')[1]}"}
    made = client.post("/api/v1/subscriptions", headers=headers, json={
        "scenario_id": scenario.id, "channel": "webhook", "endpoint_id": endpoint.id,
    })  # fmt: skip
    assert made.status_code == 201, made.json
    subscription = db.session.get(Subscription, made.json["id"])
    queue_email_delivery(subscription)  # a due message, as matching writes it
    db.session.execute(
        Delivery.__table__.update()
        .where(Delivery.subscription_id == subscription.id)
        .values(channel="webhook", endpoint_id=endpoint.id)
    )
    db.session.commit()
    return receiver, endpoint, subscription, headers


def test_pausing_cancels_queued_webhooks_and_the_log_shows_it(client, hooked):
    receiver, endpoint, subscription, headers = hooked
    paused = client.patch(f"/api/v1/subscriptions/{subscription.id}", headers=headers,
                          json={"active": False})  # fmt: skip
    assert paused.status_code == 200, paused.json
    assert sender.deliver_due() == 0 and receiver.requests == []
    log = client.get(f"/api/v1/webhooks/{endpoint.id}/deliveries", headers=headers,
                     query_string={"status": "cancelled"}).json  # fmt: skip
    assert [(d["status"], d["last_error"]) for d in log["items"]] == [
        ("cancelled", "subscription paused")
    ]
    # Resuming without catch-up skips them; with catch-up they are sent after all.
    resumed = client.patch(f"/api/v1/subscriptions/{subscription.id}", headers=headers,
                           json={"active": True, "catch_up": True})  # fmt: skip
    assert resumed.status_code == 200, resumed.json
    assert sender.deliver_due() == 1 and len(receiver.requests) == 1
    assert statuses(subscription) == ["succeeded"]


def test_a_message_claimed_before_the_pause_is_not_sent(client, hooked):
    receiver, _endpoint, subscription, _headers = hooked
    # Paused behind the API's back (as if between the claim and the send).
    subscription.active = False
    db.session.commit()
    assert sender.deliver_due() == 1  # handled: cancelled
    assert receiver.requests == []
    assert statuses(subscription) == ["cancelled"]


class OtherReceiver(Receiver):
    """A second receiver on the same test server, at /other."""

    def __init__(self, httpserver):
        self.requests, self.answers = [], []
        httpserver.expect_request("/other", method="POST").respond_with_handler(self.handle)
        self.url = httpserver.url_for("/other")


def test_queued_messages_follow_a_changed_subscription(client, httpserver, ana, hooked):
    """A new endpoint gets what was waiting (not the endpoint the user left), and event
    types the user no longer wants are cancelled rather than sent."""
    old_receiver, _endpoint, subscription, headers = hooked
    new_receiver = OtherReceiver(httpserver)
    new_endpoint = create_endpoint(ana, new_receiver.url)
    moved = client.patch(f"/api/v1/subscriptions/{subscription.id}", headers=headers,
                         json={"endpoint_id": new_endpoint.id})  # fmt: skip
    assert moved.status_code == 200, moved.json
    assert sender.deliver_due() == 1
    assert old_receiver.requests == [] and len(new_receiver.requests) == 1

    queue_email_delivery(subscription)  # another dataset.updated, waiting
    db.session.commit()
    dropped = client.patch(f"/api/v1/subscriptions/{subscription.id}", headers=headers,
                           json={"events": ["dataset.created"]})  # fmt: skip
    assert dropped.status_code == 200, dropped.json
    assert sender.deliver_due() == 0
    assert statuses(subscription) == ["succeeded", "cancelled"]
