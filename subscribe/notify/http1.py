"""A small HTTP/1.1 POST over the SSRF guard's vetted connections: the webhook sender's.

A webhook is one short POST whose answer is read for its status, three headers and up to
20 KB of body. Through urllib3 (pool, connection, http.client's header checks and email
parser for the answer) that was ~0.75 ms of CPU a webhook here, most of a delivery; this
writes the request in one `sendall` and reads the answer with a few bytes operations
(~0.15 ms with the signing).

The guard is urllib3's own: each new connection is a `_GuardedHTTP(S)Connection`
(resolved once, every answer vetted, connected to a vetted address; for https SNI and the
certificate checked for the name) opened by its public `connect()`; idle keep-alive
connections are kept per scheme, host and port and reused only there, after a check that
the receiver has not closed them (urllib3's `is_connected`). The request is what
urllib3 wrote: request line, Host (as http.client writes it), Content-Length, then the
caller's headers in order. The answer: 100 Continue skipped; the body framed by
Transfer-Encoding chunked, Content-Length, or the connection's end (then not kept); a
Content-Encoding decoded by urllib3's own decoders. A connection is kept only when its
answer was read to its end and neither side asked to close it. Timeouts: the session's
(connect, read) pair, read per socket operation as urllib3 applies it.
"""

from __future__ import annotations

import io
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import urllib3
from urllib3.exceptions import ProtocolError, ReadTimeoutError, SSLError
from urllib3.util import parse_url
from urllib3.util.ssl_match_hostname import CertificateError

MAX_HEAD = 65536  # bytes of status line and headers (http.client's line limit)
MAX_HEADERS = 100  # as http.client
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
        errors, ReadTimeoutError, ProtocolError (answer cut short or malformed) or OSError."""
        head = [b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n"
                % (target.request_uri.encode("latin-1"), target.host_header, len(body))]  # fmt: skip
        for name, value in headers:
            _check_header(name, value)
            head.append(b"%s: %s\r\n" % (name.encode("latin-1"), value.encode("latin-1")))
        head.append(b"\r\n")
        request = b"".join(head) + body
        conn = self._take(target)
        keep = False
        try:
            sock = conn.sock
            sock.settimeout(self.read_timeout)
            try:
                sock.sendall(request)
                answer, keep = _read_answer(_Reader(sock), limit)
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


def _check_header(name: str, value: str) -> None:
    """No line breaks into the request (http.client refuses them too)."""
    if "\r" in name or "\n" in name or ":" in name or "\r" in value or "\n" in value:
        raise ValueError(f"invalid header {name!r}")


class _Reader:
    """Buffered reads from a socket, each `recv` under the socket's timeout."""

    def __init__(self, sock) -> None:
        self.sock, self.buffer = sock, b""

    def fill(self) -> bool:
        """Read more; False at the end of the connection."""
        chunk = self.sock.recv(_RECV)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def line(self, limit: int = MAX_HEAD) -> bytes:
        """One line without its end (LF or CRLF); ProtocolError if the connection ends
        first or it is longer than `limit`."""
        while (end := self.buffer.find(b"\n")) < 0:
            if len(self.buffer) > limit:
                raise ProtocolError("answer line too long")
            if not self.fill():
                raise ProtocolError("Connection aborted.", "connection closed mid-answer")
        line, self.buffer = self.buffer[:end], self.buffer[end + 1 :]
        return line.removesuffix(b"\r")

    def take(self, count: int) -> bytes:
        """Exactly `count` bytes; ProtocolError if the connection ends first."""
        while len(self.buffer) < count:
            if not self.fill():
                raise ProtocolError("Connection aborted.", "connection closed mid-body")
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data


