"""/api/v1/chat-endpoints: the caller's DingTalk, WeCom and Feishu group robots."""

from flask import g

from subscribe.api import Blueprint
from subscribe.notify import chat_endpoints, services
from subscribe.notify.schemas import (
    ChatEndpointArgsSchema,
    ChatEndpointCreateSchema,
    ChatEndpointPageSchema,
    ChatEndpointSchema,
    ChatEndpointUpdateSchema,
    DeliveryArgsSchema,
    DeliveryPageSchema,
    DeliverySummarySchema,
    PingResultSchema,
)

chat_blp = Blueprint(
    "chat_endpoints", __name__, url_prefix="/api/v1/chat-endpoints",
    description="Chat group robots (DingTalk 钉钉, WeCom 企业微信, Feishu 飞书) that "
                "subscriptions with channel dingtalk, wecom or feishu deliver to",
)  # fmt: skip


@chat_blp.post("")
@chat_blp.auth_required()
@chat_blp.arguments(ChatEndpointCreateSchema)
@chat_blp.response(201, ChatEndpointSchema)
def create_chat_endpoint(body):
    """Register a robot by its webhook URL (and signing secret, if it signs).

    422 when the URL does not fit the platform, or reaches a private, loopback or
    link-local address that the outbound allow-list does not allow."""
    return chat_endpoints.create_chat_endpoint(
        g.user, body["kind"], body["url"], body["secret"], body["description"]
    )


@chat_blp.get("")
@chat_blp.auth_required()
@chat_blp.arguments(ChatEndpointArgsSchema, location="query", error_status_code=400)
@chat_blp.response(200, ChatEndpointPageSchema)
def list_chat_endpoints(args):
    """The caller's robots (URLs masked, secrets never shown)."""
    return chat_endpoints.list_chat_endpoints(g.user, args["page"], args["per_page"], args["kind"])


@chat_blp.get("/<int:endpoint_id>")
@chat_blp.auth_required()
@chat_blp.response(200, ChatEndpointSchema)
def get_chat_endpoint(endpoint_id: int):
    """One of the caller's robots."""
    return chat_endpoints.get_chat_endpoint(g.user, endpoint_id)


@chat_blp.patch("/<int:endpoint_id>")
@chat_blp.auth_required()
@chat_blp.arguments(ChatEndpointUpdateSchema)
@chat_blp.response(200, ChatEndpointSchema)
def update_chat_endpoint(body, endpoint_id: int):
    """Change the URL, description or signing secret (empty: no signing)."""
    endpoint = chat_endpoints.get_chat_endpoint(g.user, endpoint_id)
    return chat_endpoints.update_chat_endpoint(endpoint, body)


@chat_blp.delete("/<int:endpoint_id>")
@chat_blp.auth_required()
@chat_blp.response(204)
def delete_chat_endpoint(endpoint_id: int):
    """Remove a robot and the subscriptions that deliver to it."""
    services.delete_endpoint(chat_endpoints.get_chat_endpoint(g.user, endpoint_id))


@chat_blp.post("/<int:endpoint_id>/test")
@chat_blp.auth_required()
@chat_blp.response(200, PingResultSchema)
def test_chat_endpoint(endpoint_id: int):
    """Send a test message now; the answer shows what the platform replied (a 200 with a
    non-zero errcode/code is a failed attempt, its message in `attempt.error`)."""
    endpoint = chat_endpoints.get_chat_endpoint(g.user, endpoint_id)
    delivery, attempt = chat_endpoints.send_test(endpoint)
    return {"delivery": delivery, "attempt": attempt}


@chat_blp.post("/<int:endpoint_id>/enable")
@chat_blp.auth_required()
@chat_blp.response(200, ChatEndpointSchema)
def enable_chat_endpoint(endpoint_id: int):
    """Enable a robot that was disabled after failing for days."""
    return services.enable_endpoint(chat_endpoints.get_chat_endpoint(g.user, endpoint_id))


@chat_blp.get("/<int:endpoint_id>/deliveries")
@chat_blp.auth_required()
@chat_blp.arguments(DeliveryArgsSchema, location="query", error_status_code=400)
@chat_blp.response(200, DeliveryPageSchema)
def chat_deliveries(args, endpoint_id: int):
    """The delivery log: every message with each attempt (HTTP status, the platform's answer)."""
    endpoint = chat_endpoints.get_chat_endpoint(g.user, endpoint_id)
    return services.endpoint_deliveries(endpoint, args["page"], args["per_page"], args["status"])


@chat_blp.post("/<int:endpoint_id>/deliveries/<string:message_id>/resend")
@chat_blp.auth_required()
@chat_blp.response(202, DeliverySummarySchema)
def resend_chat_message(endpoint_id: int, message_id: str):
    """Queue one message again."""
    return services.resend(chat_endpoints.get_chat_endpoint(g.user, endpoint_id), message_id)
