"""E-mail delivery: one event at once, or a digest of many, rendered and sent over SMTP."""

from __future__ import annotations

from flask import current_app

from subscribe.auth.models import User
from subscribe.auth.preferences import user_timezone
from subscribe.notify import digest
from subscribe.notify.email import EmailError, SmtpSettings, build_message, send
from subscribe.notify.unsubscribe import unsubscribe_url


def _item(payload: dict) -> dict:
    data = payload.get("data", {})
    return {**data, "type": payload.get("type", ""), "created_at": payload.get("timestamp", "")}


def send_payloads(user: User, subscription, payloads: list[dict], message_id: str) -> str | None:
    """Send one message for the payloads; the error text, or None when the server took it."""
    config = current_app.config
    items = [_item(p) for p in payloads]
    kind = (
        "digest"
        if subscription is not None and subscription.cadence != "immediate"
        else "immediate"
    )
    scenario = items[0].get("scenario") or {}
    unsubscribe = (
        unsubscribe_url(config["SUBSCRIBE_BASE_URL"], config["SECRET_KEY"], subscription)
        if subscription is not None
        else None
    )
    subject, text, html = digest.render(
        kind,
        user.locale,
        items,
        scenario_name=scenario.get("name"),
        base_url=config["SUBSCRIBE_BASE_URL"],
        timezone=user_timezone(user),
        unsubscribe_url=unsubscribe,
    )
    message = build_message(
        user.email, subject, text, html, message_id=message_id, unsubscribe_url=unsubscribe
    )
    try:
        send(SmtpSettings.from_config(config), message)
    except EmailError as exc:
        return str(exc)
    return None
