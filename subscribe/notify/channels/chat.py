"""Chat group robots: DingTalk (钉钉), WeCom (企业微信) and Feishu (飞书) custom bots.

One JSON POST per message to the robot's webhook URL, through the caller's SSRF-guarded
session. Formats, from the platforms' documentation:

- DingTalk: `https://oapi.dingtalk.com/robot/send?access_token=…`, body
  {"msgtype": "markdown", "markdown": {"title", "text"}}. With 加签 the URL also gets
  `timestamp` (milliseconds) and `sign` = urlencode(base64(HMAC-SHA256(key=secret,
  msg=f"{timestamp}\\n{secret}"))). Answer {"errcode": 0, "errmsg": "ok"}; 130101 / 410100
  mean "sending too fast" (the robot is throttled for 10 minutes).
- WeCom: `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`, body
  {"msgtype": "markdown", "markdown": {"content"}} (content at most 4096 bytes, no signing).
  Answer {"errcode": 0, "errmsg": "ok"}; 45009 is the frequency limit.
- Feishu: `https://open.feishu.cn/open-apis/bot/v2/hook/…`, body {"msg_type": "post",
  "content": {"post": {"zh_cn": {"title", "content": [[tags]]}}}} (at most 20 KB). With
  签名校验 the body also has `timestamp` (seconds) and `sign` = base64(HMAC-SHA256(
  key=f"{timestamp}\\n{secret}", msg=b"")). Answer {"code": 0, "msg": "success"} (older
  robots: {"StatusCode": 0}); 11232 / 9499 / 99991400 are frequency limits.

All three answer HTTP 200 with an error code in the body: that is a failed attempt
(`Sent.refused`), logged with the platform's message, and retried like any failure;
a rate-limit code (or HTTP 429) waits at least the platform's throttle time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

import requests

from subscribe.notify.channels.webhook import MAX_RESPONSE_BYTES, Sent, _retry_after
from subscribe.transport_errors import transport_reason

USER_AGENT = "subscribe-chat/1.0"


@dataclass(frozen=True)
class Platform:
    kind: str
    name: str  # as the pages and the delivery log name it
    limit: int  # bytes: the markdown text (DingTalk, WeCom) or the whole JSON body (Feishu)
    code_fields: tuple[str, ...]  # where the answer's error code is
    message_fields: tuple[str, ...]
    rate_codes: frozenset[int]
    rate_wait: float  # seconds to wait after a rate-limit answer
    secret_params: tuple[str, ...]  # query parameters of the URL that are credentials
    path_is_secret: bool = False  # the URL's last path segment is the credential (Feishu)
    signs: bool = True


PLATFORMS = {
    # DingTalk's markdown: 15,000 bytes stays under both readings of its limit
    # (5,000 characters of Chinese or 20,000 bytes).
    "dingtalk": Platform("dingtalk", "钉钉", 15_000, ("errcode",), ("errmsg",),
                         frozenset({130101, 410100}), 600.0, ("access_token",)),
    "wecom": Platform("wecom", "企业微信", 4096, ("errcode",), ("errmsg",),
                      frozenset({45009}), 60.0, ("key",), signs=False),
    "feishu": Platform("feishu", "飞书", 19_000, ("code", "StatusCode"), ("msg", "StatusMessage"),
                       frozenset({11232, 9499, 99991400}), 60.0, (), path_is_secret=True),
}  # fmt: skip


def dingtalk_sign(secret: str, timestamp_ms: str) -> str:
    """base64(HMAC-SHA256(secret, "{timestamp}\\n{secret}")); the query string URL-encodes it."""
    digest = hmac.new(
        secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: str) -> str:
    """base64(HMAC-SHA256(key="{timestamp}\\n{secret}", msg=b"")): Feishu keys by the string."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def secret_parts(kind: str, url: str) -> list[str]:
    """The credentials inside a robot URL (its token, key or hook id), to keep out of logs."""
    platform = PLATFORMS[kind]
    parts = urlsplit(url)
    found = [v for k, v in parse_qsl(parts.query) if k in platform.secret_params and v]
    if platform.path_is_secret:
        last = parts.path.rstrip("/").rsplit("/", 1)[-1]
        found += [last] if last else []
    return found


