"""The demo's SMTP sink: takes every e-mail on loopback and keeps it in a Maildir.

`make run` starts it (SUBSCRIBE_MAIL_SINK), so e-mail subscriptions work on the
embedded default (SUBSCRIBE_SMTP_HOST=127.0.0.1, SUBSCRIBE_SMTP_PORT=1025) without a
mail server; the demo mailbox page (/mailbox) reads the Maildir back. Nothing is relayed
anywhere. It is aiosmtpd's own Maildir handler, which adds X-MailFrom and X-RcptTo
(the envelope) to each stored message.

Run on its own: python -m subscribe.demo.mailsink --port 1025 --dir instance/mailbox
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

from subscribe.demo.mailbox import delivery_order

# The Maildir keeps at most this many messages; the oldest go first (the demo sends
# a message per change, every few seconds, for as long as it runs).
MAX_MESSAGES = 500


class BoundedMailbox(Mailbox):
    """aiosmtpd's Maildir handler that drops the oldest messages beyond `limit`."""

    def __init__(self, mail_dir: Path, limit: int = MAX_MESSAGES) -> None:
        Path(mail_dir).parent.mkdir(parents=True, exist_ok=True)
        super().__init__(mail_dir)  # makes the Maildir (cur, new, tmp) when absent
        self.limit = limit

    def handle_message(self, message) -> None:
        super().handle_message(message)
        keys = sorted(self.mailbox.keys(), key=delivery_order)
        for key in keys[: max(0, len(keys) - self.limit)]:
            self.mailbox.discard(key)


def start(mail_dir: Path, port: int, host: str = "127.0.0.1") -> Controller:
    """Serve SMTP on host:port in a background thread until `.stop()`; returns at once."""
    controller = Controller(BoundedMailbox(mail_dir), hostname=host, port=port)
    controller.start()
    return controller


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, required=True, help="Maildir folder")
    args = parser.parse_args(argv)
    controller = start(args.dir, args.port, args.host)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    try:
        stopped.wait()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
