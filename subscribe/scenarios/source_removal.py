"""Telling users that an operator removed a source their scenarios held datasets of.

A source's datasets go with it (ON DELETE CASCADE): no catalog event can name them
afterwards, and a dataset.deleted per dataset would flood every subscriber of a large
source. Instead each user whose scenarios (query matches or pins) or dataset
subscriptions held live datasets of the source gets one inbox item, in their language,
saying which source went and how many of their datasets with it (bb8 F25).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from subscribe.auth.models import User
from subscribe.catalog.models import Dataset, DatasetVersion, Source
from subscribe.extensions import db
from subscribe.notify.digest import language
from subscribe.notify.models import Notification, Subscription
from subscribe.scenarios import matching
from subscribe.scenarios.models import Scenario
from subscribe.search.docmatch import analyse
from subscribe.search.percolate import ChangedDocs, slots

NOTICE = "source.removed"
BATCH = 1000  # datasets judged at once (as matching's batches of catalog events)


@dataclass
class Held:
    """What one user's scenarios and dataset subscriptions held of a source's datasets:
    how many distinct datasets in all, per scenario, and by dataset subscription."""

    datasets: int = 0
    scenarios: Counter = field(default_factory=Counter)
    subscribed: int = 0


def held_datasets(source: Source) -> dict[int, Held]:
    """User id → Held, for the users whose scenarios or dataset subscriptions held live
    datasets of ``source``. Scenario members are found as matching finds them (the
    percolator), not by running every scenario's query; counted BATCH datasets at a time
    (the batches share no dataset, so per-batch counts add up), so memory stays that of
    one batch whatever the source's size and the number of scenarios."""
    held: dict[int, Held] = defaultdict(Held)
    subscribers: dict[int, set[int]] = defaultdict(set)  # dataset id -> subscribed users
    for user_id, dataset_id in db.session.execute(
        select(Subscription.user_id, Subscription.dataset_id)
        .join(Dataset, Dataset.id == Subscription.dataset_id)
        .where(Dataset.source_id == source.id, Dataset.deleted_at.is_(None))
    ):  # fmt: skip
        subscribers[dataset_id].add(user_id)
        held[user_id].subscribed += 1
    # A percolator of its own, dropped after (a rare operator action; the web process
    # should not keep the matching process's ~40 MB for 100,000 scenarios).
    percolator = matching.PercolatorCache().get()
    owners: dict[int, int] | None = None
    rows = db.session.execute(
        select(Dataset.id, DatasetVersion.snapshot)
        .join(DatasetVersion, (DatasetVersion.dataset_id == Dataset.id)
              & (DatasetVersion.number == Dataset.version))
        .where(Dataset.source_id == source.id, Dataset.deleted_at.is_(None))
        .order_by(Dataset.id)
        .execution_options(yield_per=BATCH)
    )  # fmt: skip
    for batch in rows.partitions(BATCH):
        texts: dict = {}
        ids = [row.id for row in batch]
        changed = ChangedDocs([analyse(row.id, source.id, source.name, row.snapshot or {}, texts)
                               for row in batch])  # fmt: skip
        in_scenarios: dict[int, set[int]] = defaultdict(set)  # scenario -> ids of this batch
        for group in percolator.candidate_groups(changed):
            bits = changed.evaluate(percolator.plans[group])
            if not bits:
                continue
            found = {ids[slot] for slot in slots(bits)}
            for scenario_id in percolator.members[group]:
                in_scenarios[scenario_id] |= found
        by_user: dict[int, set[int]] = defaultdict(set)  # user -> ids of this batch
        if in_scenarios and owners is None:
            owners = dict(db.session.execute(select(Scenario.id, Scenario.user_id)).all())
        for scenario_id, found in in_scenarios.items():
            if (user_id := (owners or {}).get(scenario_id)) is not None:
                held[user_id].scenarios[scenario_id] += len(found)
                by_user[user_id] |= found
        for dataset_id in ids:
            for user_id in subscribers.get(dataset_id, ()):
                by_user[user_id].add(dataset_id)
        for user_id, found in by_user.items():
            held[user_id].datasets += len(found)
    return held


def title(source_name: str, count: int, lang: str) -> str:
    """The notice's stored title (the inbox says it again in the page's language)."""
    if lang == "en":
        noun = "dataset" if count == 1 else "datasets"
        verb = "is" if count == 1 else "are"
        return f"Source {source_name} was removed: {count} {noun} you follow {verb} gone"
    return f"数据源 {source_name} 已移除：您关注的 {count} 个数据集随之删除"


def tell_source_removed(source: Source) -> int:
    """Add the notices, in the transaction that deletes the source (before it does: the
    datasets are read). How many users were told."""
    held = held_datasets(source)
    if not held:
        return 0
    scenario_ids = {s for found in held.values() for s in found.scenarios}
    names = dict(
        db.session.execute(select(Scenario.id, Scenario.name).where(Scenario.id.in_(scenario_ids)))
        .all()
    ) if scenario_ids else {}  # fmt: skip
    locales = dict(db.session.execute(select(User.id, User.locale).where(User.id.in_(held))).all())
    for user_id, found in sorted(held.items()):
        count = found.datasets or found.subscribed  # (a dataset without a version row)
        scenarios = [{"id": s, "name": names.get(s, ""), "datasets": n}
                     for s, n in sorted(found.scenarios.items())]  # fmt: skip
        db.session.add(Notification(
            user_id=user_id, type=NOTICE,
            title=title(source.name, count, language(locales.get(user_id))),
            payload={"type": NOTICE,
                     "data": {"source": {"id": source.id, "name": source.name},
                              "datasets": count, "scenarios": scenarios,
                              "subscribed_datasets": found.subscribed}},
        ))  # fmt: skip
    return len(held)
