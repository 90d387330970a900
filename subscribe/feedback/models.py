"""Error reports (数据纠错): where a dataset is wrong, what it should say, and its handling."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from subscribe.extensions import db
from subscribe.models_base import utcnow

# open → acknowledged → resolved | rejected; open may also go straight to resolved or
# rejected. `resolved` means the error was confirmed (and fixed or passed on).
REPORT_STATES = ("open", "acknowledged", "resolved", "rejected")
TRANSITIONS = {
    "open": ("acknowledged", "resolved", "rejected"),
    "acknowledged": ("resolved", "rejected"),
    "resolved": (),
    "rejected": (),
}
CONFIRMED_STATE = "resolved"


class ErrorReport(db.Model):
    """One report: a dataset (and optionally one of its resources), where the error is
    (a field name, or a row and a column), what is wrong, the proposed value and an
    evidence link. `user_id` is personal: never shown on public lists."""

    __tablename__ = "error_reports"
    __table_args__ = (Index("ix_error_reports_dataset_state", "dataset_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    resource_id: Mapped[int | None] = mapped_column(
        ForeignKey("resources.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    field: Mapped[str | None] = mapped_column(String(100))  # a metadata field name
    row: Mapped[int | None]  # 1-based data row of the resource
    column: Mapped[str | None] = mapped_column(String(200))  # column header or letter
    description: Mapped[str] = mapped_column(Text)  # what is wrong
    proposed_value: Mapped[str | None] = mapped_column(Text)
    evidence_url: Mapped[str | None] = mapped_column(String(2000))
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    # The operator's reason for the last transition (required to reject).
    reason: Mapped[str | None] = mapped_column(Text)
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    hidden: Mapped[bool] = mapped_column(default=False)  # spam: out of public lists
    hidden_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    acknowledged_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]  # resolved or rejected
