"""Standard Webhooks delivery: signed with the `standardwebhooks` library, 2xx = success."""

from __future__ import annotations

import codecs
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
import urllib3
from standardwebhooks.webhooks import Webhook

from subscribe.digits import ascii_int
from subscribe.models_base import utcnow
from subscribe.notify.ssrf import GuardedSession
from subscribe.transport_errors import transport_reason

MAX_RESPONSE_BYTES = 20 * 1024  # kept per attempt in the delivery log
USER_AGENT = "subscribe-webhooks/1.0"
# What requests would add (Accept, Accept-Encoding, Connection), named in lower case as
# headers() names its own, so its user-agent replaces requests' (one header of each name).
_DEFAULT_HEADERS = {name.lower(): value for name, value in requests.utils.default_headers().items()}


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
    """Seconds a receiver asks to wait (delta-seconds or an HTTP date), None when the
    header says nothing usable. The receiver writes it: whatever it holds must not
    raise ("²" passed isdigit() and made float() fail: the test ping answered 500)."""
    value = (value or "").strip()
    if not value:
        return None
    if (seconds := ascii_int(value)) is not None:
        return float(seconds)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError, OverflowError):
        return None


def send(
    session: GuardedSession, url: str, secrets: list[str], message_id: str, payload: dict
) -> Sent:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    started = time.monotonic()
    try:
        # One write, request and answer framed by h11, over the session's guarded
        # connections (GuardedSession.post_bytes, http1.py): urllib3's request and answer
        # code was ~0.9 ms of CPU a webhook, most of a delivery's; this ~0.4 ms.
        answer = session.post_bytes(
            url, body.encode(), list({**_DEFAULT_HEADERS, **headers(secrets, message_id, body)}.items()),
            MAX_RESPONSE_BYTES,
        )  # fmt: skip
    except (
        urllib3.exceptions.HTTPError,
        OSError,
        ValueError,
    ) as exc:  # ValueError: the guard refused
        return Sent(None, "", int((time.monotonic() - started) * 1000), error=transport_reason(exc))
    raw = answer.body
    if answer.body_error is not None:  # a body cut short or stalled: the status line still counts
        raw = f"(response body unreadable: {answer.body_error})".encode()
    get = answer.headers.get
    text = raw.decode(_charset(get("content-type", "")), errors="replace")
    status = answer.status
    return Sent(
        status=status,
        body=text,
        duration_ms=int((time.monotonic() - started) * 1000),
        error=None if 200 <= status < 300 else f"HTTP {status}",
        disable=status == 410 or get("webhook-delivery", "").lower() == "disable",
        retry_after=_retry_after(get("retry-after")),
    )


def _charset(content_type: str) -> str:
    """The body's encoding as requests named it: the content-type's charset, else
    ISO-8859-1 for text/*, else UTF-8 (requests.utils.get_encoding_from_headers)."""
    encoding = requests.utils.get_encoding_from_headers({"content-type": content_type})
    try:
        codecs.lookup(encoding or "utf-8")
    except LookupError:
        return "utf-8"
    return encoding or "utf-8"


def valid_secrets(endpoint) -> list[str]:
    secrets = [endpoint.secret]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and expires and expires > utcnow():
        secrets.append(endpoint.previous_secret)
    return secrets
