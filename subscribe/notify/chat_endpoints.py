"""Chat robot endpoints (DingTalk, WeCom, Feishu): the caller's own. Services commit.

A chat endpoint is a `WebhookEndpoint` row whose `kind` is the platform, so it shares the
outbox, retries, health, disabling and delivery log of webhooks. Its `secret` is the
platform's optional signing secret (DingTalk 加签, Feishu 签名校验; "" when the robot does
not sign), stored to sign and never shown back. The robot URL itself carries a credential
(access_token, key, hook id): answers show it masked (`masked_url`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from flask import current_app
from sqlalchemy import select

from subscribe.auth.models import User
from subscribe.errors import InvalidInputError, NotFoundError
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify import payloads, sender, services
from subscribe.notify.channels import chat
from subscribe.notify.models import CHAT_CHANNELS, Delivery, DeliveryAttempt, WebhookEndpoint
from subscribe.notify.ssrf import OutboundPolicy, guarded_session
from subscribe.paging import paginate

# What each platform's robot URL must hold, for a readable 422 when the wrong URL is pasted.
URL_SHAPES = {
    "dingtalk": "https://oapi.dingtalk.com/robot/send?access_token=…",
    "wecom": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…",
    "feishu": "https://open.feishu.cn/open-apis/bot/v2/hook/…",
}


def url_problem(kind: str, url: str) -> str | None:
    """Why `url` is not a `kind` robot URL, or None. The host is not fixed (Lark's, a
    proxy's or a test stub's are fine): the credential must be where the platform puts it."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    if kind == "dingtalk" and not query.get("access_token"):
        return f"A DingTalk robot URL has an access_token: {URL_SHAPES[kind]}"
    if kind == "wecom" and not query.get("key"):
        return f"A WeCom robot URL has a key: {URL_SHAPES[kind]}"
    if kind == "feishu":
        head, _, token = parts.path.rstrip("/").rpartition("/")
        if not head.endswith("/bot/v2/hook") or not token:
            return f"A Feishu robot URL ends in /bot/v2/hook/<id>: {URL_SHAPES[kind]}"
    return None


def _check(kind: str, url: str, secret: str, policy: OutboundPolicy | None) -> None:
    errors = {}
    if problem := url_problem(kind, url):
        errors["url"] = [problem]
    if secret and not chat.PLATFORMS[kind].signs:
        errors["secret"] = ["WeCom robots do not sign messages: leave the secret empty."]
    if errors:
        raise InvalidInputError("The chat endpoint is not valid.", errors)
    services.check_endpoint_url(url, policy)


def masked_url(endpoint: WebhookEndpoint) -> str:
    return chat.mask_url(endpoint.kind, endpoint.url)


def get_chat_endpoint(user: User, endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.user_id != user.id or endpoint.kind not in CHAT_CHANNELS:
        raise NotFoundError("No such chat endpoint.")
    return endpoint


def list_chat_endpoints(user: User, page: int, per_page: int, kind: str | None = None) -> dict:
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.user_id == user.id, WebhookEndpoint.kind.in_(CHAT_CHANNELS)
    )
    if kind:
        query = query.where(WebhookEndpoint.kind == kind)
    return paginate(query.order_by(WebhookEndpoint.id), page, per_page)


def create_chat_endpoint(user: User, kind: str, url: str, secret: str = "", description: str = "",
                         *, policy: OutboundPolicy | None = None) -> WebhookEndpoint:  # fmt: skip
    """InvalidInputError (422) for a URL of the wrong shape or reaching an internal address
    (unless allow-listed), or a secret for a platform that does not sign."""
    secret = (secret or "").strip()
    _check(kind, url, secret, policy)
    endpoint = WebhookEndpoint(user_id=user.id, kind=kind, url=url, secret=secret,
                               description=description)  # fmt: skip
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


def update_chat_endpoint(endpoint: WebhookEndpoint, values: dict) -> WebhookEndpoint:
    """Change url, description or secret ("" stops signing)."""
    url = values.get("url", endpoint.url)
    secret = (values["secret"] or "").strip() if "secret" in values else endpoint.secret
    if "url" in values or "secret" in values:
        _check(endpoint.kind, url, secret, None)
    endpoint.url, endpoint.secret = url, secret
    if "description" in values:
        endpoint.description = values["description"]
    endpoint.updated_at = utcnow()
    db.session.commit()
    return endpoint


def send_test(endpoint: WebhookEndpoint,
              policy: OutboundPolicy | None = None) -> tuple[Delivery, DeliveryAttempt]:  # fmt: skip
    """Send the test message now and log it like any delivery (tried once, no retries)."""
    policy = policy or OutboundPolicy(current_app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"])
    message_id = payloads.new_message_id()
    delivery = Delivery(
        message_id=message_id, user_id=endpoint.user_id, endpoint_id=endpoint.id,
        channel=endpoint.kind, event_type="chat.test", status="delivering",
        payload={"type": "chat.test", "timestamp": utcnow().isoformat() + "Z",
                 "data": {"event_id": message_id, "endpoint_id": endpoint.id}},
    )  # fmt: skip
    db.session.add(delivery)
    db.session.commit()
    body = sender.chat_body(endpoint, [delivery], None)
    with guarded_session(policy) as session:
        sent = chat.send(session, endpoint.kind, endpoint.url, endpoint.secret, body)
    sender.record_ping(delivery, sent)
    db.session.commit()
    attempt = db.session.scalar(
        select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery.id)
    )
    return delivery, attempt
