"""Template filters: highlights, safe links, sizes, value display."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import urlsplit

from flask import Flask
from markupsafe import Markup, escape

from subscribe.web import labels

_MARK = re.compile(r"(</?mark>)")


def highlight(marked: str | None) -> Markup:
    """Search highlights as HTML where only <mark> survives: every other piece is
    unescaped and escaped again, so the result is safe even if the search service ever
    returned raw text (escape(unescape(x)) leaves correctly escaped text unchanged)."""
    pieces = _MARK.split(marked or "")
    return Markup("").join(
        Markup(piece) if _MARK.fullmatch(piece) else escape(html.unescape(piece))
        for piece in pieces
    )


def safe_url(url: str | None) -> str | None:
    """The URL if it is a web address; None for javascript:, data: and the like, which
    a harvested catalog could contain and which would run as script in an href."""
    if not url:
        return None
    scheme = urlsplit(url.strip()).scheme.lower()
    return url.strip() if scheme in ("http", "https") else None


def filesize(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def show_value(value) -> str:
    """A changed field's value as text: lists joined, nothing shown as a dash."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return "、".join(show_value(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        highlight=highlight,
        safe_url=safe_url,
        filesize=filesize,
        show_value=show_value,
        label=labels.label,
        facet_value=labels.facet_value,
        job_description=labels.job_description,
    )
