"""What an error report tells others: the reporter (inbox + e-mail) of each state change,
and subscribers who opted into `dataset.feedback` (dataset subscriptions, and scenario
subscriptions whose scenario holds the dataset). Rows go into the outbox in the
caller's transaction, like every other message (notify/outbox.py)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import insert, select

from subscribe.auth.models import User
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.feedback.models import ErrorReport
from subscribe.models_base import utcnow
from subscribe.notify import outbox, payloads
from subscribe.notify.models import Delivery, Notification, Subscription
from subscribe.scenarios.models import Scenario
from subscribe.scenarios.services import member_ids

FEEDBACK_EVENT = "dataset.feedback"
REPORTER_EVENT = "report.state"
TITLES = {  # stored in the reporter's language; the inbox page says it in its own (web/inbox.py)
    "open": ("新的纠错", "new error report"),
    "acknowledged": ("纠错已受理", "error report acknowledged"),
    "resolved": ("纠错已确认", "error report resolved"),
    "rejected": ("纠错未采纳", "error report rejected"),
}


def message(event_type: str, report: ErrorReport, dataset: Dataset) -> dict:
    """The thin message: ids, links, the state and the operator's reason — never who
    reported it or what they wrote (the report's page has that for those allowed)."""
    base = current_app.config["SUBSCRIBE_BASE_URL"].rstrip("/")
    message_id = payloads.new_message_id()
    data = {
        "event_id": message_id,
        "dataset": {"id": dataset.id, "title": dataset.title,
                    "url": f"{base}/datasets/{dataset.id}",
                    "api_url": f"{base}/api/v1/datasets/{dataset.id}"},
        "report": {"id": report.id, "state": report.state,
                   "api_url": f"{base}/api/v1/reports/{report.id}"},
        "reason": report.state,
        "changes": [{"kind": "feedback", "report_id": report.id, "state": report.state,
                     "note": report.reason or ""}],
    }  # fmt: skip
    return payloads.cap({"type": event_type, "timestamp": utcnow().isoformat() + "Z", "data": data})


def tell_reporter(report: ErrorReport, dataset: Dataset) -> None:
    """An inbox item and an e-mail (through the outbox, so SMTP trouble is retried) to
    the person who filed the report."""
    if report.user_id is None:
        return
    zh, en = TITLES[report.state]
    reporter = db.session.get(User, report.user_id)
    said = en if reporter is not None and reporter.locale == "en" else zh  # as the e-mail
    body = message(REPORTER_EVENT, report, dataset)
    body["data"]["report"]["url"] = (
        current_app.config["SUBSCRIBE_BASE_URL"].rstrip("/") + "/reports/mine"
    )
    db.session.add(Notification(
        user_id=report.user_id, type=REPORTER_EVENT,
        title=f"{said} #{report.id}: {dataset.title}", payload=body,
    ))  # fmt: skip
    db.session.add(Delivery(
        message_id=body["data"]["event_id"], user_id=report.user_id, channel="email",
        event_type=REPORTER_EVENT, payload=body, status="pending", attempts=0,
        next_attempt_at=utcnow(), created_at=utcnow(),
    ))  # fmt: skip


def feedback_event(report: ErrorReport, dataset: Dataset) -> int:
    """Queue dataset.feedback for every active subscription that asked for it and
    covers the dataset; one inbox item per user. Returns how many rows were queued."""
    wanting = [
        s for s in db.session.scalars(
            select(Subscription).where(Subscription.active.is_(True),
                                       Subscription.push == "alert")
        )
        if FEEDBACK_EVENT in (s.events or ())
    ]  # fmt: skip
    if not wanting:
        return 0
    holding = _scenarios_holding(dataset.id, {s.scenario_id for s in wanting if s.scenario_id})
    now, rows, inboxes = utcnow(), [], set()
    for subscription in wanting:
        if subscription.user_id == report.user_id:
            continue  # the reporter hears of their own report once, from tell_reporter
        if subscription.dataset_id is not None and subscription.dataset_id != dataset.id:
            continue
        if subscription.scenario_id is not None and subscription.scenario_id not in holding:
            continue
        if subscription.channel == "inbox":
            if subscription.user_id in inboxes:
                continue
            inboxes.add(subscription.user_id)
        body = message(FEEDBACK_EVENT, report, dataset)
        if subscription.scenario_id is not None:
            body["data"]["scenario"] = holding[subscription.scenario_id]
        rows.append(outbox.row(subscription, FEEDBACK_EVENT, body, now))
    if rows:
        db.session.execute(insert(Delivery), rows)
    return len(rows)


def _scenarios_holding(dataset_id: int, scenario_ids: set[int]) -> dict[int, dict]:
    """{scenario id: {"id", "name"}} of those scenarios that have the dataset as a member
    (the search engine's own definition: words, filters, pins and exclusions)."""
    if not scenario_ids:
        return {}
    found = {}
    for scenario in db.session.scalars(select(Scenario).where(Scenario.id.in_(scenario_ids))):
        if dataset_id in (scenario.exclude or ()):
            continue
        if dataset_id in (scenario.include or ()) or bool(
            (member_ids(scenario) == dataset_id).any()
        ):
            found[scenario.id] = {"id": scenario.id, "name": scenario.name}
    return found
