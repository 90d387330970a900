"""The error hierarchy services raise, and the one JSON error shape every response uses.

Shape: {"code": <HTTP status>, "status": <reason phrase>, "message": str, "errors": {}}.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

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


def error_body(status: int, message: str = "", errors: dict | None = None) -> dict:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return {"code": status, "status": phrase, "message": message or phrase, "errors": errors or {}}


class SubscribeApi(Api):
    """flask-smorest's Api with every error (validation, 404, 405, 500…) in the one shape."""

    def handle_http_exception(self, error: HTTPException):
        data = getattr(error, "data", None) or {}
        errors = data.get("errors") or data.get("messages") or {}
        # webargs nests errors by location ({"json": {...}}); keep them as given.
        message = data.get("message") or _describe(error, errors)
        # The exception's own headers (Allow on a 405, Content-Range: bytes */size on a
        # 416, Retry-After) with the body's type left to the JSON response.
        headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
        headers.update(data.get("headers") or {})
        return error_body(error.code or 500, message, errors), error.code, headers


def _describe(error: HTTPException, errors: dict) -> str:
    if errors:
        return "The request is not valid; see errors for each field."
    if error.code == 500:
        return "Internal server error; it has been logged."
    return error.description or error.name
