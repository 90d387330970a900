"""/api/v1/subscriptions and /api/v1/webhooks: the caller's own, nobody else's."""

from flask import current_app, g

from subscribe.api import Blueprint, PageArgsSchema
from subscribe.notify import services
from subscribe.notify.schemas import (
    DeliveryArgsSchema,
    DeliveryPageSchema,
    DeliverySummarySchema,
    NotificationArgsSchema,
    NotificationPageSchema,
    NotificationSchema,
    PingResultSchema,
    RecoveredSchema,
    RecoverSchema,
    SubscriptionCreateSchema,
    SubscriptionPageSchema,
    SubscriptionSchema,
    SubscriptionUpdateSchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookPageSchema,
    WebhookSchema,
    WebhookUpdateSchema,
)
from subscribe.notify.ssrf import OutboundPolicy

subscriptions_blp = Blueprint(
    "subscriptions", __name__, url_prefix="/api/v1/subscriptions",
    description="Subscriptions to a scenario or a dataset",
)  # fmt: skip
webhooks_blp = Blueprint(
    "webhooks", __name__, url_prefix="/api/v1/webhooks", description="Webhook endpoints"
)
notifications_blp = Blueprint(
    "notifications", __name__, url_prefix="/api/v1/notifications", description="The inbox"
)


@subscriptions_blp.post("")
@subscriptions_blp.auth_required()
@subscriptions_blp.arguments(SubscriptionCreateSchema)
@subscriptions_blp.response(201, SubscriptionSchema)
def create_subscription(body):
    """Subscribe to a scenario or one dataset: events, channel, cadence, push."""
    return services.create_subscription(g.user, body)


@subscriptions_blp.get("")
@subscriptions_blp.auth_required()
@subscriptions_blp.arguments(PageArgsSchema, location="query", error_status_code=400)
@subscriptions_blp.response(200, SubscriptionPageSchema)
def list_subscriptions(args):
    """The caller's subscriptions."""
    return services.list_subscriptions(g.user, args["page"], args["per_page"])


@subscriptions_blp.get("/<int:subscription_id>")
@subscriptions_blp.auth_required()
@subscriptions_blp.response(200, SubscriptionSchema)
def get_subscription(subscription_id: int):
    """One of the caller's subscriptions."""
    return services.get_subscription(g.user, subscription_id)


@subscriptions_blp.patch("/<int:subscription_id>")
@subscriptions_blp.auth_required()
@subscriptions_blp.arguments(SubscriptionUpdateSchema)
@subscriptions_blp.response(200, SubscriptionSchema)
def update_subscription(body, subscription_id: int):
    """Change events, channel, cadence, push, or pause it (`active`)."""
    subscription = services.get_subscription(g.user, subscription_id)
    return services.update_subscription(g.user, subscription, body)


@subscriptions_blp.delete("/<int:subscription_id>")
@subscriptions_blp.auth_required()
@subscriptions_blp.response(204)
def delete_subscription(subscription_id: int):
    """Unsubscribe."""
    services.delete_subscription(services.get_subscription(g.user, subscription_id))


@webhooks_blp.post("")
@webhooks_blp.auth_required()
@webhooks_blp.arguments(WebhookCreateSchema)
@webhooks_blp.response(201, WebhookCreatedSchema)
def create_webhook(body):
    """Register an endpoint; its signing secret is in this answer only."""
    return services.create_endpoint(g.user, body["url"], body["description"])


@webhooks_blp.get("")
@webhooks_blp.auth_required()
@webhooks_blp.arguments(PageArgsSchema, location="query", error_status_code=400)
@webhooks_blp.response(200, WebhookPageSchema)
def list_webhooks(args):
    """The caller's webhook endpoints (never their secrets)."""
    return services.list_endpoints(g.user, args["page"], args["per_page"])


@webhooks_blp.get("/<int:endpoint_id>")
@webhooks_blp.auth_required()
@webhooks_blp.response(200, WebhookSchema)
def get_webhook(endpoint_id: int):
    """One of the caller's endpoints."""
    return services.get_endpoint(g.user, endpoint_id)


