"""Error reports: create, list, transition, hide — and the counts other packages read."""

from __future__ import annotations

from collections.abc import Iterable

from marshmallow import ValidationError
from marshmallow.validate import URL
from sqlalchemy import func, select

from subscribe.audit import services as audit
from subscribe.auth.models import User
from subscribe.catalog.models import Dataset, Resource
from subscribe.catalog.text import clean_paragraphs, visible_length
from subscribe.errors import ConflictError, InvalidInputError, NotFoundError
from subscribe.extensions import db
from subscribe.feedback import events
from subscribe.feedback.models import (
    CONFIRMED_STATE,
    REPORT_STATES,
    TRANSITIONS,
    ErrorReport,
)
from subscribe.models_base import utcnow
from subscribe.paging import paginate


def confirmed_report_counts(dataset_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Confirmed errors per dataset: {dataset id: number of reports in state `resolved`}.

    `dataset_ids` None means every dataset; datasets without a confirmed report are
    absent (read a missing key as 0). Hidden (spam) reports never count. One query
    (ids are sent in chunks of 5,000 to stay under drivers' parameter limits).
    """
    base = (
        select(ErrorReport.dataset_id, func.count())
        .where(ErrorReport.state == CONFIRMED_STATE, ErrorReport.hidden.is_(False))
        .group_by(ErrorReport.dataset_id)
    )
    if dataset_ids is None:
        return {int(d): int(n) for d, n in db.session.execute(base)}
    ids = sorted({int(i) for i in dataset_ids})
    counts: dict[int, int] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        rows = db.session.execute(base.where(ErrorReport.dataset_id.in_(chunk)))
        counts.update((int(d), int(n)) for d, n in rows)
    return counts


# --- reports -----------------------------------------------------------------------------

MAX_DESCRIPTION = 5000
MAX_PROPOSED = 5000
MIN_DESCRIPTION = 5  # characters: "错了" says nothing an operator can act on


def get_report(report_id: int) -> ErrorReport:
    report = db.session.get(ErrorReport, report_id)
    if report is None:
        raise NotFoundError("No such error report.")
    return report


def get_own_report(user: User, report_id: int) -> ErrorReport:
    """The caller's report; anyone else's is as missing as a wrong id (404)."""
    report = db.session.get(ErrorReport, report_id)
    if report is None or report.user_id != user.id:
        raise NotFoundError("No such error report.")
    return report


def _text(values: dict, name: str, limit: int) -> str | None:
    """User text cleaned like catalog text (controls out, line breaks kept); None when
    nothing visible is left (zero-width characters only count as empty)."""
    value = values.get(name)
    if value is None:
        return None
    value = clean_paragraphs(str(value))
    return value[:limit] if visible_length(value) else None


def _validated(dataset: Dataset, values: dict) -> dict:
    """The report's fields, checked: 422 with an error per field, all at once."""
    errors: dict[str, list[str]] = {}
    clean = {
        "description": _text(values, "description", MAX_DESCRIPTION) or "",
        "proposed_value": _text(values, "proposed_value", MAX_PROPOSED),
        "field": _text(values, "field", 100),
        "column": _text(values, "column", 200),
        "evidence_url": _text(values, "evidence_url", 2000),
        "row": values.get("row"),
        "resource_id": values.get("resource_id"),
    }
    if visible_length(clean["description"]) < MIN_DESCRIPTION:
        errors["description"] = [f"Say what is wrong (at least {MIN_DESCRIPTION} characters)."]
    resource_id = clean["resource_id"]
    if resource_id is not None:
        resource = db.session.get(Resource, resource_id)
        if resource is None:
            errors["resource_id"] = ["No such resource."]
        elif resource.dataset_id != dataset.id:
            errors["resource_id"] = ["This resource belongs to another dataset."]
    row, column = clean["row"], clean["column"]
    if row is not None and (not isinstance(row, int) or isinstance(row, bool) or row < 1):
        errors["row"] = ["A row number from 1."]
    if (row is None) != (column is None):
        errors["row" if row is None else "column"] = ["Give the row and the column together."]
    if row is not None and resource_id is None:
        errors.setdefault("resource_id", ["A row and column point into a file: choose it."])
    if clean["field"] and (row is not None or column is not None):
        errors["field"] = ["Give a field, or a row and a column, not both."]
    url = clean["evidence_url"]
    if url is not None:
        try:
            URL(schemes={"http", "https"}, require_tld=False)(url)
        except ValidationError:
            errors["evidence_url"] = ["An http(s) link to the evidence."]
    if errors:
        raise InvalidInputError("The error report is not valid; see errors.", errors)
    return clean


def create_report(user: User, dataset_id: int, values: dict) -> ErrorReport:
    """File a report on a dataset (404 if it does not exist; 422 for an empty report, an
    unknown resource or another dataset's). Subscribers who opted into dataset.feedback
    hear of it; the audit trail keeps it."""
    dataset = db.session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFoundError("No such dataset.")
    clean = _validated(dataset, values)
    now = utcnow()
    report = ErrorReport(dataset_id=dataset.id, user_id=user.id, state="open", hidden=False,
                         created_at=now, updated_at=now, **clean)  # fmt: skip
    db.session.add(report)
    db.session.flush()
    audit.record("report.create", "report", report.id,
                 {"dataset_id": dataset.id, "resource_id": report.resource_id}, actor=user)  # fmt: skip
    events.feedback_event(report, dataset)
    db.session.commit()
    return report


def transition(operator: User, report: ErrorReport, state: str, reason: str | None) -> ErrorReport:
    """Move a report on: open → acknowledged → resolved | rejected (open may close at
    once). 422 for an unknown state or a rejection without a reason; 409 for a move
    its state does not allow (e.g. from resolved). The reporter is told (inbox and
    e-mail); dataset.feedback subscribers hear of it."""
    if state not in REPORT_STATES:
        raise InvalidInputError("Unknown state.", {"state": [f"one of {', '.join(REPORT_STATES)}"]})
    reason = clean_paragraphs(reason or "")[:MAX_DESCRIPTION]
    reason = reason if visible_length(reason) else None
    if state == "rejected" and not reason:
        raise InvalidInputError(
            "Say why the report is rejected.", {"reason": ["Required to reject."]}
        )
    allowed = TRANSITIONS[report.state]
    if state not in allowed:
        raise ConflictError(
            f"A report that is {report.state} cannot become {state}.",
            {"state": [f"from {report.state}: {', '.join(allowed) or 'no further state'}"]},
        )
    before, now = report.state, utcnow()
    report.state, report.updated_at, report.handled_by_id = state, now, operator.id
    if reason is not None or state != "acknowledged":
        report.reason = reason
    if state == "acknowledged":
        report.acknowledged_at = now
    else:
        report.closed_at = now
    audit.record("report.transition", "report", report.id,
                 {"from": before, "to": state, "reason": reason, "dataset_id": report.dataset_id},
                 actor=operator)  # fmt: skip
    if not report.hidden:
        dataset = db.session.get(Dataset, report.dataset_id)
        events.tell_reporter(report, dataset)
        events.feedback_event(report, dataset)
    db.session.commit()
    return report


def set_hidden(operator: User, report: ErrorReport, hidden: bool) -> ErrorReport:
    """Hide a report as spam (out of public lists, counts and notifications), or show it
    again. Hidden reports stay for operators and in the audit trail."""
    if report.hidden != hidden:
        report.hidden, report.updated_at = hidden, utcnow()
        report.hidden_at = report.updated_at if hidden else None
        audit.record("report.hide" if hidden else "report.unhide", "report", report.id,
                     {"dataset_id": report.dataset_id}, actor=operator)  # fmt: skip
        db.session.commit()
    return report


def public_reports(dataset_id: int, page: int, per_page: int) -> dict:
    """A dataset's reports for everyone, newest first: hidden ones left out (404 for an
    unknown dataset). Items are ErrorReports; show them without `user_id`."""
    if db.session.get(Dataset, dataset_id) is None:
        raise NotFoundError("No such dataset.")
    query = (
        select(ErrorReport)
        .where(ErrorReport.dataset_id == dataset_id, ErrorReport.hidden.is_(False))
        .order_by(ErrorReport.id.desc())
    )
    return paginate(query, page, per_page)


def own_reports(user: User, page: int, per_page: int, state: str | None = None) -> dict:
    """The user's reports (hidden ones too: they filed them), newest first."""
    query = select(ErrorReport).where(ErrorReport.user_id == user.id)
    if state:
        query = query.where(ErrorReport.state == state)
    return paginate(query.order_by(ErrorReport.id.desc()), page, per_page)


def operator_reports(filters: dict, page: int, per_page: int) -> dict:
    """Reports for operators: filters `state`, `dataset_id`, `hidden` (None: both),
    `q` (text in the description). Oldest open first when filtered to open, else newest."""
    query = select(ErrorReport)
    if filters.get("state"):
        query = query.where(ErrorReport.state == filters["state"])
    if filters.get("dataset_id"):
        query = query.where(ErrorReport.dataset_id == filters["dataset_id"])
    if filters.get("hidden") is not None:
        query = query.where(ErrorReport.hidden.is_(bool(filters["hidden"])))
    if filters.get("q"):
        query = query.where(ErrorReport.description.contains(filters["q"], autoescape=True))
    order = ErrorReport.id if filters.get("state") == "open" else ErrorReport.id.desc()
    return paginate(query.order_by(order), page, per_page)


def context(reports: list[ErrorReport]) -> dict:
    """Names the pages and API show beside reports: {"datasets": {id: title},
    "resources": {id: name}, "users": {id: email}} in three queries."""
    dataset_ids = {r.dataset_id for r in reports}
    resource_ids = {r.resource_id for r in reports if r.resource_id}
    user_ids = {r.user_id for r in reports if r.user_id} | {
        r.handled_by_id for r in reports if r.handled_by_id
    }
    return {
        "datasets": dict(db.session.execute(
            select(Dataset.id, Dataset.title).where(Dataset.id.in_(dataset_ids))).all()),
        "resources": dict(db.session.execute(
            select(Resource.id, Resource.name).where(Resource.id.in_(resource_ids))).all()),
        "users": dict(db.session.execute(
            select(User.id, User.email).where(User.id.in_(user_ids))).all()),
    }  # fmt: skip
