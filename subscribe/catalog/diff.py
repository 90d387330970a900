"""Field-level differences between two canonical dataset snapshots."""

from __future__ import annotations

from subscribe.catalog.records import OPTIONAL_FIELDS
from subscribe.catalog.text import same_text

RESOURCE_FIELDS = ("name", "format", "url", "size", "checksum")

# Fields that are our reading of a raw text the record keeps beside them. When the raw
# text is the same on both sides, a different value is a new reading (a vocabulary or date
# parser improved: 每两周 read as biweekly instead of monthly), not a change upstream: it
# is stored without a version or an event, so an upgrade never floods subscribers.
READINGS = {
    "frequency": "frequency_raw",
    "open_type": "open_type_raw",
    "issued": "issued_raw",
    "issued_precision": "issued_raw",
    "modified": "modified_raw",
    "modified_precision": "modified_raw",
}


def _reread(name: str, old: dict, new: dict) -> bool:
    """True when `name` is a reading whose raw text both snapshots hold, unchanged; or a
    description that reads the same (text.same_text: HTML stored before it was turned
    into text, lines reflowed)."""
    if name == "description":
        return same_text(old.get(name), new.get(name))
    if name == "formats":
        return _formats_of_resources(old, new)
    raw = READINGS.get(name)
    return raw is not None and bool(old.get(raw)) and old.get(raw) == new.get(raw)


def _formats_of_resources(old: dict, new: dict) -> bool:
    """True when formats appear where there were none, each a format of the dataset's
    resources, and no resource is new: the resources' formats read into the dataset's
    (tabular rows that name no format), not a change upstream. Resources added at the
    same time are an update by themselves."""
    if old.get("formats"):
        return False
    resources = new.get("resources") or []
    before = {_resource_key(r) for r in old.get("resources") or []}
    return all(_resource_key(r) in before for r in resources) and set(new.get("formats") or ()) <= {
        r.get("format") for r in resources
    }


def _resource_key(resource: dict) -> str:
    return resource.get("identifier") or resource.get("url") or ""


def diff_resources(old: list[dict], new: list[dict]) -> list[dict]:
    """Resources added, removed or changed, matched by upstream id, else by URL.

    A format where there was none is no change: it is a reading of the same address
    filled in (a tabular export's ?format=CSV read since), not news for subscribers."""
    old_by_key = {_resource_key(r): r for r in old}
    new_by_key = {_resource_key(r): r for r in new}
    changes = []
    for key, resource in new_by_key.items():
        before = old_by_key.get(key)
        if before is None:
            changes.append({"kind": "resource_added", "resource": resource})
            continue
        fields = {
            name: {"old": before.get(name), "new": resource.get(name)}
            for name in RESOURCE_FIELDS
            if before.get(name) != resource.get(name)
            and not (name == "format" and not before.get(name))
        }
        if fields:
            # The name travels with the change so messages (e-mail, chat) name the file
            # rather than its upstream id; a renamed file is named by its new name.
            name = resource.get("name") or before.get("name") or ""
            changes.append({"kind": "resource_changed", "key": key, "name": name, "fields": fields})
    changes.extend(
        {"kind": "resource_removed", "resource": resource}
        for key, resource in old_by_key.items()
        if key not in new_by_key
    )
    return changes


def diff_snapshots(old: dict, new: dict) -> dict:
    """{"fields": {name: {"old", "new"}}, "resources": [changes]}; empty parts omitted.

    Optional fields are left out of a snapshot while empty: a key on one side only is a
    change (a contact point added or removed). Any other field the old snapshot does not
    hold was added to the model after that version was written (e.g. modified_precision):
    filling it in is no upstream change. Nor is a new reading of an unchanged raw text
    (see READINGS), nor a description that reads the same, nor formats read from the
    unchanged resources where there were none (_formats_of_resources).
    """
    names = [*new, *(name for name in old if name not in new)]
    fields = {
        name: {"old": old.get(name), "new": new.get(name)}
        for name in names
        if name != "resources"
        and (name in old or name in OPTIONAL_FIELDS or not old)
        and old.get(name) != new.get(name)
        and not _reread(name, old, new)
    }
    result: dict = {}
    if fields:
        result["fields"] = fields
    resources = diff_resources(old.get("resources") or [], new.get("resources") or [])
    if resources:
        result["resources"] = resources
    return result
