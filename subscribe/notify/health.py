"""Channel health: is a subscription's channel delivering, and is the SMTP server?

A subscription's health follows its own deliveries: the first failure after a success
sets `failing_since` and tells the owner (an inbox item); a success clears it. A channel
that flaps (a receiver failing 1 % of requests, results of one round interleaved) is told
at most once per TELL_AGAIN_AFTER: the owner needs one notice, not one per failure.
SMTP health for operators is read from the e-mail attempts themselves: failing when the
latest e-mail attempt failed, since the first failure after the last success.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select

from subscribe.auth.models import User
from subscribe.extensions import db
from subscribe.notify.digest import language
from subscribe.notify.models import Delivery, DeliveryAttempt, Notification, Subscription

MAX_ERROR = 500  # characters of the last error kept on the subscription
TELL_AGAIN_AFTER = timedelta(hours=24)


def record(subscription: Subscription | None, ok: bool, error: str | None, now: datetime) -> None:
    """Note one delivery outcome on its subscription (in the sender's transaction)."""
    if subscription is None:
        return
    if ok:
        subscription.failing_since = subscription.last_error = None
        return
    subscription.last_error = (error or "delivery failed")[:MAX_ERROR]
    if subscription.failing_since is None:
        subscription.failing_since = now
        if not _told_since(subscription, now - TELL_AGAIN_AFTER):
            _tell_owner(subscription)


def _told_since(subscription: Subscription, since: datetime) -> bool:
    """Has the owner had a failing notice for this subscription since `since` (this
    transaction's own included: the session flushes before the query)?"""
    return (
        db.session.scalar(
            select(Notification.id)
            .where(
                Notification.user_id == subscription.user_id,
                Notification.type == "subscription.failing",
                Notification.created_at >= since,
                or_(
                    *(Notification.title.startswith(start) for start in _title_starts(subscription))
                ),  # fmt: skip
            )
            .limit(1)
        )
        is not None
    )


def _title_starts(subscription: Subscription) -> tuple[str, str]:
    """How a failing notice's title begins (Chinese, English): also how an earlier one is
    found again."""
    return f"订阅 #{subscription.id} ", f"Subscription #{subscription.id} "


def _tell_owner(subscription: Subscription) -> None:
    """One inbox item per failing spell (the next one only after a success), titled in
    the owner's language (Chinese unless English was chosen), as their e-mails are."""
    owner = db.session.get(User, subscription.user_id)
    zh, en = _title_starts(subscription)
    if language(owner.locale if owner is not None else None) == "en":
        channel = {"email": "e-mail"}.get(subscription.channel, subscription.channel)
        title = f"{en}cannot deliver ({channel}): {subscription.last_error}"
    else:
        channel = {"email": "邮件", "webhook": "Webhook"}.get(subscription.channel,
                                                            subscription.channel)  # fmt: skip
        title = f"{zh}发送失败（{channel}）：{subscription.last_error}"
    db.session.add(Notification(
        user_id=subscription.user_id, type="subscription.failing", title=title,
        payload={"type": "subscription.failing",
                 "data": {"subscription_id": subscription.id, "channel": subscription.channel,
                          "error": subscription.last_error,
                          "failing_since": subscription.failing_since.isoformat() + "Z"}},
    ))  # fmt: skip


def smtp_state() -> dict:
    """{"status": "ok" | "failing" | "unused", "failing_since", "last_error"} from the
    e-mail attempts: failing when the latest one failed."""
    attempts = (
        select(DeliveryAttempt.started_at, DeliveryAttempt.succeeded, DeliveryAttempt.error)
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(Delivery.channel == "email")
    )
    latest = db.session.execute(attempts.order_by(DeliveryAttempt.id.desc()).limit(1)).first()
    if latest is None:
        return {"status": "unused", "failing_since": None, "last_error": None}
    if latest.succeeded:
        return {"status": "ok", "failing_since": None, "last_error": None}
    last_success = db.session.scalar(
        select(DeliveryAttempt.id)
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(Delivery.channel == "email", DeliveryAttempt.succeeded.is_(True))
        .order_by(DeliveryAttempt.id.desc())
        .limit(1)
    )
    since = db.session.scalar(
        attempts.with_only_columns(DeliveryAttempt.started_at)
        .where(DeliveryAttempt.id > (last_success or 0))
        .order_by(DeliveryAttempt.id)
        .limit(1)
    )
    return {"status": "failing", "failing_since": since, "last_error": latest.error}
