"""gunicorn's own answers (a request it refuses before the app sees it) in the project's
error shape, as JSON instead of its HTML page.

gunicorn refuses a request line longer than `limit_request_line` itself: 8190 bytes at
most (its maximum), or unlimited with 0. Unlimited is not safe: its parser copies the
buffered line once per 8 KB read, so time grows with the square of the length (10 MB:
26 CPU-s, 50 MB: 464 CPU-s for one request, measured on gunicorn 27). So the limit stays
8190 (a q of 500 characters is at most 4,500 bytes URL-encoded in Chinese, 6,000 in
4-byte characters: every legal search fits), and a longer line (a q of about 900+ Chinese
characters) is answered here: a 400, as the app answers a q over 500 characters, with
the error shape. gunicorn has no setting for its error body; `install()` replaces the
one function every worker writes it with (gunicorn.util.write_error).
"""

from __future__ import annotations

import json

from gunicorn import util

from subscribe.errors import error_body

REQUEST_LINE_LIMIT = 8190  # bytes: gunicorn's maximum; 0 would be unlimited (see above)


def write_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn.util.write_error's contract, the body {code, status, message, errors}."""
    if status_int == 414:  # the request line: most likely a long q, which the app 400s
        status_int, reason = 400, "Bad Request"
        mesg = f"The request line is too long ({mesg}); a search q is at most 500 characters."
    body = json.dumps(error_body(status_int, mesg or reason)).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")  # fmt: skip
    util.write_nonblock(sock, head.encode("latin-1") + body)


def install() -> None:
    """Answer gunicorn's own errors with write_error (in the master: workers fork from it)."""
    util.write_error = write_error
