"""The audit trail (行为记录): one append-only row per action."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from subscribe.extensions import db
from subscribe.models_base import JSONType, utcnow

ACTOR_TYPES = ("user", "system")


class AuditEntry(db.Model):
    """Who (a user, with the e-mail as it was then, or the system / a job), did what
    (`action`, e.g. `source.update`), to what (`target_type`, `target_id`), when, from
    which address, with details. Rows are never updated; only retention deletes them."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_target", "target_type", "target_id"),
        Index("ix_audit_entries_actor_created", "actor_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_type: Mapped[str] = mapped_column(String(16), default="user")
    # No foreign key: an entry outlives the account it names (the label keeps who).
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(String(320), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str] = mapped_column(String(32), default="")
    target_id: Mapped[str] = mapped_column(String(100), default="")
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    ip: Mapped[str | None] = mapped_column(String(45))
