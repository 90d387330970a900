"""Unsubscribing from an e-mail link, without logging in (notify/unsubscribe.py).

GET shows what the link stops and a button; POST pauses the subscription. Mail
clients that offer RFC 8058 one-click unsubscribe POST `List-Unsubscribe=One-Click`
to the same URL. The signed token is the authentication, so these POSTs carry no CSRF
token (web/security.py exempts this endpoint): a forged request would need the token.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from subscribe.auth.models import User
from subscribe.extensions import db
from subscribe.notify import unsubscribe as links
from subscribe.web.subscriptions import _target

blp = Blueprint("unsubscribe", __name__, url_prefix="/unsubscribe")


def _subscription(token: str):
    subscription = links.find_subscription(current_app.config["SECRET_KEY"], token)
    if subscription is None:
        abort(404)
    return subscription


def _context(subscription) -> dict:
    owner = db.session.get(User, subscription.user_id)
    return {"subscription": subscription, "target": _target(owner, subscription),
            "email": owner.email}  # fmt: skip


@blp.get("/<token>")
def confirm(token: str):
    subscription = _subscription(token)
    return render_template("unsubscribe/confirm.html", token=token, **_context(subscription))


@blp.post("/<token>")
def unsubscribe(token: str):
    subscription = _subscription(token)
    links.pause(subscription)
    return render_template("unsubscribe/done.html", **_context(subscription))
