"""Fetching one resource to a temporary file: streamed, hashed, capped; no database here."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import requests
import urllib3

from subscribe.notify.ssrf import (
    BlockedURL,
    GuardedSession,
    UnresolvableHost,
    fetch_following_redirects,
)
from subscribe.transport_errors import transport_reason

CHUNK = 256 * 1024  # large reads: the build is bound by copying bytes, not by requests
USER_AGENT = "subscribe-bundler/0.1 (+open data subscriptions)"


@dataclass(frozen=True)
class Fetched:
    path: Path
    size: int
    sha256: str
    media_type: str
    final_url: str
    retrieved_at: datetime


@dataclass(frozen=True)
class Failed:
    reason: str  # too_large | http_error | connection | blocked | unsupported_url
    detail: str


class _TooLarge(Exception):
    pass


class UnreachableHosts:
    """Hosts that could not be reached during one build (no DNS answer, connection
    refused or timed out): their other files fail at once instead of each waiting for
    the same timeout. A slow or failing response does not count: that is one file."""

    def __init__(self) -> None:
        self._failed: dict[str, str] = {}
        self._lock = threading.Lock()

    def failure(self, url: str) -> Failed | None:
        detail = self._failed.get(_host(url))
        if detail is None:
            return None
        return Failed("connection", f"host unreachable earlier in this bundle: {detail}")

    def add(self, url: str, detail: str) -> None:
        with self._lock:
            self._failed.setdefault(_host(url), detail)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _unreachable(exc: requests.RequestException) -> bool:
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def fetch_to_file(session: GuardedSession, url: str, target: Path, max_bytes: int,
                  unreachable: UnreachableHosts | None = None) -> Fetched | Failed:  # fmt: skip
    """GET url into `target`, never holding more than one chunk in memory.

    Nothing is kept on failure. A file over `max_bytes` is refused by its Content-Length
    when the server sends one, else as soon as the stream passes the cap.
    """
    if not url.lower().startswith(("http://", "https://")):
        return Failed("unsupported_url", f"only http(s) URLs can be fetched: {url[:200]}")
    unreachable = unreachable or UnreachableHosts()
    if known := unreachable.failure(url):
        return known
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    try:
        response = fetch_following_redirects(session, url, stream=True, headers=headers)
    except UnresolvableHost as exc:
        unreachable.add(url, transport_reason(exc))
        return Failed("connection", transport_reason(exc))
    except BlockedURL as exc:
        return Failed("blocked", str(exc))
    except requests.RequestException as exc:
        detail = transport_reason(exc)
        if _unreachable(exc):
            unreachable.add(url, detail)
        return Failed("connection", detail)
    with response:
        if response.status_code != 200:
            return Failed("http_error", f"HTTP {response.status_code}")
        declared = _content_length(response)
        if declared is not None and declared > max_bytes:
            return Failed("too_large", f"{declared} bytes declared, cap {max_bytes}")
        try:
            size, digest = _stream(response, target, max_bytes)
        except _TooLarge:
            target.unlink(missing_ok=True)
            return Failed("too_large", f"more than {max_bytes} bytes (cap)")
        except (requests.RequestException, OSError) as exc:
            target.unlink(missing_ok=True)
            return Failed("connection", transport_reason(exc))
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return Fetched(target, size, digest, media_type, response.url, datetime.now(UTC))


def _content_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _stream(response: requests.Response, target: Path, max_bytes: int) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    # raw.read, not iter_content: no decoding layer, and it fills whole chunks.
    with open(target, "wb") as out:
        while chunk := response.raw.read(CHUNK, decode_content=False):
            size += len(chunk)
            if size > max_bytes:
                raise _TooLarge
            digest.update(chunk)
            out.write(chunk)
    return size, digest.hexdigest()
