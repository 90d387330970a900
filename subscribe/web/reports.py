"""数据纠错 pages: the dataset page's list and form (partial `search/_feedback.html`), the
user's own reports, and the operators' page to handle them. Views call feedback.services,
the same as the API."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from subscribe.errors import AppError, InvalidInputError
from subscribe.extensions import db
from subscribe.feedback import services
from subscribe.feedback.api import report_limit
from subscribe.feedback.models import REPORT_STATES, TRANSITIONS, ErrorReport
from subscribe.web import labels
from subscribe.web.access import current_user, login_required, operator_required, safe_next
from subscribe.web.paging import page_arg, page_count
from subscribe.web.subscriptions import int_arg

blp = Blueprint("reports", __name__)

PER_PAGE = 20
SHOWN_ON_DATASET = 20
DRAFT = "report_draft"  # the form's values and errors, kept across the redirect
FIELD_ERRORS = {
    "description": _l("Say what is wrong (at least 5 characters)."),
    "resource_id": _l("Choose a file of this dataset (a row and column point into a file)."),
    "row": _l("Give the row (a number from 1) and the column together."),
    "column": _l("Give the row (a number from 1) and the column together."),
    "field": _l("Give a field, or a row and a column, not both."),
    "evidence_url": _l("The evidence link must be an http(s) address."),
    "reason": _l("Say why the report is rejected."),
    "state": _l("This report cannot move to that state."),
}
FORM_FIELDS = ("resource_id", "field", "row", "column", "description", "proposed_value",
               "evidence_url")  # fmt: skip


def panel(dataset) -> dict:
    """What the dataset page's 数据纠错 section shows: public reports (no reporter), the
    resources to choose from, and a draft coming back from a refused form."""
    result = services.public_reports(dataset.id, 1, SHOWN_ON_DATASET)
    draft = (
        session.pop(DRAFT, None) if session.get(DRAFT, {}).get("dataset") == dataset.id else None
    )
    return {
        "reports": result["items"],
        "total": result["total"],
        "names": services.context(result["items"])["resources"],
        "draft": (draft or {}).get("values", {}),
        "errors": (draft or {}).get("errors", {}),
    }


@blp.app_context_processor
def _feedback_helpers() -> dict:
    return {"feedback_panel": panel, "report_states": REPORT_STATES}


def _form_values() -> dict:
    form = request.form
    values = {name: (form.get(name) or "").strip() or None for name in FORM_FIELDS}
    values["description"] = values["description"] or ""
    for name in ("resource_id", "row"):
        raw = values[name]
        values[name] = int_arg(raw) if raw else None
        if raw and values[name] is None:
            values[name] = -1  # not a number: the service says what is wrong with it
    return values


@blp.post("/datasets/<int:dataset_id>/reports")
@login_required
@report_limit
def create(dataset_id: int):
    values = _form_values()
    back = url_for("web.search.dataset", dataset_id=dataset_id) + "#reports"
    try:
        services.create_report(current_user(), dataset_id, dict(values))
    except InvalidInputError as error:
        g.report_refused = True  # not counted against the rate limit (report_was_filed)
        errors = {
            name: str(FIELD_ERRORS.get(name, _("Check this field."))) for name in error.errors
        }
        shown = {k: ("" if v in (None, -1) else v) for k, v in values.items()}
        session[DRAFT] = {"dataset": dataset_id, "values": shown, "errors": errors}
        flash(_("The report was not sent: see the marked fields."), "error")
        return redirect(back)
    flash(_("Thank you: your report was sent. You will be told when it is handled."), "success")
    return redirect(back)


@blp.get("/reports/mine")
@login_required
def mine():
    result = services.own_reports(current_user(), page_arg(), PER_PAGE)
    return render_template(
        "reports/mine.html", result=result, context=services.context(result["items"]),
        pages=page_count(result["total"], PER_PAGE),
        page_url=lambda number: url_for(".mine", page=number),
    )  # fmt: skip


FILTERS = ("open", "acknowledged", "resolved", "rejected", "hidden", "all")


@blp.get("/operators/reports")
@operator_required
def manage():
    shown = request.args.get("show", "open")
    if shown not in FILTERS:
        shown = "open"
    filters = (
        {"hidden": True} if shown == "hidden" else {"hidden": None if shown == "all" else False}
    )
    if shown in REPORT_STATES:
        filters["state"] = shown
    if dataset_id := int_arg(request.args.get("dataset_id")):
        filters["dataset_id"] = dataset_id
    result = services.operator_reports(filters, page_arg(), PER_PAGE)
    return render_template(
        "reports/manage.html", result=result, context=services.context(result["items"]),
        shown=shown, filters=FILTERS, transitions=TRANSITIONS,
        pages=page_count(result["total"], PER_PAGE), here=request.full_path.rstrip("?"),
        page_url=lambda number: url_for(".manage", show=shown, page=number),
    )  # fmt: skip


def _report_or_404(report_id: int):
    report = db.session.get(ErrorReport, report_id)
    if report is None:
        abort(404)
    return report


@blp.post("/operators/reports/<int:report_id>/transition")
@operator_required
def transition(report_id: int):
    report = _report_or_404(report_id)
    back = safe_next(request.form.get("next"), url_for(".manage"))
    state = request.form.get("state", "")
    try:
        services.transition(current_user(), report, state, request.form.get("reason"))
    except AppError as error:
        name = next(iter(error.errors), "state")
        flash(str(FIELD_ERRORS.get(name, _("This report cannot move to that state."))), "error")
        return redirect(back)
    flash(_("Report #%(id)s is now: %(state)s", id=report.id,
            state=labels.REPORT_STATES.get(state, state)), "success")  # fmt: skip
    return redirect(back)


@blp.post("/operators/reports/<int:report_id>/hide")
@operator_required
def hide(report_id: int):
    report = _report_or_404(report_id)
    hidden = request.form.get("hidden", "1") == "1"
    services.set_hidden(current_user(), report, hidden)
    flash(_("Report #%(id)s hidden as spam.", id=report.id) if hidden
          else _("Report #%(id)s shown again.", id=report.id), "success")  # fmt: skip
    return redirect(safe_next(request.form.get("next"), url_for(".manage")))
