"""Scenario request and response schemas."""

import marshmallow as ma
from flask import current_app

from subscribe.api import MAX_ID, Schema, page_schema
from subscribe.notify.payloads import thin_changes
from subscribe.quality.schemas import QualityReportSchema
from subscribe.search.engine import SORTS
from subscribe.search.schemas import FREQUENCY, OPEN_TYPE, DatasetPageSchema, PeriodBound

MAX_PINNED = 10_000
_VALUE = ma.fields.String(validate=ma.validate.Length(min=1, max=500))
_VALUES = {"validate": ma.validate.Length(max=50)}


class ScenarioFiltersSchema(Schema):
    publisher = ma.fields.List(_VALUE, **_VALUES)
    theme = ma.fields.List(_VALUE, **_VALUES)
    format = ma.fields.List(_VALUE, **_VALUES)
    open_type = ma.fields.List(OPEN_TYPE, **_VALUES)
    frequency = ma.fields.List(FREQUENCY, **_VALUES)
    source = ma.fields.List(_VALUE, **_VALUES)
    modified_from = PeriodBound(allow_none=True)
    modified_to = PeriodBound(end=True, allow_none=True)


_IDS = ma.fields.List(
    ma.fields.Integer(validate=ma.validate.Range(min=1, max=MAX_ID)),
    validate=ma.validate.Length(max=MAX_PINNED),
)


class ScenarioCreateSchema(Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=5000))
    q = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))
    filters = ma.fields.Nested(ScenarioFiltersSchema, load_default=dict)
    include = ma.fields.List(_IDS.inner, load_default=list, validate=_IDS.validate)
    exclude = ma.fields.List(_IDS.inner, load_default=list, validate=_IDS.validate)


class ScenarioUpdateSchema(Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=200))
    description = ma.fields.String(validate=ma.validate.Length(max=5000))
    q = ma.fields.String(validate=ma.validate.Length(max=500))
    filters = ma.fields.Nested(ScenarioFiltersSchema)
    include = ma.fields.List(_IDS.inner, validate=_IDS.validate)
    exclude = ma.fields.List(_IDS.inner, validate=_IDS.validate)


def _feed_url(scenario) -> str | None:
    if not scenario.feed_token:
        return None
    base = current_app.config["SUBSCRIBE_BASE_URL"]
    return f"{base}/api/v1/scenarios/{scenario.id}/feed.atom?token={scenario.feed_token}"


class ScenarioSchema(Schema):
    id = ma.fields.Integer()
    feed_url = ma.fields.Function(
        _feed_url, metadata={"description": "Atom feed with its secret token"}
    )
    name = ma.fields.String()
    description = ma.fields.String()
    q = ma.fields.String()
    filters = ma.fields.Dict()
    include = ma.fields.List(ma.fields.Integer())
    exclude = ma.fields.List(ma.fields.Integer())
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


ScenarioPageSchema = page_schema(ScenarioSchema, "ScenarioPage")


class MembersArgsSchema(Schema):
    sort = ma.fields.String(load_default="relevance", validate=ma.validate.OneOf(SORTS))
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1, max=10_000))
    per_page = ma.fields.Integer(load_default=20, validate=ma.validate.Range(min=1, max=100))


MembersPageSchema = DatasetPageSchema


class CountSchema(Schema):
    value = ma.fields.String()
    count = ma.fields.Integer()


class FreshnessSchema(Schema):
    on_time = ma.fields.Integer()
    overdue = ma.fields.Integer()
    no_schedule = ma.fields.Integer(metadata={"description": "irregular or unknown frequency"})
    undated = ma.fields.Integer(metadata={"description": "scheduled but no modified date"})


class ResourceTotalsSchema(Schema):
    count = ma.fields.Integer()
    declared_bytes = ma.fields.Integer()
    datasets_without_resources = ma.fields.Integer()


class ReportSchema(Schema):
    members = ma.fields.Integer()
    by_publisher = ma.fields.List(ma.fields.Nested(CountSchema))
    by_theme = ma.fields.List(ma.fields.Nested(CountSchema))
    by_format = ma.fields.List(ma.fields.Nested(CountSchema))
    by_open_type = ma.fields.List(ma.fields.Nested(CountSchema))
    freshness = ma.fields.Nested(FreshnessSchema)
    resources = ma.fields.Nested(ResourceTotalsSchema)
    quality = ma.fields.Nested(QualityReportSchema, metadata={
        "description": "Automatic quality per axis (buckets of 0–100 scores, average) and the "
        "weakest members by overall score (quality/report.py)"})  # fmt: skip


class ScenarioEventSchema(Schema):
    id = ma.fields.Integer()
    type = ma.fields.String()
    dataset_id = ma.fields.Integer()
    payload = ma.fields.Dict(metadata={"description": "reason, matched_because"})
    dataset = ma.fields.Dict(
        metadata={
            "description": "id, title, publisher, version as of the change; a twin's "
            "distinguished_by ({column: value}: what tells it from its twins)"
        }
    )
    changes = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "[{kind, …}] of the change"}
    )
    changes_truncated = ma.fields.Boolean(
        metadata={"description": "present (true) when an item over 32,000 bytes lists only "
                  "its changes' kinds: the dataset's history has them whole"}
    )  # fmt: skip
    created_at = ma.fields.DateTime()

    @ma.post_dump
    def _thin(self, item: dict, **kwargs) -> dict:
        return thin_changes(item)


EventPageSchema = page_schema(ScenarioEventSchema, "EventPage")


class FeedArgsSchema(Schema):
    token = ma.fields.String(load_default=None, validate=ma.validate.Length(max=100))
