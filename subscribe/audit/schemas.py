"""Audit trail query and response schemas."""

import marshmallow as ma

from subscribe.api import PageArgsSchema, Schema, page_schema


class AuditFilterSchema(Schema):
    """actor: a user id, or text of the actor's e-mail or job name; action: exact
    (`report.transition`) or a prefix ending in "." (`subscription.`); since/until:
    ISO 8601 times (UTC when no zone; until exclusive)."""

    actor = ma.fields.String(load_default=None, validate=ma.validate.Length(max=320))
    action = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64))
    target_type = ma.fields.String(load_default=None, validate=ma.validate.Length(max=32))
    target_id = ma.fields.String(load_default=None, validate=ma.validate.Length(max=100))
    since = ma.fields.DateTime(load_default=None)
    until = ma.fields.DateTime(load_default=None)


class AuditSearchSchema(AuditFilterSchema, PageArgsSchema):
    pass


class AuditMineSchema(AuditFilterSchema, PageArgsSchema):
    """The caller's own entries: every filter but the actor (the caller)."""

    class Meta(Schema.Meta):
        exclude = ("actor",)


class AuditExportSchema(AuditFilterSchema):
    format = ma.fields.String(load_default="csv", validate=ma.validate.OneOf(("csv", "json")))


class AuditEntrySchema(Schema):
    id = ma.fields.Integer()
    created_at = ma.fields.DateTime()
    actor_type = ma.fields.String()
    actor_id = ma.fields.Integer(allow_none=True)
    actor_label = ma.fields.String()
    action = ma.fields.String()
    target_type = ma.fields.String()
    target_id = ma.fields.String()
    ip = ma.fields.String(allow_none=True)
    details = ma.fields.Dict()


AuditPageSchema = page_schema(AuditEntrySchema, "AuditPage")
