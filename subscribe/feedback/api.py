"""/api/v1 error reports (数据纠错): file, list (public, own, operators'), transition, hide."""

from flask import current_app, g
from flask_limiter.util import get_remote_address

from subscribe.api import Blueprint, PageArgsSchema
from subscribe.audit import services as audit
from subscribe.errors import ForbiddenError
from subscribe.extensions import limiter
from subscribe.feedback import services
from subscribe.feedback.schemas import (
    ErrorReportCreateSchema,
    ErrorReportSchema,
    PublicReportPageSchema,
    ReportHideSchema,
    ReportListArgsSchema,
    ReportPageSchema,
    ReportTransitionSchema,
)

blp = Blueprint("reports", __name__, url_prefix="/api/v1", description="Error reports (数据纠错)")


def reporter_key() -> str:
    """Rate limits count per user (whatever token or session they use), else per address."""
    user = audit.request_user()
    return f"user:{user.id}" if user is not None else get_remote_address()


def report_was_filed(response) -> bool:
    """Only a filed report uses the budget: a refused one (422, or the page's form sent
    back with its errors, which sets g.report_refused) costs the reporter nothing."""
    return response.status_code < 400 and not g.get("report_refused", False)


# One budget for the API and the dataset page's form.
report_limit = limiter.shared_limit(
    lambda: current_app.config["SUBSCRIBE_LIMIT_REPORTS"], scope="error-reports",
    key_func=reporter_key, deduct_when=report_was_filed,
)  # fmt: skip


def view(report, context: dict, *, operator: bool = False) -> dict:
    """A report as the API shows it; `operator` adds who reported and handled it."""
    item = {name: getattr(report, name) for name in (
        "id", "dataset_id", "resource_id", "field", "row", "column", "description",
        "proposed_value", "evidence_url", "state", "reason", "created_at", "updated_at",
        "acknowledged_at", "closed_at", "hidden")}  # fmt: skip
    item["resource_name"] = context["resources"].get(report.resource_id)
    item["dataset_title"] = context["datasets"].get(report.dataset_id, "")
    if operator:
        item["reporter"] = context["users"].get(report.user_id)
        item["handled_by"] = context["users"].get(report.handled_by_id)
    return item


def _page(result: dict, operator: bool = False) -> dict:
    context = services.context(result["items"])
    return {**result, "items": [view(r, context, operator=operator) for r in result["items"]]}


@blp.post("/datasets/<int:dataset_id>/reports")
@blp.auth_required()
@report_limit
@blp.arguments(ErrorReportCreateSchema)
@blp.response(201, ErrorReportSchema)
def create_report(body, dataset_id: int):
    """Report an error in a dataset. 422 for an empty description, an unknown resource or
    one of another dataset, a row without a column, a non-http(s) evidence link; 429
    past SUBSCRIBE_LIMIT_REPORTS."""
    report = services.create_report(g.user, dataset_id, body)
    return view(report, services.context([report]))


@blp.get("/datasets/<int:dataset_id>/reports")
@blp.arguments(PageArgsSchema, location="query", error_status_code=400)
@blp.response(200, PublicReportPageSchema)
def dataset_reports(args, dataset_id: int):
    """A dataset's reports for everyone, newest first — no reporter, hidden ones left out."""
    return _page(services.public_reports(dataset_id, args["page"], args["per_page"]))


@blp.get("/reports")
@blp.auth_required()
@blp.arguments(ReportListArgsSchema, location="query", error_status_code=400)
@blp.response(200, ReportPageSchema)
def list_reports(args):
    """`mine=true`: the caller's own reports. Otherwise (operators only) every report,
    filtered by `state`, `dataset_id`, `hidden`, `q` (text in the description)."""
    page, per_page = args["page"], args["per_page"]
    if args["mine"]:
        return _page(services.own_reports(g.user, page, per_page, args["state"]))
    if not g.user.is_operator:
        raise ForbiddenError("Listing every report is for operators; use mine=true.")
    return _page(services.operator_reports(args, page, per_page), operator=True)


@blp.get("/reports/<int:report_id>")
@blp.auth_required()
@blp.response(200, ErrorReportSchema)
def get_report(report_id: int):
    """One report: the reporter's own, or any for operators."""
    if g.user.is_operator:
        report = services.get_report(report_id)
    else:
        report = services.get_own_report(g.user, report_id)
    return view(report, services.context([report]), operator=g.user.is_operator)


@blp.post("/reports/<int:report_id>/transition")
@blp.auth_required("operator")
@blp.arguments(ReportTransitionSchema)
@blp.response(200, ErrorReportSchema)
def transition(body, report_id: int):
    """Move the report on: open → acknowledged → resolved | rejected. A rejection needs a
    `reason` (422); a move its state does not allow is 409. The reporter is told."""
    report = services.transition(g.user, services.get_report(report_id), body["state"],
                                 body["reason"])  # fmt: skip
    return view(report, services.context([report]), operator=True)


@blp.post("/reports/<int:report_id>/hide")
@blp.auth_required("operator")
@blp.arguments(ReportHideSchema)
@blp.response(200, ErrorReportSchema)
def hide(body, report_id: int):
    """Hide a report as spam (`{"hidden": true}`), or show it again (`false`)."""
    report = services.set_hidden(g.user, services.get_report(report_id), body["hidden"])
    return view(report, services.context([report]), operator=True)
