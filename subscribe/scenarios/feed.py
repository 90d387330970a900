"""The Atom feed of a scenario's timeline (feedgen), readable with the scenario's feed token."""

from __future__ import annotations

from datetime import UTC

from feedgen.feed import FeedGenerator

from subscribe.catalog.text import xml_safe
from subscribe.scenarios.models import Scenario, ScenarioEvent

TITLES = {
    "dataset.created": {"published": "新数据集", "now_matches": "新进入场景"},
    "dataset.updated": {"changed": "数据集更新"},
    "dataset.deleted": {"deleted_upstream": "数据集已下线", "no_longer_matches": "移出场景"},
    "dataset.overdue": {"overdue": "数据集逾期未更新"},
}


def _summary(event: ScenarioEvent) -> str:
    payload = event.payload or {}
    kinds = sorted({c.get("kind", "") for c in event.changes} - {""})
    lines = [f"{event.type} ({payload.get('reason', '')})"]
    if kinds:
        lines.append("changes: " + ", ".join(kinds))
    because = payload.get("matched_because") or {}
    if because:
        lines.append("matched because: " + ", ".join(f"{k}={v}" for k, v in because.items()))
    return "\n".join(lines)


def atom(scenario: Scenario, events: list[ScenarioEvent], base_url: str, self_url: str) -> bytes:
    feed = FeedGenerator()
    feed.id(f"{base_url}/api/v1/scenarios/{scenario.id}")
    # Stored text may predate harvest cleaning: XML 1.0 cannot hold control characters.
    feed.title(xml_safe(f"{scenario.name} — subscribe"))
    feed.subtitle(xml_safe(scenario.description) or "场景动态 (scenario timeline)")
    feed.link(href=self_url, rel="self")
    feed.language("zh")
    feed.updated((events[0].created_at if events else scenario.updated_at).replace(tzinfo=UTC))
    for event in reversed(events):  # feedgen prepends: add oldest first, newest ends on top
        payload = event.payload or {}
        dataset = event.dataset
        entry = feed.add_entry()
        entry.id(f"{base_url}/api/v1/scenarios/{scenario.id}/events/{event.id}")
        label = TITLES.get(event.type, {}).get(payload.get("reason"), event.type)
        entry.title(xml_safe(f"[{label}] {dataset.get('title', '')}"))
        entry.link(href=f"{base_url}/api/v1/datasets/{event.dataset_id}")
        entry.updated(event.created_at.replace(tzinfo=UTC))
        entry.content(xml_safe(_summary(event)), type="text")
    return feed.atom_str(pretty=True)
