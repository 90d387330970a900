"""Subscriptions and webhook endpoints: ownership and validation. Services commit."""

from __future__ import annotations

import base64
import secrets
from collections import defaultdict
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from subscribe.audit import services as audit
from subscribe.auth.models import User
from subscribe.auth.preferences import user_timezone
from subscribe.catalog.models import Dataset
from subscribe.errors import ConflictError, InvalidInputError, NotFoundError
from subscribe.extensions import db
from subscribe.models_base import to_naive_utc, utcnow
from subscribe.notify import outbox, payloads, sender
from subscribe.notify.channels import webhook
from subscribe.notify.models import (
    CHAT_CHANNELS,
    DATASET_EVENTS,
    Delivery,
    DeliveryAttempt,
    Notification,
    Subscription,
    WebhookEndpoint,
    identity_key,
)
from subscribe.notify.ssrf import (
    BlockedURL,
    OutboundPolicy,
    UnresolvableHost,
    check_url,
    guarded_session,
)
from subscribe.paging import paginate
from subscribe.scenarios.models import Scenario


def _owned(model, user: User, object_id: int, what: str):
    """The caller's row, or 404 — another user's id is as missing as a wrong one."""
    row = db.session.get(model, object_id)
    if row is None or row.user_id != user.id:
        raise NotFoundError(f"No such {what}.")
    return row


# --- webhook endpoints ---------------------------------------------------------------
def new_secret() -> str:
    """Standard Webhooks secret: whsec_ + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def outbound_policy() -> OutboundPolicy:
    return OutboundPolicy(current_app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"])


def check_endpoint_url(url: str, policy: OutboundPolicy | None = None) -> None:
    """Refuse (InvalidInputError on `url`, 422) an endpoint URL that reaches a private,
    loopback, link-local or otherwise internal address, unless the operator's allow-list
    (SUBSCRIBE_OUTBOUND_ALLOWLIST) lets it through. Delivery checks again (DNS can change);
    a name that does not resolve now is accepted and left to that check."""
    try:
        check_url(url, policy or outbound_policy())
    except UnresolvableHost:
        return
    except BlockedURL as exc:
        raise InvalidInputError("The endpoint URL is not allowed.", {"url": [str(exc)]}) from None


def get_endpoint(user: User, endpoint_id: int) -> WebhookEndpoint:
    endpoint = _owned(WebhookEndpoint, user, endpoint_id, "webhook endpoint")
    if endpoint.kind != "webhook":
        raise NotFoundError("No such webhook endpoint.")
    return endpoint


def list_endpoints(user: User, page: int, per_page: int) -> dict:
    query = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.user_id == user.id, WebhookEndpoint.kind == "webhook")
        .order_by(WebhookEndpoint.id)
    )
    return paginate(query, page, per_page)


def create_endpoint(user: User, url: str, description: str = "", *,
                    policy: OutboundPolicy | None = None) -> WebhookEndpoint:  # fmt: skip
    """A webhook endpoint with a new secret; InvalidInputError for an internal URL (see
    check_endpoint_url; `policy` replaces the configured allow-list)."""
    check_endpoint_url(url, policy)
    endpoint = WebhookEndpoint(
        user_id=user.id, url=url, description=description, secret=new_secret()
    )
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def update_endpoint(endpoint: WebhookEndpoint, values: dict) -> WebhookEndpoint:
    if "url" in values and values["url"] != endpoint.url:
        check_endpoint_url(values["url"])
    for key, value in values.items():
        setattr(endpoint, key, value)
    endpoint.updated_at = utcnow()
    db.session.commit()
    return endpoint


def delete_endpoint(endpoint: WebhookEndpoint) -> None:
    db.session.delete(endpoint)
    db.session.commit()


# --- subscriptions -------------------------------------------------------------------
def get_subscription(user: User, subscription_id: int) -> Subscription:
    return _owned(Subscription, user, subscription_id, "subscription")


def list_subscriptions(user: User, page: int, per_page: int) -> dict:
    query = select(Subscription).where(Subscription.user_id == user.id).order_by(Subscription.id)
    return paginate(query, page, per_page)


def subscriptions_to(user: User, *, scenario_id: int | None = None,
                     dataset_id: int | None = None) -> list[Subscription]:  # fmt: skip
    """The user's active subscriptions to one scenario or one dataset (pages show them)."""
    target = (
        Subscription.scenario_id == scenario_id
        if scenario_id is not None
        else Subscription.dataset_id == dataset_id
    )
    query = select(Subscription).where(
        Subscription.user_id == user.id, Subscription.active.is_(True), target
    )
    return list(db.session.scalars(query.order_by(Subscription.id)))


