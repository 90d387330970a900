"""Asking for bundles: by a user through the API, or by a `push: bundle` subscription."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from subscribe.bundles.models import Bundle
from subscribe.extensions import db
from subscribe.notify.models import Subscription


def new_bundle(user_id: int, *, scenario_id: int | None = None, dataset_id: int | None = None,
               mode: str = "all", since: datetime | None = None,
               subscription_id: int | None = None) -> Bundle:  # fmt: skip
    bundle = Bundle(
        user_id=user_id, scenario_id=scenario_id, dataset_id=dataset_id, mode=mode, since=since,
        subscription_id=subscription_id, status="queued", skipped=[],
    )  # fmt: skip
    db.session.add(bundle)
    return bundle


def queue_for_subscriptions(subscriptions: list[Subscription]) -> int:
    """One queued incremental bundle per `push: bundle` subscription that saw changes.

    Runs in the matching transaction. A bundle still queued will see these changes when
    it is built, so a second one is not needed; one already building gets a successor.
    """
    if not subscriptions:
        return 0
    waiting = set(
        db.session.scalars(
            select(Bundle.subscription_id).where(
                Bundle.subscription_id.in_([s.id for s in subscriptions]),
                Bundle.status == "queued",
            )
        )
    )
    queued = 0
    for subscription in {s.id: s for s in subscriptions}.values():
        if subscription.id in waiting:
            continue
        new_bundle(
            subscription.user_id, scenario_id=subscription.scenario_id,
            dataset_id=subscription.dataset_id, mode="changed", subscription_id=subscription.id,
        )  # fmt: skip
        queued += 1
    return queued
