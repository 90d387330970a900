"""Why an HTTP exchange failed, in words the person reading it can act on.

Harvest runs, resource checks, bundle files, webhook and chat deliveries all show the
reason a request failed: on a source page, in a delivery log a developer reads, in a
bundle's list of missing files. requests and urllib3 say it as nested reprs of pools,
retries and connection objects ("HTTPConnectionPool(host=…): Max retries exceeded … (Caused
by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f…>: …'))"): the one
fact in there is the socket's error, deep in the chain. `transport_reason` finds it.

Shape: one short English phrase, lower case, no trailing period, at most 200 characters;
e.g. "connection refused", "no answer within 15 s", "TLS certificate not accepted:
certificate has expired", "host name not found", "connection closed before the answer
was complete". The SSRF guard's own refusals (ValueError) read well already and are
passed through.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl

import requests
import urllib3

MAX_REASON = 200
_TIMEOUT_IN_TEXT = re.compile(r"timeout=([0-9.]+)")


def transport_reason(exc: BaseException, timeout: float | None = None) -> str:
    """One phrase for a failed request (see the module). ``timeout``: the seconds the
    caller waited, when it knows; else read from urllib3's message, else left out.

    Never raises: whatever the exception, some text comes back."""
    if isinstance(exc, ValueError) and not isinstance(exc, requests.RequestException):
        return _cut(_first_line(exc))  # the SSRF guard, malformed URLs: already plain words
    chain = _chain(exc)
    for error in chain:
        if isinstance(error, ssl.SSLCertVerificationError):
            detail = error.verify_message or "not trusted"
            return _cut(f"TLS certificate not accepted: {detail}")
    if any(isinstance(e, ssl.SSLError | requests.exceptions.SSLError | urllib3.exceptions.SSLError)
           for e in chain):  # fmt: skip
        return "TLS (https) handshake failed"
    if any(isinstance(e, socket.gaierror) for e in chain):
        return "host name not found"
    for error in chain:
        if isinstance(error, OSError) and error.strerror and not isinstance(error, TimeoutError):
            return _cut(error.strerror[:1].lower() + error.strerror[1:])  # "connection refused"
    timeouts = [e for e in chain if isinstance(e, _TIMEOUTS)]
    if timeouts:
        seconds = timeout if timeout is not None else _timeout_in(chain)
        within = f" within {seconds:g} s" if seconds is not None else ""
        if any(isinstance(e, _CONNECT_TIMEOUTS) for e in timeouts):
            return f"no connection{within}"
        return f"no answer{within}"
    if any(isinstance(e, _CUT_SHORT) for e in chain):
        return "connection closed before the answer was complete"
    if isinstance(exc, requests.TooManyRedirects):
        return "too many redirects"
    if any(isinstance(e, requests.exceptions.ContentDecodingError | urllib3.exceptions.DecodeError)
           for e in chain):  # fmt: skip
        return "the answer's Content-Encoding could not be decoded"
    if isinstance(exc, requests.ConnectionError | urllib3.exceptions.HTTPError):
        return "connection failed"
    return _cut(_first_line(exc))


_TIMEOUTS = (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
_CONNECT_TIMEOUTS = (requests.ConnectTimeout, urllib3.exceptions.ConnectTimeoutError)
_CUT_SHORT = (
    urllib3.exceptions.ProtocolError,
    http.client.IncompleteRead,
    http.client.RemoteDisconnected,
    requests.exceptions.ChunkedEncodingError,
    ConnectionError,  # the built-in: reset, aborted, broken pipe without a strerror
)


def _chain(exc: BaseException) -> list[BaseException]:
    """exc and every exception it wraps: args, urllib3's `reason`, cause and context."""
    chain: list[BaseException] = []
    todo: list[BaseException] = [exc]
    while todo:
        error = todo.pop(0)
        if any(error is seen for seen in chain):
            continue
        chain.append(error)
        todo += [a for a in getattr(error, "args", ()) if isinstance(a, BaseException)]
        context = None if error.__suppress_context__ else error.__context__  # `from None`
        todo += [e for e in (getattr(error, "reason", None), error.__cause__, context)
                 if isinstance(e, BaseException)]  # fmt: skip
    return chain


def _timeout_in(chain: list[BaseException]) -> float | None:
    """urllib3 writes the timeout into its message: "Read timed out. (read timeout=15)"."""
    for error in chain:
        if match := _TIMEOUT_IN_TEXT.search(str(error)):
            try:
                return float(match.group(1))
            except ValueError:
                return None
    return None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0].strip() or type(exc).__name__


def _cut(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
