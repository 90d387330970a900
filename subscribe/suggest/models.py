"""A user's 👍 / 👎 on a suggested dataset, remembered per scenario."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from subscribe.extensions import db
from subscribe.models_base import utcnow

VOTES = ("up", "down")


class SuggestionFeedback(db.Model):
    """One vote per (scenario, dataset); the latest vote wins.

    "up" pinned the dataset (scenario.include), "down" excluded it (scenario.exclude)
    and makes it a negative example: its words count against later suggestions
    (profile.py, Rocchio) and it is never suggested or pushed again.
    """

    __tablename__ = "suggestion_feedback"
    __table_args__ = (
        Index("uq_suggestion_feedback_scenario_dataset", "scenario_id", "dataset_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id", ondelete="CASCADE"))
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    vote: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
