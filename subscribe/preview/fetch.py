"""Fetching the head of a resource for a preview: SSRF-guarded, streamed, capped in bytes
and in time. No database here.

Unlike a bundle (bundles/fetch.py, which refuses a file over its cap), a preview keeps
the first `max_bytes` and stops reading: the first rows of a 2 GB CSV are still a
preview. Bytes go to a temporary file one chunk at a time (memory holds one chunk);
`read1` returns whatever one socket read gives, so a server dripping a byte at a time
cannot hold a request past the deadline (checked between reads).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3

from subscribe.notify.ssrf import (
    BlockedURL,
    GuardedSession,
    OutboundPolicy,
    UnresolvableHost,
    fetch_following_redirects,
)
from subscribe.preview.read import PreviewProblem

CHUNK = 256 * 1024
USER_AGENT = "subscribe-preview/0.1 (+open data subscriptions)"


@dataclass(frozen=True)
class Head:
    path: Path  # the caller deletes it
    size: int  # bytes kept
    sha256: str  # of the bytes kept (the whole file when not truncated)
    truncated: bool  # the file goes on past max_bytes (or past the deadline)
    declared: int | None  # Content-Length
    media_type: str
    final_url: str
    seconds: float


def fetch_head(url: str, policy: OutboundPolicy, max_bytes: int, seconds: float,
               connect_timeout: float = 5.0) -> Head:  # fmt: skip
    """GET url into a temporary file, at most max_bytes and about `seconds` of wall time.

    Raises PreviewProblem: unsupported_url, blocked, connection, http_error, timeout
    (nothing arrived in time), empty.
    """
    if not url.lower().startswith(("http://", "https://")):
        raise PreviewProblem("unsupported_url", f"only http(s) addresses are fetched: {url[:200]}")
    started = time.monotonic()
    deadline = started + seconds
    session = GuardedSession(policy, timeout=(connect_timeout, max(1.0, min(seconds, 30.0))))
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    try:
        response = fetch_following_redirects(session, url, stream=True, headers=headers)
    except UnresolvableHost as exc:
        raise PreviewProblem("connection", str(exc)) from None
    except BlockedURL as exc:
        raise PreviewProblem("blocked", str(exc)) from None
    except requests.Timeout:
        raise PreviewProblem("timeout", f"no answer within {seconds:g} s") from None
    except requests.RequestException as exc:
        raise PreviewProblem("connection", _short(exc)) from None
    try:
        with response:
            if response.status_code != 200:
                raise PreviewProblem("http_error", f"HTTP {response.status_code}")
            declared = _content_length(response)
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            path, size, digest, truncated = _stream(response, max_bytes, deadline)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        if isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError):
            raise PreviewProblem(
                "timeout", f"the file did not arrive within {seconds:g} s"
            ) from None
        raise PreviewProblem("connection", _short(exc)) from None
    finally:
        session.close()
    if size == 0:
        path.unlink(missing_ok=True)
        if truncated:
            raise PreviewProblem("timeout", f"no data within {seconds:g} s")
        raise PreviewProblem("empty", "the file is empty")
    return Head(path, size, digest, truncated, declared, media_type, response.url,
                time.monotonic() - started)  # fmt: skip


def _stream(response: requests.Response, max_bytes: int, deadline: float):
    digest, size, truncated = hashlib.sha256(), 0, False
    handle = tempfile.NamedTemporaryFile(prefix="preview-", delete=False)  # noqa: SIM115
    path = Path(handle.name)
    try:
        with handle:
            while size < max_bytes:
                if time.monotonic() > deadline:
                    truncated = True
                    break
                chunk = response.raw.read1(min(CHUNK, max_bytes - size), decode_content=True)
                if not chunk:
                    break
                size += len(chunk)
                digest.update(chunk)
                handle.write(chunk)
            else:
                # At the cap: one more byte tells whether the file goes on.
                truncated = bool(response.raw.read1(1, decode_content=True))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path, size, digest.hexdigest(), truncated


def _content_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers["Content-Length"])
    except (KeyError, ValueError):
        return None


def _short(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}"
    if "Connection refused" in text:
        return "connection refused"
    return text[:300]
