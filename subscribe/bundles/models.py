"""A bundle: one zip of a scenario's resources, built by a worker, downloaded by its owner."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from subscribe.extensions import db
from subscribe.models_base import JSONType, utcnow

BUNDLE_STATUSES = (
    "queued",
    "building",
    "ready",
    "failed",
    "expired",
    "empty",
)  # empty: nothing changed, not built
BUNDLE_MODES = ("all", "changed")


class Bundle(db.Model):
    """Queued by a user (or a `bundle` subscription), claimed and built by one worker.

    A claim carries a lease like deliveries do: a worker that dies mid-build leaves the
    bundle `building` with a lapsed lease, and the next worker builds it again.
    """

    __tablename__ = "bundles"
    __table_args__ = (Index("ix_bundles_status_claimed", "status", "claimed_until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # What is bundled: a scenario's members, or one dataset (a dataset subscription's).
    scenario_id: Mapped[int | None] = mapped_column(
        ForeignKey("scenarios.id", ondelete="CASCADE"), index=True
    )
    dataset_id: Mapped[int | None] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    # Set when a `push: bundle` subscription asked for it: bundle.ready goes to its channel.
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL"), index=True
    )
    mode: Mapped[str] = mapped_column(String(16), default="all")  # all | changed
    # "changed": resources of datasets changed after this time (catalog events).
    since: Mapped[datetime | None]
    # The catalog time the build looked at: the next incremental bundle starts here.
    changes_until: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="queued")
    files_total: Mapped[int] = mapped_column(default=0)
    files_done: Mapped[int] = mapped_column(default=0)
    file_count: Mapped[int] = mapped_column(default=0)  # resource files in the zip
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # the zip's size
    sha256: Mapped[str | None] = mapped_column(String(64))  # of the zip; also its ETag
    file_name: Mapped[str | None] = mapped_column(String(200))  # under SUBSCRIBE_BUNDLE_DIR
    # What was left out and why: [{"dataset_id", "resource_id", "url", "reason", "detail"}].
    skipped: Mapped[list] = mapped_column(JSONType, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
