"""Subscription and webhook endpoint schemas."""

import marshmallow as ma

from subscribe.api import MAX_ID, PageArgsSchema, Schema, page_schema
from subscribe.auth.preferences import is_zone
from subscribe.http_urls import http_url
from subscribe.notify.channels.chat import mask_url
from subscribe.notify.models import (
    CADENCES,
    CHANNELS,
    CHAT_CHANNELS,
    DATASET_EVENTS,
    DELIVERY_STATUSES,
    EVENT_TYPES,
    PUSH_KINDS,
)


def _timezone(value: str) -> None:
    if not is_zone(value):
        raise ma.ValidationError("Unknown time zone (use an IANA name like Asia/Shanghai).")


_EVENTS = ma.fields.List(
    ma.fields.String(validate=ma.validate.OneOf(EVENT_TYPES)),
    validate=ma.validate.Length(min=1, max=len(EVENT_TYPES)),
)
_ID = ma.validate.Range(min=1, max=MAX_ID)


class SubscriptionCreateSchema(Schema):
    scenario_id = ma.fields.Integer(load_default=None, allow_none=True, validate=_ID)
    dataset_id = ma.fields.Integer(load_default=None, allow_none=True, validate=_ID)
    events = ma.fields.List(
        _EVENTS.inner, load_default=lambda: list(DATASET_EVENTS), validate=_EVENTS.validate
    )
    channel = ma.fields.String(required=True, validate=ma.validate.OneOf(CHANNELS))
    endpoint_id = ma.fields.Integer(load_default=None, allow_none=True, validate=_ID)
    cadence = ma.fields.String(load_default="immediate", validate=ma.validate.OneOf(CADENCES))
    hour = ma.fields.Integer(load_default=8, validate=ma.validate.Range(min=0, max=23))
    weekday = ma.fields.Integer(load_default=0, validate=ma.validate.Range(min=0, max=6))
    timezone = ma.fields.String(load_default=None, allow_none=True, validate=_timezone)
    push = ma.fields.String(load_default="alert", validate=ma.validate.OneOf(PUSH_KINDS))

    @ma.validates_schema
    def _one_target(self, data, **_kwargs):
        if (data.get("scenario_id") is None) == (data.get("dataset_id") is None):
            raise ma.ValidationError(
                "Give exactly one of scenario_id and dataset_id.", "scenario_id"
            )


class SubscriptionUpdateSchema(Schema):
    events = ma.fields.List(_EVENTS.inner, validate=_EVENTS.validate)
    channel = ma.fields.String(validate=ma.validate.OneOf(CHANNELS))
    endpoint_id = ma.fields.Integer(allow_none=True, validate=_ID)
    cadence = ma.fields.String(validate=ma.validate.OneOf(CADENCES))
    hour = ma.fields.Integer(validate=ma.validate.Range(min=0, max=23))
    weekday = ma.fields.Integer(validate=ma.validate.Range(min=0, max=6))
    timezone = ma.fields.String(validate=_timezone)
    push = ma.fields.String(validate=ma.validate.OneOf(PUSH_KINDS))
    active = ma.fields.Boolean()
    catch_up = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "With `active: true` on a paused subscription: also deliver "
                  "what was detected while it was off (default: only changes from now on)."},
    )  # fmt: skip


class ChannelHealthSchema(Schema):
    status = ma.fields.String(metadata={"description": "ok or failing"})
    failing_since = ma.fields.DateTime(allow_none=True)
    last_error = ma.fields.String(allow_none=True)


class SubscriptionSchema(Schema):
    id = ma.fields.Integer()
    scenario_id = ma.fields.Integer(allow_none=True)
    dataset_id = ma.fields.Integer(allow_none=True)
    events = ma.fields.List(ma.fields.String())
    channel = ma.fields.String()
    endpoint_id = ma.fields.Integer(allow_none=True)
    cadence = ma.fields.String()
    hour = ma.fields.Integer()
    weekday = ma.fields.Integer()
    timezone = ma.fields.String()
    push = ma.fields.String()
    active = ma.fields.Boolean()
    active_since = ma.fields.DateTime(
        allow_none=True, metadata={"description": "changes detected before this are not sent"}
    )
    paused_at = ma.fields.DateTime(allow_none=True)
    health = ma.fields.Nested(ChannelHealthSchema)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


SubscriptionPageSchema = page_schema(SubscriptionSchema, "SubscriptionPage")


class WebhookCreateSchema(Schema):
    url = ma.fields.String(required=True, validate=[ma.validate.Length(max=2000), http_url])
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=1000))


class WebhookUpdateSchema(Schema):
    url = ma.fields.String(validate=[ma.validate.Length(max=2000), http_url])
    description = ma.fields.String(validate=ma.validate.Length(max=1000))


