"""Suggestion request and response schemas."""

import marshmallow as ma

from subscribe.api import PageArgsSchema, Schema, page_schema
from subscribe.search.schemas import DatasetSummarySchema
from subscribe.suggest.models import VOTES


class SuggestionArgsSchema(PageArgsSchema):
    per_page = ma.fields.Integer(load_default=10, validate=ma.validate.Range(min=1, max=50))


class ReasonSchema(Schema):
    kind = ma.fields.String(
        metadata={"description": "publisher | title | text | theme | join_keys"}
    )
    members = ma.fields.Integer(metadata={"description": "members sharing it"})
    publisher = ma.fields.String()
    theme = ma.fields.String()
    terms = ma.fields.List(ma.fields.String(), metadata={"description": "shared words"})
    join_keys = ma.fields.List(
        ma.fields.String(), metadata={"description": "join key formats (resource preview)"}
    )


class ReasonTextSchema(Schema):
    zh = ma.fields.String()
    en = ma.fields.String()


class SuggestionSchema(Schema):
    dataset = ma.fields.Nested(DatasetSummarySchema)
    fit = ma.fields.Float(
        metadata={"description": "≈1: as close to the scenario as its typical member"}
    )
    reasons = ma.fields.List(ma.fields.Nested(ReasonSchema))
    reason = ma.fields.Nested(ReasonTextSchema, metadata={"description": "the reasons in words"})


SuggestionPageSchema = page_schema(SuggestionSchema, "SuggestionPage")


class FeedbackSchema(Schema):
    vote = ma.fields.String(required=True, validate=ma.validate.OneOf(VOTES),
                            metadata={"description": "up: pin it; down: exclude it"})  # fmt: skip


class FeedbackResultSchema(Schema):
    scenario_id = ma.fields.Integer()
    dataset_id = ma.fields.Integer()
    vote = ma.fields.String()
    created_at = ma.fields.DateTime()
