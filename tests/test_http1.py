"""The webhook sender's HTTP/1.1 POST (notify/http1.py via GuardedSession.post_bytes):
the request urllib3 wrote, answers framed every way HTTP/1.1 allows, kept connections."""

from __future__ import annotations

import gzip
import socket
import threading
import zlib
from collections.abc import Iterator

import pytest
import urllib3

from subscribe.notify.channels import webhook
from subscribe.notify.http1 import host_header
from subscribe.notify.ssrf import BlockedURL, OutboundPolicy, guarded_session

LOOPBACK = OutboundPolicy("127.0.0.1,::1")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class Scripted:
    """A loopback server answering each request with the next scripted bytes; an answer
    given as (bytes, "close") closes the connection after it. Notes each request's raw
    bytes and the connection (its number) it came on."""

    def __init__(self, answers: list, family: int = socket.AF_INET) -> None:
        self.answers, self.requests = list(answers), []
        self.server = socket.socket(family)
        self.server.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.connections = 0
        self.closed = threading.Semaphore(0)  # released as the server closes a connection
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._talk, args=(conn, self.connections), daemon=True).start()

    def _talk(self, conn: socket.socket, number: int) -> None:
        data = b""
        with conn:
            while self.answers:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                length = int(
                    next(line.split(b":")[1] for line in head.split(b"\r\n")
                         if line.lower().startswith(b"content-length:"))
                )  # fmt: skip
                while len(data) < length:
                    data += conn.recv(65536)
                self.requests.append((number, head + b"\r\n\r\n" + data[:length]))
                data = data[length:]
                answer = self.answers.pop(0)
                close = isinstance(answer, tuple)
                conn.sendall(answer[0] if close else answer)
                if close:
                    break
        self.closed.release()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def scripted() -> Iterator:
    servers = []

    def make(*answers, family=socket.AF_INET) -> Scripted:
        servers.append(Scripted(list(answers), family))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _send(session, url: str) -> webhook.Sent:
    return webhook.send(session, url, [SECRET], "msg_1", {"title": "数据"})


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_the_request_is_the_one_urllib3_wrote(scripted):
    """Same request line, Host, Content-Length, headers in the same order, same body."""
    server = scripted(OK, OK)
    url = f"http://127.0.0.1:{server.port}/hooks/1?a=b%20c"
    headers = [("user-agent", "test/1"), ("accept-encoding", "gzip"), ("content-type", "application/json"),
               ("webhook-id", "msg_1")]  # fmt: skip
    with guarded_session(LOOPBACK) as session:
        answer = session.post_bytes(url, '{"a":"数据"}'.encode(), headers, 100)
        response = session.urlopen("POST", url, '{"a":"数据"}'.encode(), dict(headers))
        response.read()
        response.release_conn()
    assert (answer.status, answer.body) == (200, b"ok")
    [(_n1, lean), (_n2, urllib3_request)] = server.requests
    assert lean == urllib3_request
    assert lean.startswith(b"POST /hooks/1?a=b%20c HTTP/1.1\r\nHost: 127.0.0.1:")


@pytest.mark.parametrize(
    ("host", "port", "default", "expected"),
    [("hooks.example", 443, 443, b"hooks.example"), ("hooks.example", 8443, 443, b"hooks.example:8443"),
     ("::1", 8080, 80, b"[::1]:8080"), ("fe80::1%eth0", 80, 80, b"[fe80::1]"),
     ("bücher.example", 80, 80, b"xn--bcher-kva.example")],
)  # fmt: skip
def test_host_header_as_http_client_writes_it(host, port, default, expected):
    assert host_header(host, port, default) == expected


def test_over_ipv6(scripted):
    server = scripted(OK, family=socket.AF_INET6)
    with guarded_session(LOOPBACK) as session:
        sent = _send(session, f"http://[::1]:{server.port}/hook")
    assert sent.ok and sent.body == "ok"
    assert f"\r\nHost: [::1]:{server.port}\r\n".encode() in server.requests[0][1]


@pytest.mark.parametrize(
    ("answer", "body"),
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3;x=y\r\n!!!\r\n0\r\nT: 1\r\n\r\n", "ok!!!"),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok"),
        (b"HTTP/1.1 204 No Content\r\n\r\n", ""),
        (b"HTTP/1.1 200 OK\n" b"Content-Length: 2\n\nok", "ok"),  # bare LF line ends
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n%s"
         % (len(gzip.compress(b"zipped")), gzip.compress(b"zipped")), "zipped"),
        (b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: %d\r\n\r\n%s"
         % (len(zlib.compress(b"deflated")), zlib.compress(b"deflated")), "deflated"),
    ],
    ids=["chunked", "100-continue", "204", "lf", "gzip", "deflate"],
)  # fmt: skip
def test_answers_framed_every_way_keep_their_connection(scripted, answer, body):
    server = scripted(answer, OK)
    url = f"http://127.0.0.1:{server.port}/hook"
    with guarded_session(LOOPBACK) as session:
        first, second = _send(session, url), _send(session, url)
    assert (first.status in (200, 204), first.body) == (True, body)
    assert second.ok
    assert [n for n, _r in server.requests] == [1, 1]  # read to its end: the connection is kept


