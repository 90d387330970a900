"""Schemas for /api/v1/datasets/{id}/quality, …/rating and …/ratings."""

import marshmallow as ma

from subscribe.api import Schema, page_schema
from subscribe.catalog.text import clean_paragraphs, visible_length
from subscribe.quality.models import AXES

COMMENT_MAX = 2000
_SCORE = {"allow_none": True, "metadata": {"description": "0–100; null: not judged yet"}}
_STARS = ma.validate.Range(min=1, max=5)


class Stars(ma.fields.Integer):
    """A whole number of stars: 3 and "3" load, 3.5 and "3.5" are "Not a valid integer."
    (marshmallow's Integer would truncate them to 3 silently)."""

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
            raise self.make_error("invalid")
        return super()._validated(value)


class RatingBodySchema(Schema):
    """PUT replaces the whole rating: an axis left out (or null) is not rated."""

    completeness = Stars(load_default=None, allow_none=True, validate=_STARS,
                                     metadata={"description": "1–5 (完整性)"})  # fmt: skip
    timeliness = Stars(load_default=None, allow_none=True, validate=_STARS,
                                   metadata={"description": "1–5 (及时性)"})  # fmt: skip
    accuracy = Stars(load_default=None, allow_none=True, validate=_STARS,
                                 metadata={"description": "1–5 (准确性)"})  # fmt: skip
    comment = ma.fields.String(load_default="", validate=ma.validate.Length(max=COMMENT_MAX),
                               metadata={"description": f"Optional, at most {COMMENT_MAX} characters"})  # fmt: skip

    @ma.validates_schema
    def _one_axis_at_least(self, data, **_kwargs):
        if all(data.get(axis) is None for axis in AXES):
            raise ma.ValidationError("Rate at least one of completeness, timeliness, accuracy.",
                                     "completeness")  # fmt: skip

    @ma.post_load
    def _strip(self, data, **_kwargs):
        comment = clean_paragraphs(data.get("comment") or "")  # as catalog text is cleaned
        data["comment"] = comment if visible_length(comment) else ""
        return data


class RatingSchema(Schema):
    completeness = ma.fields.Integer(allow_none=True)
    timeliness = ma.fields.Integer(allow_none=True)
    accuracy = ma.fields.Integer(allow_none=True)
    comment = ma.fields.String()
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class PublicRatingSchema(RatingSchema):
    """A rating as others see it: no user id, name or e-mail."""

    mine = ma.fields.Boolean(metadata={"description": "The caller's own rating"})


RatingPageSchema = page_schema(PublicRatingSchema, "RatingPage")


class AxisAverageSchema(Schema):
    average = ma.fields.Float(
        allow_none=True, metadata={"description": "1–5; null without ratings"}
    )
    count = ma.fields.Integer()


class RatingSummarySchema(Schema):
    count = ma.fields.Integer(metadata={"description": "Ratings given"})
    completeness = ma.fields.Nested(AxisAverageSchema)
    timeliness = ma.fields.Nested(AxisAverageSchema)
    accuracy = ma.fields.Nested(AxisAverageSchema)


class ScoresSchema(Schema):
    completeness = ma.fields.Integer(**_SCORE)
    timeliness = ma.fields.Integer(**_SCORE)
    accuracy = ma.fields.Integer(**_SCORE)
    overall = ma.fields.Integer(**_SCORE)


class CriterionSchema(Schema):
    key = ma.fields.String()
    weight = ma.fields.Integer(metadata={"description": "Points of the axis' 100"})
    status = ma.fields.String(
        metadata={
            "description": "met, unmet or not_assessed (the "
            "source does not publish it, or nothing to judge yet)"
        }
    )
    label_en = ma.fields.String()
    label_zh = ma.fields.String()
    fix_en = ma.fields.String(metadata={"description": "What to do when unmet"})
    fix_zh = ma.fields.String()


class HistoryPointSchema(Schema):
    day = ma.fields.Date()
    completeness = ma.fields.Integer(allow_none=True)
    timeliness = ma.fields.Integer(allow_none=True)
    accuracy = ma.fields.Integer(allow_none=True)


class QualitySchema(Schema):
    dataset_id = ma.fields.Integer()
    scored = ma.fields.Boolean(metadata={"description": "false until the quality job has run"})
    day = ma.fields.Date(allow_none=True, metadata={"description": "The day the scores are for"})
    computed_at = ma.fields.DateTime(allow_none=True)
    scores = ma.fields.Nested(ScoresSchema, metadata={"description": "Automatic, 0–100"})
    timeliness_today = ma.fields.Integer(
        allow_none=True, metadata={"description": "Today's own value before smoothing"}
    )
    checklist = ma.fields.Dict(keys=ma.fields.String(validate=ma.validate.OneOf(AXES)),
                               values=ma.fields.List(ma.fields.Nested(CriterionSchema)))  # fmt: skip
    history = ma.fields.List(
        ma.fields.Nested(HistoryPointSchema),
        metadata={"description": "Daily scores as change points, oldest first: a day "
                  "without a point kept the previous point's scores"},
    )  # fmt: skip
    ratings = ma.fields.Nested(RatingSummarySchema, metadata={"description": "Users' 1–5 "
                               "ratings, kept apart from the automatic scores"})  # fmt: skip
    my_rating = ma.fields.Nested(RatingSchema, allow_none=True)


class BucketSchema(Schema):
    value = ma.fields.String(metadata={"description": "low-high, e.g. 80-100"})
    low = ma.fields.Integer()
    high = ma.fields.Integer()
    count = ma.fields.Integer()


class AxisDistributionSchema(Schema):
    scored = ma.fields.Integer(metadata={"description": "Members with a score on this axis"})
    average = ma.fields.Float(allow_none=True)
    buckets = ma.fields.List(ma.fields.Nested(BucketSchema))


class WeakMemberSchema(Schema):
    id = ma.fields.Integer()
    title = ma.fields.String()
    scores = ma.fields.Nested(ScoresSchema)
    unmet = ma.fields.List(ma.fields.String(), metadata={"description": "Criteria keys not met"})


class QualityReportSchema(Schema):
    scored = ma.fields.Integer()
    unscored = ma.fields.Integer(
        metadata={"description": "Members the quality job has not scored yet"}
    )
    axes = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(AxisDistributionSchema),
                          metadata={"description": "overall, completeness, timeliness, accuracy"})  # fmt: skip
    weakest = ma.fields.List(ma.fields.Nested(WeakMemberSchema),
                             metadata={"description": "Lowest overall score first (at most 10)"})  # fmt: skip
