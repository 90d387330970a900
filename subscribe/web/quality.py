"""Quality on the dataset page: the `quality_for` template helper and the rating form."""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from subscribe.extensions import limiter
from subscribe.quality import services
from subscribe.quality.models import AXES
from subscribe.quality.schemas import COMMENT_MAX, RatingBodySchema
from subscribe.quality.scoring import BY_KEY
from subscribe.web.access import current_user, login_required

blp = Blueprint("quality", __name__)
RECENT_COMMENTS = 5


@blp.app_context_processor
def _helpers() -> dict:
    return {"quality_for": quality_for}


@blp.app_template_filter("quality_criterion")
def criterion_label(key: str) -> str:
    """A criterion key as its short label in the page's language."""
    criterion = BY_KEY.get(key)
    if criterion is None:
        return key
    return criterion.label_zh if get_locale().language == "zh" else criterion.label_en


def quality_for(dataset_id: int) -> dict:
    """What the dataset page's quality section shows: the API's answer plus a few recent
    comments (never who wrote them)."""
    data = services.dataset_quality(dataset_id, current_user())
    recent = services.list_ratings(dataset_id, 1, RECENT_COMMENTS, current_user())["items"]
    data["recent"] = [r for r in recent if r.comment]
    return data


def _form_body() -> dict:
    body: dict = {}
    for axis in AXES:
        value = request.form.get(axis, "").strip()
        if value:
            body[axis] = value
    comment = request.form.get("comment", "")
    if comment:
        body["comment"] = comment
    return body


def _back(dataset_id: int):
    return redirect(url_for("web.search.dataset", dataset_id=dataset_id, _anchor="quality"), 303)


@blp.post("/datasets/<int:dataset_id>/rating")
@limiter.limit(lambda: current_app.config["SUBSCRIBE_LIMIT_RATINGS"])
@login_required
def rate(dataset_id: int):
    """Save the signed-in user's rating from the form (the API's rules and messages)."""
    try:
        body = RatingBodySchema().load(_form_body())
    except ma.ValidationError as error:
        from subscribe.web.search import dataset as dataset_page  # the page, re-rendered

        # The form offers 1–5 or "not rated" per axis: the only mistakes a person can make
        # are rating nothing or a comment too long; anything else is a tampered form.
        if set(error.messages) == {"comment"}:
            flash(_("The comment is too long (at most %(n)s characters).", n=COMMENT_MAX), "error")
        elif all(not request.form.get(axis, "").strip() for axis in AXES):
            flash(_("Rate at least one of completeness, timeliness and accuracy."), "error")
        else:
            flash(_("Choose 1 to 5 stars, or leave an axis not rated."), "error")
        return dataset_page(dataset_id), 422
    _rating, created = services.put_rating(current_user(), dataset_id, body)
    flash(
        _("Thank you, your rating is saved.") if created else _("Your rating is updated."),
        "success",
    )
    return _back(dataset_id)


@blp.post("/datasets/<int:dataset_id>/rating/delete")
@limiter.limit(lambda: current_app.config["SUBSCRIBE_LIMIT_RATINGS"])
@login_required
def unrate(dataset_id: int):
    services.delete_rating(current_user(), dataset_id)
    flash(_("Your rating is removed."), "success")
    return _back(dataset_id)
