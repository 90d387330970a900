"""Template filters: highlights, safe links, sizes, value display."""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from urllib.parse import urlsplit

import flask_babel
from babel.dates import format_skeleton
from flask import Flask
from flask_babel import get_locale
from markupsafe import Markup, escape

from subscribe.catalog import normalize
from subscribe.catalog import text as catalog_text
from subscribe.web import labels, reasons

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


# Babel skeletons: the locale decides the pattern ("2018年5月" in zh, "May 2018" in en;
# "2019年第3季度", "3rd quarter 2019").
_PERIOD_SKELETONS = {"year": "y", "quarter": "yQQQQ", "month": "yMMMM"}


def catalog_date(value: datetime | None, precision: str = "") -> str:
    """A catalog date at the precision the catalog gave: 2019年 / 2019年上半年 /
    2019年第3季度 / 2018年5月 / 2020年第5周 (an ISO week) / 2019年3月5日.

    Year, month and day are calendar periods as written: shown without a time-zone shift
    (midnight UTC must not become the previous evening). A full datetime is shown like
    any other instant (flask-babel's date in the display zone).
    """
    if value is None:
        return ""
    if precision in _PERIOD_SKELETONS:
        return format_skeleton(_PERIOD_SKELETONS[precision], value, locale=get_locale())
    if precision == "week":  # ISO 8601 weeks: CLDR's week of year follows the locale's rules
        year, week, _ = value.isocalendar()
        return flask_babel.gettext("week %(week)s of %(year)s", week=week, year=year)
    if precision == "half":  # CLDR has no half-year pattern
        if value.month < 7:
            return flask_babel.gettext("first half of %(year)s", year=value.year)
        return flask_babel.gettext("second half of %(year)s", year=value.year)
    if precision == "day":
        return flask_babel.format_date(value.date())
    return flask_babel.format_date(value)


def date_note(raw: str, field: str = "modified") -> str:
    """Why a catalog date's text (`raw`, shown because it gave no date) is no date, in
    the page's language (labels.DATE_NOTES); "" for an empty text."""
    code = normalize.date_note(raw or "", None, latest=field == "modified")
    return labels.label(code, "DATE_NOTES") if code else ""


def audit_details(details) -> str:
    """An audit entry's details as readable text: `name: value; …`, Chinese as written
    (JSON's \\uXXXX escapes are for machines; the export keeps the JSON)."""
    if not details:
        return "—"
    if not isinstance(details, dict):
        return json.dumps(details, ensure_ascii=False, default=str)
    return "; ".join(
        f"{key}: {value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)}"
        for key, value in details.items()
    )


def told_apart(dataset) -> str:
    """What tells a dataset (a Dataset or a dict) from its twins (text.told_apart)."""
    return catalog_text.told_apart(_distinguished_by(dataset))


def twin_title(dataset) -> str:
    """The title as a person tells twins apart by: "公交站点 · 西山区" (the title alone
    for a dataset without twins; text.twin_title)."""
    title = dataset.get("title") if isinstance(dataset, dict) else dataset.title
    return catalog_text.twin_title(title or "", _distinguished_by(dataset))


def _distinguished_by(dataset):
    if isinstance(dataset, dict):
        return dataset.get("distinguished_by")
    return getattr(dataset, "distinguished_by", None)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        catalog_date=catalog_date,
        highlight=highlight,
        safe_url=safe_url,
        filesize=filesize,
        show_value=show_value,
        label=labels.label,
        facet_value=labels.facet_value,
        job_description=labels.job_description,
        audit_details=audit_details,
        harvest_reason=reasons.harvest_reason,
        harvest_error=reasons.harvest_error,
        harvest_reference=reasons.harvest_reference,
        mapping_reason=reasons.mapping_reason,
        date_note=date_note,
        told_apart=told_apart,
        twin_title=twin_title,
    )
