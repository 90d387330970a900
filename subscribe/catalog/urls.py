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

from urllib.parse import unquote

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
    end = origin_end(value)
    return value if end is None else normal_origin(value[:end]) + value[end:]


def origin_end(value) -> int | None:
    """Where an http(s) URL's origin ends (its first "/", "?" or "#" after "://", else
    its length); None for anything else."""
    if type(value) is not str or value[:4].lower() != "http":
        return None
    start = value.find("://")
    if start not in (4, 5) or value[:start].lower() not in DEFAULT_PORTS:
        return None
    end = len(value)
    for mark in "/?#":
        found = value.find(mark, start + 3)
        if found != -1 and found < end:
            end = found
    return end


def same_value(old, new) -> bool:
    """Equal, or two URLs with the same url_key."""
    return old == new or (type(old) is str and type(new) is str and url_key(old) == url_key(new))


def rest_key(rest: str) -> str:
    """A URL's rest (path, query, fragment) as identity pairing compares it (bb9 F3):
    percent-escapes decoded (``%E6%95%B0`` is ``数``) and a trailing "/" of a path longer
    than "/" dropped (``/dataset/s0/`` is ``/dataset/s0``). Stricter than nothing, looser
    than url_key: only to pair a moved identifier with a gone one (and tell whether a
    carried dataset's URLs changed beyond the move); never stored, never a diff."""
    if "%" in rest:
        rest = unquote(rest, errors="surrogateescape")
    cut = len(rest)
    for mark in "?#":
        found = rest.find(mark)
        if found != -1 and found < cut:
            cut = found
    if cut > 1 and rest[cut - 1] == "/":
        rest = rest[: cut - 1] + rest[cut:]
    return rest


def fold_url(value):
    """url_key with the rest folded by rest_key: two spellings of one address as identity
    pairing sees it."""
    key = url_key(value)
    end = origin_end(key)
    return key if end is None else key[:end] + rest_key(key[end:])
