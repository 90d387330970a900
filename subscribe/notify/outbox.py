"""Writing deliveries with the events that cause them, and claiming due ones for sending."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import insert, or_, select, update

from subscribe.bundles.queue import queue_for_subscriptions
from subscribe.catalog.models import CatalogEvent
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify import payloads
from subscribe.notify.digest import next_digest_at
from subscribe.notify.models import Delivery, Subscription
from subscribe.scenarios.models import Scenario, ScenarioEvent

# Standard Webhooks' recommended schedule after the first attempt, ±20% jitter.
RETRY_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)
JITTER = 0.2


def first_attempt_at(subscription: Subscription, now: datetime) -> datetime:
    """Now, or the subscription's next digest time (its hour in its time zone)."""
    if subscription.cadence == "immediate":
        return now
    return next_digest_at(subscription, now)


def row(subscription: Subscription, event_type: str, body: dict, now: datetime) -> dict:
    return {
        "message_id": body["data"]["event_id"], "subscription_id": subscription.id,
        "user_id": subscription.user_id, "endpoint_id": subscription.endpoint_id,
        "channel": subscription.channel, "event_type": event_type, "payload": body,
        "status": "pending", "attempts": 0, "next_attempt_at": first_attempt_at(subscription, now),
        "created_at": now,
    }  # fmt: skip


def wants(subscription: Subscription, event: CatalogEvent, event_type: str) -> bool:
    """The subscription asked for this type, and the change was detected while it was on
    (a new subscription does not receive the catalog's history)."""
    start = subscription.active_since or subscription.created_at
    return event_type in subscription.events and (start is None or event.created_at >= start)


def _enqueue(targets: Iterable[tuple[Subscription, CatalogEvent, str, dict]],
             catching_up: bool = False) -> int:  # fmt: skip
    """Deliveries for (subscription, catalog event, event type, what the message adds) when
    the subscription wants that type; `push: bundle` subscriptions queue a bundle instead.

    The inbox gets one item per change and user: a change several of the user's scenarios
    matched is one row naming them all (`data.scenarios`)."""
    base, now, rows, bundles = current_app.config["SUBSCRIBE_BASE_URL"], utcnow(), [], []
    inbox: dict[tuple[int, int], dict] = {}  # (user, catalog event) → its row
    for subscription, event, event_type, extra in targets:
        if not (
            event_type in subscription.events
            if catching_up
            else wants(subscription, event, event_type)
        ):
            continue
        if subscription.push == "bundle":  # the changes go out as one bundle.ready
            bundles.append(subscription)
            continue
        if subscription.channel == "inbox" and (subscription.user_id, event.id) in inbox:
            _also_matched(inbox[subscription.user_id, event.id], extra.get("scenario"))
            continue
        body = payloads.message(
            payloads.new_message_id(), event_type, now, base, dataset_id=event.dataset_id,
            snapshot=event.after or event.before, version=event.version, changes=event.changes,
            **extra,
        )  # fmt: skip
        rows.append(row(subscription, event_type, body, now))
        if subscription.channel == "inbox":
            inbox[subscription.user_id, event.id] = rows[-1]
            _also_matched(rows[-1], extra.get("scenario"))
    if rows:
        db.session.execute(insert(Delivery), rows)
    return len(rows) + queue_for_subscriptions(bundles)


def enqueue_targets(targets: list[tuple[Subscription, CatalogEvent, str, dict]]) -> int:
    """Deliveries for other producers' (subscription, catalog event, event type, extra)
    (suggest/push.py's `dataset.suggested`), in the caller's transaction."""
    return _enqueue(targets)


def _also_matched(inbox_row: dict, scenario: dict | None) -> None:
    """Add a scenario to the inbox item's list of scenarios the change matched."""
    if scenario is None:
        return
    named = inbox_row["payload"]["data"].setdefault("scenarios", [])
    if all(s["id"] != scenario["id"] for s in named):
        named.append(scenario)


def enqueue_changes(matches: list[tuple], events: list[CatalogEvent]) -> int:
    """Deliveries for a matched batch, in the matching transaction: scenario subscriptions
    for `matches` (scenario_id, catalog_event_id, event type, reason, matched_because) and
    dataset subscriptions for every event of their dataset — in one pass, so one change
    is one inbox item per user however many of the user's subscriptions it concerns."""
    by_id = {e.id: e for e in events}
    return _enqueue([*_scenario_targets(matches, by_id), *_dataset_targets(events)])


def _scenario_targets(matches: list[tuple], events: dict[int, CatalogEvent]) -> list[tuple]:
    by_scenario = defaultdict(list)
    if not matches:
        return []
    # Subscriptions are far fewer than scenario events: load them all, filter here.
    wanted = {m[0] for m in matches}
    for subscription in db.session.scalars(
        select(Subscription).where(
            Subscription.scenario_id.is_not(None), Subscription.active.is_(True)
        )
    ):
        if subscription.scenario_id in wanted:
            by_scenario[subscription.scenario_id].append(subscription)
    if not by_scenario:
        return []
    names = dict(
        db.session.execute(
            select(Scenario.id, Scenario.name).where(Scenario.id.in_(by_scenario))
        ).all()
    )
    return [
        (subscription, events[event_id], event_type, {
            "reason": reason, "matched_because": because,
            "scenario": {"id": scenario_id, "name": names.get(scenario_id, "")},
        })
        for scenario_id, event_id, event_type, reason, because in matches
        for subscription in by_scenario.get(scenario_id, ())
    ]  # fmt: skip


