"""Error report request and response schemas (the public one has no personal details)."""

import marshmallow as ma

from subscribe.api import MAX_ID, PageArgsSchema, Schema, page_schema
from subscribe.feedback.models import REPORT_STATES

_ID = ma.validate.Range(min=1, max=MAX_ID)


class ErrorReportCreateSchema(Schema):
    """What is wrong (required), where (a `field`, or a `row` and `column` of the
    `resource`), the proposed value and an http(s) evidence link."""

    resource_id = ma.fields.Integer(load_default=None, allow_none=True, validate=_ID)
    field = ma.fields.String(load_default=None, allow_none=True,
                             validate=ma.validate.Length(max=100))  # fmt: skip
    row = ma.fields.Integer(load_default=None, allow_none=True,
                            validate=ma.validate.Range(min=1, max=1_000_000_000))  # fmt: skip
    column = ma.fields.String(load_default=None, allow_none=True,
                              validate=ma.validate.Length(max=200))  # fmt: skip
    description = ma.fields.String(required=True, validate=ma.validate.Length(max=5000))
    proposed_value = ma.fields.String(load_default=None, allow_none=True,
                                      validate=ma.validate.Length(max=5000))  # fmt: skip
    evidence_url = ma.fields.String(load_default=None, allow_none=True,
                                    validate=ma.validate.Length(max=2000))  # fmt: skip


class ReportTransitionSchema(Schema):
    state = ma.fields.String(required=True, validate=ma.validate.OneOf(REPORT_STATES))
    reason = ma.fields.String(load_default=None, allow_none=True,
                              validate=ma.validate.Length(max=5000))  # fmt: skip


class ReportHideSchema(Schema):
    hidden = ma.fields.Boolean(load_default=True)


class ReportListArgsSchema(PageArgsSchema):
    """`?mine` alone (no value) means mine=true."""

    mine = ma.fields.Boolean(load_default=False)
    state = ma.fields.String(load_default=None, validate=ma.validate.OneOf(REPORT_STATES))
    dataset_id = ma.fields.Integer(load_default=None, validate=_ID)
    hidden = ma.fields.Boolean(load_default=None, allow_none=True)
    q = ma.fields.String(load_default=None, validate=ma.validate.Length(max=200))

    @ma.pre_load
    def _bare_mine(self, data, **_kwargs):
        if data.get("mine") == "":
            data = {**data, "mine": "true"}
        return data


class PublicErrorReportSchema(Schema):
    id = ma.fields.Integer()
    dataset_id = ma.fields.Integer()
    resource_id = ma.fields.Integer(allow_none=True)
    resource_name = ma.fields.String(allow_none=True)
    field = ma.fields.String(allow_none=True)
    row = ma.fields.Integer(allow_none=True)
    column = ma.fields.String(allow_none=True)
    description = ma.fields.String()
    proposed_value = ma.fields.String(allow_none=True)
    evidence_url = ma.fields.String(allow_none=True)
    state = ma.fields.String()
    reason = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()
    acknowledged_at = ma.fields.DateTime(allow_none=True)
    closed_at = ma.fields.DateTime(allow_none=True)


class ErrorReportSchema(PublicErrorReportSchema):
    """The reporter's and the operators' view: also the title, spam flag and, for
    operators, who reported and who handled it."""

    dataset_title = ma.fields.String()
    hidden = ma.fields.Boolean()
    reporter = ma.fields.String(allow_none=True)
    handled_by = ma.fields.String(allow_none=True)


PublicReportPageSchema = page_schema(PublicErrorReportSchema, "PublicErrorReportPage")
ReportPageSchema = page_schema(ErrorReportSchema, "ErrorReportPage")