def _read_head(reader: _Reader) -> tuple[int, bytes, dict[str, str]]:
    """Status, HTTP version and headers of one answer."""
    line = reader.line()
    if not line:
        raise ProtocolError("Connection aborted.", "RemoteDisconnected: no status line")
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/") or len(code) != 3 or not code.isdigit():
        raise ProtocolError("Connection aborted.", f"bad status line {line[:100]!r}")
    status = int(code)
    if not 100 <= status <= 999:
        raise ProtocolError("Connection aborted.", f"bad status line {line[:100]!r}")
    headers: dict[str, str] = {}
    size = len(line)
    for _count in range(MAX_HEADERS + 1):
        line = reader.line()
        size += len(line)
        if not line:
            return status, version, headers
        if size > MAX_HEAD:
            raise ProtocolError("answer headers too long")
        if line[:1] in (b" ", b"\t") and headers:  # an obsolete folded continuation
            name = next(reversed(headers))
            headers[name] += " " + line.strip().decode("latin-1")
            continue
        name, _, value = line.partition(b":")
        name_text = name.strip().decode("latin-1").lower()
        value_text = value.strip().decode("latin-1")
        known = headers.get(name_text)
        headers[name_text] = value_text if known is None else f"{known}, {value_text}"
    raise ProtocolError(f"got more than {MAX_HEADERS} headers")


def _read_answer(reader: _Reader, limit: int) -> tuple[Answer, bool]:
    """The answer, and whether the connection may carry another request."""
    while True:
        status, version, headers = _read_head(reader)
        if status != 100:
            break
    connection = headers.get("connection", "").lower()
    if version == b"HTTP/1.0" or not version.startswith(b"HTTP/1."):
        keep = "keep-alive" in connection
    else:
        keep = "close" not in connection
    body_error = None
    try:
        raw, complete = _read_body(reader, status, headers, limit)
        keep = keep and complete
        encoding = headers.get("content-encoding", "").strip().lower()
        body = raw if encoding in ("", "identity") else _decoded(raw, headers, limit)
    except Exception as exc:  # cut short, stalled or not decodable: the status still counts
        body, body_error, keep = b"", exc, False
    return Answer(status, headers, body[:limit], body_error), keep


def _read_body(reader: _Reader, status: int, headers: dict[str, str],
               limit: int) -> tuple[bytes, bool]:  # fmt: skip
    """The raw body (its first `limit` bytes, or all of it when encoded: decoding needs
    it whole) and whether it was read to its end. A body longer than that is not read:
    the connection is closed instead, as urllib3 closes an answer left unread."""
    if status < 200 or status in (204, 304):
        return b"", True
    encoded = headers.get("content-encoding", "").strip().lower() not in ("", "identity")
    wanted = _ENCODED_LIMIT if encoded else limit
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return _read_chunked(reader, wanted)
    length = headers.get("content-length")
    if length is not None:
        try:
            size = int(length)
        except ValueError:
            size = -1
        if size >= 0:
            if size > wanted:
                return reader.take(wanted), False
            return reader.take(size), True
    data = bytearray(reader.buffer)  # to the connection's end, never kept
    reader.buffer = b""
    while len(data) < wanted and reader.fill():
        data += reader.buffer
        reader.buffer = b""
    return bytes(data[:wanted]), False


# An encoded (gzip, deflate, ...) body is read up to this many bytes to be decoded.
_ENCODED_LIMIT = 1024 * 1024


def _read_chunked(reader: _Reader, wanted: int) -> tuple[bytes, bool]:
    data = bytearray()
    while True:
        size_line = reader.line()
        try:
            size = int(size_line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(
                "Connection aborted.", f"bad chunk size {size_line[:40]!r}"
            ) from None
        if size == 0:
            while reader.line():  # trailers, to the empty line
                pass
            return bytes(data), True
        if len(data) + size > wanted:
            data += reader.take(wanted - len(data))
            return bytes(data), False
        data += reader.take(size)
        reader.line()  # the chunk's CRLF


def _decoded(raw: bytes, headers: dict[str, str], limit: int) -> bytes:
    """The body decoded by urllib3's own decoders (gzip, deflate, and br or zstd when
    installed), its first `limit` bytes."""
    response = urllib3.HTTPResponse(
        body=io.BytesIO(raw), headers=headers, status=200, preload_content=False,
        decode_content=True,
    )  # fmt: skip
    return response.read(limit, decode_content=True) or b""
