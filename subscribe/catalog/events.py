"""Dataset change events: a new version, a catalog event and a change sequence number,
always together in the caller's transaction (the outbox principle: no change without
its event, no event without its change)."""

from __future__ import annotations

from sqlalchemy import select

from subscribe.catalog import sequence
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion
from subscribe.extensions import db
from subscribe.models_base import utcnow

# Change kinds (PRODUCT.md): metadata, content, schema, resource_added, resource_removed,
# resource_unavailable.
KIND_BY_RESOURCE_DIFF = {
    "resource_added": "resource_added",
    "resource_removed": "resource_removed",
    "resource_changed": "metadata",
}


def changes_from_diff(diff: dict) -> list[dict]:
    """A version diff as the event's list of changes, each with its kind."""
    changes = []
    if diff.get("fields"):
        changes.append({"kind": "metadata", "fields": diff["fields"]})
    for change in diff.get("resources", []):
        kind = KIND_BY_RESOURCE_DIFF[change["kind"]]
        entry = {key: value for key, value in change.items() if key != "kind"}
        changes.append({"kind": kind, **entry})
    return changes


def event_row(dataset_id: int, event_type: str, version: int, changes: list[dict],
              before: dict | None, after: dict | None) -> dict:  # fmt: skip
    return {
        "dataset_id": dataset_id,
        "type": event_type,
        "version": version,
        "changes": changes,
        "before": before,
        "after": after,
        "created_at": utcnow(),
    }


def record_content_change(
    dataset: Dataset, changes: list[dict], harvest_run_id=None
) -> CatalogEvent:
    """A change found outside the metadata (a resource's content, schema, availability):
    a new version with the same snapshot and the changes as its diff, and its event."""
    snapshot = db.session.scalar(
        select(DatasetVersion.snapshot).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.number == dataset.version
        )
    )
    dataset.version += 1
    dataset.change_seq = sequence.allocate(1)[0]
    dataset.updated_at = utcnow()
    db.session.add(
        DatasetVersion(
            dataset_id=dataset.id, number=dataset.version, kind="updated", snapshot=snapshot or {},
            diff={"content": changes}, harvest_run_id=harvest_run_id,
        )
    )  # fmt: skip
    event = CatalogEvent(
        **event_row(dataset.id, "dataset.updated", dataset.version, changes, snapshot, snapshot)
    )
    db.session.add(event)
    return event
