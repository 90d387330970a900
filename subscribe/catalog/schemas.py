"""Request and response schemas for sources and harvest runs."""

import marshmallow as ma

from subscribe.api import Schema, page_schema
from subscribe.catalog.models import SOURCE_TYPES
from subscribe.http_urls import http_url


class HarvestRunSchema(Schema):
    id = ma.fields.Integer()
    status = ma.fields.String()
    trigger = ma.fields.String()
    incremental = ma.fields.Boolean()
    since = ma.fields.DateTime(allow_none=True)
    queued_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    created = ma.fields.Integer()
    updated = ma.fields.Integer()
    unchanged = ma.fields.Integer()
    deleted = ma.fields.Integer()
    bad = ma.fields.Integer()
    errors = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "Bad records: reference, reason"}
    )
    error = ma.fields.String(allow_none=True, metadata={"description": "Why the run failed"})
    mapping_report = ma.fields.Dict(
        allow_none=True,
        metadata={
            "description": "Tabular runs: which column became which field (with level, "
            "score and reason), which were ignored, how identity was chosen, skipped rows. "
            "Any run: dates_not_read, {issued|modified: {placeholder|schedule|future|"
            "unreadable: records}}, records read this run whose date text gave no date "
            "(stored with the text as issued_raw/modified_raw). origin_moves, [{from, to, "
            "datasets}]: bases (scheme://host[:port] and a path prefix, often none) whose "
            "datasets' URLs all moved in "
            "this run, stored without versions or events (datasets: every dataset the "
            "move took, those also edited too); origin_moved_identifiers: "
            "datasets identified by a URL that kept their identity while their URLs moved "
            "in this run (reported once: later runs keep the old identifiers quietly). "
            "Full listings: kept_by_bad_records, stored datasets a bad record named (kept "
            "as they are); records_unreadable, bad records with no readable identity; "
            "deletions_held_back, {datasets_unseen, records_unreadable, "
            "already_unreadable}: nothing deleted this run, the unseen datasets being no "
            "more than the records newly unreadable"
        },
    )


_NAME = [
    ma.validate.Length(min=1, max=100),
    ma.validate.Regexp(r"^[\w.-]+$", error="Letters, digits, '.', '-' and '_' only."),
]
_SCHEDULE = ma.validate.Range(min=10, max=30 * 86400)


class SourceCreateSchema(Schema):
    name = ma.fields.String(required=True, validate=_NAME)
    type = ma.fields.String(required=True, validate=ma.validate.OneOf(SOURCE_TYPES))
    url = ma.fields.String(required=True, validate=[ma.validate.Length(max=2000), http_url])
    mapping = ma.fields.Dict(load_default=dict, metadata={"description": "Tabular field mapping"})
    schedule = ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=_SCHEDULE,
        metadata={"description": "Seconds between scheduled harvests"},
    )


class SourceUpdateSchema(Schema):
    """Every field optional; only the fields given change."""

    name = ma.fields.String(validate=_NAME)
    type = ma.fields.String(validate=ma.validate.OneOf(SOURCE_TYPES))
    url = ma.fields.String(validate=[ma.validate.Length(max=2000), http_url])
    mapping = ma.fields.Dict()
    schedule = ma.fields.Integer(validate=_SCHEDULE)
    enabled = ma.fields.Boolean()


class SourceSchema(Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    type = ma.fields.String()
    url = ma.fields.String()
    mapping = ma.fields.Dict()
    schedule = ma.fields.Integer()
    enabled = ma.fields.Boolean()
    created_at = ma.fields.DateTime()
    datasets = ma.fields.Integer(metadata={"description": "Datasets currently listed"})
    last_harvest = ma.fields.Nested(HarvestRunSchema, allow_none=True)
    mapping_report = ma.fields.Dict(
        allow_none=True,
        metadata={"description": "Tabular: the mapping report of the newest harvest run"},
    )


class PreviewArgsSchema(Schema):
    rows = ma.fields.Integer(
        load_default=10,
        validate=ma.validate.Range(min=1, max=100),
        metadata={"description": "How many datasets to show"},
    )
    mapping = ma.fields.Dict(
        load_default=None,
        allow_none=True,
        metadata={"description": "Try this tabular mapping instead of the saved one"},
    )


class PreviewSchema(Schema):
    source = ma.fields.String()
    mapping = ma.fields.Dict(
        allow_none=True, metadata={"description": "The mapping report (tabular sources)"}
    )
    total = ma.fields.Integer(allow_none=True, metadata={"description": "Records listed"})
    records = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "The first datasets as they would be stored"}
    )
    bad = ma.fields.List(
        ma.fields.Dict(), metadata={"description": "Bad records met: reference, reason"}
    )


class HarvestQueuedSchema(Schema):
    run = ma.fields.Nested(HarvestRunSchema)


RunsPageSchema = page_schema(HarvestRunSchema, "RunsPage")
SourcePageSchema = page_schema(SourceSchema, "SourcePage")