def _dataset_targets(events: list[CatalogEvent]) -> list[tuple]:
    """Subscriptions to single datasets: every change of that dataset."""
    dataset_ids = {e.dataset_id for e in events}
    subscriptions = defaultdict(list)
    for subscription in db.session.scalars(
        select(Subscription).where(
            Subscription.dataset_id.in_(dataset_ids), Subscription.active.is_(True)
        )
    ):
        subscriptions[subscription.dataset_id].append(subscription)
    return [
        (subscription, event, event.type, {"matched_because": {"dataset": event.dataset_id}})
        for event in events
        for subscription in subscriptions.get(event.dataset_id, ())
    ]


def catch_up(subscription: Subscription, since: datetime) -> int:
    """Queue what a subscription missed while it was off (changes detected since `since`),
    when its owner switches it back on with `catch_up`. Runs in the caller's transaction."""
    if subscription.scenario_id is not None:
        scenario = db.session.get(Scenario, subscription.scenario_id)
        found = db.session.execute(
            select(ScenarioEvent, CatalogEvent)
            .join(CatalogEvent, CatalogEvent.id == ScenarioEvent.catalog_event_id)
            .where(ScenarioEvent.scenario_id == subscription.scenario_id,
                   CatalogEvent.created_at >= since)
            .order_by(ScenarioEvent.id)
        ).all()  # fmt: skip
        scenario_ref = {"id": scenario.id, "name": scenario.name}
        targets = [
            (subscription, event, item.type,
             {"reason": item.payload.get("reason"), "scenario": scenario_ref,
              "matched_because": item.payload.get("matched_because")})
            for item, event in found
        ]  # fmt: skip
    else:
        events = db.session.scalars(
            select(CatalogEvent)
            .where(CatalogEvent.dataset_id == subscription.dataset_id, CatalogEvent.created_at >= since)
            .order_by(CatalogEvent.id)
        )  # fmt: skip
        targets = [(subscription, e, e.type, {"matched_because": {"dataset": e.dataset_id}})
                   for e in events]  # fmt: skip
    return _enqueue(targets, catching_up=True)


def cancel_queued(subscription: Subscription, reason: str) -> int:
    """Cancel the subscription's messages still waiting to be sent (pending: due now, at a
    digest's hour or for a retry), in the caller's transaction. A paused or unsubscribed
    subscription must not keep sending what was queued before; the rows stay in the
    delivery log as `cancelled` with the reason in `last_error`. Returns how many."""
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.subscription_id == subscription.id, Delivery.status == "pending")
        .values(status="cancelled", last_error=reason, claimed_until=None, claimed_by=None)
    )
    return result.rowcount


def follow_subscription(subscription: Subscription, retarget: bool, reschedule: bool) -> int:
    """Messages still waiting follow a changed subscription, in the caller's transaction:
    event types it no longer wants are cancelled; with `retarget` the rest go to its
    channel and endpoint now (not to the one it left); with `reschedule` first attempts
    wait for its new cadence's time. Returns how many were cancelled."""
    waiting = (Delivery.subscription_id == subscription.id, Delivery.status == "pending")
    unwanted = Delivery.event_type.like("dataset.%") & Delivery.event_type.not_in(
        list(subscription.events)
    )
    cancelled = db.session.execute(
        update(Delivery)
        .where(*waiting, unwanted)
        .values(status="cancelled", last_error="event type no longer subscribed")
    ).rowcount
    due = first_attempt_at(subscription, utcnow())
    if retarget:
        db.session.execute(
            update(Delivery).where(*waiting).values(
                channel=subscription.channel, endpoint_id=subscription.endpoint_id,
                next_attempt_at=due,
            )
        )  # fmt: skip
    elif reschedule:
        db.session.execute(
            update(Delivery).where(*waiting, Delivery.attempts == 0).values(next_attempt_at=due)
        )
    return cancelled


def restore_cancelled(subscription: Subscription) -> int:
    """Queue again the messages cancelled when the subscription was paused (a resume with
    catch-up wants everything it missed, including what was waiting at the pause)."""
    result = db.session.execute(
        update(Delivery)
        .where(Delivery.subscription_id == subscription.id, Delivery.status == "cancelled")
        .values(status="pending", next_attempt_at=first_attempt_at(subscription, utcnow()),
                last_error=None)
    )  # fmt: skip
    return result.rowcount


def claim_due(worker: str, limit: int, lease_seconds: int = 120) -> list[int]:
    """Take up to `limit` due deliveries (or ones whose claim lapsed: a worker died).

    PostgreSQL: FOR UPDATE SKIP LOCKED, so any number of workers share the queue
    without waiting on each other. SQLite runs one delivery worker.
    """
    now = utcnow()
    due = (
        select(Delivery.id)
        .where(
            or_(
                (Delivery.status == "pending") & (Delivery.next_attempt_at <= now),
                (Delivery.status == "delivering") & (Delivery.claimed_until < now),
            )
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = db.session.scalars(
        update(Delivery)
        .where(Delivery.id.in_(due.scalar_subquery()))
        .values(
            status="delivering",
            claimed_by=worker,
            claimed_until=now + timedelta(seconds=lease_seconds),
        )
        .returning(Delivery.id)
    ).all()
    db.session.commit()
    return list(ids)


def retry_delay(attempts: int, retry_after: float | None = None) -> float | None:
    """Seconds before the next try, or None when the schedule is used up."""
    if attempts > len(RETRY_SCHEDULE):
        return None
    base = RETRY_SCHEDULE[attempts - 1]
    delay = base * random.uniform(1 - JITTER, 1 + JITTER)
    if retry_after is not None:
        delay = max(delay, min(retry_after, 86_400.0))
    return delay
