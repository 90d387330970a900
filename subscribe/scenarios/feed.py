"""The Atom feed of a scenario's timeline (feedgen), readable with the scenario's feed token."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC

from subscribe.catalog.text import xml_safe
from subscribe.notify.digest import because_line, change_line, reason_text, twin_title
from subscribe.scenarios.models import Scenario, ScenarioEvent

TITLES = {
    "dataset.created": {"published": "新数据集", "now_matches": "新进入场景"},
    "dataset.updated": {"changed": "数据集更新"},
    "dataset.deleted": {"deleted_upstream": "数据集已下线", "no_longer_matches": "移出场景"},
    "dataset.overdue": {"overdue": "数据集逾期未更新"},
}


def _summary(event: ScenarioEvent) -> str:
    """The entry's text, in the words e-mails use: why it is news, each change, why it matched."""
    payload = event.payload or {}
    lines = [reason_text(str(payload.get("reason") or ""), "zh")]
    lines += [f"- {change_line(c, 'zh')}" for c in event.changes if isinstance(c, Mapping)]
    because = because_line(payload.get("matched_because"), "zh")
    if because:
        lines.append(f"命中原因：{because}")
    return "\n".join(line for line in lines if line)


def atom(scenario: Scenario, events: list[ScenarioEvent], base_url: str, self_url: str) -> bytes:
    # feedgen (with lxml, ~6 MB) when a feed is asked for, not in every web worker's start.
    from feedgen.feed import FeedGenerator

    feed = FeedGenerator()
    feed.id(f"{base_url}/api/v1/scenarios/{scenario.id}")
    # Stored text may predate harvest cleaning: XML 1.0 cannot hold control characters.
    feed.title(xml_safe(f"{scenario.name} — subscribe"))
    feed.subtitle(xml_safe(scenario.description) or "场景动态 (scenario timeline)")
    feed.link(href=self_url, rel="self")
    # RFC 4287 4.1.1: a feed names an author unless every entry does. The service writes
    # the feed; an entry's author is the dataset's publisher (发布机构) where it has one.
    feed.author({"name": "subscribe", "uri": base_url})
    feed.language("zh")
    feed.updated((events[0].created_at if events else scenario.updated_at).replace(tzinfo=UTC))
    for event in reversed(events):  # feedgen prepends: add oldest first, newest ends on top
        payload = event.payload or {}
        dataset = event.dataset
        entry = feed.add_entry()
        entry.id(f"{base_url}/api/v1/scenarios/{scenario.id}/events/{event.id}")
        label = TITLES.get(event.type, {}).get(payload.get("reason"), event.type)
        entry.title(xml_safe(f"[{label}] {twin_title(dataset.get('title', ''), dataset)}"))
        if publisher := xml_safe(str(dataset.get("publisher") or "")).strip():
            entry.author({"name": publisher})
        # A feed reader opens the link: the dataset's page (its history), not the API's JSON.
        entry.link(href=f"{base_url}/datasets/{event.dataset_id}")
        entry.updated(event.created_at.replace(tzinfo=UTC))
        entry.content(xml_safe(_summary(event)), type="text")
    return feed.atom_str(pretty=True)
