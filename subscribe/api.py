"""Shared API pieces: the Blueprint and Schema bases, paging and authentication."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping
from functools import wraps
from urllib.parse import unquote_to_bytes

import marshmallow as ma
from flask import request, session
from flask_smorest import Blueprint as SmorestBlueprint
from webargs.flaskparser import FlaskParser
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import IntegerConverter

from subscribe.audit.services import remember_api_user
from subscribe.auth.models import User
from subscribe.auth.services import user_for_token
from subscribe.digits import ascii_int
from subscribe.errors import ForbiddenError, UnauthorizedError, UnsupportedMediaTypeError
from subscribe.extensions import db

MAX_ID = 2**31 - 1  # the largest id an INTEGER primary key holds on PostgreSQL


def parse_id(value: str | None) -> int | None:
    """A form's or query string's id as an int in 1..MAX_ID, else None. The one parser
    for the pages: ids past what the database holds raised a driver overflow (a 500)
    where a form checked only for digits; str.isdigit() alone also takes "²"."""
    value = (value or "").strip()
    number = ascii_int(value) if len(value) <= 10 else None
    return number if number is not None and 1 <= number <= MAX_ID else None


class IdConverter(IntegerConverter):
    """`<int:…>` path ids bounded to what the database can hold: a bigger number is a
    404, not a driver overflow."""

    def __init__(self, url_map, *args, **kwargs):
        super().__init__(url_map, min=1, max=MAX_ID)


def id_parameter_schema(_converter) -> dict:
    return {"type": "integer", "minimum": 1, "maximum": MAX_ID}


BEARER_SECURITY = [{"bearerAuth": []}, {"sessionCookie": []}]


# Text refused anywhere in a body or query string, by kind:
# - NUL: PostgreSQL refuses it in text;
# - unpaired UTF-16 surrogates, which JSON's "\ud800" escapes decode to and which no
#   UTF-8 encoder takes (the drivers raised UnicodeEncodeError: a 500); a paired escape
#   ("\ud83d\ude00") decodes to one astral character and passes;
# - control characters: C0 but tab, line feed and carriage return; DEL; C1; and the
#   non-characters U+FFFE/U+FFFF. Stored, they broke what shows the text (XML 1.0 and so
#   the Atom feeds forbid C0 and U+FFFE/U+FFFF; a scenario named "x\x10" was taken).
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
_UNSTORABLE_MESSAGE = {
    "\x00": "Text may not contain NUL characters.",
    "surrogate": "Text may not contain unpaired surrogates (\\ud800-\\udfff): not valid Unicode.",
    "control": "Text may not contain control characters ({}); tab and line breaks are allowed.",
}


def _unstorable_message(char: str) -> str:
    if char == "\x00":
        return _UNSTORABLE_MESSAGE["\x00"]
    if "\ud800" <= char <= "\udfff":
        return _UNSTORABLE_MESSAGE["surrogate"]
    # Named by its code point: an error must not echo the character itself.
    return _UNSTORABLE_MESSAGE["control"].format(f"U+{ord(char):04X}")


def unstorable_text(value) -> tuple[list, str] | None:
    """The first string (key or value) anywhere in a parsed body or query that holds text
    refused by kind (_UNSTORABLE: NUL, an unpaired surrogate, a control character), as
    (path of keys and list indexes to it, message), else None. Iterative: a deeply
    nested body cannot exhaust the stack."""
    stack: list[tuple[object, list]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            found = _UNSTORABLE.search(item)
            if found:
                return path, _unstorable_message(found.group())
        elif isinstance(item, Mapping):  # also webargs' MultiDictProxy (query strings)
            for key, inner in item.items():
                if isinstance(key, str) and _UNSTORABLE.search(key):
                    # Named without the character itself: an error must echo valid text.
                    stack.append((key, [*path, _UNSTORABLE.sub("\ufffd", key)]))
                else:
                    stack.append((inner, [*path, key]))
        elif isinstance(item, list | tuple):
            stack.extend((inner, [*path, index]) for index, inner in enumerate(item))
    return None


def _errors_at(path: list, message: str) -> dict:
    """marshmallow's nested error dict naming the field: ["filters", "publisher", 0] ->
    {"filters": {"publisher": {0: [message]}}}; an empty path is the whole body."""
    errors: dict | list = [message]
    for key in reversed(path or ["_schema"]):
        errors = {key: errors}
    return errors


MAX_JSON_DEPTH = 32  # no body of this API nests deeper than a few levels


def _json_depth_exceeds(value, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            inner = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in inner)
    return False


class Schema(ma.Schema):
    """Project schema base: unknown fields are an error (marshmallow's RAISE), and so is
    refused text anywhere in the input (NUL, an unpaired surrogate, a control character
    other than tab and line breaks: unstorable_text), named by its field: a 422 (400 in
    a query string) before any field is read or cleaned."""

    class Meta:
        unknown = ma.RAISE
        ordered = True

    @ma.pre_load
    def _refuse_unstorable_text(self, data, **_kwargs):
        found = unstorable_text(data)
        if found:
            raise ma.ValidationError(_errors_at(*found))
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
    """webargs' parser, with a body nested deeper than MAX_JSON_DEPTH refused like any
    other malformed JSON (4xx "Invalid JSON body."): thousands of "[" made Python's
    decoder raise RecursionError, and a few hundred did the same in later recursive
    code (500s, and a 2,000-line traceback logged per request).

    A query parameter the endpoint does not take is an error too (400 naming it, as the
    body's unknown fields are 422s): webargs drops them by default, so
    `/audit/mine?since=abc` answered 200 as if no filter had been asked for."""

    DEFAULT_UNKNOWN_BY_LOCATION = {
        **FlaskParser.DEFAULT_UNKNOWN_BY_LOCATION, "query": ma.RAISE, "querystring": ma.RAISE
    }  # fmt: skip

    def _raw_load_json(self, req):
        _refuse_a_chunked_body_past_the_cap(req)
        _refuse_a_body_not_labelled_json(req)
        # A non-empty doc below: webargs reads an empty one as "no body at all".
        try:
            body = super()._raw_load_json(req)
        except RecursionError as exc:
            raise json.JSONDecodeError("nested too deeply", "[", 0) from exc
        if _json_depth_exceeds(body, MAX_JSON_DEPTH):
            raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_DEPTH} levels", "[", 0)
        return body

    def load_querystring(self, req, schema):
        field = _field_not_utf8(req.query_string)
        if field is not None:
            raise ma.ValidationError({field: [NOT_UTF8_MESSAGE]})
        return super().load_querystring(req, schema)


NOT_UTF8_MESSAGE = "Not UTF-8 text: percent-encoded bytes that no UTF-8 text is made of."


def _field_not_utf8(query: bytes) -> str | None:
    """The name of the first query parameter whose name or value, percent-decoded, is not
    UTF-8 (``%ED%A0%80``: an encoded surrogate; ``%FF``), or None. Werkzeug decodes such
    bytes to U+FFFD, so ``?q=%ED%A0%80`` searched for replacement characters and answered
    200 where text with an unpaired surrogate is a 400."""
    for pair in query.split(b"&"):
        name, _, value = pair.partition(b"=")
        try:
            unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8")
            unquote_to_bytes(value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return unquote_to_bytes(name).decode("utf-8", "replace") or "_query"
    return None


def _refuse_a_body_not_labelled_json(req) -> None:
    """415 for a body sent with another Content-Type than JSON (curl's -d sends
    application/x-www-form-urlencoded, some clients text/plain): webargs reads such a
    body as no body at all, so a valid JSON object was answered "name: missing" with no
    hint why (bb6). Not parsed anyway: a cross-site form can send text/plain without a
    preflight, JSON only after one."""
    if req.is_json or not req.content_length:
        return
    raise UnsupportedMediaTypeError(
        f"The body must be JSON sent with Content-Type: application/json "
        f"(it came as {req.mimetype or 'no Content-Type'}).",
        {"json": ["Send the body with Content-Type: application/json."]},
    )


def _refuse_a_chunked_body_past_the_cap(req) -> None:
    """413 for a body with no Content-Length (Transfer-Encoding: chunked) longer than
    MAX_CONTENT_LENGTH, as Flask answers one that declares its length. werkzeug's
    capped stream stops quietly at the cap when read whole, so the first MAX bytes
    were parsed as (truncated, invalid) JSON: a 400 "Invalid JSON body." (bb6)."""
    limit = req.max_content_length
    if req.content_length is not None or limit is None or not req.is_json:
        return
    if len(req.get_data(cache=True)) >= limit and req.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()  # one byte past the cap: the rest is never read


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
