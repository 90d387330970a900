"""Quality as stored: today's scores, their daily history (change points) and ratings.

Kept apart from the catalog: a score change is no dataset version and no change_seq
change (search columns follow the `quality` cursor instead, see search/columns.py).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, SmallInteger, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from subscribe.extensions import db
from subscribe.models_base import utcnow

AXES = ("completeness", "timeliness", "accuracy")


class QualityScore(db.Model):
    """One row per dataset: the latest scores (0–100; NULL = cannot be judged yet).

    `timeliness` is the smoothed value (float, so daily blending does not drift by
    rounding); `timeliness_before` is the smoothed value as of the day before `day`, so
    a second run on the same day blends from the same past (idempotent). `unmet` is a
    bitmask of criteria not met and `skipped` of criteria not assessed (scoring.py).
    """

    __tablename__ = "quality_scores"

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date)
    completeness: Mapped[int] = mapped_column(SmallInteger)
    timeliness: Mapped[float | None] = mapped_column(Float)
    timeliness_before: Mapped[float | None] = mapped_column(Float)
    timeliness_today: Mapped[float | None] = mapped_column(Float)  # the day's own value
    accuracy: Mapped[int | None] = mapped_column(SmallInteger)
    overall: Mapped[int | None] = mapped_column(SmallInteger)
    unmet: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class QualityHistory(db.Model):
    """Daily history as change points: a row for a day whose rounded scores differ from
    the previous row's (a day without a row has the previous row's scores)."""

    __tablename__ = "quality_history"

    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    completeness: Mapped[int] = mapped_column(SmallInteger)
    timeliness: Mapped[int | None] = mapped_column(SmallInteger)
    accuracy: Mapped[int | None] = mapped_column(SmallInteger)


class DatasetRating(db.Model):
    """A signed-in user's rating of a dataset: 1–5 per axis (NULL = not rated on that
    axis, at least one is given) and an optional comment. One per user and dataset."""

    __tablename__ = "dataset_ratings"
    __table_args__ = (UniqueConstraint("dataset_id", "user_id", name="uq_ratings_dataset_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    completeness: Mapped[int | None] = mapped_column(SmallInteger)
    timeliness: Mapped[int | None] = mapped_column(SmallInteger)
    accuracy: Mapped[int | None] = mapped_column(SmallInteger)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
