"""SSRF guard: refused ranges and forms, DNS to private, rebinding, redirects, allow-list, pinning."""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import urllib3
from pytest_httpserver import HTTPServer

from subscribe.notify.ssrf import (
    BlockedURL,
    OutboundPolicy,
    check_url,
    fetch_following_redirects,
    guarded_session,
)

_real_getaddrinfo = socket.getaddrinfo
NOTHING = OutboundPolicy()
LOOPBACK = OutboundPolicy("127.0.0.1,::1")


@pytest.fixture
def dns(monkeypatch):
    """A fake resolver, so no test sends a DNS query: names map to a list of answers per call
    (the last answer repeats); IP literals go to the real (numeric, offline) resolver."""
    table: dict[str, list[list[str]]] = {"localhost": [["127.0.0.1", "::1"]]}
    calls: list[str] = []

    def fake(host, port, family=0, type=0, proto=0, flags=0):
        calls.append(host)
        host = host.lower().removesuffix(".")  # as DNS would
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if host not in table:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            answers = table[host]
            ips = answers.pop(0) if len(answers) > 1 else answers[0]
            return [
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
                if ":" in ip
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in ips
            ]
        return _real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return SimpleNamespace(table=table, calls=calls)


REFUSED = [  # (url, part of the reason); just "refused" where ipaddress versions disagree
    # IPv4 ranges
    ("http://127.0.0.1/", "loopback"),
    ("http://127.255.255.254/", "loopback"),
    ("http://10.0.0.1/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://100.64.0.1/", "shared"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0.1.2.3/", "refused"),
    ("http://224.0.0.1/", "multicast"),
    ("http://240.0.0.1/", "refused"),
    ("http://255.255.255.255/", "refused"),
    ("http://192.0.2.1/", "documentation"),
    ("http://198.51.100.7/", "documentation"),
    ("http://203.0.113.9/", "documentation"),
    ("http://198.18.0.1/", "refused"),
    ("http://192.0.0.8/", "refused"),
    ("http://192.88.99.1/", "special-purpose"),
    # IPv6 ranges, bracketed in URLs
    ("http://[::1]/", "loopback"),
    ("http://[::]/", "unspecified"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]:8080/", "link-local"),
    ("http://[fc00::1]/", "unique-local"),
    ("http://[fd12:3456::1]/", "unique-local"),
    ("http://[fec0::1]/", "site-local"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://[3fff::1]/", "documentation"),
    ("http://[100::1]/", "refused"),
    ("http://[2001::1]/", "refused"),
    ("https://[5f00::1]/", "refused"),
    # IPv6 forms that carry a private IPv4
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped form of 127.0.0.1, a loopback"),
    ("http://[::ffff:7f00:1]/", "IPv4-mapped form of 127.0.0.1"),
    ("http://[0:0:0:0:0:ffff:a00:5]/", "IPv4-mapped form of 10.0.0.5, a private"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    ("http://[::ffff:0:7f00:1]/", "IPv4-translated form of 127.0.0.1"),
    ("http://[::127.0.0.1]/", "IPv4-compatible form of 127.0.0.1"),
    ("http://[::5db8:d822]/", "deprecated IPv4-compatible"),
    ("http://[64:ff9b::10.0.0.1]/", "NAT64 form of 10.0.0.1, a private"),
    ("http://[64:ff9b::7f00:1]/", "NAT64 form of 127.0.0.1"),
    ("http://[64:ff9b:1::1]/", "refused"),
    ("http://[2002:a00:1::]/", "6to4 form of 10.0.0.1"),
    ("http://[2002:7f00:1::1]/", "6to4 form of 127.0.0.1"),
    # numeric tricks, read the way inet_aton reads them
    ("http://2130706433/", "resolves to 127.0.0.1, a loopback"),
    ("http://0177.0.0.1/", "resolves to 127.0.0.1"),
    ("http://0x7f.1/", "resolves to 127.0.0.1"),
    ("http://0x7f000001/", "resolves to 127.0.0.1"),
    ("http://127.1/", "127.1 resolves to 127.0.0.1"),
    ("http://0/", "resolves to 0.0.0.0"),
    ("http://167772161/", "resolves to 10.0.0.1, a private"),
    ("http://127.0.0.1./", "loopback"),
    # names
    ("http://localhost/", "localhost resolves to 127.0.0.1, a loopback"),
    ("http://LOCALHOST:8080/x", "loopback"),
    # schemes
    ("file:///etc/passwd", "scheme 'file'"),
    ("gopher://127.0.0.1:25/_HELO", "scheme 'gopher'"),
    ("ftp://example.com/", "scheme 'ftp'"),
    ("dict://example.com:11211/", "scheme 'dict'"),
    ("//example.com/", "scheme '(none)'"),
    # credentials
    ("http://user:pass@example.com/", "credentials"),
    ("http://user@example.com/", "credentials"),
    ("https://:secret@example.com/", "credentials"),
    ("http://example.com\\@127.0.0.1/", "credentials"),
    # malformed
    ("http:///nohost", "no host"),
    ("http://example.com:99999/", "malformed"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED, ids=[u for u, _ in REFUSED])
def test_refused(dns, url, reason):
    dns.table["example.com"] = [["93.184.216.34"]]
    with pytest.raises(BlockedURL) as caught:
        check_url(url, NOTHING)
    assert reason in str(caught.value)
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hook",
        "http://example.com:8080/hook?x=1",
        "http://93.184.216.34/",
        "http://1572395042/",  # 93.184.216.34 as one number: tricks are normalised, not banned
        "http://[2606:2800:220:1:248:1893:25c8:1946]/",
        "http://[::ffff:93.184.216.34]/",
        "http://[64:ff9b::93.184.216.34]/",
        "http://[2002:5db8:d822::1]/",
    ],
)
def test_public_addresses_pass(dns, url):
    dns.table["example.com"] = [["93.184.216.34"]]
    check_url(url, NOTHING)


def test_name_resolving_to_private_is_refused(dns):
    dns.table["evil.example"] = [["10.0.0.5"]]
    with pytest.raises(BlockedURL, match=r"evil\.example resolves to 10\.0\.0\.5, a private"):
        check_url("https://evil.example/hook", NOTHING)
    with guarded_session(NOTHING) as session, pytest.raises(BlockedURL, match="10.0.0.5"):
        session.post("https://evil.example/hook", data=b"{}")


def test_one_private_answer_among_public_ones_is_refused(dns):
    dns.table["mixed.example"] = [["93.184.216.34", "::1"]]
    with pytest.raises(BlockedURL, match="::1, a loopback"):
        check_url("http://mixed.example/", NOTHING)


def test_unresolvable_host_is_refused_with_a_reason(dns):
    with pytest.raises(BlockedURL, match="cannot resolve host 'nowhere.example'"):
        check_url("http://nowhere.example/", NOTHING)


def test_dns_rebinding_is_refused_at_connection(dns, httpserver: HTTPServer):
    httpserver.expect_request("/hook").respond_with_data("should never be reached")
    dns.table["rebind.example"] = [["93.184.216.34"], ["127.0.0.1"]]
    url = f"http://rebind.example:{httpserver.port}/hook"
    check_url(url, NOTHING)  # the first answer is public: a check-then-fetch guard is fooled
    with guarded_session(NOTHING) as session, pytest.raises(BlockedURL, match="127.0.0.1"):
        session.post(url, data=b"{}")
    assert httpserver.log == []


def test_session_connects_to_the_vetted_address_only(dns, httpserver: HTTPServer):
    """One lookup per new connection, the socket goes to that IP, the Host header keeps
    the name (this receiver closes each connection: every request opens a new one)."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    dns.table["pinned.example"] = [["127.0.0.1"], ["127.0.0.3"]]
    with guarded_session(LOOPBACK) as session:
        with session.post(f"http://pinned.example:{httpserver.port}/hook", data=b"{}") as r:
            assert r.status_code == 200
        with pytest.raises(BlockedURL, match="127.0.0.3"):  # new connection: lookup, vetted
            session.post(f"http://pinned.example:{httpserver.port}/hook", data=b"{}")
    assert dns.calls.count("pinned.example") == 2
    (request, _response), *_ = httpserver.log
    assert request.headers["Host"] == f"pinned.example:{httpserver.port}"


def test_allowlist_lets_loopback_through(httpserver: HTTPServer):
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    url = f"http://127.0.0.1:{httpserver.port}/hook"
    with (
        guarded_session(OutboundPolicy("127.0.0.1")) as session,
        session.post(url, data=b"{}") as r,
    ):
        assert (r.status_code, r.text) == (200, "ok")
    assert len(httpserver.log) == 1


def test_without_allowlist_loopback_is_refused_before_any_connection(httpserver: HTTPServer):
    httpserver.expect_request("/hook").respond_with_data("ok")
    with guarded_session(NOTHING) as session:
        for url in (
            f"http://127.0.0.1:{httpserver.port}/hook",
            f"http://2130706433:{httpserver.port}/hook",
            f"http://[::ffff:127.0.0.1]:{httpserver.port}/hook",
        ):
            with pytest.raises(BlockedURL, match="loopback"):
                session.post(url, data=b"{}")
    assert httpserver.log == []


def test_allowlist_over_ipv6_loopback(httpserver_ipv6: HTTPServer):
    httpserver_ipv6.expect_request("/hook").respond_with_data("ok")
    url = f"http://[::1]:{httpserver_ipv6.port}/hook"
    with guarded_session(OutboundPolicy(["::1"])) as session, session.post(url) as r:
        assert r.status_code == 200
    with guarded_session(NOTHING) as session, pytest.raises(BlockedURL, match="::1"):
        session.post(url)
    assert len(httpserver_ipv6.log) == 1


def test_guarded_session_refuses_credentials_and_other_schemes(httpserver: HTTPServer):
    with guarded_session(LOOPBACK) as session:
        with pytest.raises(BlockedURL, match="credentials"):
            session.get(f"http://u:p@127.0.0.1:{httpserver.port}/")
        with pytest.raises(requests.exceptions.InvalidSchema):
            session.get("file:///etc/passwd")
        with pytest.raises(BlockedURL, match="proxies"):
            session.get(f"http://127.0.0.1:{httpserver.port}/", proxies={"http": "http://x:1"})
    assert httpserver.log == []


def _redirect(server: HTTPServer, path: str, location: str) -> None:
    server.expect_request(path).respond_with_data("", status=302, headers={"Location": location})


def test_guarded_session_never_follows_redirects(httpserver: HTTPServer):
    _redirect(httpserver, "/start", f"http://127.0.0.1:{httpserver.port}/next")
    httpserver.expect_request("/next").respond_with_data("followed")
    url = f"http://127.0.0.1:{httpserver.port}/start"
    with guarded_session(LOOPBACK) as session, session.get(url, allow_redirects=True) as r:
        assert r.status_code == 302
    assert [req.path for req, _ in httpserver.log] == ["/start"]


def test_unfollowed_redirect_body_is_left_unread(httpserver: HTTPServer):
    """Plain requests reads a whole 3xx body even when not following; webhooks cap their reads."""
    big = b"x" * 1_000_000
    httpserver.expect_request("/hook").respond_with_data(big, 302, {"Location": "/elsewhere"})
    url = f"http://127.0.0.1:{httpserver.port}/hook"
    with guarded_session(LOOPBACK) as session, session.post(url, stream=True) as r:
        assert r.status_code == 302
        assert r.raw.read(10) == b"x" * 10


def test_redirect_to_loopback_is_refused(httpserver: HTTPServer):
    _redirect(httpserver, "/start", f"http://127.0.0.2:{httpserver.port}/")
    url = f"http://127.0.0.1:{httpserver.port}/start"
    with guarded_session(OutboundPolicy("127.0.0.1")) as session:
        with pytest.raises(BlockedURL, match=r"127\.0\.0\.2 is a loopback"):
            fetch_following_redirects(session, url)
        with session.post(url) as r:  # the session itself hands the 302 back, unfollowed
            assert r.status_code == 302
    assert [req.path for req, _ in httpserver.log] == ["/start", "/start"]


@pytest.mark.parametrize(
    ("location", "reason"),
    [
        ("file:///etc/passwd", "scheme 'file'"),
        ("gopher://127.0.0.1:70/", "scheme 'gopher'"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://user:pw@127.0.0.1/", "credentials"),
    ],
)
def test_redirect_hops_are_vetted(httpserver: HTTPServer, location, reason):
    _redirect(httpserver, "/start", location)
    with guarded_session(LOOPBACK) as session, pytest.raises(BlockedURL, match=reason):
        fetch_following_redirects(session, f"http://127.0.0.1:{httpserver.port}/start")


def test_fetch_following_redirects_follows_allowed_hops(httpserver: HTTPServer, dns):
    _redirect(httpserver, "/a", "/b")
    _redirect(httpserver, "/b", f"http://localhost:{httpserver.port}/c")
    httpserver.expect_request("/c").respond_with_data("done")
    policy, url = OutboundPolicy("127.0.0.1,localhost"), f"http://127.0.0.1:{httpserver.port}/a"
    with guarded_session(policy) as session, fetch_following_redirects(session, url) as r:
        assert (r.status_code, r.text) == (200, "done")
        assert [h.status_code for h in r.history] == [302, 302]
    assert [req.path for req, _ in httpserver.log] == ["/a", "/b", "/c"]


def test_fetch_following_redirects_stops_after_max_hops(httpserver: HTTPServer):
    _redirect(httpserver, "/loop", "/loop")
    with guarded_session(LOOPBACK) as session, pytest.raises(requests.TooManyRedirects):
        fetch_following_redirects(session, f"http://127.0.0.1:{httpserver.port}/loop", max_hops=2)
    assert len(httpserver.log) == 3


def test_fetch_following_redirects_requires_a_guarded_session():
    with requests.Session() as plain, pytest.raises(TypeError):
        fetch_following_redirects(plain, "http://example.com/")  # type: ignore[arg-type]


def test_policy_entries():
    policy = OutboundPolicy(" 127.0.0.1, [::1] ,10.0.0.0/8,Hooks.Internal.Example.,,")
    assert policy.hosts == {"hooks.internal.example"}
    assert [str(n) for n in policy.networks] == ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]
    assert OutboundPolicy(["127.0.0.1", " "]).networks == LOOPBACK.networks[:1]  # config's list
    assert not NOTHING.hosts and not NOTHING.networks
    for bad in ("10.0.0.0/33", "not a host", "::zz", "http://x/"):
        with pytest.raises(ValueError, match="allow-list entry"):
            OutboundPolicy(bad)


def test_allowlist_by_host_and_by_cidr(dns):
    dns.table["hooks.internal.example"] = [["10.1.2.3"]]
    dns.table["evil.example"] = [["10.0.0.5"]]
    check_url("https://hooks.internal.example/x", OutboundPolicy("hooks.internal.example"))
    check_url("https://HOOKS.internal.example./x", OutboundPolicy("hooks.internal.example"))
    with pytest.raises(BlockedURL):
        check_url("https://evil.example/", OutboundPolicy("hooks.internal.example"))
    check_url("https://evil.example/", OutboundPolicy("10.0.0.0/8"))
    check_url("http://[::ffff:10.9.9.9]/", OutboundPolicy("10.0.0.0/8"))  # the same IPv4
    with pytest.raises(BlockedURL, match="172.16.0.1"):
        check_url("http://172.16.0.1/", OutboundPolicy("10.0.0.0/8"))


def _self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key),
         "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@contextlib.contextmanager
def _tls_receiver(dns, tmp_path: Path) -> Iterator[tuple[HTTPServer, Path, list]]:
    """An HTTPS server on loopback answering /hook with "ok", its certificate made for
    hooks.test only (other.test resolves to it too), and the SNI names it was sent."""
    cert, key = _self_signed(tmp_path, "hooks.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen_sni: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: seen_sni.append(name)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.expect_request("/hook").respond_with_data("ok")
    server.start()
    dns.table["hooks.test"] = [["127.0.0.1"]]
    dns.table["other.test"] = [["127.0.0.1"]]
    try:
        yield server, cert, seen_sni
    finally:
        server.clear()
        server.stop()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_keeps_sni_and_certificate_checks_for_the_name(dns, tmp_path: Path):
    receiver = _tls_receiver(dns, tmp_path)
    with receiver as (server, cert, seen_sni), guarded_session(LOOPBACK) as session:
        with session.get(f"https://hooks.test:{server.port}/hook", verify=str(cert)) as r:
            assert r.text == "ok"
        with pytest.raises(requests.exceptions.SSLError):  # the name is what is verified
            session.get(f"https://other.test:{server.port}/hook", verify=str(cert))
    assert seen_sni[0] == "hooks.test"


# --- GuardedSession.urlopen: the same guard through urllib3 alone (the webhook sender's) ---
def _urlopen(session, url: str) -> tuple[int, bytes]:
    response = session.urlopen("POST", url, b"{}", {"content-type": "application/json"})
    try:
        return response.status, response.read()
    finally:
        response.close()
        response.release_conn()


def test_urlopen_connects_to_the_vetted_address_only(dns, httpserver: HTTPServer):
    """One lookup per new connection, the socket to that IP, the Host header keeps the
    name (this receiver closes each connection: every request opens a new one)."""
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    dns.table["pinned.example"] = [["127.0.0.1"], ["127.0.0.3"]]
    url = f"http://pinned.example:{httpserver.port}/hook"
    with guarded_session(LOOPBACK) as session:
        assert _urlopen(session, url) == (200, b"ok")
        with pytest.raises(BlockedURL, match="127.0.0.3"):  # new connection: lookup, vetted
            _urlopen(session, url)
    assert dns.calls.count("pinned.example") == 2
    [(request, _response)] = httpserver.log
    assert request.headers.getlist("Host") == [f"pinned.example:{httpserver.port}"]


def test_urlopen_refuses_rebinding_and_loopback_before_any_connection(dns, httpserver):
    httpserver.expect_request("/hook").respond_with_data("should never be reached")
    dns.table["rebind.example"] = [["93.184.216.34"], ["127.0.0.1"]]
    url = f"http://rebind.example:{httpserver.port}/hook"
    check_url(url, NOTHING)  # the first answer is public: a check-then-fetch guard is fooled
    with guarded_session(NOTHING) as session:
        for refused in (
            url,
            f"http://127.0.0.1:{httpserver.port}/hook",
            f"http://2130706433:{httpserver.port}/hook",
            f"http://[::ffff:127.0.0.1]:{httpserver.port}/hook",
        ):
            with pytest.raises(BlockedURL, match="loopback"):
                _urlopen(session, refused)
        for bad, reason in (
            (f"http://u:p@127.0.0.1:{httpserver.port}/", "credentials"),
            ("file:///etc/passwd", "scheme 'file'"),
        ):
            with pytest.raises(BlockedURL, match=reason):
                _urlopen(session, bad)
    assert httpserver.log == []


def test_urlopen_over_ipv6_loopback(httpserver_ipv6: HTTPServer):
    httpserver_ipv6.expect_request("/hook").respond_with_data("ok")
    url = f"http://[::1]:{httpserver_ipv6.port}/hook"
    with guarded_session(OutboundPolicy(["::1"])) as session:
        assert _urlopen(session, url) == (200, b"ok")
    with guarded_session(NOTHING) as session, pytest.raises(BlockedURL, match="::1"):
        _urlopen(session, url)
    assert len(httpserver_ipv6.log) == 1


def test_urlopen_never_follows_redirects(httpserver: HTTPServer):
    _redirect(httpserver, "/start", f"http://127.0.0.1:{httpserver.port}/next")
    httpserver.expect_request("/next").respond_with_data("followed")
    with guarded_session(LOOPBACK) as session:
        status, _body = _urlopen(session, f"http://127.0.0.1:{httpserver.port}/start")
    assert status == 302
    assert [req.path for req, _ in httpserver.log] == ["/start"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_urlopen_keeps_sni_and_certificate_checks_for_the_name(dns, tmp_path: Path):
    with _tls_receiver(dns, tmp_path) as (server, cert, seen_sni):
        with guarded_session(LOOPBACK) as session:
            session.verify = str(cert)
            assert _urlopen(session, f"https://hooks.test:{server.port}/hook") == (200, b"ok")
            with pytest.raises(urllib3.exceptions.SSLError):  # the name is what is verified
                _urlopen(session, f"https://other.test:{server.port}/hook")
        with guarded_session(LOOPBACK) as session, pytest.raises(urllib3.exceptions.SSLError):
            _urlopen(session, f"https://hooks.test:{server.port}/hook")  # not a trusted CA
    assert seen_sni[0] == "hooks.test"


def _post_bytes(session, url: str) -> tuple[int, bytes]:
    answer = session.post_bytes(url, b"{}", [("content-type", "application/json")], 1000)
    return answer.status, answer.body


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_post_bytes_keeps_sni_and_certificate_checks_for_the_name(dns, tmp_path: Path):
    """The webhook sender's own POST (http1.py) over the same guarded connections."""
    with _tls_receiver(dns, tmp_path) as (server, cert, seen_sni):
        with guarded_session(LOOPBACK) as session:
            session.verify = str(cert)
            assert _post_bytes(session, f"https://hooks.test:{server.port}/hook") == (200, b"ok")
            with pytest.raises(urllib3.exceptions.SSLError):  # the name is what is verified
                _post_bytes(session, f"https://other.test:{server.port}/hook")
        with guarded_session(LOOPBACK) as session, pytest.raises(urllib3.exceptions.SSLError):
            _post_bytes(session, f"https://hooks.test:{server.port}/hook")  # not a trusted CA
    assert seen_sni[0] == "hooks.test"


# --- keep-alive: a connection is vetted when it opens, then reused for its endpoint only ---
class _KeepAliveReceiver(ThreadingHTTPServer):
    """HTTP/1.1 on loopback, connections kept open; notes each request's path and the
    client's port (one port = one connection). /close answers, then closes."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.seen.append((self.path, self.client_address[1]))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                if self.path == "/close":
                    self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


@pytest.fixture
def keep_alive_receiver() -> Iterator[_KeepAliveReceiver]:
    receiver = _KeepAliveReceiver()
    yield receiver
    receiver.shutdown()
    receiver.server_close()


def _post(session, url: str) -> tuple[int, bytes]:
    with session.post(url, data=b"{}") as response:
        return response.status_code, response.content


@pytest.mark.parametrize(
    "send", [_urlopen, _post, _post_bytes], ids=["urlopen", "requests", "post_bytes"]
)
def test_a_kept_connection_is_reused_and_a_new_one_is_vetted_again(dns, keep_alive_receiver, send):
    """Several requests go over one connection with one lookup; once the receiver closed
    it, the next request opens a new connection, which resolves again, and the name now
    reaching a loopback address outside the allow-list is refused before any socket."""
    dns.table["hooks.example"] = [["127.0.0.1"], ["127.0.0.2"]]
    base = f"http://hooks.example:{keep_alive_receiver.port}"
    with guarded_session(LOOPBACK) as session:
        for _ in range(3):
            assert send(session, f"{base}/hook") == (200, b"ok")
        assert send(session, f"{base}/close") == (200, b"ok")
        with pytest.raises(BlockedURL, match="hooks.example resolves to 127.0.0.2, a loopback"):
            send(session, f"{base}/hook")
    paths, ports = zip(*keep_alive_receiver.seen, strict=True)
    assert paths == ("/hook", "/hook", "/hook", "/close")
    assert len(set(ports)) == 1  # one connection
    assert dns.calls.count("hooks.example") == 2  # one per connection opened or tried


@pytest.mark.parametrize("send", [_urlopen, _post_bytes], ids=["urlopen", "post_bytes"])
def test_a_kept_connection_serves_its_own_endpoint_only(dns, keep_alive_receiver, send):
    """Another name on the same address and port gets its own connection, vetted by its
    own lookup: a pool is per scheme, host and port, never shared by name."""
    dns.table["hooks.example"] = [["127.0.0.1"]]
    dns.table["other.example"] = [["127.0.0.2"]]
    port = keep_alive_receiver.port
    with guarded_session(LOOPBACK) as session:
        assert send(session, f"http://hooks.example:{port}/hook") == (200, b"ok")
        with pytest.raises(BlockedURL, match="other.example resolves to 127.0.0.2"):
            send(session, f"http://other.example:{port}/hook")
        assert send(session, f"http://127.0.0.1:{port}/hook") == (200, b"ok")
    ports = [port for _path, port in keep_alive_receiver.seen]
    assert len(ports) == 2 and ports[0] != ports[1]  # the literal address: its own connection
