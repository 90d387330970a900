"""Fetching one resource to a temporary file: streamed, hashed, capped; no database here."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import requests

from subscribe.notify.ssrf import BlockedURL, GuardedSession, fetch_following_redirects

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


def fetch_to_file(
    session: GuardedSession, url: str, target: Path, max_bytes: int
) -> Fetched | Failed:
    """GET url into `target`, never holding more than one chunk in memory.

    Nothing is kept on failure. A file over `max_bytes` is refused by its Content-Length
    when the server sends one, else as soon as the stream passes the cap.
    """
    if not url.lower().startswith(("http://", "https://")):
        return Failed("unsupported_url", f"only http(s) URLs can be fetched: {url[:200]}")
    try:
        response = fetch_following_redirects(
            session,
            url,
            stream=True,
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        )
    except BlockedURL as exc:
        return Failed("blocked", str(exc))
    except requests.RequestException as exc:
        return Failed("connection", f"{type(exc).__name__}: {exc}"[:500])
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
            return Failed("connection", f"{type(exc).__name__}: {exc}"[:500])
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
