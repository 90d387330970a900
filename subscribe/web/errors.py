"""Error pages for people (HTML); the JSON API keeps its one error shape."""

from __future__ import annotations

from flask import Blueprint, Flask, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from subscribe.errors import AppError
from subscribe.extensions import api, db


def init_app(app: Flask, pages: Blueprint) -> None:
    # Page views: service errors and HTTP errors become pages (the blueprint's handlers
    # come before the app's JSON ones).
    pages.register_error_handler(AppError, handle_app_error)
    pages.register_error_handler(HTTPException, handle_http_error)
    # No route matched (or a 405/500 outside the pages): HTML only when a browser asks
    # for it, so API clients, probes and scrapers keep getting JSON.
    app.register_error_handler(HTTPException, handle_unrouted_error)


def handle_app_error(error: AppError):
    db.session.rollback()  # nothing half-done by the failed service is kept
    return render_error(error.status, error.message)


def handle_http_error(error: HTTPException):
    if (error.code or 500) >= 500:
        db.session.rollback()  # the page itself reads the database (who is signed in)
    return render_error(error.code or 500, error.description, error.get_headers())


def handle_unrouted_error(error: HTTPException):
    if request.path.startswith("/api/") or not _browser_wants_html():
        return api.handle_http_exception(error)
    return handle_http_error(error)


def _browser_wants_html() -> bool:
    accepted = request.accept_mimetypes
    return accepted.best_match(["application/json", "text/html"]) == "text/html"


def render_error(status: int, detail: str | None = None, headers=None):
    titles = {
        400: _("Bad request"),
        401: _("Please log in"),
        403: _("Not allowed"),
        404: _("Not found"),
        409: _("Conflict"),
        422: _("Not valid"),
        429: _("Too many requests"),
    }
    title = titles.get(status, _("Something went wrong"))
    # Werkzeug's and the services' details are English; pages show them only for codes
    # without a translated explanation of their own.
    explanations = {
        400: _("The form has expired or did not come from this site. Please try again."),
        404: _("There is nothing at this address."),
        429: _("Too many attempts. Please wait a minute and try again."),
    }
    body = render_template("errors/error.html", status=status, title=title,
                           explanation=explanations.get(status), detail=detail)  # fmt: skip
    content_headers = [(k, v) for k, v in (headers or []) if k.lower() != "content-type"]
    return body, status, content_headers
