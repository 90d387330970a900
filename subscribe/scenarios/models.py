"""Scenarios and their timeline events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from subscribe.catalog.models import CatalogEvent
from subscribe.catalog.text import TITLE_SHOWN, shorten
from subscribe.extensions import db
from subscribe.models_base import JSONType, utcnow


class Scenario(db.Model):
    __tablename__ = "scenarios"
    __table_args__ = (UniqueConstraint("feed_token", name="uq_scenarios_feed_token"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    q: Mapped[str] = mapped_column(String(500), default="")
    # {"publisher": [...], "theme": [...], ..., "modified_from": iso, "modified_to": iso}
    filters: Mapped[dict] = mapped_column(JSONType, default=dict)
    include: Mapped[list] = mapped_column(JSONType, default=list)  # pinned dataset ids
    exclude: Mapped[list] = mapped_column(JSONType, default=list)  # left-out dataset ids
    # Secret for reading the Atom feed without a login (feed readers cannot send headers).
    feed_token: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScenarioEvent(db.Model):
    """One entry of a scenario's timeline (written by change matching)."""

    __tablename__ = "scenario_events"
    __table_args__ = (Index("ix_scenario_events_scenario_id_id", "scenario_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(32))  # dataset.created | updated | deleted | overdue
    catalog_event_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "catalog_events.id", ondelete="SET NULL", name="fk_scenario_events_catalog_event_id"
        )
    )
    # {"reason": published|now_matches|changed|deleted_upstream|no_longer_matches|overdue,
    #  "matched_because": {...}}. What changed (and the dataset's title and version) stays
    # on the catalog event, shared by every scenario it concerns.
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    catalog_event: Mapped[CatalogEvent | None] = relationship()

    @property
    def changes(self) -> list[dict]:
        return self.catalog_event.changes if self.catalog_event else []

    @property
    def dataset(self) -> dict:
        """{"id", "title", "publisher", "version"} as of the change, and for a twin its
        "distinguished_by" ({"所属区县": "西山区"}: what tells it from its twins)."""
        event = self.catalog_event
        snapshot = (event.after or event.before or {}) if event else {}
        # The title as messages show it (cut at TITLE_SHOWN): the feed and the events API.
        title = shorten(str(snapshot.get("title") or ""), TITLE_SHOWN)
        found = {"id": self.dataset_id, "title": title,
                 "publisher": snapshot.get("publisher", ""),
                 "version": event.version if event else None}  # fmt: skip
        if snapshot.get("distinguished_by"):
            found["distinguished_by"] = snapshot["distinguished_by"]
        return found