@pytest.mark.parametrize(
    "answer",
    [
        (b"HTTP/1.1 200 OK\r\n\r\nto the end", "close"),  # no length: until the connection ends
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "close"),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "close"),
    ],
    ids=["until-close", "connection-close", "http-1.0"],
)
def test_answers_that_end_their_connection(scripted, answer):
    server = scripted(answer, OK)
    url = f"http://127.0.0.1:{server.port}/hook"
    with guarded_session(LOOPBACK) as session:
        first, second = _send(session, url), _send(session, url)
    assert first.ok and first.body in ("ok", "to the end")
    assert second.ok
    assert [n for n, _r in server.requests] == [1, 2]


def test_a_long_body_is_cut_and_its_connection_not_kept(scripted):
    long = b"x" * (webhook.MAX_RESPONSE_BYTES + 5000)
    server = scripted(b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n%s" % (len(long), long), OK)
    url = f"http://127.0.0.1:{server.port}/hook"
    with guarded_session(LOOPBACK) as session:
        first, second = _send(session, url), _send(session, url)
    assert first.status == 500 and first.error == "HTTP 500"
    assert first.body == "x" * webhook.MAX_RESPONSE_BYTES
    assert second.ok and [n for n, _r in server.requests] == [1, 2]


def test_headers_the_sender_reads(scripted):
    server = scripted(
        b"HTTP/1.1 410 Gone\r\nWebhook-Delivery: Disable\r\nRetry-After: 60\r\n"
        b"Content-Type: text/plain; charset=gbk\r\nContent-Length: 4\r\n\r\n" + "停止".encode("gbk")
    )
    with guarded_session(LOOPBACK) as session:
        sent = _send(session, f"http://127.0.0.1:{server.port}/hook")
    assert (sent.status, sent.disable, sent.retry_after, sent.body) == (410, True, 60.0, "停止")


def test_a_body_cut_short_still_counts_its_status(scripted):
    server = scripted((b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "close"))
    with guarded_session(LOOPBACK) as session:
        sent = _send(session, f"http://127.0.0.1:{server.port}/hook")
    assert sent.ok and sent.body.startswith("(response body unreadable:")


@pytest.mark.parametrize(
    "answer",
    [(b"", "close"), (b"HTTP/1.1 200 OK\r\nContent-", "close"), (b"SMTP ready\r\n\r\n", "close")],
    ids=["nothing", "head-cut", "not-http"],
)
def test_no_answer_is_a_failed_attempt(scripted, answer):
    server = scripted(answer)
    with guarded_session(LOOPBACK) as session:
        sent = _send(session, f"http://127.0.0.1:{server.port}/hook")
    assert sent.status is None
    assert sent.error == "connection closed before the answer was complete"


def test_a_silent_receiver_times_out(scripted):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts (the kernel does), never answers
    try:
        with guarded_session(LOOPBACK, timeout=(2, 0.3)) as session:
            sent = _send(session, f"http://127.0.0.1:{listener.getsockname()[1]}/hook")
    finally:
        listener.close()
    assert sent.status is None and sent.error == "no answer within 0.3 s"


def test_a_closed_kept_connection_is_replaced_and_vetted_again(scripted, monkeypatch):
    """The receiver closed the kept connection: the next webhook opens a new one, and the
    guard vets it again (one lookup per connection opened)."""
    server = scripted((OK, "close"), OK)
    lookups = []
    real = socket.getaddrinfo

    def counting(host, *args, **kwargs):
        lookups.append(host)
        return real("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", counting)
    with guarded_session(LOOPBACK) as session:
        assert _send(session, f"http://hooks.example:{server.port}/hook").ok
        assert server.closed.acquire(timeout=10)
        assert _send(session, f"http://hooks.example:{server.port}/hook").ok
    assert [n for n, _r in server.requests] == [1, 2]
    assert [host for host in lookups if host == "hooks.example"] == ["hooks.example"] * 2


def test_the_guard_refuses_before_any_connection(scripted):
    server = scripted(OK)
    with guarded_session(OutboundPolicy("")) as session:
        with pytest.raises(BlockedURL, match="loopback"):
            session.post_bytes(f"http://127.0.0.1:{server.port}/hook", b"{}", [], 10)
        with pytest.raises(BlockedURL, match="credentials"):
            session.post_bytes(f"http://u:p@127.0.0.1:{server.port}/hook", b"{}", [], 10)
        with pytest.raises(BlockedURL, match="scheme 'file'"):
            session.post_bytes("file:///etc/passwd", b"{}", [], 10)
    assert server.connections == 0


def test_a_refused_connection(scripted):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    with guarded_session(LOOPBACK) as session:
        with pytest.raises(urllib3.exceptions.NewConnectionError):
            session.post_bytes(f"http://127.0.0.1:{port}/hook", b"{}", [], 10)
        assert _send(session, f"http://127.0.0.1:{port}/hook").error == "connection refused"
