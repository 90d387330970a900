"""Addresses that mean the same: the one normal form the diff and the origin rule compare.

RFC 3986 (6.2.2.1, 6.2.3): an http(s) URL's scheme and host are case-insensitive, and
the scheme's default port (80 for http, 443 for https) written out or left off is the
same address. bb7 finding 3: a catalog read again as ``HTTP://Data.Example.CN:80/c/N0``
(was ``http://data.example.cn/c/N0``) was an update for every dataset.

Only compared, never stored: a stored URL keeps its text (so nothing stored "changes"
after an upgrade, and a stored ``:80`` URL read again as it is stays unchanged by its
hash, never diffed); the diff and the origin rule compare ``url_key``s. The path, query
and fragment keep their case and their text (a percent-escape's case or a trailing
"/" is left to the publisher: they may name another file on some servers)."""

from __future__ import annotations

DEFAULT_PORTS = {"http": ":80", "https": ":443"}
_DEFAULT_ENDINGS = tuple(DEFAULT_PORTS.values())


def normal_origin(origin: str) -> str:
    """``scheme://[userinfo@]host[:port]`` with scheme and host in lower case and the
    scheme's default port dropped; the user info keeps its case. Only for an http(s)
    origin (the caller checked the scheme)."""
    if origin.islower() and not origin.endswith(_DEFAULT_ENDINGS):
        return origin  # the usual case, already normal (an origin with no letters: slow path)
    scheme, _, authority = origin.partition("://")
    scheme = scheme.lower()
    at = authority.rfind("@") + 1
    host = authority[at:].lower()
    default = DEFAULT_PORTS.get(scheme)
    if default and host.endswith(default):
        host = host[: -len(default)]
    return f"{scheme}://{authority[:at]}{host}"


def url_key(value):
    """``value`` as compared: an http(s) URL with its origin in normal form (the rest as
    written); anything else as it is. Cheap when the URL is already normal."""
    if type(value) is not str or value[:4].lower() != "http":
        return value
    start = value.find("://")
    if start not in (4, 5) or value[:start].lower() not in DEFAULT_PORTS:
        return value
    end = len(value)
    for mark in "/?#":
        found = value.find(mark, start + 3)
        if found != -1 and found < end:
            end = found
    return normal_origin(value[:end]) + value[end:]


def same_value(old, new) -> bool:
    """Equal, or two URLs with the same url_key."""
    return old == new or (type(old) is str and type(new) is str and url_key(old) == url_key(new))