@webhooks_blp.patch("/<int:endpoint_id>")
@webhooks_blp.auth_required()
@webhooks_blp.arguments(WebhookUpdateSchema)
@webhooks_blp.response(200, WebhookSchema)
def update_webhook(body, endpoint_id: int):
    """Change an endpoint's URL or description."""
    return services.update_endpoint(services.get_endpoint(g.user, endpoint_id), body)


@webhooks_blp.delete("/<int:endpoint_id>")
@webhooks_blp.auth_required()
@webhooks_blp.response(204)
def delete_webhook(endpoint_id: int):
    """Remove an endpoint and the subscriptions that deliver to it."""
    services.delete_endpoint(services.get_endpoint(g.user, endpoint_id))


@webhooks_blp.post("/<int:endpoint_id>/test")
@webhooks_blp.auth_required()
@webhooks_blp.response(200, PingResultSchema)
def test_webhook(endpoint_id: int):
    """Send a signed `webhook.ping` now; the answer shows what the endpoint replied."""
    endpoint = services.get_endpoint(g.user, endpoint_id)
    delivery, attempt = services.ping(
        endpoint, OutboundPolicy(current_app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"])
    )
    return {"delivery": delivery, "attempt": attempt}


@webhooks_blp.post("/<int:endpoint_id>/rotate-secret")
@webhooks_blp.auth_required()
@webhooks_blp.response(200, WebhookCreatedSchema)
def rotate_secret(endpoint_id: int):
    """A new secret, shown once; the old one still signs too during the grace period."""
    endpoint = services.get_endpoint(g.user, endpoint_id)
    return services.rotate_secret(
        endpoint, current_app.config["SUBSCRIBE_WEBHOOK_ROTATION_GRACE_HOURS"]
    )


@webhooks_blp.post("/<int:endpoint_id>/enable")
@webhooks_blp.auth_required()
@webhooks_blp.response(200, WebhookSchema)
def enable_webhook(endpoint_id: int):
    """Enable a disabled endpoint (its failed messages can then be recovered)."""
    return services.enable_endpoint(services.get_endpoint(g.user, endpoint_id))


@webhooks_blp.get("/<int:endpoint_id>/deliveries")
@webhooks_blp.auth_required()
@webhooks_blp.arguments(DeliveryArgsSchema, location="query", error_status_code=400)
@webhooks_blp.response(200, DeliveryPageSchema)
def webhook_deliveries(args, endpoint_id: int):
    """The delivery log: every message with each attempt (status, duration, response)."""
    endpoint = services.get_endpoint(g.user, endpoint_id)
    return services.endpoint_deliveries(endpoint, args["page"], args["per_page"], args["status"])


@webhooks_blp.post("/<int:endpoint_id>/deliveries/<string:message_id>/resend")
@webhooks_blp.auth_required()
@webhooks_blp.response(202, DeliverySummarySchema)
def resend(endpoint_id: int, message_id: str):
    """Send one message again, with the same webhook-id."""
    return services.resend(services.get_endpoint(g.user, endpoint_id), message_id)


@webhooks_blp.post("/<int:endpoint_id>/recover")
@webhooks_blp.auth_required()
@webhooks_blp.arguments(RecoverSchema)
@webhooks_blp.response(202, RecoveredSchema)
def recover(body, endpoint_id: int):
    """Queue again every failed message since a time."""
    return {"requeued": services.recover(services.get_endpoint(g.user, endpoint_id), body["since"])}


@notifications_blp.get("")
@notifications_blp.auth_required()
@notifications_blp.arguments(NotificationArgsSchema, location="query", error_status_code=400)
@notifications_blp.response(200, NotificationPageSchema)
def list_notifications(args):
    """The caller's inbox, newest first (`unread=true` for unread only)."""
    return services.notifications(g.user, args["page"], args["per_page"], args["unread"])


@notifications_blp.post("/<int:notification_id>/read")
@notifications_blp.auth_required()
@notifications_blp.response(200, NotificationSchema)
def read_notification(notification_id: int):
    """Mark one notification read."""
    return services.mark_read(g.user, notification_id)
