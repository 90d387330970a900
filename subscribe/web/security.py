"""CSRF for HTML forms and security headers on every response."""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, abort, request, session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
API_PREFIX = "/api/"

# Pages load scripts and styles from our own /static only: no inline script, so an
# injected <script> cannot run even if escaping were ever missed.
PAGE_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Endpoints whose URL carries a signed token that authenticates the request by itself:
# RFC 8058 one-click unsubscribe is a POST from a mail client, with no session or form.
SIGNED_LINK_ENDPOINTS = frozenset({"web.unsubscribe.unsubscribe"})
# The API answers JSON; nothing in it should ever be rendered as a document.
API_CSP = "default-src 'none'; frame-ancestors 'none'"


def init_app(app: Flask) -> None:
    app.before_request(check_csrf)
    app.after_request(add_security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token


def csrf_token() -> str:
    """The session's one CSRF token, the same `session["csrf"]` the JSON API checks.

    One token rather than Flask-WTF's separate one: forms send it as `csrf_token` and a
    page's JavaScript calling /api/v1 sends it as X-CSRF-Token (from the page's
    <meta name="csrf-token">), so both paths share one check and one secret. Login
    replaces it (auth/api.py and web/auth.py clear the session), as a fresh session
    should.
    """
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf() -> None:
    """Every unsafe request outside the JSON API needs the token: deny by default, so a
    page group added later is protected without doing anything. The API checks its
    session requests itself (subscribe/api.py) and bearer-token requests need none."""
    if request.method in SAFE_METHODS or request.path.startswith(API_PREFIX):
        return
    if request.endpoint in SIGNED_LINK_ENDPOINTS:
        return
    sent = request.form.get(FORM_FIELD) or request.headers.get(HEADER, "")
    expected = session.get("csrf", "")
    if not sent or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(400, description="The form has expired or did not come from this site.")


def add_security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        headers.setdefault("Content-Security-Policy", PAGE_CSP)
    else:
        headers.setdefault("Content-Security-Policy", API_CSP)
    return response
