"""SSRF guard for requests made on a user's behalf: vet the URL, pin the vetted IP, no blind redirects.

The address is vetted where the socket is opened (`_VettedConnection`): each new
connection resolves its host once, checks every answer and connects to a checked one;
kept (keep-alive) connections are reused only for their own scheme, host and port."""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
import sys
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.util import parse_url
from urllib3.util.connection import create_connection
from urllib3.util.retry import Retry

from subscribe.notify.http1 import Answer, KeptConnections

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_net = ipaddress.ip_network
_SHARED = _net("100.64.0.0/10")  # carrier-grade NAT: not "private" to ipaddress, yet internal
_DOCUMENTATION = tuple(
    map(_net, ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", "3fff::/20"])
)
# Special-purpose blocks this Python's ipaddress may still call global (it lags the IANA registry).
_SPECIAL = tuple(map(_net, ["192.0.0.0/24", "192.88.99.0/24", "64:ff9b:1::/48", "2001::/23"]))
_UNIQUE_LOCAL = _net("fc00::/7")
_CARRIERS = (  # IPv6 forms with an IPv4 in the low 32 bits, besides mapped and 6to4
    ("NAT64", _net("64:ff9b::/96")),
    ("IPv4-translated", _net("::ffff:0:0:0/96")),
    ("IPv4-compatible", _net("::/96")),  # deprecated; :: and ::1 themselves are excluded below
)
# Only these characters can make a host that inet_aton reads as a number (127.1, 0x7f.1, 2130706433).
_NUMERIC = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)
_INET = (socket.AF_INET, socket.AF_INET6)
_HOSTNAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")
# How a stored error says the guard refused a URL (a resource check's last_error, a
# harvest run's error), then the reason: one prefix, so pages and the API can tell.
BLOCKED_PREFIX = "blocked: "


class BlockedURL(ValueError):
    """The URL may not be fetched on a user's behalf; the message says why."""


class UnresolvableHost(BlockedURL):
    """The host name has no address (DNS failed): unreachable rather than refused."""


