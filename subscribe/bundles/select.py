"""What goes into a bundle: the members' resources, or only the changed ones since a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from subscribe.catalog.baseline import first_harvest_finished, is_initial_load
from subscribe.catalog.models import CatalogEvent, Dataset, Resource, Source
from subscribe.extensions import db

# Listed in the bundle but never fetched: the publisher decides who gets these.
RESTRICTED_OPEN_TYPES = frozenset({"conditional", "on_request", "not_open"})
CHUNK = 500


@dataclass(frozen=True)
class Item:
    """One resource to fetch (or to list as skipped, when `skip` says why)."""

    dataset: dict
    resource: dict
    skip: str | None = None


def dataset_info(dataset: Dataset) -> dict:
    return {
        "id": dataset.id, "title": dataset.title, "publisher": dataset.publisher,
        "license": dataset.license, "landing_page": dataset.landing_page,
        "open_type": dataset.open_type, "source": dataset.source.name,
        "source_url": dataset.source.url,
    }  # fmt: skip


def changed_resources(dataset_ids: Iterable[int], since: datetime) -> dict[int, set | None]:
    """dataset id → keys of resources changed after `since` (ids, URLs, upstream ids),
    or None when the whole dataset counts as changed (it was created, or came back).
    A source's first harvest is no change (`catalog/baseline.py`)."""
    changed: dict[int, set | None] = defaultdict(set)
    ids = sorted(set(dataset_ids))
    finished = first_harvest_finished(db.session.scalars(select(Source.id)))
    for start in range(0, len(ids), CHUNK):
        events = db.session.execute(
            select(CatalogEvent.dataset_id, CatalogEvent.type, CatalogEvent.changes,
                   CatalogEvent.version, CatalogEvent.created_at, Dataset.source_id)
            .join(Dataset, Dataset.id == CatalogEvent.dataset_id)
            .where(
                CatalogEvent.dataset_id.in_(ids[start : start + CHUNK]),
                CatalogEvent.created_at > since,
                CatalogEvent.type.in_(("dataset.created", "dataset.updated")),
            )
        )  # fmt: skip
        for dataset_id, kind, changes, version, created_at, source_id in events:
            if is_initial_load(kind, version, created_at, finished.get(source_id)):
                continue
            if kind == "dataset.created" or changed.get(dataset_id, set()) is None:
                changed[dataset_id] = None
                continue
            changed[dataset_id].update(_resource_keys(changes or []))
    return dict(changed)


def _resource_keys(changes: list[dict]) -> set:
    keys: set = set()
    for change in changes:
        if change.get("kind") == "restored":
            return {"*"}
        if "resource_id" in change:  # content checks: content, schema, unavailable
            keys.add(("id", change["resource_id"]))
        if isinstance(change.get("resource"), dict):  # harvest: resource_added
            resource = change["resource"]
            keys.update(("key", resource.get(k)) for k in ("identifier", "url") if resource.get(k))
        if change.get("key"):  # harvest: resource_changed
            keys.add(("key", change["key"]))
            for value in (change.get("fields", {}).get("url") or {}).values():
                keys.add(("key", value))
    return keys


def _wanted(resource, keys: set | None) -> bool:
    if keys is None or "*" in keys:
        return True
    return (
        ("id", resource.id) in keys
        or ("key", resource.identifier) in keys
        or ("key", resource.url) in keys
    )


def differing_hashes(dataset_ids: Iterable[int], recorded: dict[int, str]) -> dict[int, set]:
    """dataset id → keys of its resources whose last checked SHA-256 differs from the one
    `recorded` (resource id → hash, from earlier bundles) holds. A file never checked,
    checked only in part (over the check's download cap), or not in an earlier bundle, is
    left to the change events."""
    wanted = set(dataset_ids)
    ids = sorted(recorded)
    found: dict[int, set] = defaultdict(set)
    for start in range(0, len(ids), CHUNK):
        rows = db.session.execute(
            select(Resource.id, Resource.dataset_id, Resource.sha256).where(
                Resource.id.in_(ids[start : start + CHUNK]),
                Resource.sha256.is_not(None),
                Resource.truncated.is_(False),  # a hash of the first part only
            )
        )
        for resource_id, dataset_id, sha256 in rows:
            if dataset_id in wanted and sha256 != recorded[resource_id]:
                found[dataset_id].add(("id", resource_id))
    return dict(found)


def bundle_items(dataset_ids: Iterable[int], since: datetime | None = None, *,
                 recorded: dict[int, str] | None = None) -> list[Item]:  # fmt: skip
    """Items for live datasets among `dataset_ids`, in id order; with `since`, only the
    resources changed after it (datasets with only metadata changes bring no files), and
    those whose checked hash differs from the one `recorded` by earlier bundles."""
    ids = sorted({int(i) for i in dataset_ids})
    changed = changed_resources(ids, since) if since is not None else None
    if changed is not None and recorded:
        for dataset_id, keys in differing_hashes(ids, recorded).items():
            if dataset_id not in changed:
                changed[dataset_id] = keys
            elif changed[dataset_id] is not None:
                changed[dataset_id] |= keys
    if changed is not None:
        ids = [i for i in ids if i in changed]
    items: list[Item] = []
    for start in range(0, len(ids), CHUNK):
        datasets = db.session.scalars(
            select(Dataset)
            .where(Dataset.id.in_(ids[start : start + CHUNK]), Dataset.deleted_at.is_(None))
            .options(selectinload(Dataset.resources), selectinload(Dataset.source))
            .order_by(Dataset.id)
        )
        for dataset in datasets:
            items.extend(_dataset_items(dataset, None if changed is None else changed[dataset.id]))
    return items


def _dataset_items(dataset: Dataset, keys: set | None) -> list[Item]:
    info = dataset_info(dataset)
    restricted = dataset.open_type in RESTRICTED_OPEN_TYPES
    resources = [r for r in dataset.resources if _wanted(r, keys)]
    if not dataset.resources and keys is None:
        return [Item(info, {"id": None, "name": "", "format": "", "url": ""}, "no_resources")]
    return [
        Item(info, {"id": r.id, "name": r.name, "format": r.format, "url": r.url},
             "no_url" if not r.url else "conditional_access" if restricted else None)
        for r in resources
    ]  # fmt: skip
