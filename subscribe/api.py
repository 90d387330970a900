"""Shared API pieces: the Blueprint and Schema bases, paging and authentication."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

import marshmallow as ma
from flask import g, request
from flask_smorest import Blueprint as SmorestBlueprint

from subscribe.auth.services import user_for_token
from subscribe.errors import ForbiddenError, UnauthorizedError

BEARER_SECURITY = [{"bearerAuth": []}]


class Schema(ma.Schema):
    """Project schema base: unknown fields are an error (marshmallow's RAISE)."""

    class Meta:
        unknown = ma.RAISE
        ordered = True


class PageArgsSchema(Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100_000))
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))


def page_body(items: list, total: int, page: int, per_page: int) -> dict:
    return {"items": items, "total": total, "page": page, "per_page": per_page}


class Blueprint(SmorestBlueprint):
    """Blueprint with the project's auth decorator, documented in OpenAPI."""

    def auth_required(self, role: str | None = None) -> Callable:
        """Require a valid bearer token (and a role); the user is in flask.g.user."""

        def decorator(view: Callable) -> Callable:
            @wraps(view)
            def wrapper(*args, **kwargs):
                user = current_user_from_request()
                if user is None:
                    raise UnauthorizedError("A valid bearer token is required.")
                if role == "operator" and not user.is_operator:
                    raise ForbiddenError("This endpoint is for operators.")
                g.user = user
                return view(*args, **kwargs)

            doc = wrapper._apidoc = getattr(view, "_apidoc", {})  # keep smorest's docs
            doc.setdefault("manual_doc", {})["security"] = BEARER_SECURITY
            return wrapper

        return decorator


def current_user_from_request():
    """The user whose API token is in the Authorization header, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return user_for_token(token.strip())
