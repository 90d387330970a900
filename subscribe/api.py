"""Shared API pieces: the Blueprint and Schema bases, paging and authentication."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from functools import wraps

import marshmallow as ma
from flask import request, session
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser
from werkzeug.routing import IntegerConverter

from subscribe.audit.services import remember_api_user
from subscribe.auth.models import User
from subscribe.auth.services import user_for_token
from subscribe.errors import ForbiddenError, UnauthorizedError
from subscribe.extensions import db

MAX_ID = 2**31 - 1  # the largest id an INTEGER primary key holds on PostgreSQL


class IdConverter(IntegerConverter):
    """`<int:…>` path ids bounded to what the database can hold: a bigger number is a
    404, not a driver overflow."""

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ID)


def id_parameter_schema(_converter) -> dict:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


BEARER_SECURITY = [{"bearerAuth": []}, {"sessionCookie": []}]


def _has_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):  # also webargs' MultiDictProxy (query strings)
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class Schema(ma.Schema):
    """Project schema base: unknown fields are an error (marshmallow's RAISE), and so
    is a NUL character anywhere (PostgreSQL cannot store it in text)."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    @ma.pre_load
    def _refuse_nul(self, data, **_kwargs):
        if _has_nul(data):
            raise ma.ValidationError("Text may not contain NUL characters.")
        return data


class PageArgsSchema(Schema):
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=100_000))
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))


def page_schema(item_schema: type[ma.Schema], name: str) -> type[ma.Schema]:
    """The one shape of a page of results: {items, total, page, per_page}."""
    fields = {
        "items": ma.fields.List(ma.fields.Nested(item_schema)),
        "total": ma.fields.Integer(),
        "page": ma.fields.Integer(),
        "per_page": ma.fields.Integer(),
    }
    return type(name, (Schema,), fields)


class JsonBodyParser(FlaskParser):
    """webargs' parser, with a body nested too deeply for Python's JSON decoder (thousands
    of "[") refused like any other malformed JSON (400), not a RecursionError (500)."""

    def _raw_load_json(self, req):
        try:
            return super()._raw_load_json(req)
        except RecursionError as exc:
            # A non-empty doc: webargs reads an empty one as "no body at all".
            raise json.JSONDecodeError("nested too deeply", "[", 0) from exc


class Blueprint(SmorestBlueprint):
    """Blueprint with the project's auth decorator, documented in OpenAPI."""

    ARGUMENTS_PARSER = JsonBodyParser()

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
                remember_api_user(user)  # g.user, trusted for this request only
                return view(*args, **kwargs)

            doc = wrapper._apidoc = getattr(view, "_apidoc", {})  # keep smorest's docs
            doc.setdefault("manual_doc", {})["security"] = BEARER_SECURITY
            return wrapper

        return decorator


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_user_from_request():
    """The user of the bearer token, else of the browser session, else None.

    A session also authenticates unsafe requests only with its CSRF token in the
    X-CSRF-Token header: a cookie alone could be sent by another site's form.
    """
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return user_for_token(token.strip())
    user_id = session.get("user_id")
    if user_id is None:
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent or not hmac.compare_digest(sent.encode(), session.get("csrf", "").encode()):
            raise ForbiddenError("Missing or wrong X-CSRF-Token for a session request.")
    return db.session.get(User, user_id)
