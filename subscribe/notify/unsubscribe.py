"""Signed unsubscribe links for e-mail (RFC 2369 List-Unsubscribe, RFC 8058 one-click).

A link names one subscription and its owner, signed with the app's SECRET_KEY
(itsdangerous, salted for this use only), so it works without logging in and cannot be
made for someone else's subscription. It does not expire: a link in an old e-mail
still works. Following it pauses the subscription (active = False); the owner can
resume it on the subscriptions page.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify import outbox
from subscribe.notify.models import Subscription

SALT = "subscribe.list-unsubscribe"
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"  # RFC 8058: what mail clients POST


def make_token(secret_key: str, subscription: Subscription) -> str:
    return URLSafeSerializer(secret_key, salt=SALT).dumps([subscription.id, subscription.user_id])


def find_subscription(secret_key: str, token: str) -> Subscription | None:
    """The subscription the token names, if the signature holds and it still exists with
    the same owner; None otherwise."""
    try:
        subscription_id, user_id = URLSafeSerializer(secret_key, salt=SALT).loads(token)
    except (BadSignature, TypeError, ValueError):
        return None
    if not isinstance(subscription_id, int) or not isinstance(user_id, int):
        return None
    subscription = db.session.get(Subscription, subscription_id)
    if subscription is None or subscription.user_id != user_id:
        return None
    return subscription


def unsubscribe_url(base_url: str, secret_key: str, subscription: Subscription) -> str:
    """The absolute link (GET: a confirmation page; POST: unsubscribes at once)."""
    return f"{base_url.rstrip('/')}/unsubscribe/{make_token(secret_key, subscription)}"


def pause(subscription: Subscription) -> bool:
    """Stop the subscription's e-mails; True when it was active (idempotent)."""
    if not subscription.active:
        return False
    subscription.active = False
    # paused_at as the API's pause sets it: a later "resume with catch-up" queues what was
    # detected since now, not everything since the subscription began.
    subscription.updated_at = subscription.paused_at = utcnow()
    outbox.cancel_queued(subscription, "unsubscribed")  # queued digests are not sent either
    db.session.commit()
    return True