def _hide(value: str) -> str:
    return value[:4] + "…" if len(value) > 8 else "…"


def mask_url(kind: str, url: str) -> str:
    """The URL with its credential cut to 4 characters: what pages and the API show."""
    for part in sorted(secret_parts(kind, url), key=len, reverse=True):
        url = url.replace(part, _hide(part))
    return url


def redact(kind: str, url: str, text: str) -> str:
    for part in sorted(secret_parts(kind, url), key=len, reverse=True):
        text = text.replace(part, _hide(part))
    return text


def signed(kind: str, secret: str, body: dict, now: float | None = None
           ) -> tuple[dict, dict[str, str] | None]:  # fmt: skip
    """(body, query parameters) with the platform's signature for a signing robot; a fresh
    timestamp on every attempt (both platforms refuse one older than an hour)."""
    now = time.time() if now is None else now
    if not secret or not PLATFORMS[kind].signs:
        return body, None
    if kind == "dingtalk":
        timestamp = str(int(now * 1000))
        return body, {"timestamp": timestamp, "sign": dingtalk_sign(secret, timestamp)}
    timestamp = str(int(now))
    return {"timestamp": timestamp, "sign": feishu_sign(secret, timestamp), **body}, None


def _answer_code(platform: Platform, answer: object) -> tuple[int | None, str]:
    if not isinstance(answer, dict):
        return None, ""
    code = next((answer[f] for f in platform.code_fields if f in answer), None)
    message = next((str(answer[f]) for f in platform.message_fields if f in answer), "")
    try:
        return (int(code) if code is not None else None), message
    except (TypeError, ValueError, OverflowError):  # OverflowError: {"errcode": 1e400} is inf
        return None, message


def interpret(kind: str, status: int, text: str, retry_after_header: str | None,
              duration_ms: int) -> Sent:  # fmt: skip
    """What one answer means: success only for 2xx with the platform's code 0."""
    platform = PLATFORMS[kind]
    if not 200 <= status < 300:
        wait = _retry_after(retry_after_header)
        if status == 429 and wait is None:
            wait = platform.rate_wait
        return Sent(status, text, duration_ms, error=f"HTTP {status}", retry_after=wait)
    try:
        answer = json.loads(text)
    except ValueError:
        answer = None
    code, message = _answer_code(platform, answer)
    if code == 0:
        return Sent(status, text, duration_ms)
    if code is None:
        error = f"{platform.name}: the answer is not the platform's JSON (no error code)"
        return Sent(status, text, duration_ms, error=error, refused=True)
    wait = platform.rate_wait if code in platform.rate_codes else None
    error = f"{platform.name} error {code}: {message[:500]}".rstrip(": ")
    return Sent(status, text, duration_ms, error=error, refused=True, retry_after=wait)


def send(session: requests.Session, kind: str, url: str, secret: str, body: dict) -> Sent:
    """POST one message (an unsigned body from chat_message) to a robot; never raises."""
    body, params = signed(kind, secret, body)
    data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    headers = {"content-type": "application/json; charset=utf-8", "user-agent": USER_AGENT}
    started = time.monotonic()
    try:
        response = session.post(url, params=params, data=data, headers=headers,
                                allow_redirects=False, stream=True)  # fmt: skip
    except (requests.RequestException, ValueError) as exc:  # ValueError: the SSRF guard refused
        error = redact(kind, url, transport_reason(exc))
        return Sent(None, "", int((time.monotonic() - started) * 1000), error=error)
    try:
        with response:
            raw = response.raw.read(MAX_RESPONSE_BYTES, decode_content=True) or b""
    except Exception as exc:  # a body cut short: the status still counts, the code is unknown
        raw = f"(response body unreadable: {exc})".encode()
    text = raw.decode(response.encoding or "utf-8", errors="replace")
    duration = int((time.monotonic() - started) * 1000)
    return interpret(kind, response.status_code, text, response.headers.get("Retry-After"),
                     duration)  # fmt: skip
