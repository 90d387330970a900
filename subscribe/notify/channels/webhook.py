"""Standard Webhooks delivery: signed with the `standardwebhooks` library, 2xx = success."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from standardwebhooks.webhooks import Webhook

from subscribe.models_base import utcnow

MAX_RESPONSE_BYTES = 20 * 1024  # kept per attempt in the delivery log
USER_AGENT = "subscribe-webhooks/1.0"
# What Session.request would merge in (Accept, Accept-Encoding, Connection): the request is
# prepared here instead, without the session's per-call merging of settings and cookies
# (a third of a send's CPU; a webhook carries no cookies).
_DEFAULT_HEADERS = dict(requests.utils.default_headers())


@dataclass
class Sent:
    """What one attempt got back."""

    status: int | None
    body: str
    duration_ms: int
    error: str | None = None
    disable: bool = False  # 410, or `webhook-delivery: disable`
    retry_after: float | None = None
    # A chat platform answered 2xx with an error code in its JSON body (errcode/code != 0).
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and not self.refused


def signature(secrets: list[str], message_id: str, at: datetime, body: str) -> str:
    """`v1,…` per valid secret, space separated: during a rotation both sign."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets)


def headers(secrets: list[str], message_id: str, body: str) -> dict[str, str]:
    at = datetime.now(UTC).replace(microsecond=0)  # fresh for every attempt
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature(secrets, message_id, at, body),
    }


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def send(
    session: requests.Session, url: str, secrets: list[str], message_id: str, payload: dict
) -> Sent:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    started = time.monotonic()
    try:
        request = requests.Request(
            "POST", url, data=body.encode(),
            headers={**_DEFAULT_HEADERS, **headers(secrets, message_id, body)},
        ).prepare()  # fmt: skip
        response = session.send(request, allow_redirects=False, stream=True)
    except (requests.RequestException, ValueError) as exc:  # ValueError: the SSRF guard refused
        return Sent(None, "", int((time.monotonic() - started) * 1000), error=str(exc)[:1000])
    try:
        with response:
            raw = response.raw.read(MAX_RESPONSE_BYTES, decode_content=True) or b""
    except Exception as exc:  # a body cut short or stalled: the status line still counts
        raw = f"(response body unreadable: {exc})".encode()
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    return Sent(
        status=response.status_code,
        body=text,
        duration_ms=int((time.monotonic() - started) * 1000),
        error=None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}",
        disable=response.status_code == 410
        or response.headers.get("webhook-delivery", "").lower() == "disable",
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def valid_secrets(endpoint) -> list[str]:
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires and expires > utcnow():
        secrets.append(endpoint.previous_secret)
    return secrets
