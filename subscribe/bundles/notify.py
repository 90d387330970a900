"""bundle.ready: the message a `push: bundle` subscription gets when its bundle is built."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import insert

from subscribe.bundles.models import Bundle
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify import outbox, payloads
from subscribe.notify.models import Delivery, Subscription


def ready_payload(bundle: Bundle, title: str, message_id: str) -> dict:
    base = current_app.config["SUBSCRIBE_BASE_URL"]
    data: dict = {
        "event_id": message_id,
        "title": title,
        "bundle": {
            "id": bundle.id,
            "mode": bundle.mode,
            "file_count": bundle.file_count,
            "skipped_count": len(bundle.skipped or []),
            "size_bytes": bundle.size_bytes,
            "sha256": bundle.sha256,
            "expires_at": bundle.expires_at.isoformat() + "Z" if bundle.expires_at else None,
            "api_url": f"{base}/api/v1/bundles/{bundle.id}",
            "download_url": f"{base}/api/v1/bundles/{bundle.id}/download",
        },
    }
    if bundle.scenario_id is not None:
        data["scenario"] = {"id": bundle.scenario_id, "name": title}
    if bundle.dataset_id is not None:
        data["dataset_id"] = bundle.dataset_id
    now = utcnow()
    return {"type": "bundle.ready", "timestamp": now.isoformat() + "Z", "data": data}


def bundle_ready(bundle: Bundle, title: str) -> None:
    """Queue bundle.ready on the subscription's channel (in the caller's transaction)."""
    if bundle.subscription_id is None:
        return
    subscription = db.session.get(Subscription, bundle.subscription_id)
    # Sent whatever `events` lists: those pick the changes that make a bundle.
    if subscription is None or not subscription.active:
        return
    message_id = payloads.new_message_id()
    body = ready_payload(bundle, title, message_id)
    db.session.execute(insert(Delivery), [outbox.row(subscription, "bundle.ready", body, utcnow())])
