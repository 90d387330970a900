"""/api/v1/datasets/{id}/quality, /rating and /ratings: scores, checklist, ratings."""

from flask import current_app, g

from subscribe.api import Blueprint, PageArgsSchema, current_user_from_request
from subscribe.extensions import limiter
from subscribe.quality import services
from subscribe.quality.schemas import (
    QualitySchema,
    RatingBodySchema,
    RatingPageSchema,
    RatingSchema,
)

blp = Blueprint(
    "quality", __name__, url_prefix="/api/v1/datasets",
    description="Dataset quality (完整性 / 及时性 / 准确性) and users' ratings",
)  # fmt: skip


def _limit_writes():
    """Rating writes per client address (SUBSCRIBE_LIMIT_RATINGS, read per request)."""
    return limiter.limit(lambda: current_app.config["SUBSCRIBE_LIMIT_RATINGS"])


@blp.get("/<int:dataset_id>/quality")
@blp.response(200, QualitySchema)
def quality(dataset_id: int):
    """Automatic scores 0–100 per axis with the checklist (met / what to fix / not
    assessed), daily history, and users' rating averages (kept apart). With a session or
    token, `my_rating` is the caller's own rating."""
    return services.dataset_quality(dataset_id, current_user_from_request())


@blp.put("/<int:dataset_id>/rating")
@_limit_writes()
@blp.auth_required()
@blp.arguments(RatingBodySchema)
@blp.response(200, RatingSchema)
@blp.alt_response(201, schema=RatingSchema, description="Created")
def put_rating(body, dataset_id: int):
    """Rate the dataset 1–5 on each axis (at least one) with an optional comment: one
    rating per user, replaced by the next PUT (201 the first time, then 200)."""
    rating, created = services.put_rating(g.user, dataset_id, body)
    return rating, 201 if created else 200


@blp.delete("/<int:dataset_id>/rating")
@_limit_writes()
@blp.auth_required()
@blp.response(204)
def delete_rating(dataset_id: int):
    """Remove your own rating (404 when you have none)."""
    services.delete_rating(g.user, dataset_id)


@blp.get("/<int:dataset_id>/ratings")
@blp.arguments(PageArgsSchema, location="query", error_status_code=400)
@blp.response(200, RatingPageSchema)
def ratings(args, dataset_id: int):
    """Everyone's ratings, newest first, paged; who gave them is never shown."""
    return services.list_ratings(dataset_id, args["page"], args["per_page"],
                                 current_user_from_request())  # fmt: skip
