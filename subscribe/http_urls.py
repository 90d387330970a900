"""The one check of an http(s) URL the API and the pages take (webhook and chat
endpoints, sources): scheme, a valid host and port. Without the host check
"http://xn--/" and "http://a..b/" were stored and failed only at delivery time.

Host names follow IDNA 2008 with UTS #46 mapping (the `idna` package, which requests
already depends on): a Chinese or full-width name is encoded as the resolver will see
it, a malformed A-label ("xn--"), an empty label ("a..b") or one over 63 octets is
refused. Plain ASCII labels keep DNS's wider practice (letters, digits, hyphen and
underscore, no hyphen at either end); one trailing dot (the root) is fine.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

import idna
import marshmallow as ma

_ASCII_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\Z", re.IGNORECASE)
_NUMERIC = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)\Z", re.IGNORECASE)
MAX_HOST = 253  # octets of a DNS name without its trailing dot


def host_problem(host: str) -> str | None:
    """Why `host` (a URL's host, IPv6 without brackets) cannot be one, else None."""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "the host is not a valid IPv6 address"
        return None
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
    except idna.IDNAError as error:
        return f"the host is not a valid host name ({error})"
    name = mapped[:-1] if mapped.endswith(".") else mapped  # the root's dot
    labels = name.split(".")
    if _NUMERIC.match(labels[-1]):  # a number last: an IPv4 address or nothing
        try:  # inet_aton's forms, as resolvers and the URL standard read them: 2130706433
            socket.inet_aton(name)  # and 0x7f.1 are 127.0.0.1 (the SSRF guard judges those)
        except OSError:
            return "the host is not a valid IPv4 address"
        return None
    encoded = []
    for label in labels:
        if not label:
            return "a host name has no empty labels"
        if label.isascii() and not label.lower().startswith("xn--"):
            if not _ASCII_LABEL.match(label):
                return f"{label!r} is not a valid host name label"
            encoded.append(label)
            continue
        try:  # a U-label to encode, or an A-label that must decode to a valid one
            encoded.append(idna.encode(label).decode("ascii"))
        except (idna.IDNAError, UnicodeError) as error:
            return f"{label!r} is not a valid host name label ({error})"
    if len(".".join(encoded)) > MAX_HOST:
        return f"a host name has at most {MAX_HOST} characters"
    return None


def url_problem(url: str) -> str | None:
    """Why `url` is not an absolute http(s) URL with a valid host and port, else None."""
    if not url.lower().startswith(("http://", "https://")):  # urlsplit forgives spaces
        return "must be an http(s) URL"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port past 65535 or not a number
    except ValueError as error:
        return f"not a valid URL ({error})"
    if not parts.hostname:
        return "has no host"
    return host_problem(parts.hostname)


def http_url(value: str) -> None:
    """marshmallow validator: an absolute http(s) URL with a valid host (see url_problem)."""
    problem = url_problem(value)
    if problem:
        raise ma.ValidationError(f"Must be an http(s) URL with a valid host: {problem}.")
