"""Failed requests are explained in plain words wherever a person reads the reason:
a webhook's delivery log, a source's harvest error, a resource check, a bundle's list.

Each case is a real socket on loopback failing the way receivers and portals do."""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from subscribe.notify.channels import webhook
from subscribe.notify.ssrf import OutboundPolicy, guarded_session
from subscribe.transport_errors import transport_reason

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
LOOPBACK = OutboundPolicy("127.0.0.0/8")


@contextlib.contextmanager
def _listener(handle: Callable[[socket.socket], None] | None) -> Iterator[int]:
    """A TCP port on loopback; each connection is given to `handle` (None: never accepted,
    so the client waits for an answer that does not come)."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                handle(conn)

    thread = threading.Thread(target=serve, daemon=True)
    if handle is not None:
        thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        if handle is not None:
            thread.join(2)
        server.close()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]  # closed on leaving: nothing listens there


def _read_request(conn: socket.socket) -> None:
    """Read the whole request (its JSON body ends in "}"): closing with bytes unread
    makes the kernel answer with a reset, not the plain close these tests mean."""
    data = b""
    while not data.endswith(b"}") and (chunk := conn.recv(65536)):
        data += chunk


def _hang_up(conn: socket.socket) -> None:
    _read_request(conn)  # then close without a status line


def _half_answer(conn: socket.socket) -> None:
    conn.recv(65536)  # a GET without a body: one read holds it
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")


def _post(url: str, timeout: float = 0.5) -> webhook.Sent:
    with guarded_session(LOOPBACK, timeout=(timeout, timeout)) as session:
        return webhook.send(session, url, [SECRET], "msg_1", {"type": "test"})


def test_a_webhook_receiver_that_is_down_reads_connection_refused():
    sent = _post(f"http://127.0.0.1:{_closed_port()}/hook")
    assert sent.status is None
    assert sent.error == "connection refused"


def test_a_receiver_that_never_answers_reads_no_answer_within_the_timeout():
    with _listener(None) as port:
        sent = _post(f"http://127.0.0.1:{port}/hook", timeout=0.3)
    assert sent.error == "no answer within 0.3 s"


def test_a_receiver_hanging_up_reads_closed_before_the_answer():
    with _listener(_hang_up) as port:
        sent = _post(f"http://127.0.0.1:{port}/hook")
    assert sent.error == "connection closed before the answer was complete"


def test_requests_errors_read_the_same_as_the_senders():
    """Harvests, checks and bundles go through requests: the same words, the caller's
    timeout when it gives one."""
    with pytest.raises(requests.RequestException) as refused:
        requests.get(f"http://127.0.0.1:{_closed_port()}/", timeout=1)
    assert transport_reason(refused.value) == "connection refused"
    with _listener(None) as port, pytest.raises(requests.RequestException) as silent:
        requests.get(f"http://127.0.0.1:{port}/", timeout=0.3)
    assert transport_reason(silent.value) == "no answer within 0.3 s"
    assert transport_reason(silent.value, timeout=30) == "no answer within 30 s"
    with _listener(_half_answer) as port, pytest.raises(requests.RequestException) as cut:
        requests.get(f"http://127.0.0.1:{port}/", timeout=1).content  # noqa: B018
    assert transport_reason(cut.value) == "connection closed before the answer was complete"


def test_an_unknown_host_reads_host_name_not_found():
    with pytest.raises(requests.RequestException) as unknown:
        requests.get("http://no-such-host.invalid/", timeout=1)
    assert transport_reason(unknown.value) == "host name not found"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_an_untrusted_certificate_says_why(tmp_path: Path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def handshake(conn: socket.socket) -> None:
        with contextlib.suppress(ssl.SSLError, OSError):
            context.wrap_socket(conn, server_side=True).recv(1)

    with _listener(handshake) as port:
        sent = _post(f"https://127.0.0.1:{port}/hook", timeout=2)
    assert sent.error == "TLS certificate not accepted: self-signed certificate"


def test_the_guards_refusal_keeps_its_own_words():
    with guarded_session(OutboundPolicy("")) as session:
        sent = webhook.send(session, "http://10.1.2.3/hook", [SECRET], "msg_1", {})
    assert sent.error is not None
    assert "10.1.2.3 is a private address" in sent.error


def test_any_exception_gets_one_bounded_line():
    assert transport_reason(RuntimeError("first line\nsecond")) == "first line"
    assert transport_reason(RuntimeError("")) == "RuntimeError"
    assert len(transport_reason(ValueError("x" * 5000))) == 200
