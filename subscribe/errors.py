"""The error hierarchy services raise, and the one JSON error shape every response uses.

Shape: {"code": <HTTP status>, "status": <reason phrase>, "message": str, "errors": {}}.
``errors`` maps a field to its messages, the same for every failure: a request that does
not validate (422 body, 400 query) and a service's refusal (unknown ids, a URL refused,
a name taken) both say ``errors.<field>`` (``errors.url``, ``errors.include``), nested
fields nested (``errors.filters.source``). A body that is no JSON object at all:
``errors.json``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import current_app
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    """A failure a client should see: services raise these, never HTTP exceptions."""

    status = 400

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class NotFoundError(AppError):
    status = 404


class ConflictError(AppError):
    status = 409


class GoneError(AppError):
    status = 410


class UnauthorizedError(AppError):
    status = 401


class ForbiddenError(AppError):
    status = 403


class InvalidInputError(AppError):
    status = 422


class UnsupportedMediaTypeError(AppError):
    status = 415


def error_body(status: int, message: str = "", errors: dict | None = None) -> dict:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return {"code": status, "status": phrase, "message": message or phrase, "errors": errors or {}}


class SubscribeApi(Api):
    """flask-smorest's Api with every error (validation, 404, 405, 500…) in the one shape."""

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or by_field(data.get("messages") or {})
        message = data.get("message") or _describe(error, errors)
        # The exception's own headers (Allow on a 405, Content-Range: bytes */size on a
        # 416, Retry-After) with the body's type left to the JSON response.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        return error_body(error.code or 500, message, errors), error.code, headers


def by_field(messages: dict) -> dict:
    """webargs' validation messages, nested by where the request carried them
    ({"json": {"url": [...]}, "query": {"since": [...]}}), as the fields' own
    ({"url": [...], "since": [...]}): services name fields so, and the README documents
    errors.<field>. A location's messages that name no field (a body that is no JSON:
    ["Invalid JSON body."]) stay under the location."""
    fields: dict = {}
    for location, found in messages.items():
        if not isinstance(found, dict):
            fields.setdefault(location, found)
            continue
        for field, said in found.items():
            if field in fields and isinstance(fields[field], list) and isinstance(said, list):
                fields[field] = [*fields[field], *said]  # a field in the body and the query
            else:
                fields.setdefault(field, said)
    return fields


def _describe(error: HTTPException, errors: dict) -> str:
    if errors:
        return "The request is not valid; see errors for each field."
    if error.code == 500:
        return "Internal server error; it has been logged."
    if error.code == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        return f"The request body is larger than the {limit} bytes allowed."
    return error.description or error.name