class WebhookSchema(Schema):
    id = ma.fields.Integer()
    url = ma.fields.String()
    description = ma.fields.String()
    enabled = ma.fields.Boolean()
    disabled_reason = ma.fields.String(allow_none=True)
    failing_since = ma.fields.DateTime(allow_none=True)
    last_success_at = ma.fields.DateTime(allow_none=True)
    previous_secret_expires_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


class WebhookCreatedSchema(WebhookSchema):
    secret = ma.fields.String(metadata={"description": "Signing secret (whsec_…), shown once"})


WebhookPageSchema = page_schema(WebhookSchema, "WebhookPage")


class AttemptSchema(Schema):
    started_at = ma.fields.DateTime()
    duration_ms = ma.fields.Integer()
    status_code = ma.fields.Integer(allow_none=True)
    succeeded = ma.fields.Boolean()
    error = ma.fields.String(allow_none=True)
    response_body = ma.fields.String(allow_none=True, metadata={"description": "first 20 KB"})


class DeliverySummarySchema(Schema):
    id = ma.fields.Integer()
    message_id = ma.fields.String(metadata={"description": "webhook-id, stable across retries"})
    event_type = ma.fields.String()
    status = ma.fields.String(
        metadata={"description": "pending, delivering, succeeded, failed or cancelled (its "
                  "subscription was paused or unsubscribed before it was sent)"}
    )  # fmt: skip
    attempts = ma.fields.Integer()
    next_attempt_at = ma.fields.DateTime()
    last_status = ma.fields.Integer(allow_none=True)
    last_error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    delivered_at = ma.fields.DateTime(allow_none=True)
    payload = ma.fields.Dict()


class DeliverySchema(DeliverySummarySchema):
    attempt_log = ma.fields.List(ma.fields.Nested(AttemptSchema))


DeliveryPageSchema = page_schema(DeliverySchema, "DeliveryPage")


class DeliveryArgsSchema(PageArgsSchema):
    status = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf(DELIVERY_STATUSES),
    )


class RecoverSchema(Schema):
    since = ma.fields.DateTime(required=True)


class RecoveredSchema(Schema):
    requeued = ma.fields.Integer()


class PingResultSchema(Schema):
    delivery = ma.fields.Nested(DeliverySummarySchema)
    attempt = ma.fields.Nested(AttemptSchema)


class NotificationSchema(Schema):
    id = ma.fields.Integer()
    type = ma.fields.String()
    title = ma.fields.String()
    payload = ma.fields.Dict()
    read_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()


NotificationPageSchema = page_schema(NotificationSchema, "NotificationPage")


class NotificationArgsSchema(PageArgsSchema):
    unread = ma.fields.Boolean(load_default=False)


# --- chat robots (DingTalk, WeCom, Feishu) -------------------------------------------
class ChatEndpointCreateSchema(Schema):
    kind = ma.fields.String(
        required=True, validate=ma.validate.OneOf(CHAT_CHANNELS),
        metadata={"description": "dingtalk (钉钉), wecom (企业微信) or feishu (飞书)"},
    )  # fmt: skip
    url = ma.fields.String(
        required=True, validate=[ma.validate.Length(max=2000), http_url],
        metadata={"description": "The robot's webhook URL, as the platform shows it"},
    )  # fmt: skip
    secret = ma.fields.String(
        load_default="", validate=ma.validate.Length(max=200),
        metadata={"description": "Signing secret (DingTalk 加签 SEC…, Feishu 签名校验); "
                  "empty when the robot does not sign. Stored, never shown back."},
    )  # fmt: skip
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=1000))


class ChatEndpointUpdateSchema(Schema):
    url = ma.fields.String(validate=[ma.validate.Length(max=2000), http_url])
    secret = ma.fields.String(
        validate=ma.validate.Length(max=200),
        metadata={"description": "A new signing secret; empty stops signing"},
    )  # fmt: skip
    description = ma.fields.String(validate=ma.validate.Length(max=1000))


class ChatEndpointSchema(Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    url = ma.fields.Function(
        lambda e: mask_url(e.kind, e.url),
        metadata={"description": "Masked: the token, key or hook id cut to 4 characters"},
    )  # fmt: skip
    signed = ma.fields.Function(
        lambda e: bool(e.secret), metadata={"description": "a signing secret is set"}
    )
    description = ma.fields.String()
    enabled = ma.fields.Boolean()
    disabled_reason = ma.fields.String(allow_none=True)
    failing_since = ma.fields.DateTime(allow_none=True)
    last_success_at = ma.fields.DateTime(allow_none=True)
    created_at = ma.fields.DateTime()
    updated_at = ma.fields.DateTime()


ChatEndpointPageSchema = page_schema(ChatEndpointSchema, "ChatEndpointPage")


class ChatEndpointArgsSchema(PageArgsSchema):
    kind = ma.fields.String(load_default=None, validate=ma.validate.OneOf(CHAT_CHANNELS))
