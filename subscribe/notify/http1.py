"""The webhook sender's HTTP/1.1 POST: h11 over the SSRF guard's vetted connections.

A webhook is one short POST whose answer is read for its status, three headers and up to
20 KB of body. Through urllib3's request path (pool, connection, http.client's header
checks and email parser for the answer) that was ~0.9 ms of CPU a webhook here, most of
a delivery. Here the request and the answer are framed by h11 (python-hyper's HTTP/1.1
protocol library, the one under httpcore and uvicorn: it brings no I/O of its own) over
the guard's sockets: ~0.4 ms a webhook with the signing, on loopback.

The guard is urllib3's own: each new connection is a `_GuardedHTTP(S)Connection`
(resolved once, every answer vetted, connected to a vetted address; for https SNI and the
certificate checked for the name) opened by its public `connect()`; idle keep-alive
connections are kept per scheme, host and port and reused only there, after a check that
the receiver has not closed them (urllib3's `is_connected`). The request is the bytes
urllib3 wrote (request line, Host as http.client writes it, Content-Length, then the
caller's headers in order), in one `sendall`. The answer: 1xx skipped; the body framed
as h11 reads it (chunked, Content-Length, or the connection's end); a Content-Encoding
decoded by urllib3's own decoders. A connection is kept only when its answer was read
to its end and h11 says neither side asked to close it. Timeouts: the session's
(connect, read) pair, read per socket operation as urllib3 applies it.
"""

from __future__ import annotations

import io
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import h11
import urllib3
from urllib3.exceptions import ProtocolError, ReadTimeoutError, SSLError
from urllib3.util import parse_url
from urllib3.util.ssl_match_hostname import CertificateError

MAX_HEAD = 65536  # bytes of status line and headers (h11's limit on an incomplete event)
_RECV = 65536


@dataclass
class Answer:
    """What a POST got back: status, headers by lower-case name (repeated ones joined by
    ", ", as urllib3's HTTPHeaderDict.get reads them) and the first `limit` bytes of the
    decoded body. `body_error`: the body could not be read (the status still counts)."""

    status: int
    headers: dict[str, str]
    body: bytes
    body_error: BaseException | None = None


@dataclass
class _Target:
    """A URL as the request needs it (parsed once per URL)."""

    scheme: str
    host: str  # as the connection holds it: lower case, IPv6 without brackets
    port: int
    request_uri: str
    host_header: bytes
    key: tuple = field(init=False)

    def __post_init__(self) -> None:
        self.key = (self.scheme, self.host, self.port)


def host_header(host: str, port: int, default_port: int) -> bytes:
    """The Host header as http.client's putrequest writes it for a connection to
    host:port (IPv6 in brackets without its zone, the port only when not the default)."""
    try:
        encoded = host.encode("ascii")
    except UnicodeEncodeError:
        encoded = host.encode("idna")
    if ":" in host:
        encoded = b"[" + encoded.partition(b"%")[0] + b"]"
    if port == default_port:
        return encoded
    return b"%s:%d" % (encoded, port)


class KeptConnections:
    """Keep-alive connections for `GuardedSession.post_bytes`, per (scheme, host, port); made by the guarded
    connection classes (`connection_for(scheme, host, port)`: unopened, with the connect
    timeout), at most `maxsize` idle ones kept per endpoint."""

    def __init__(
        self, connection_for: Callable, timeout: tuple[float, float], maxsize: int
    ) -> None:
        self._connection_for = connection_for
        self.connect_timeout, self.read_timeout = timeout
        self.maxsize = maxsize
        self._idle: dict[tuple, list] = {}
        self._lock = threading.Lock()
        self._targets: dict[str, _Target] = {}

    def target(self, url: str, check) -> _Target:
        """The URL parsed as urllib3 parses it (IDNA host, quoted path) and checked by
        `check` (the guard's scheme/credentials/host test), once per URL."""
        target = self._targets.get(url)
        if target is None:
            parsed = parse_url(url)
            check(parsed.url)
            scheme = (parsed.scheme or "http").lower()
            default = 443 if scheme == "https" else 80
            host = (parsed.host or "").lower()
            if host.startswith("[") and host.endswith("]"):
                host = host[1:-1]
            port = parsed.port or default
            target = _Target(scheme, host, port, parsed.request_uri,
                             host_header(host.rstrip("."), port, default))  # fmt: skip
            if len(self._targets) >= 4096:  # endpoints' URLs: few; bounded all the same
                self._targets.clear()
            self._targets[url] = target
        return target

    def _take(self, target: _Target):
        """A kept connection the receiver has not closed, else a new one (vetted as it
        opens: BlockedURL, or urllib3's connection errors)."""
        while True:
            with self._lock:
                idle = self._idle.get(target.key)
                conn = idle.pop() if idle else None
            if conn is None:
                break
            if conn.is_connected:
                return conn
            conn.close()
        conn = self._connection_for(target.scheme, target.host, target.port)
        try:
            conn.connect()
        except (ssl.SSLError, CertificateError) as exc:  # as urllib3's pool wraps them
            conn.close()
            raise SSLError(exc) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _give_back(self, target: _Target, conn) -> None:
        with self._lock:
            idle = self._idle.setdefault(target.key, [])
            if len(idle) < self.maxsize:
                idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def post(self, target: _Target, headers: list[tuple[str, str]], body: bytes,
             limit: int) -> Answer:  # fmt: skip
        """POST `body` with `headers` (after Host and Content-Length; nothing else is added,
        so give User-Agent and Accept-Encoding, which urllib3 would add); the answer with up
        to `limit` bytes of its decoded body. Raises BlockedURL, urllib3's connection
        errors, ReadTimeoutError, ProtocolError (answer cut short or malformed), OSError,
        or ValueError for a header h11 refuses (a line break in it)."""
        protocol = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)
        try:
            request = protocol.send(h11.Request(
                method=b"POST", target=target.request_uri.encode("latin-1"),
                headers=[(b"Host", target.host_header),
                         (b"Content-Length", b"%d" % len(body)), *headers],
            )) + protocol.send(h11.Data(data=body)) + protocol.send(h11.EndOfMessage())  # fmt: skip
        except h11.LocalProtocolError as exc:
            raise ValueError(f"invalid request: {exc}") from None
        conn = self._take(target)
        keep = False
        try:
            sock = conn.sock
            sock.settimeout(self.read_timeout)
            try:
                sock.sendall(request)
                answer, keep = _read_answer(protocol, sock, limit)
            except ssl.SSLError as exc:  # as urllib3's pool wraps it
                raise SSLError(exc) from exc
            except TimeoutError as exc:
                raise ReadTimeoutError(
                    None, target.request_uri, f"Read timed out. (read timeout={self.read_timeout})"
                ) from exc
            return answer
        finally:
            if keep:
                self._give_back(target, conn)
            else:
                conn.close()