class OutboundPolicy:
    """The operator allow-list (SUBSCRIBE_OUTBOUND_ALLOWLIST): hosts or CIDRs let through anyway."""

    def __init__(self, allowlist: str | Iterable[str] = "") -> None:
        entries = allowlist.split(",") if isinstance(allowlist, str) else allowlist
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries:
            entry = raw.strip().lower().removeprefix("[").replace("]", "")
            if not entry:
                continue
            try:
                networks.append(_net(entry, strict=False))
            except ValueError:
                # A typo such as 10.0.0.0/33 must fail loudly, not become a host name nobody uses.
                if "/" in entry or ":" in entry or not _HOSTNAME.fullmatch(entry):
                    raise ValueError(f"bad outbound allow-list entry {raw!r}") from None
                hosts.add(entry.removesuffix("."))
        self.hosts: frozenset[str] = frozenset(hosts)
        self.networks: tuple[IPNetwork, ...] = tuple(dict.fromkeys(networks))

    def allows_host(self, host: str) -> bool:
        return host.lower().removesuffix(".") in self.hosts

    def allows_address(self, ip: IPAddress) -> bool:
        # ::ffff:127.0.0.1 reaches 127.0.0.1, so an allowed 127.0.0.1 allows it too.
        candidates = [ip, *(_embedded_v4(ip)[1:] if ip.version == 6 else ())]
        return any(c in net for c in candidates for net in self.networks)

    def __repr__(self) -> str:
        return f"OutboundPolicy({sorted(self.hosts) + [str(n) for n in self.networks]!r})"


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address] | tuple[()]:
    """The IPv4 address an IPv6 form carries, and the form's name; () if none."""
    if ip.ipv4_mapped is not None:
        return "IPv4-mapped", ip.ipv4_mapped
    if ip.sixtofour is not None:
        return "6to4", ip.sixtofour
    form = next((name for name, net in _CARRIERS if ip in net and int(ip) > 1), None)
    return (form, ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)) if form else ()


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why connecting to ip is refused (ignoring any allow-list), or None if it is public."""
    if ip.version == 6 and (embedded := _embedded_v4(ip)):
        form, v4 = embedded
        inner = forbidden_reason(v4)
        if inner:
            return f"the {form} form of {v4}, {inner}"
        # Mapped, NAT64 and 6to4 really reach that public IPv4; the deprecated forms reach nothing.
        return None if form in {"IPv4-mapped", "NAT64", "6to4"} else f"a deprecated {form} address"
    checks: list[tuple[bool, str]] = [
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip in _SHARED, "a shared (carrier-grade NAT) address"),
        (any(ip in n for n in _DOCUMENTATION), "a documentation address"),
        (ip in _UNIQUE_LOCAL, "a unique-local address"),
        (ip.version == 6 and ip.is_site_local, "a site-local address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (any(ip in n for n in _SPECIAL) or not ip.is_global, "a special-purpose address"),
    ]
    return next((reason for hit, reason in checks if hit), None)


def _split(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL without credentials; BlockedURL otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedURL(f"malformed URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise BlockedURL(f"scheme {scheme or '(none)'!r} is not allowed, only http and https")
    if parts.username is not None or parts.password is not None:
        raise BlockedURL("URLs with credentials are not allowed")
    if not parts.hostname:
        raise BlockedURL("URL has no host")
    return parts.hostname, port or (443 if scheme == "https" else 80)


def _literal(host: str, numeric: bool = True) -> IPAddress | None:
    """The address a literal host names (numeric forms read as inet_aton would); None if a name."""
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host)
    bare = host.removesuffix(".")
    if numeric and _NUMERIC.fullmatch(bare):
        with contextlib.suppress(OSError):  # 2130706433, 0177.0.0.1, 0x7f.1, 127.1: 127.0.0.1
            return ipaddress.IPv4Address(socket.inet_aton(bare))
    return None


def _resolve(host: str, port: int) -> list[IPAddress]:
    """Every address host stands for; numeric forms are read as inet_aton would, without DNS."""
    if (literal := _literal(host)) is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnresolvableHost(f"cannot resolve host {host!r}: {exc}") from None
    addresses = [ipaddress.ip_address(sa[0]) for af, *_, sa in infos if af in _INET]
    if not addresses:
        raise BlockedURL(f"host {host!r} has no IPv4 or IPv6 address")
    return list(dict.fromkeys(addresses))


def _vet(host: str, port: int, policy: OutboundPolicy) -> list[IPAddress]:
    """Resolve host and check every address: one bad answer is enough to refuse."""
    addresses = _resolve(host, port)
    if policy.allows_host(host):
        return addresses
    for ip in addresses:
        reason = forbidden_reason(ip)
        if reason and not policy.allows_address(ip):
            what = (
                f"{host} is" if _literal(host, numeric=False) == ip else f"{host} resolves to {ip},"
            )
            raise BlockedURL(f"{what} {reason}; refused (not in the outbound allow-list)")
    return addresses


def check_url(url: str, policy: OutboundPolicy) -> None:
    """Raise BlockedURL unless url is http(s), has no credentials and reaches only allowed addresses."""
    _vet(*_split(url), policy)


def refused_without_dns(url: str, policy: OutboundPolicy) -> str | None:
    """Why the guard refuses url, judged without a DNS lookup (for answers that must
    not wait on one, e.g. a page listing a dataset's files): a literal address
    (numeric forms too) or a localhost name that the policy does not allow. None when
    a name would have to be resolved to tell, or the URL is not http(s) at all."""
    try:
        host, port = _split(url)
    except BlockedURL:
        return None  # not a URL anything fetches: its own status (unsupported_url, no URL)
    bare = host.removesuffix(".").lower()
    if _literal(host) is None and bare != "localhost" and not bare.endswith(".localhost"):
        return None
    try:
        _vet(host, port, policy)
    except BlockedURL as exc:
        return str(exc)
    return None


class _VettedConnection:
    """Resolves its host when it opens its socket, vets every answer, and connects to a
    vetted address: no second lookup for DNS rebinding to win. The connection keeps the
    name (Host header, SNI, certificate check); a pooled connection is reused only by its
    own pool (one per scheme, host and port), so each request goes to an address that was
    vetted when its connection was opened. No lookup per request: on a kept connection a
    webhook costs no getaddrinfo and no connect."""

    def __init__(self, *args: Any, ssrf_policy: OutboundPolicy, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        self.ssrf_policy = ssrf_policy

    def _new_conn(self) -> socket.socket:
        conn: Any = self
        addresses = _vet(conn._dns_host, conn.port, self.ssrf_policy)  # BlockedURL: no socket
        for n, ip in enumerate(addresses):  # each vetted; in the resolver's order
            try:
                sock = create_connection(
                    (str(ip), conn.port), conn.timeout, source_address=conn.source_address,
                    socket_options=conn.socket_options,
                )  # fmt: skip
            except OSError as exc:
                if n < len(addresses) - 1:
                    continue
                if isinstance(exc, TimeoutError):
                    raise urllib3.exceptions.ConnectTimeoutError(
                        conn,
                        f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})",
                    ) from exc
                raise urllib3.exceptions.NewConnectionError(
                    conn, f"Failed to establish a new connection: {exc}"
                ) from exc
            sys.audit("http.client.connect", conn, conn.host, conn.port)
            return sock
        raise AssertionError("unreachable: _vet returns at least one address")


class _GuardedHTTPConnection(_VettedConnection, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_VettedConnection, HTTPSConnection):
    pass


class _GuardedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedPoolManager(urllib3.PoolManager):
    """urllib3's PoolManager (pools keyed by scheme, host name and port, as always) whose
    connections vet their address when they open (`_VettedConnection`)."""

    def __init__(self, policy: OutboundPolicy, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.policy = policy
        self.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> urllib3.HTTPConnectionPool:
        context = dict(self.connection_pool_kw if request_context is None else request_context)
        context["ssrf_policy"] = self.policy  # handed by the pool to each connection it makes
        return super()._new_pool(scheme, host, port, context)


class _PinnedAdapter(HTTPAdapter):
    """requests' adapter over the guarded pools: each new connection resolves once, is
    vetted, and goes to that very IP; a kept connection is reused for its host only."""

    def __init__(self, policy: OutboundPolicy, pool_maxsize: int, retries: Retry | int = 0) -> None:
        self.policy = policy  # before super().__init__, which makes the pool manager
        # A retry opens a new connection, vetted again; BlockedURL is a ValueError, which
        # urllib3 never retries: it ends the request at once.
        super().__init__(pool_maxsize=pool_maxsize, max_retries=retries)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        self._pool_connections, self._pool_maxsize, self._pool_block = connections, maxsize, block
        self.poolmanager = _GuardedPoolManager(
            self.policy, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        if any((kwargs.get("proxies") or {}).values()):
            # A proxy would resolve the name itself, after our check.
            raise BlockedURL("the guarded session does not use proxies")
        _split(request.url or "")  # scheme, credentials, host: refused before any pool is made
        return super().send(request, **kwargs)


class GuardedSession(requests.Session):
    """A Session that only reaches vetted addresses and never follows redirects itself."""

    def __init__(
        self,
        policy: OutboundPolicy,
        timeout: tuple[float, float] = (5, 15),
        pool_maxsize: int = 32,
        retries: Retry | int = 0,
    ) -> None:
        super().__init__()
        self.policy = policy
        self.timeout = timeout
        # No environment proxies (they resolve names after us) and no ~/.netrc credentials.
        self.trust_env = False
        adapter = _PinnedAdapter(policy, pool_maxsize, retries)
        self.mount("http://", adapter)
        self.mount("https://", adapter)
        # urlopen's own pools (requests' adapter keeps its pools to itself), guarded the
        # same way; one per endpoint (scheme, host, port) for up to 64 endpoints, each
        # keeping as many connections as threads send at once; no proxies (urllib3 reads
        # no environment), certificates checked.
        self._pools = _GuardedPoolManager(policy, num_pools=64, maxsize=pool_maxsize, block=False)
        self._timeout = urllib3.Timeout(connect=timeout[0], read=timeout[1])
        # `post_bytes`'s keep-alive connections: the same guarded connection classes, the
        # request and answer framed by h11 (http1.py).
        self._kept = KeptConnections(self._new_connection, timeout, pool_maxsize)

    def _new_connection(self, scheme: str, host: str, port: int) -> HTTPConnection:
        """An unopened guarded connection, as the guarded pools make them (the connect
        timeout; for https the certificate required and checked for the name)."""
        if scheme == "https":
            ca = self.verify if isinstance(self.verify, str) else requests.certs.where()
            return _GuardedHTTPSConnection(
                host, port, timeout=self.timeout[0], ssrf_policy=self.policy,
                cert_reqs="CERT_REQUIRED", ca_certs=ca,
            )  # fmt: skip
        return _GuardedHTTPConnection(host, port, timeout=self.timeout[0], ssrf_policy=self.policy)

    def post_bytes(
        self, url: str, body: bytes, headers: list[tuple[str, str]], limit: int
    ) -> Answer:
        """POST `body` to `url` (http1.py: one write, framed by h11), guarded as
        `urlopen` is: the URL's form checked (once per URL), each new connection's address
        resolved once, vetted and pinned, kept connections reused for their own scheme,
        host and port only, no redirects, the session's timeouts. The answer holds up to
        `limit` bytes of the decoded body. Raises BlockedURL (a ValueError, as are
        malformed URLs), urllib3's connection and timeout errors, ProtocolError or OSError."""
        return self._kept.post(self._kept.target(url, _split), headers, body, limit)

    def urlopen(
        self, method: str, url: str, body: bytes | None, headers: dict[str, str]
    ) -> urllib3.BaseHTTPResponse:
        """`method url` through urllib3 alone, guarded as `send` is: the URL's form checked
        on every call, each new connection's address resolved once, vetted and pinned,
        kept connections reused for their own scheme, host and port; the name kept for
        the Host header, SNI and the certificate check, no redirects, the session's
        timeout. For a sender's hot path: requests' preparing and merging cost ~0.3 ms
        CPU a request.

        The response is unread (preload_content off): read it, then `close()` and
        `release_conn()`. Raises BlockedURL (a ValueError, as are malformed URLs) or
        urllib3.exceptions.HTTPError (connection, timeout, TLS, protocol)."""
        target = parse_url(url)  # normalized as requests would: IDNA host, quoted path
        _split(target.url)  # scheme, credentials, host; the address is vetted at connect
        pool_kwargs: dict[str, Any] = {}
        if target.scheme == "https":
            ca = self.verify if isinstance(self.verify, str) else requests.certs.where()
            pool_kwargs = {"cert_reqs": "CERT_REQUIRED", "ca_certs": ca}
        pool = self._pools.connection_from_host(
            target.host, target.port, target.scheme, pool_kwargs
        )
        return pool.urlopen(
            method, target.request_uri, body=body, headers=headers, redirect=False,
            retries=False, assert_same_host=False, preload_content=False, timeout=self._timeout,
        )  # fmt: skip

    def close(self) -> None:
        super().close()
        self._pools.clear()
        self._kept.close()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        # Session.request always passes allow_redirects (default True), so force it here; webhooks
        # count a 3xx as a failure, and fetch_following_redirects vets each hop itself.
        kwargs["allow_redirects"] = False
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().send(request, **kwargs)

    def resolve_redirects(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        # Even unfollowed, requests reads a whole 3xx body (unbounded) to prepare response.next.
        return iter(())


def guarded_session(
    policy: OutboundPolicy,
    timeout: tuple[float, float] = (5, 15),
    pool_maxsize: int = 32,
    retries: Retry | int = 0,
) -> GuardedSession:
    """A requests Session for user-supplied URLs and URLs from catalog data: (connect, read)
    timeout, no redirects (`fetch_following_redirects` vets each hop), IPs vetted.
    `pool_maxsize`: keep-alive connections kept per host (threads sending at once);
    `retries`: urllib3's Retry for requests' adapter (none by default)."""
    return GuardedSession(policy, timeout, pool_maxsize, retries)


def fetch_following_redirects(
    session: GuardedSession, url: str, max_hops: int = 5, **kwargs: Any
) -> requests.Response:
    """GET url following at most max_hops redirects, each hop vetted by the session's policy."""
    if not isinstance(session, GuardedSession):
        raise TypeError("fetch_following_redirects needs a guarded_session()")
    history: list[requests.Response] = []
    for _ in range(max_hops + 1):
        _split(url)  # a clear BlockedURL for file:, gopher:, credentials; the adapter vets the IP
        response = session.get(url, **kwargs)
        target = session.get_redirect_target(response)
        if target is None:
            response.history = history
            return response
        response.close()
        history.append(response)
        next_url = urljoin(response.url, target)
        if session.should_strip_auth(url, next_url):  # never carry credentials to another host
            kwargs.pop("auth", None)
            headers = kwargs.get("headers") or {}
            kwargs["headers"] = {k: v for k, v in headers.items() if k.lower() != "authorization"}
        url = next_url
    raise requests.TooManyRedirects(f"more than {max_hops} redirects", response=history[-1])
