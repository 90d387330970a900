"""E-mail over SMTP: build a text + HTML message and hand it to an SMTP server.

Pure pieces for the delivery worker: `build_message` makes the MIME message (no I/O),
`send` opens one SMTP connection per message and turns every SMTP or network failure
into a single `EmailError`. Settings come from the Flask config (subscribe/config.py,
keys SUBSCRIBE_SMTP_* and SUBSCRIBE_MAIL_FROM).
"""

from __future__ import annotations

import re
import smtplib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

DEFAULT_MAIL_FROM = "subscribe <noreply@localhost>"

# 7bit: bodies that are not plain ASCII go out quoted-printable or base64 (whichever is
# shorter), so no SMTP server needs 8BITMIME; headers use RFC 2047 encoded words.
POLICY = policy.default.clone(cte_type="7bit")

_ID_LEFT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+")
_ID_RIGHT = re.compile(r"[A-Za-z0-9.-]+|\[[^\[\]\\\s]+\]")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to hand messages over (defaults: a local test server, no TLS)."""

    host: str = "127.0.0.1"
    port: int = 1025
    user: str = ""
    password: str = field(default="", repr=False)
    starttls: bool = False  # upgrade a plain connection with STARTTLS (usually port 587)
    ssl: bool = False  # implicit TLS from the first byte (usually port 465)
    timeout: float = 15.0  # seconds, for the connection and every command
    mail_from: str = DEFAULT_MAIL_FROM

    def __post_init__(self) -> None:
        if self.ssl and self.starttls:
            raise ValueError(
                "SUBSCRIBE_SMTP_SSL and SUBSCRIBE_SMTP_STARTTLS exclude each other: "
                "SSL is TLS from the start (port 465), STARTTLS upgrades a plain one (587)."
            )
        if not parseaddr(self.mail_from)[1]:
            raise ValueError(f"SUBSCRIBE_MAIL_FROM has no address: {self.mail_from!r}")

    @classmethod
    def from_config(cls, config: Mapping) -> SmtpSettings:
        """From the Flask config (or subscribe.config.from_environment()); keys absent
        from the mapping take their defaults."""
        defaults = cls()
        return cls(
            host=config.get("SUBSCRIBE_SMTP_HOST") or defaults.host,
            port=int(config.get("SUBSCRIBE_SMTP_PORT") or defaults.port),
            user=config.get("SUBSCRIBE_SMTP_USER") or "",
            password=config.get("SUBSCRIBE_SMTP_PASSWORD") or "",
            starttls=bool(config.get("SUBSCRIBE_SMTP_STARTTLS", defaults.starttls)),
            ssl=bool(config.get("SUBSCRIBE_SMTP_SSL", defaults.ssl)),
            timeout=float(config.get("SUBSCRIBE_SMTP_TIMEOUT") or defaults.timeout),
            mail_from=config.get("SUBSCRIBE_MAIL_FROM") or defaults.mail_from,
        )


class EmailError(Exception):
    """A message could not be handed over. `reason` says why in words; `code` is the SMTP
    reply code when the server answered one; `permanent` is True for 5xx replies (the
    same message will be refused again), False for 4xx and network trouble (retry)."""

    def __init__(self, reason: str, *, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code

    @property
    def permanent(self) -> bool:
        return self.code is not None and 500 <= self.code < 600


def _domain(address: str) -> str:
    _name, addr = parseaddr(address)
    domain = addr.rpartition("@")[2].strip()
    return domain if domain and _ID_RIGHT.fullmatch(domain) else "localhost"


def message_id_header(message_id: str, domain: str = "localhost") -> str:
    """`<…@…>` from a full Message-ID or from a bare token (such as a delivery's
    message id, `msg_…`), which gets `@domain`: the same input always gives the same id."""
    value = message_id.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1]
    left, at, right = value.rpartition("@")
    if not at:
        left, right = value, domain
    if not (_ID_LEFT.fullmatch(left) and _ID_RIGHT.fullmatch(right)):
        raise ValueError(f"Not usable as a Message-ID: {message_id!r}")
    return f"<{left}@{right}>"


def build_message(
    to: str | Iterable[str],
    subject: str,
    text: str,
    html: str,
    message_id: str | None = None,
    *,
    sender: str | None = None,
    date: datetime | None = None,
    unsubscribe_url: str | None = None,
) -> EmailMessage:
    """A multipart/alternative message (text first, HTML preferred), UTF-8 throughout.

    `to`: one address or several (a display name may be non-ASCII). `message_id`: kept as
    given (a bare token gets `@` + the sender's domain, else `@localhost`) so that a resend
    of one delivery carries the same Message-ID; a fresh one is made when omitted.
    `sender` is the From header; when omitted, `send` sets it to `settings.mail_from`.
    `date` defaults to now (a naive one is taken as UTC). `unsubscribe_url` (https or
    http) adds `List-Unsubscribe` (RFC 2369) and `List-Unsubscribe-Post:
    List-Unsubscribe=One-Click` (RFC 8058): mail clients then offer an unsubscribe
    button that POSTs to that URL.
    """
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        raise ValueError("A message needs at least one recipient.")
    domain = _domain(sender) if sender else "localhost"
    msg = EmailMessage(policy=POLICY)
    if sender:
        msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = " ".join(subject.split())  # one line: no folding tricks in the title
    when = date or datetime.now(UTC)
    msg["Date"] = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    msg["Message-ID"] = (
        message_id_header(message_id, domain) if message_id else make_msgid(domain=domain)
    )
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text, subtype="plain", charset="utf-8")
    msg.add_alternative(html, subtype="html", charset="utf-8")
    return msg


def send(settings: SmtpSettings, message: EmailMessage) -> None:
    """Hand `message` to the SMTP server: SMTP_SSL or SMTP (+ STARTTLS), login when a user
    is set, `settings.timeout` per connection and command. A message without From gets
    `settings.mail_from`. Returns when the server accepted the message for every
    recipient; anything else raises EmailError (never smtplib's or socket's exceptions).
    """
    if message["From"] is None:
        message["From"] = settings.mail_from
    where = f"SMTP server {settings.host}:{settings.port}"
    stage = "connect"
    client: smtplib.SMTP | None = None
    accepted = False
    try:
        context = ssl.create_default_context() if (settings.ssl or settings.starttls) else None
        if settings.ssl:
            client = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout, context=context
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        if settings.starttls:
            stage = "STARTTLS"
            client.starttls(context=context)
        if settings.user:
            stage = "login"
            client.login(settings.user, settings.password)
        stage = "sending"
        refused = client.send_message(message)
        accepted = True
    # smtplib's exceptions are OSErrors too: they come first.
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _text in exc.recipients.values()]
        raise EmailError(
            f"{where}: every recipient refused: {_refusals(exc.recipients)}",
            code=max(codes, default=None),
        ) from exc
    except smtplib.SMTPResponseException as exc:  # greeting, HELO, sender, DATA, AUTH refused
        raise EmailError(f"{where}: {stage} failed: {_reply(exc)}", code=exc.smtp_code) from exc
    except smtplib.SMTPServerDisconnected as exc:
        if isinstance(exc.__context__, TimeoutError):  # smtplib wraps a read timeout
            raise EmailError(_timed_out(where, settings, stage)) from exc
        raise EmailError(f"{where}: connection closed during {stage}: {exc}") from exc
    except smtplib.SMTPException as exc:  # STARTTLS or AUTH not offered, no SMTPUTF8, …
        raise EmailError(f"{where}: {stage} failed: {exc}") from exc
    except ssl.SSLError as exc:
        raise EmailError(f"{where}: TLS error during {stage}: {exc}") from exc
    except TimeoutError as exc:
        raise EmailError(_timed_out(where, settings, stage)) from exc
    except ConnectionRefusedError as exc:
        raise EmailError(f"{where}: connection refused (is it running?)") from exc
    except OSError as exc:  # unknown host, unreachable network, connection reset, …
        raise EmailError(f"{where}: network error during {stage}: {exc}") from exc
    finally:
        if client is not None:
            _close(client, polite=accepted)
    if refused:  # accepted for some recipients only
        codes = [code for code, _text in refused.values()]
        raise EmailError(f"{where}: some recipients refused: {_refusals(refused)}", code=max(codes))


def _timed_out(where: str, settings: SmtpSettings, stage: str) -> str:
    return f"{where}: timed out after {settings.timeout:g} s during {stage}"


def _refusals(recipients: Mapping[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address} ({code} {' '.join(_text(text).split())})"
        for address, (code, text) in recipients.items()
    )


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {' '.join(_text(exc.smtp_error).split())}".strip()


def _close(client: smtplib.SMTP, *, polite: bool) -> None:
    """After a handover, QUIT (a failing QUIT changes nothing: the message is accepted);
    after a failure, just drop the connection (QUIT could wait out another timeout)."""
    try:
        if polite:
            client.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        client.close()
