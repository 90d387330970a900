"""Pushed suggestions: `dataset.suggested` for newly harvested datasets that fit a
scenario well, to the subscriptions that opted in.

Called by matching (scenarios/matching.py) with each batch's catalog events, in the
matching transaction, so a suggestion commits with the events that caused it (exactly
once, like every other delivery). Cheap when nobody opted in: one indexed-free query on
the subscriptions' event lists (few rows; 100,000 scenarios have far fewer
subscriptions), nothing else. For each opted-in scenario the profile is built once and
kept (`ProfileCache`) until the scenario or the catalog moves on; each new dataset is
scored from its own snapshot (it may not be in the search index yet).

Rules: only `dataset.created` of a new dataset (not a restore, not a source's first
harvest: matching drops those before), not already a member (it then gets its own
`dataset.created`), never one the scenario excludes or its owner voted down anywhere,
fit ≥ SUBSCRIBE_SUGGEST_PUSH_MIN_FIT, and at most SUBSCRIBE_SUGGEST_PUSH_MAX waiting per
subscription (unsent suggestions count: a daily digest holds at most that many).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict

from flask import current_app
from sqlalchemy import String, cast, func, select

from subscribe.catalog.models import CatalogEvent
from subscribe.extensions import db
from subscribe.notify import outbox
from subscribe.notify.models import Delivery, Subscription
from subscribe.scenarios.models import Scenario
from subscribe.suggest import profile as model
from subscribe.suggest import reasons
from subscribe.suggest.services import doc_of, scenario_profile, voted_down

EVENT = "dataset.suggested"
PROFILE_TTL = 600.0  # seconds a cached profile serves while the catalog changes


class ProfileCache:
    """scenario id → (key, built at, profile); key = (updated_at, columns' sequence)."""

    def __init__(self, size: int = 2000):
        self.size = size
        self.lock = threading.Lock()
        self.entries: OrderedDict[int, tuple] = OrderedDict()

    def get(self, scenario: Scenario) -> model.Profile:
        key = scenario.updated_at
        with self.lock:
            found = self.entries.get(scenario.id)
            if found and found[0] == key and time.monotonic() - found[1] < PROFILE_TTL:
                self.entries.move_to_end(scenario.id)
                return found[2]
        profile = scenario_profile(scenario)
        with self.lock:
            self.entries[scenario.id] = (key, time.monotonic(), profile)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return profile

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()


profiles = ProfileCache()


def opted_in() -> list[Subscription]:
    """Active scenario subscriptions whose events name dataset.suggested."""
    like = cast(Subscription.events, String).like(f'%"{EVENT}"%')
    found = db.session.scalars(
        select(Subscription).where(
            Subscription.active.is_(True), Subscription.scenario_id.is_not(None), like
        )
    ).all()
    return [s for s in found if EVENT in (s.events or ())]


def _new_datasets(events: list[CatalogEvent]) -> list[CatalogEvent]:
    return [
        e
        for e in events
        if e.type == "dataset.created"
        and e.after
        and not any(c.get("kind") == "restored" for c in e.changes or ())
    ]


def _waiting(subscription_ids: list[int]) -> dict[int, int]:
    """Suggestions not yet sent, per subscription."""
    return dict(
        db.session.execute(
            select(Delivery.subscription_id, func.count())
            .where(Delivery.subscription_id.in_(subscription_ids), Delivery.event_type == EVENT,
                   Delivery.status.in_(("pending", "delivering")))
            .group_by(Delivery.subscription_id)
        ).all()
    )  # fmt: skip


def enqueue_suggestions(events: list[CatalogEvent], matches: list[tuple],
                        cache: ProfileCache = profiles) -> int:  # fmt: skip
    """Queue `dataset.suggested` deliveries for a matched batch; returns how many.
    `matches`: matching's (scenario_id, catalog_event_id, type, reason, because)."""
    new = _new_datasets(events)
    if not new:
        return 0
    subscriptions = opted_in()
    if not subscriptions:
        return 0
    config = current_app.config
    min_fit, cap = config["SUBSCRIBE_SUGGEST_PUSH_MIN_FIT"], config["SUBSCRIBE_SUGGEST_PUSH_MAX"]
    dataset_of = {e.id: e.dataset_id for e in events}
    entered = {(m[0], dataset_of.get(m[1])) for m in matches}
    scenarios = {
        s.id: s
        for s in db.session.scalars(
            select(Scenario).where(Scenario.id.in_({s.scenario_id for s in subscriptions}))
        )
    }
    down = voted_down({s.user_id for s in subscriptions})
    waiting = _waiting([s.id for s in subscriptions])
    docs = {e.id: doc_of(e.dataset_id, e.after) for e in new}
    scored: dict[int, list[tuple[float, CatalogEvent, list[dict]]]] = {}
    targets = []
    for subscription in subscriptions:
        scenario = scenarios.get(subscription.scenario_id)
        room = cap - waiting.get(subscription.id, 0)
        if scenario is None or room <= 0:
            continue
        if scenario.id not in scored:
            scored[scenario.id] = _score(scenario, new, docs, entered, min_fit, cache)
        never = down.get(subscription.user_id, set())
        chosen = [item for item in scored[scenario.id] if item[1].dataset_id not in never][:room]
        ref = {"id": scenario.id, "name": scenario.name}
        for fit, event, explained in chosen:
            text = reasons.both(explained)
            targets.append((subscription, event, EVENT, {
                "reason": "suggested", "scenario": ref, "matched_because": {"suggested": text},
                "suggestion": {"fit": round(fit, 4), "reasons": explained, "text": text},
            }))  # fmt: skip
    return outbox.enqueue_targets(targets) if targets else 0


def _score(scenario: Scenario, new, docs, entered, min_fit: float, cache: ProfileCache):
    """[(fit, event, reasons)] of the new datasets that fit the scenario, best first."""
    skip = set(scenario.include or ()) | set(scenario.exclude or ())
    candidates = [
        e for e in new if e.dataset_id not in skip and (scenario.id, e.dataset_id) not in entered
    ]
    if not candidates:
        return []
    profile = cache.get(scenario)
    if profile.empty:
        return []
    members = set(profile.members.tolist())
    found = []
    for event in candidates:
        if event.dataset_id in profile.excluded or event.dataset_id in members:
            continue
        doc = docs[event.id]
        fit = model.score_doc(profile, doc)
        if fit >= min_fit:
            found.append((fit, event, model.explain(profile, doc)))
    found.sort(key=lambda item: (-item[0], item[1].dataset_id))
    return found