SCENARIO_ONLY_EVENTS = frozenset({"dataset.suggested"})


def _check_targets(user: User, values: dict, channel: str, endpoint_id: int | None) -> None:
    """Targets and endpoints must exist and be the caller's (reported per field)."""
    errors: dict[str, list[str]] = {}
    if values.get("scenario_id") is not None:
        scenario = db.session.get(Scenario, values["scenario_id"])
        if scenario is None or scenario.user_id != user.id:
            errors["scenario_id"] = ["No such scenario."]
    if (
        values.get("dataset_id") is not None
        and db.session.get(Dataset, values["dataset_id"]) is None
    ):
        errors["dataset_id"] = ["No such dataset."]
    if channel == "webhook" or channel in CHAT_CHANNELS:
        endpoint = db.session.get(WebhookEndpoint, endpoint_id) if endpoint_id else None
        if endpoint is None or endpoint.user_id != user.id or endpoint.kind != channel:
            errors["endpoint_id"] = [
                "A webhook subscription needs one of your webhook endpoints."
                if channel == "webhook"
                else f"A {channel} subscription needs one of your {channel} chat endpoints."
            ]
    elif endpoint_id is not None:
        errors["endpoint_id"] = ["Only webhook and chat subscriptions have an endpoint."]
    if values.get("dataset_id") is not None and SCENARIO_ONLY_EVENTS & set(
        values.get("events") or ()
    ):
        # Suggestions are made per scenario (what its members resemble): a one-dataset
        # subscription would accept the event and never receive one.
        errors["events"] = [
            "dataset.suggested is made for a scenario's subscriptions; "
            "a subscription to one dataset cannot receive it."
        ]
    if errors:
        raise InvalidInputError("The subscription is not valid.", errors)


def existing_subscription(user: User, scenario_id: int | None, dataset_id: int | None,
                          channel: str, endpoint_id: int | None) -> Subscription | None:  # fmt: skip
    """The caller's subscription to this target through this channel (and endpoint), if any:
    pages use it to show "subscribed" with a link instead of a second form."""
    key = identity_key(user.id, scenario_id, dataset_id, channel, endpoint_id)
    return db.session.scalar(select(Subscription).where(Subscription.dedupe_key == key))


def subscriptions_of(user: User, *, scenario_id: int | None = None,
                     dataset_id: int | None = None) -> list[Subscription]:  # fmt: skip
    """The caller's subscriptions to one scenario or one dataset (for its page)."""
    query = select(Subscription).where(Subscription.user_id == user.id)
    if scenario_id is not None:
        query = query.where(Subscription.scenario_id == scenario_id)
    else:
        query = query.where(Subscription.dataset_id == dataset_id)
    return list(db.session.scalars(query.order_by(Subscription.id)))


def _refuse_duplicate(key: str, own_id: int | None) -> None:
    """409 naming the subscription that already has this identity (the first one wins)."""
    with db.session.no_autoflush:
        query = select(Subscription.id).where(Subscription.dedupe_key == key)
        if own_id is not None:
            query = query.where(Subscription.id != own_id)
        first = db.session.scalar(query)
    if first is not None:
        raise ConflictError(
            f"You already have this subscription (id {first}); change that one instead.",
            {"subscription_id": [first], "url": [f"/api/v1/subscriptions/{first}"]},
        )


