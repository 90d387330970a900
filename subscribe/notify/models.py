"""Subscriptions and the endpoints they deliver to (webhooks and chat group robots)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from subscribe.extensions import db
from subscribe.models_base import JSONType, utcnow

DATASET_EVENTS = ("dataset.created", "dataset.updated", "dataset.deleted", "dataset.overdue")
# Opt-in only (never in a subscription's default events; chosen explicitly):
# dataset.suggested (suggest/push.py); dataset.feedback: an error report (数据纠错) on a
# member was filed or changed state (feedback/events.py).
OPT_IN_EVENTS = ("dataset.suggested", "dataset.feedback")
EVENT_TYPES = (*DATASET_EVENTS, "bundle.ready", *OPT_IN_EVENTS)
# Group robots of the chat apps (钉钉, 企业微信, 飞书): an endpoint of that kind receives them.
CHAT_CHANNELS = ("dingtalk", "wecom", "feishu")
CHANNELS = ("webhook", "email", "inbox", *CHAT_CHANNELS)
ENDPOINT_KINDS = ("webhook", *CHAT_CHANNELS)
CADENCES = ("immediate", "daily", "weekly")
PUSH_KINDS = ("alert", "bundle")


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # "webhook" (Standard Webhooks) or a chat robot (CHAT_CHANNELS): the same outbox,
    # retries, health and delivery log serve both.
    kind: Mapped[str] = mapped_column(String(16), default="webhook", server_default="webhook")
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(Text, default="")
    # The signing secret (whsec_…) must be readable to sign, so it cannot be hashed;
    # the API shows it once, at creation and rotation. A chat robot's is the platform's
    # optional 加签 secret ("" when the robot does not sign), never shown back.
    secret: Mapped[str] = mapped_column(String(200))
    # After a rotation the old secret keeps signing (beside the new one) until it expires,
    # so receivers can switch without dropping messages.
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    failing_since: Mapped[datetime | None]  # first failure after the last success
    last_success_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(db.Model):
    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(
            "(scenario_id IS NULL) <> (dataset_id IS NULL)", name="ck_subscriptions_one_target"
        ),
        # A unique index, not a constraint: SQLite adds it without rebuilding the table.
        Index("uq_subscriptions_dedupe_key", "dedupe_key", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scenario_id: Mapped[int | None] = mapped_column(
        ForeignKey("scenarios.id", ondelete="CASCADE"), index=True
    )
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    events: Mapped[list] = mapped_column(JSONType, default=lambda: list(DATASET_EVENTS))
    channel: Mapped[str] = mapped_column(String(16))
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    cadence: Mapped[str] = mapped_column(String(16), default="immediate")
    hour: Mapped[int] = mapped_column(default=8)  # local hour of a digest
    weekday: Mapped[int] = mapped_column(default=0)  # 0 = Monday, for weekly digests
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    push: Mapped[str] = mapped_column(String(16), default="alert")
    active: Mapped[bool] = mapped_column(default=True)
    # Changes detected before this moment are not delivered: the creation time, or the
    # time it was switched back on (unless the user asked to catch up).
    active_since: Mapped[datetime | None] = mapped_column(default=utcnow)
    paused_at: Mapped[datetime | None]  # when it was last switched off
    # One subscription per (user, target, channel, endpoint): see `identity_key()`.
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    # Channel health: the first failure after the last success, and its error.
    failing_since: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    @property
    def health(self) -> dict:
        """{"status": "ok" | "failing", "failing_since", "last_error"} of its channel."""
        return {"status": "failing" if self.failing_since else "ok",
                "failing_since": self.failing_since, "last_error": self.last_error}  # fmt: skip


def identity_key(user_id: int, scenario_id: int | None, dataset_id: int | None, channel: str,
               endpoint_id: int | None) -> str:  # fmt: skip
    """The identity of a subscription: who, what, through which channel and endpoint.
    (An e-mail or inbox subscription goes to the user's own address/inbox.)"""
    target = f"s{scenario_id}" if scenario_id is not None else f"d{dataset_id}"
    return f"u{user_id}:{target}:{channel}:{endpoint_id or ''}"


# cancelled: never sent, because its subscription was paused or unsubscribed while it waited.
DELIVERY_STATUSES = ("pending", "delivering", "succeeded", "failed", "cancelled")


class Delivery(db.Model):
    """The outbox: one message for one subscription, written with the event that caused it.

    Workers claim due rows, send outside any transaction and record each attempt; a claim
    that outlives its lease (a crashed worker) is due again. `message_id` is the
    webhook-id: stable across retries and resends, the receiver's dedupe key.
    """

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint_id: Mapped[int | None] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    event_type: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict] = mapped_column(JSONType)  # the thin webhook body
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]


class DeliveryAttempt(db.Model):
    """One try of one delivery: what was answered, how fast (response body up to 20 KB)."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    duration_ms: Mapped[int] = mapped_column(default=0)
    status_code: Mapped[int | None]
    response_body: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    succeeded: Mapped[bool] = mapped_column(default=False)


class Notification(db.Model):
    """The in-app inbox."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_id_id", "user_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), unique=True
    )
    type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
