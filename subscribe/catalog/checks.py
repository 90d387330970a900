"""Resource content checks over HTTP, cheapest first; no database here (see check_jobs.py)."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import zip_longest
from urllib.parse import urlsplit

import requests
import urllib3
from urllib3.util.retry import Retry

from subscribe.digits import ascii_int
from subscribe.notify.ssrf import (
    BLOCKED_PREFIX,
    BlockedURL,
    GuardedSession,
    OutboundPolicy,
    UnresolvableHost,
    fetch_following_redirects,
    guarded_session,
)
from subscribe.transport_errors import transport_reason

CHUNK = 64 * 1024
MAX_HEADER_CHARS = 1 << 20  # a "CSV" whose first record never ends is not a table
USER_AGENT = "subscribe-checker/0.1 (+open data subscriptions)"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CheckState:
    """What the last check of one resource saw (the Resource row's check columns)."""

    resource_id: int
    url: str
    format: str = ""
    name: str = ""
    etag: str | None = None
    last_modified_header: str | None = None
    content_length: int | None = None
    sha256: str | None = None
    row_count: int | None = None
    columns: list[str] | None = None
    truncated: bool = False
    failures: int = 0
    unavailable: bool = False
    last_status: int | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class CheckOutcome:
    state: CheckState  # the state to store
    result: str  # not_modified | unchanged | changed | baseline | failed | blocked | skipped
    found_by: str | None = None  # the check that decided: etag, last_modified, content_length…
    change: dict | None = None
    downloaded: int = 0  # content bytes read (a drained 304 or error page is not content)
    status: int | None = None


@dataclass(frozen=True)
class CheckSettings:
    max_bytes: int = 50 * 1024 * 1024
    workers: int = 8
    per_host: int = 4
    host_rate: float = 20.0  # request starts per second per host; <= 0: no limit
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    retries: int = 1  # connection errors only
    unavailable_after: int = 3
    # The SSRF guard's allow-list: resource URLs come from catalog data, so they are
    # fetched as a user's URLs are (nothing internal unless SUBSCRIBE_OUTBOUND_ALLOWLIST).
    policy: OutboundPolicy = field(default_factory=OutboundPolicy)

    @classmethod
    def from_config(cls, config: Mapping) -> CheckSettings:
        # Field max_bytes is read from SUBSCRIBE_CHECK_MAX_BYTES, and so on.
        names = [n for n in cls.__dataclass_fields__ if n != "policy"]
        policy = OutboundPolicy(config["SUBSCRIBE_OUTBOUND_ALLOWLIST"])
        return cls(**{n: config[f"SUBSCRIBE_CHECK_{n.upper()}"] for n in names}, policy=policy)


class HostLimiter:
    """At most `per_host` requests in flight and `rate` starts per second, per host."""

    def __init__(self, per_host: int, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):  # fmt: skip
        self.per_host = max(1, per_host)
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    @contextmanager
    def slot(self, host: str) -> Iterator[None]:
        with self._lock:
            semaphore = self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with semaphore:
            self._wait_turn(host)
            yield

    def _wait_turn(self, host: str) -> None:
        # Each caller books the next free start time under the lock and sleeps outside
        # it, so waiting for one host never holds up another.
        if not self.interval:
            return
        with self._lock:
            now = self.clock()
            start = max(now, self._next_start.get(host, now))
            self._next_start[host] = start + self.interval
        if start > now:
            self.sleep(start - now)


def host_of(url: str) -> str:
    return urlsplit(url).netloc.lower()


def interleave_by_host(states: list[CheckState]) -> list[tuple[int, CheckState]]:
    """(position, state) round-robin over hosts, so workers do not all queue on one host."""
    by_host: dict[str, list[tuple[int, CheckState]]] = defaultdict(list)
    for n, state in enumerate(states):
        by_host[host_of(state.url)].append((n, state))
    return [pair for turn in zip_longest(*by_host.values()) for pair in turn if pair is not None]


def make_check_session(settings: CheckSettings) -> GuardedSession:
    """The SSRF-guarded session (notify/ssrf.py: every connection's address vetted against
    `settings.policy`, redirects followed hop by hop by `fetch_following_redirects`),
    retrying connection errors only: a 404 or a 503 is an answer, and the next scheduled
    check is its retry (sleeping on Retry-After stalls a worker)."""
    retry = Retry(
        total=settings.retries, connect=settings.retries, read=0, status=0, other=0,
        redirect=0, backoff_factor=0.5, allowed_methods=frozenset({"GET"}),
        raise_on_status=False,
    )  # fmt: skip
    timeout = (settings.connect_timeout, settings.read_timeout)
    session = guarded_session(settings.policy, timeout, pool_maxsize=8, retries=retry)
    session.headers["User-Agent"] = USER_AGENT
    # Identity encoding: Content-Length and the hash are about the same bytes every time.
    session.headers["Accept-Encoding"] = "identity"
    return session


def is_csv(state: CheckState, content_type: str = "") -> bool:
    return (
        state.format.upper() == "CSV"
        or content_type.split(";")[0].strip().lower() == "text/csv"
        or urlsplit(state.url).path.lower().endswith(".csv")
    )


class CsvShape:
    """Header and row count of a CSV fed in byte chunks, never holding the file."""

    def __init__(self) -> None:
        self.encoding = "utf-8"
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._tail = ""  # the unfinished last line
        self._quoted = False  # inside a quoted field that spans lines
        self._lines = 0  # lines of the current record so far
        self._first: list[str] | None = []  # lines of the header record until parsed
        self.columns: list[str] | None = None
        self.rows = 0

    def feed(self, data: bytes, final: bool = False) -> None:
        # Every line ending counts: CRLF, LF and a bare CR (classic Mac files; the csv
        # module refuses a bare CR inside a record). A CRLF split across two chunks
        # leaves one blank line, which is skipped like any other.
        text = self._decode(data, final).replace("\r\n", "\n").replace("\r", "\n")
        lines = (self._tail + text).split("\n")
        self._tail = "" if final else lines.pop()
        for line in lines:
            self._line(line)

    def _decode(self, data: bytes, final: bool) -> str:
        try:
            return self._decoder.decode(data, final)
        except UnicodeDecodeError:
            # Not UTF-8: Chinese portals' other usual encoding. Bytes the UTF-8 decoder
            # still held are decoded again; newlines are ASCII in both, so counts stand.
            pending = self._decoder.getstate()[0]
            self.encoding = "gb18030"
            self._decoder = codecs.getincrementaldecoder("gb18030")(errors="replace")
            return self._decoder.decode(pending + data, final)

    def _line(self, line: str) -> None:
        self._lines += 1
        if self._first is not None:
            self._first.append(line)
            if sum(map(len, self._first)) > MAX_HEADER_CHARS:
                self._first = None  # no header after all; rows are still counted
        # An escaped quote ("") keeps the parity, so an odd count toggles "inside quotes".
        if line.count('"') % 2:
            self._quoted = not self._quoted
        if self._quoted:
            return
        blank = self._lines == 1 and not line.strip()
        self._lines = 0
        if blank:
            return
        if self._first is not None:
            try:
                header = next(csv.reader(io.StringIO("\n".join(self._first))), [])
            except csv.Error:  # not CSV after all (binary labelled CSV): no header known
                header = None
            if header is not None and any("\x00" in name for name in header):
                header = None  # binary labelled CSV: its "header" is no columns (and NUL
                # is no text PostgreSQL stores: the batch's check results were lost)
            self.columns = None if header is None else [name.strip() for name in header]
            self._first = None
        else:
            self.rows += 1


def _change(state: CheckState, kind: str, found_by: str, **details) -> dict:
    change = {"kind": kind, "resource_id": state.resource_id, "url": state.url}
    if state.name:
        change["name"] = state.name
    return {**change, "found_by": found_by, **details}


def has_answered(state: CheckState) -> bool:
    """Whether a check ever read this resource: a 2xx stores its hash, and only a 2xx
    gives the validators a 304 needs."""
    return (state.sha256 or state.etag or state.last_modified_header) is not None


def _failed(state: CheckState, settings: CheckSettings, status: int | None, error: str) -> CheckOutcome:  # fmt: skip
    """Another failed check. After `unavailable_after` in a row the resource is
    unavailable; that is a change only for a resource that answered before ("a resource
    that stops answering"): one never seen answering is recorded unavailable silently,
    as a first harvest is never news."""
    failures = state.failures + 1
    new = replace(state, failures=failures, last_status=status, last_error=error[:1000])
    found_by = "http_status" if status else "connection"
    if state.unavailable or failures < settings.unavailable_after:
        return CheckOutcome(new, "failed", found_by, status=status)
    if not has_answered(state):
        return CheckOutcome(replace(new, unavailable=True), "failed", found_by, status=status)
    change = _change(state, "resource_unavailable", found_by, status=status, error=error[:500],
                     failures=failures)  # fmt: skip
    return CheckOutcome(replace(new, unavailable=True), "failed", found_by, change, status=status)


def _blocked(state: CheckState, reason: str) -> CheckOutcome:
    """The SSRF guard refused the URL (an internal address, not allow-listed): nothing was
    asked of it, so it is neither a failure nor a change; the row keeps what it knew and
    says why (`last_error` "blocked: …", no HTTP status)."""
    new = replace(state, last_status=None, last_error=f"{BLOCKED_PREFIX}{reason}"[:1000])
    return CheckOutcome(new, "blocked", "ssrf_guard")


def check_summary(resource) -> dict:
    """What the last check of a resource (a Resource row, or anything with its check
    columns) saw, for the API: {"state", "checked_at", "status", "reason"}. state is
    unchecked, ok, failing (failed lately, not yet unavailable), unavailable, blocked
    (the SSRF guard refused the URL: never asked) or skipped (no http(s) URL, or the
    check broke); status the last HTTP status (None without an answer); reason why not ok."""
    error = resource.last_error
    if resource.checked_at is None:
        state = "unchecked"
    elif error and error.startswith(BLOCKED_PREFIX):
        state, error = "blocked", error.removeprefix(BLOCKED_PREFIX)
    elif resource.unavailable:
        state = "unavailable"
    elif resource.failures:
        state = "failing"
    else:
        state = "skipped" if error else "ok"
    return {"state": state, "checked_at": resource.checked_at, "status": resource.last_status,
            "reason": error}  # fmt: skip


def _not_modified(state: CheckState, response: requests.Response) -> CheckOutcome:
    new = replace(
        state, etag=response.headers.get("ETag") or state.etag,
        last_modified_header=response.headers.get("Last-Modified") or state.last_modified_header,
        failures=0, unavailable=False, last_status=304, last_error=None,
    )  # fmt: skip
    if state.unavailable:  # back, and unchanged while away
        change = _change(state, "content", "http_status", restored=True, changed=False)
        return CheckOutcome(new, "changed", "http_status", change, status=304)
    return CheckOutcome(new, "not_modified", "etag" if state.etag else "last_modified", status=304)


def _drain(response: requests.Response) -> None:
    """Read a short rest (a 304, a small error page): a streamed response closed unread
    takes its connection down with it, and every check would open a new one."""
    declared = ascii_int(response.headers.get("Content-Length"))
    if response.status_code == 304 or (declared is not None and declared <= CHUNK):
        response.raw.read(CHUNK)


def _read_body(response: requests.Response, shape: CsvShape | None, max_bytes: int,
               declared: int | None) -> tuple[str, int, bool]:  # fmt: skip
    """(sha256 hex, bytes read, truncated), reading at most max_bytes of the body."""
    digest, read = hashlib.sha256(), 0
    while read < max_bytes:
        # raw.read(n) rather than iter_content: a chunk never overshoots the byte cap.
        chunk = response.raw.read(min(CHUNK, max_bytes - read), decode_content=True)
        if not chunk:
            break
        read += len(chunk)
        digest.update(chunk)
        if shape is not None:
            shape.feed(chunk)
    # At the cap with no declared length, telling would take one byte more than the cap.
    truncated = read >= max_bytes and (declared is None or declared > read)
    if shape is not None and not truncated:
        shape.feed(b"", final=True)
    return digest.hexdigest(), read, truncated


def _columns_diff(old: list[str] | None, new: list[str] | None) -> dict:
    if old is None or new is None or old == new:
        return {}
    added, removed = [c for c in new if c not in old], [c for c in old if c not in new]
    return {"columns": {"old": old, "new": new}, "added": added, "removed": removed}


def _downloaded(state: CheckState, response: requests.Response, settings: CheckSettings) -> CheckOutcome:  # fmt: skip
    header = response.headers.get("Content-Length", "")
    declared = ascii_int(header)
    shape = CsvShape() if is_csv(state, response.headers.get("Content-Type", "")) else None
    sha, read, truncated = _read_body(response, shape, settings.max_bytes, declared)
    new = replace(
        state, etag=response.headers.get("ETag"),
        last_modified_header=response.headers.get("Last-Modified"),
        content_length=declared if declared is not None else (None if truncated else read),
        sha256=sha, truncated=truncated, failures=0, unavailable=False,
        last_status=response.status_code, last_error=None,
        row_count=shape.rows if shape is not None and not truncated else None,
        columns=shape.columns if shape is not None else None,
    )  # fmt: skip

    def outcome(result: str, found_by: str | None, change: dict | None = None) -> CheckOutcome:
        return CheckOutcome(new, result, found_by, change, read, response.status_code)

    found_by = None
    if state.sha256 is not None:  # cheapest first: the declared length, then the hash
        if declared is not None and state.content_length not in (None, declared):
            found_by = "content_length"
        elif sha != state.sha256:
            found_by = "sha256"
    details: dict = {
        "size": {"old": state.content_length, "new": new.content_length},
        "sha256": {"old": state.sha256, "new": sha},
        **({"rows": {"old": state.row_count, "new": new.row_count}} if shape else {}),
        **({"truncated": True} if truncated else {}),
        **(_columns_diff(state.columns, new.columns) if found_by else {}),
    }
    if state.unavailable and has_answered(state):  # back: a change whatever the content
        changed = None if state.sha256 is None else found_by is not None
        change = _change(state, "content", found_by or "http_status", restored=True,
                         changed=changed, **details)  # fmt: skip
        return outcome("changed", found_by or "http_status", change)
    if state.sha256 is None:
        return outcome("baseline", None)
    if found_by is None:
        return outcome("unchanged", "sha256")
    kind = "schema" if "columns" in details else "content"
    return outcome("changed", found_by, _change(state, kind, found_by, **details))


def check_one(state: CheckState, session: GuardedSession, settings: CheckSettings,
              limiter: HostLimiter) -> CheckOutcome:  # fmt: skip
    """Conditional GET, then Content-Length, then the streamed SHA-256 (and CSV shape).
    A URL (or a redirect's target) the SSRF guard refuses is `blocked`, never fetched."""
    if urlsplit(state.url).scheme not in {"http", "https"}:
        return CheckOutcome(replace(state, last_error="not an http(s) URL"), "skipped")
    headers = {}
    if state.etag:
        headers["If-None-Match"] = state.etag
    if state.last_modified_header:
        headers["If-Modified-Since"] = state.last_modified_header
    timeout = (settings.connect_timeout, settings.read_timeout)
    try:
        with (
            limiter.slot(host_of(state.url)),
            fetch_following_redirects(
                session, state.url, headers=headers, timeout=timeout, stream=True
            ) as response,
        ):
            if response.status_code >= 300:
                _drain(response)
            if response.status_code == 304:
                return _not_modified(state, response)
            if response.status_code >= 300:
                error = f"HTTP {response.status_code} {response.reason or ''}".strip()
                return _failed(state, settings, response.status_code, error)
            return _downloaded(state, response, settings)
    except UnresolvableHost as exc:  # no address: unreachable, like a refused connection
        return _failed(state, settings, None, str(exc))
    except BlockedURL as exc:
        return _blocked(state, str(exc))
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        return _failed(state, settings, None, transport_reason(exc))


def run_checks(states: list[CheckState], settings: CheckSettings,
               limiter: HostLimiter | None = None) -> list[CheckOutcome]:  # fmt: skip
    """Check every state on a thread pool; outcomes come back in the order given."""
    limiter = limiter or HostLimiter(settings.per_host, settings.host_rate)
    local, sessions, lock = threading.local(), [], threading.Lock()

    def check(state: CheckState) -> CheckOutcome:
        # One session per worker thread: requests does not promise a shared one is safe.
        if not hasattr(local, "session"):
            local.session = make_check_session(settings)
            with lock:
                sessions.append(local.session)
        try:
            return check_one(state, local.session, settings, limiter)
        except Exception as exc:  # one unreadable file must not stop every other check
            log.exception("resource check of %s failed", state.url)
            error = f"check failed: {type(exc).__name__}: {exc}"[:1000]
            return CheckOutcome(replace(state, last_error=error), "skipped")

    results: list[CheckOutcome | None] = [None] * len(states)
    try:
        with ThreadPoolExecutor(max(1, settings.workers), thread_name_prefix="check") as pool:
            futures = [(n, pool.submit(check, state)) for n, state in interleave_by_host(states)]
            for n, future in futures:
                results[n] = future.result()
    finally:
        for session in sessions:
            session.close()
    return [outcome for outcome in results if outcome is not None]
