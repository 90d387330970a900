"""Schemas of the operators' jobs API."""

import marshmallow as ma

from subscribe.api import Schema, page_schema


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


class FailingEndpointSchema(Schema):
    id = ma.fields.Integer()
    url = ma.fields.String()
    enabled = ma.fields.Boolean()
    failing_since = ma.fields.DateTime(allow_none=True)
    disabled_reason = ma.fields.String(allow_none=True)


class SmtpSchema(Schema):
    status = ma.fields.String(metadata={"description": "ok, failing, or unused (no e-mail yet)"})
    failing_since = ma.fields.DateTime(allow_none=True)
    last_error = ma.fields.String(allow_none=True)


class QueueSchema(Schema):
    depth = ma.fields.Integer(metadata={"description": "deliveries pending or being sent"})
    due = ma.fields.Integer(metadata={"description": "pending and due now (not waiting to retry)"})
    failed = ma.fields.Integer(metadata={"description": "given up on (recoverable)"})
    oldest_pending_seconds = ma.fields.Float(metadata={"description": "age of the oldest due one"})
    failing_endpoints = ma.fields.List(ma.fields.Nested(FailingEndpointSchema))
    smtp = ma.fields.Nested(SmtpSchema)


class JobListSchema(Schema):
    items = ma.fields.List(ma.fields.Nested(JobSchema))
    leader = ma.fields.Nested(LeaderSchema)
    delivery_queue = ma.fields.Nested(QueueSchema)


JobRunPageSchema = page_schema(JobRunSchema, "JobRunPage")
