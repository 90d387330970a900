"""Subscriptions and the webhook endpoints they deliver to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from subscribe.extensions import db
from subscribe.models_base import JSONType, utcnow

DATASET_EVENTS = ("dataset.created", "dataset.updated", "dataset.deleted", "dataset.overdue")
EVENT_TYPES = (*DATASET_EVENTS, "bundle.ready")
CHANNELS = ("webhook", "email", "inbox")
CADENCES = ("immediate", "daily", "weekly")
PUSH_KINDS = ("alert", "bundle")


class WebhookEndpoint(db.Model):
    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(Text, default="")
    # The signing secret (whsec_…) must be readable to sign, so it cannot be hashed;
    # the API shows it once, at creation and rotation.
    secret: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscription(db.Model):
    __tablename__ = "subscriptions"
    __table_args__ = (
        CheckConstraint(
            "(scenario_id IS NULL) <> (dataset_id IS NULL)", name="ck_subscriptions_one_target"
        ),
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
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