def _next_event(protocol: h11.Connection, sock):
    """The answer's next h11 event, reading the socket (under its timeout) as h11 needs."""
    while True:
        event = protocol.next_event()
        if event is not h11.NEED_DATA:
            return event
        protocol.receive_data(sock.recv(_RECV))  # b"" tells h11 the connection ended


def _read_answer(protocol: h11.Connection, sock, limit: int) -> tuple[Answer, bool]:
    """The answer (1xx skipped) and whether its connection may carry another request.
    A head that is cut short or is not HTTP raises ProtocolError; a body that is (or
    stalls, or cannot be decoded) leaves the status standing, with `body_error`."""
    try:
        event = _next_event(protocol, sock)
        while isinstance(event, h11.InformationalResponse):  # 100 Continue
            event = _next_event(protocol, sock)
    except h11.RemoteProtocolError as exc:
        raise ProtocolError("Connection aborted.", f"no valid answer: {exc}") from None
    if not isinstance(event, h11.Response):  # the connection closed before any answer
        raise ProtocolError("Connection aborted.", "RemoteDisconnected: no status line")
    status, headers = event.status_code, {}
    for name, value in event.headers:  # h11 gives names in lower case
        name_text, value_text = name.decode("latin-1"), value.decode("latin-1")
        known = headers.get(name_text)
        headers[name_text] = value_text if known is None else f"{known}, {value_text}"
    encoding = headers.get("content-encoding", "").strip().lower()
    encoded = encoding not in ("", "identity")
    wanted = _ENCODED_LIMIT if encoded else limit
    body_error, data, complete = None, bytearray(), False
    try:
        while len(data) <= wanted:
            event = _next_event(protocol, sock)
            if isinstance(event, h11.Data):
                data += event.data
            elif isinstance(event, h11.EndOfMessage):
                complete = True
                break
            else:  # ConnectionClosed before the end the framing promised
                raise ProtocolError("Connection aborted.", "connection closed mid-body")
        body = bytes(data[:wanted])
        if encoded:
            body = _decoded(body, headers, limit)
    except Exception as exc:  # cut short, stalled or not decodable: the status still counts
        body, body_error, complete = b"", exc, False
    # Kept only when the answer was read to its end and neither side asked to close
    # (HTTP/1.0, Connection: close, a body framed by the connection's end).
    keep = complete and protocol.our_state is h11.DONE and protocol.their_state is h11.DONE
    return Answer(status, headers, body[:limit], body_error), keep


# An encoded (gzip, deflate, ...) body is read up to this many bytes to be decoded.
_ENCODED_LIMIT = 1024 * 1024


def _decoded(raw: bytes, headers: dict[str, str], limit: int) -> bytes:
    """The body decoded by urllib3's own decoders (gzip, deflate, and br or zstd when
    installed), its first `limit` bytes."""
    response = urllib3.HTTPResponse(
        body=io.BytesIO(raw), headers=headers, status=200, preload_content=False,
        decode_content=True,
    )  # fmt: skip
    return response.read(limit, decode_content=True) or b""
