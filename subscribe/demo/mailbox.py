"""Reading the SMTP sink's Maildir back (subscribe/demo/mailsink.py), for the demo
mailbox page: newest first, decoded, with the envelope recipients the sink recorded."""

from __future__ import annotations

import mailbox
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path

_KEY = re.compile(r"[A-Za-z0-9._,:=-]{1,200}")  # Maildir unique names; nothing path-like
_STAMP = re.compile(r"(\d+)\.M(\d+)P\d+Q(\d+)")  # Python's Maildir: seconds, µs, counter


def delivery_order(key: str) -> tuple[int, int, int, str]:
    """Sort key: when the message was stored. Python's Maildir names start with
    `<seconds>.M<microseconds>P<pid>Q<n>`, the microseconds not zero-padded, so the
    names themselves do not sort by time."""
    match = _STAMP.match(key)
    if match is None:
        return (0, 0, 0, key)
    return (int(match[1]), int(match[2]), int(match[3]), key)


@dataclass(frozen=True)
class Mail:
    key: str
    sender: str
    recipients: list[str]  # envelope (X-RcptTo), else the To header; lower-case addresses
    subject: str
    date: datetime | None  # aware, UTC
    text: str = ""
    html: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)


def _maildir(directory: str | Path) -> mailbox.Maildir | None:
    path = Path(directory)
    if not (path / "cur").is_dir() or not (path / "new").is_dir():
        return None
    return mailbox.Maildir(path, factory=None, create=False)


def _parse(key: str, raw: bytes) -> Mail:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    rcpt = message.get("X-RcptTo") or message.get("To") or ""
    recipients = [addr.lower() for _name, addr in getaddresses([str(rcpt)]) if addr]
    try:
        date = parsedate_to_datetime(str(message["Date"])).astimezone(UTC)
    except (TypeError, ValueError):
        date = None
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    return Mail(
        key=key,
        sender=str(message.get("From", "")),
        recipients=recipients,
        subject=str(message.get("Subject", "")),
        date=date,
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else "",
        headers=[(name, str(value)) for name, value in message.items()],
    )


def read_mailbox(
    directory: str | Path, recipient: str | None = None, limit: int = 200
) -> list[Mail]:
    """Messages in the Maildir, newest first, at most `limit`; only those sent to
    `recipient` (an address, case-insensitive) when given. [] when there is no Maildir."""
    box = _maildir(directory)
    if box is None:
        return []
    wanted = recipient.lower() if recipient else None
    found: list[Mail] = []
    for key in sorted(box.keys(), key=delivery_order, reverse=True):
        try:
            mail = _parse(key, box.get_bytes(key))
        except (KeyError, FileNotFoundError):  # trimmed by the sink meanwhile
            continue
        if wanted is None or wanted in mail.recipients:
            found.append(mail)
            if len(found) >= limit:
                break
    return found


def read_mail(directory: str | Path, key: str) -> Mail | None:
    """One message by its Maildir key; None when absent (or the key is not one)."""
    box = _maildir(directory)
    if box is None or not _KEY.fullmatch(key):
        return None
    try:
        return _parse(key, box.get_bytes(key))
    except (KeyError, FileNotFoundError):
        return None
