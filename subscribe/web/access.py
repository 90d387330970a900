"""Who is signed in, and the decorators that guard pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import abort, g, redirect, request, session, url_for

from subscribe.auth.models import User
from subscribe.extensions import db


def current_user() -> User | None:
    """The session's user, loaded once per request (None when signed out)."""
    user_id = session.get("user_id")
    # Keyed by the session's id: an app context (and its g) can outlive one request,
    # as in tests that hold one open around several requests.
    cached = g.get("web_user")
    if cached is None or cached[0] != user_id:
        cached = g.web_user = (user_id, db.session.get(User, user_id) if user_id else None)
    return cached[1]


def login_required(view: Callable) -> Callable:
    """Signed-out visitors go to the login page and come back afterwards."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_user() is None:
            return redirect(url_for("web.auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def operator_required(view: Callable) -> Callable:
    """Operators only: signed-out visitors log in first, other users get a 403."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user().is_operator:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def safe_next(target: str | None, default: str) -> str:
    """A `next` that stays on this site: a path, never another host (`//evil`, `\\evil`
    or `https://evil` would make the login form an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target
