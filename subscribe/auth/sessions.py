"""Browser sessions: the keys the JSON API and the web pages both read."""

from __future__ import annotations

import secrets

from flask import session

from subscribe.auth.models import User


def start_session(user: User) -> str:
    """A fresh session for the user (nothing kept from before the login, so a planted
    session id is worth nothing) with a new CSRF token, which is returned."""
    session.clear()
    session["user_id"] = user.id
    session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def end_session() -> None:
    session.clear()