def _commit_unique(key: str, own_id: int | None) -> None:
    """Commit; a concurrent twin that won the unique index still gets the 409."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        _refuse_duplicate(key, own_id)
        raise


def create_subscription(user: User, values: dict) -> Subscription:
    """Subscribe; only changes detected from now on are delivered. A second subscription
    to the same target through the same channel (and endpoint) is refused: ConflictError."""
    _check_targets(user, values, values["channel"], values.get("endpoint_id"))
    values["events"] = list(dict.fromkeys(values.get("events") or DATASET_EVENTS))
    values["timezone"] = values.get("timezone") or user_timezone(user)
    now = utcnow()
    subscription = Subscription(user_id=user.id, created_at=now, active_since=now, **values)
    subscription.dedupe_key = identity_key(
        user.id, subscription.scenario_id, subscription.dataset_id, subscription.channel,
        subscription.endpoint_id,
    )  # fmt: skip
    _refuse_duplicate(subscription.dedupe_key, None)
    db.session.add(subscription)
    _commit_unique(subscription.dedupe_key, None)
    audit.record_now("subscription.create", "subscription", subscription.id,
                     _described(subscription), actor=user)  # fmt: skip
    return subscription


def _described(subscription: Subscription) -> dict:
    """What the audit trail keeps of a subscription: its target and how it is sent."""
    return {"scenario_id": subscription.scenario_id, "dataset_id": subscription.dataset_id,
            "channel": subscription.channel, "endpoint_id": subscription.endpoint_id,
            "events": subscription.events, "cadence": subscription.cadence,
            "push": subscription.push, "active": subscription.active}  # fmt: skip


def update_subscription(user: User, subscription: Subscription, values: dict) -> Subscription:
    """Change a subscription. Switching it off and on again delivers nothing detected in
    between unless `catch_up` is true: then what was missed is queued now."""
    catch_up = values.pop("catch_up", False)
    channel = values.get("channel", subscription.channel)
    endpoint_id = values.get("endpoint_id", subscription.endpoint_id)
    if channel not in ("webhook", *CHAT_CHANNELS) and "endpoint_id" not in values:
        endpoint_id = values["endpoint_id"] = None  # leaving webhooks/chats drops the endpoint
    target = {"dataset_id": subscription.dataset_id, "events": values.get("events", ())}
    _check_targets(user, target if subscription.dataset_id else {}, channel, endpoint_id)
    if "events" in values:
        values["events"] = list(dict.fromkeys(values["events"]))
    was_active = subscription.active
    changes = audit.changed_values(subscription, values)
    for key, value in values.items():
        setattr(subscription, key, value)
    now = subscription.updated_at = utcnow()
    if was_active and not subscription.active:
        subscription.paused_at = now
        outbox.cancel_queued(subscription, "subscription paused")
    elif not was_active and subscription.active:
        if catch_up:
            outbox.restore_cancelled(subscription)
            outbox.catch_up(subscription, subscription.paused_at or subscription.active_since)
        subscription.active_since, subscription.paused_at = now, None
    if "channel" in values or "endpoint_id" in values:
        subscription.failing_since = subscription.last_error = None  # a new channel, new health
    if subscription.active and changes:
        # What is queued follows the change: a new endpoint gets it, dropped event types
        # are not sent, a new cadence's digest time applies.
        outbox.follow_subscription(
            subscription,
            retarget=bool({"channel", "endpoint_id"} & changes.keys()),
            reschedule=bool({"cadence", "hour", "weekday", "timezone"} & changes.keys()),
        )
    subscription.dedupe_key = identity_key(
        user.id, subscription.scenario_id, subscription.dataset_id, subscription.channel,
        subscription.endpoint_id,
    )  # fmt: skip
    _refuse_duplicate(subscription.dedupe_key, subscription.id)
    if changes or catch_up:
        audit.record("subscription.update", "subscription", subscription.id,
                     {"changes": changes, "catch_up": catch_up}, actor=user)  # fmt: skip
    _commit_unique(subscription.dedupe_key, subscription.id)
    return subscription


def delete_subscription(subscription: Subscription) -> None:
    audit.record("subscription.delete", "subscription", subscription.id, _described(subscription),
                 actor=db.session.get(User, subscription.user_id))  # fmt: skip
    db.session.delete(subscription)
    db.session.commit()


# --- endpoint actions ----------------------------------------------------------------
def rotate_secret(endpoint: WebhookEndpoint, grace_hours: float) -> WebhookEndpoint:
    """A new secret, shown once; the old one keeps signing (both) for the grace period."""
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = utcnow() + timedelta(hours=grace_hours)
    endpoint.secret = new_secret()
    endpoint.updated_at = utcnow()
    db.session.commit()
    return endpoint


def enable_endpoint(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    endpoint.enabled, endpoint.disabled_reason, endpoint.failing_since = True, None, None
    endpoint.updated_at = utcnow()
    db.session.commit()
    return endpoint


def endpoint_deliveries(
    endpoint: WebhookEndpoint, page: int, per_page: int, status: str | None
) -> dict:
    query = select(Delivery).where(Delivery.endpoint_id == endpoint.id)
    if status:
        query = query.where(Delivery.status == status)
    result = paginate(query.order_by(Delivery.id.desc()), page, per_page)
    ids = [d.id for d in result["items"]]
    attempts = defaultdict(list)
    for attempt in db.session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id.in_(ids))
        .order_by(DeliveryAttempt.id)
    ):
        attempts[attempt.delivery_id].append(attempt)
    for delivery in result["items"]:
        delivery.attempt_log = attempts[delivery.id]
    return result


def resend(endpoint: WebhookEndpoint, message_id: str) -> Delivery:
    """Send a message again, with the same webhook-id (the receiver's dedupe key)."""
    delivery = db.session.scalar(
        select(Delivery).where(
            Delivery.endpoint_id == endpoint.id, Delivery.message_id == message_id
        )
    )
    if delivery is None:
        raise NotFoundError("No such message for this endpoint.")
    delivery.status, delivery.next_attempt_at = "pending", utcnow()
    delivery.claimed_until = delivery.claimed_by = None
    db.session.commit()
    return delivery


def recover(endpoint: WebhookEndpoint, since) -> int:
    """Queue again every failed message of the endpoint since a time."""
    since = to_naive_utc(since)
    result = db.session.execute(
        update(Delivery)
        .where(
            Delivery.endpoint_id == endpoint.id,
            Delivery.status == "failed",
            Delivery.created_at >= since,
        )
        .values(status="pending", next_attempt_at=utcnow(), claimed_until=None, claimed_by=None)
    )
    db.session.commit()
    return result.rowcount


def ping(endpoint: WebhookEndpoint, policy: OutboundPolicy) -> tuple[Delivery, DeliveryAttempt]:
    """Send a `webhook.ping` now and record it like any delivery."""
    message_id = payloads.new_message_id()
    delivery = Delivery(
        message_id=message_id, user_id=endpoint.user_id, endpoint_id=endpoint.id, channel="webhook",
        event_type="webhook.ping", payload=payloads.ping(message_id, utcnow(), endpoint.id),
        status="delivering",
    )  # fmt: skip
    db.session.add(delivery)
    db.session.commit()
    with guarded_session(policy) as session:
        sent = webhook.send(
            session, endpoint.url, webhook.valid_secrets(endpoint), message_id, delivery.payload
        )
    sender.record_ping(delivery, sent)
    db.session.commit()
    attempt = db.session.scalar(
        select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery.id)
    )
    return delivery, attempt


# --- inbox ---------------------------------------------------------------------------
def notifications(user: User, page: int, per_page: int, unread: bool) -> dict:
    query = select(Notification).where(Notification.user_id == user.id)
    if unread:
        query = query.where(Notification.read_at.is_(None))
    return paginate(query.order_by(Notification.id.desc()), page, per_page)


def mark_read(user: User, notification_id: int) -> Notification:
    notification = _owned(Notification, user, notification_id, "notification")
    notification.read_at = notification.read_at or utcnow()
    db.session.commit()
    return notification


def mark_all_read(user: User) -> int:
    """Mark every unread notification of the user read, in one statement."""
    result = db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
    )
    db.session.commit()
    return result.rowcount


def unread_count(user: User) -> int:
    """For the inbox badge: one COUNT."""
    query = (
        select(func.count())
        .select_from(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
    )
    return db.session.scalar(query) or 0
