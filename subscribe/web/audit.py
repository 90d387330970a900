"""行为记录 pages: operators search the audit trail and export it; a user reads their own."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import marshmallow as ma
from flask import Blueprint, render_template, request, url_for

from subscribe.audit import services
from subscribe.audit.schemas import AuditFilterSchema
from subscribe.web.access import current_user, login_required, operator_required
from subscribe.web.i18n import select_timezone
from subscribe.web.paging import page_arg, page_count

blp = Blueprint("audit", __name__)

PER_PAGE = 50
FIELDS = ("actor", "action", "target_type", "target_id", "since", "until")


def _filters() -> tuple[dict, dict, bool]:
    """(filters for the service, the form's raw values, whether a value was refused):
    a date the form cannot read is ignored and said so, never a 500. Times typed without
    a zone are in the page's time zone, the one the table shows."""
    raw = {name: request.args.get(name, "").strip() for name in FIELDS}
    given = {k: v for k, v in raw.items() if v}
    try:
        filters, refused = AuditFilterSchema().load(given), False
    except ma.ValidationError as error:
        kept = {k: v for k, v in given.items() if k not in error.messages}
        filters, refused = AuditFilterSchema().load(kept), True
    zone = ZoneInfo(select_timezone())
    for name in ("since", "until"):
        if filters.get(name) is not None and filters[name].tzinfo is None:
            filters[name] = filters[name].replace(tzinfo=zone)
    return filters, raw, refused


def _query(filters: dict, raw: dict) -> dict:
    """The page's filters as query arguments, times with their offset (the export API
    reads a time without a zone as UTC)."""
    query = {k: v for k, v in raw.items() if v}
    for name in ("since", "until"):
        if filters.get(name) is not None:
            query[name] = filters[name].isoformat()
        else:
            query.pop(name, None)  # refused: ignored on the page, so in the export too
    return query


@blp.get("/operators/audit")
@operator_required
def index():
    filters, raw, refused = _filters()
    result = services.search(filters, page_arg(), PER_PAGE)
    query = _query(filters, raw)
    return render_template(
        "audit/index.html", result=result, form=raw, refused=refused, actions=services.ACTIONS,
        zone=select_timezone(),
        pages=page_count(result["total"], PER_PAGE),
        page_url=lambda number: url_for(".index", page=number, **query),
        export_csv=url_for("audit.export", format="csv", **query),
        export_json=url_for("audit.export", format="json", **query),
    )  # fmt: skip


@blp.get("/settings/activity")
@login_required
def mine():
    result = services.for_user(current_user(), page_arg(), PER_PAGE)
    return render_template(
        "audit/mine.html", result=result, pages=page_count(result["total"], PER_PAGE),
        page_url=lambda number: url_for(".mine", page=number),
    )  # fmt: skip
