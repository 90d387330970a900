"""Schemas of the operators' jobs API."""

import marshmallow as ma

from subscribe.api import Schema


class JobRunSchema(Schema):
    id = ma.fields.Integer()
    job = ma.fields.String()
    trigger = ma.fields.String()
    worker = ma.fields.String()
    started_at = ma.fields.DateTime()
    finished_at = ma.fields.DateTime(allow_none=True)
    duration_ms = ma.fields.Integer(allow_none=True)
    outcome = ma.fields.String(metadata={"description": "running, succeeded or failed"})
    result = ma.fields.Dict(allow_none=True)
    error = ma.fields.String(allow_none=True, metadata={"description": "with the traceback"})


class JobSchema(Schema):
    name = ma.fields.String()
    description = ma.fields.String()
    schedule = ma.fields.String()
    leader_only = ma.fields.Boolean()
    paused = ma.fields.Boolean()
    next_run_at = ma.fields.DateTime(allow_none=True)
    run_requested = ma.fields.Boolean()
    running = ma.fields.Boolean()
    last_run = ma.fields.Nested(JobRunSchema, allow_none=True)
    failure_streak = ma.fields.Integer()


class LeaderSchema(Schema):
    holder = ma.fields.String(allow_none=True)
    expires_at = ma.fields.DateTime(allow_none=True)
    present = ma.fields.Boolean()


class JobListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(JobSchema))
    leader = ma.fields.Nested(LeaderSchema)


class JobRunPageSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(JobRunSchema))
    total = ma.fields.Integer()
    page = ma.fields.Integer()
    per_page = ma.fields.Integer()
