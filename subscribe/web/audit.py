"""行为记录 pages: operators search the audit trail and export it; a user reads their own."""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, render_template, request, url_for

from subscribe.audit import services
from subscribe.audit.schemas import AuditFilterSchema
from subscribe.web.access import current_user, login_required, operator_required
from subscribe.web.paging import page_arg, page_count

blp = Blueprint("audit", __name__)

PER_PAGE = 50
FIELDS = ("actor", "action", "target_type", "target_id", "since", "until")


def _filters() -> tuple[dict, dict, bool]:
    """(filters for the service, the form's raw values, whether a value was refused):
    a date the form cannot read is ignored and said so, never a 500."""
    raw = {name: request.args.get(name, "").strip() for name in FIELDS}
    given = {k: v for k, v in raw.items() if v}
    try:
        return AuditFilterSchema().load(given), raw, False
    except ma.ValidationError as error:
        kept = {k: v for k, v in given.items() if k not in error.messages}
        return AuditFilterSchema().load(kept), raw, True


@blp.get("/operators/audit")
@operator_required
def index():
    filters, raw, refused = _filters()
    result = services.search(filters, page_arg(), PER_PAGE)
    query = {k: v for k, v in raw.items() if v}
    return render_template(
        "audit/index.html", result=result, form=raw, refused=refused, actions=services.ACTIONS,
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
