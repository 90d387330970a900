"""Quality for the API and pages: a dataset's scores with checklist and history, and
users' ratings (one per user and dataset, editable), kept apart from the scores."""

from __future__ import annotations

from sqlalchemy import func, select

from subscribe.auth.models import User
from subscribe.catalog.models import Dataset
from subscribe.errors import ConflictError, NotFoundError
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.quality.models import AXES, DatasetRating, QualityHistory, QualityScore
from subscribe.quality.scoring import checklist

HISTORY_LIMIT = 365  # change points shown (a day without one kept the previous scores)


def _dataset(dataset_id: int) -> Dataset:
    dataset = db.session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFoundError("No such dataset.")
    return dataset


def rating_summary(dataset_id: int) -> dict:
    """{count, completeness: {average, count}, timeliness: …, accuracy: …}: averages of
    1–5 ratings (None without any), each axis counted apart (an axis may be left out)."""
    r = DatasetRating
    row = db.session.execute(
        select(func.count(), *(x for axis in AXES for x in (func.avg(getattr(r, axis)),
                                                            func.count(getattr(r, axis)))))
        .where(r.dataset_id == dataset_id)
    ).one()  # fmt: skip
    summary: dict = {"count": row[0]}
    for k, axis in enumerate(AXES):
        average, count = row[1 + 2 * k], row[2 + 2 * k]
        summary[axis] = {"average": None if average is None else round(float(average), 2),
                         "count": count}  # fmt: skip
    return summary


def dataset_quality(dataset_id: int, user: User | None = None) -> dict:
    """Scores (0–100, None = not judged yet), the checklist per axis, the history
    (change points, oldest first) and the rating summary (plus the caller's rating)."""
    _dataset(dataset_id)
    stored = db.session.get(QualityScore, dataset_id)
    history = db.session.scalars(
        select(QualityHistory)
        .where(QualityHistory.dataset_id == dataset_id)
        .order_by(QualityHistory.day.desc())
        .limit(HISTORY_LIMIT)
    ).all()
    mine = None
    if user is not None:
        mine = db.session.scalar(
            select(DatasetRating).where(
                DatasetRating.dataset_id == dataset_id, DatasetRating.user_id == user.id
            )
        )
    return {
        "dataset_id": dataset_id,
        "scored": stored is not None,
        "day": stored.day if stored else None,
        "computed_at": stored.computed_at if stored else None,
        "scores": {
            "completeness": stored.completeness if stored else None,
            "timeliness": None if not stored or stored.timeliness is None else round(stored.timeliness),
            "accuracy": stored.accuracy if stored else None,
            "overall": stored.overall if stored else None,
        },
        "timeliness_today": None if not stored or stored.timeliness_today is None
        else round(stored.timeliness_today),
        "checklist": checklist(stored.unmet, stored.skipped) if stored else {},
        "history": [
            {"day": h.day, "completeness": h.completeness, "timeliness": h.timeliness,
             "accuracy": h.accuracy}
            for h in reversed(history)
        ],
        "ratings": rating_summary(dataset_id),
        "my_rating": mine,
    }  # fmt: skip


def put_rating(user: User, dataset_id: int, body: dict) -> tuple[DatasetRating, bool]:
    """Create or replace the user's rating (PUT: axes left out become unrated);
    returns (rating, created). A dataset deleted upstream cannot be rated (409)."""
    dataset = _dataset(dataset_id)
    if dataset.deleted_at is not None:
        raise ConflictError("This dataset was deleted upstream; it can no longer be rated.")
    rating = db.session.scalar(
        select(DatasetRating).where(
            DatasetRating.dataset_id == dataset_id, DatasetRating.user_id == user.id
        )
    )
    created, now = rating is None, utcnow()
    if created:
        rating = DatasetRating(dataset_id=dataset_id, user_id=user.id, created_at=now)
        db.session.add(rating)
    for axis in AXES:
        setattr(rating, axis, body.get(axis))
    rating.comment = body.get("comment") or ""
    rating.updated_at = now
    db.session.commit()
    return rating, created


def delete_rating(user: User, dataset_id: int) -> None:
    """Remove the user's own rating (404 when they have none)."""
    _dataset(dataset_id)
    rating = db.session.scalar(
        select(DatasetRating).where(
            DatasetRating.dataset_id == dataset_id, DatasetRating.user_id == user.id
        )
    )
    if rating is None:
        raise NotFoundError("You have not rated this dataset.")
    db.session.delete(rating)
    db.session.commit()


def list_ratings(dataset_id: int, page: int, per_page: int, user: User | None = None) -> dict:
    """Ratings newest first, without who gave them (`mine` marks the caller's own)."""
    _dataset(dataset_id)
    query = select(DatasetRating).where(DatasetRating.dataset_id == dataset_id)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    rows = db.session.scalars(
        query.order_by(DatasetRating.updated_at.desc(), DatasetRating.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    for row in rows:
        row.mine = user is not None and row.user_id == user.id
    return {"items": rows, "total": total, "page": page, "per_page": per_page}
