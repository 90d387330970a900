"""A webhook receiver for the demo: verifies each message as a real receiver should.

It follows the receiver guide in the README: verify the signature with the public
`standardwebhooks` library, drop a `webhook-id` it has seen, and print the change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug import Request, Response
from werkzeug.serving import run_simple

RECEIVER_PAGE = (
    "subscribe's demo webhook receiver (演示 Webhook 接收端).\n"
    "subscribe POSTs signed messages here (Standard Webhooks); each one is verified and\n"
    "logged: tail -f instance/logs/demo-receiver.log\n"
    "每条消息都会验证签名并记录：tail -f instance/logs/demo-receiver.log\n"
)


def make_receiver(secrets: Callable[[], list[str]], echo: Callable[[str], None] = print):
    """A WSGI app; `secrets` returns the signing secrets to accept (read per request, so
    a rotation is picked up)."""
    seen: set[str] = set()

    @Request.application
    def app(request: Request) -> Response:
        if request.method != "POST":  # a newcomer opening the banner's link in a browser
            return Response(RECEIVER_PAGE, content_type="text/plain; charset=utf-8")
        body = request.get_data(as_text=True)
        for secret in secrets():
            try:
                message = Webhook(secret).verify(body, dict(request.headers))
                break
            except WebhookVerificationError:
                continue
        else:
            echo("✗ rejected a message whose signature did not verify")
            return Response("bad signature", status=400)
        message_id = request.headers.get("webhook-id", "")
        if message_id in seen:
            echo(f"· duplicate {message_id} (already handled; answered 200 again)")
            return Response(status=204)
        seen.add(message_id)
        data = message.get("data", {})
        dataset = data.get("dataset", {})
        kinds = ", ".join(sorted({c.get("kind", "") for c in data.get("changes", [])})) or "-"
        scenario = (data.get("scenario") or {}).get("name", "")
        if message["type"] == "webhook.ping":  # no dataset: show the whole message
            echo(f"✓ {message['type']:<16} {message_id}")
            echo("  " + json.dumps(message, ensure_ascii=False))
        else:
            echo(f"✓ {message['type']:<16} {scenario} · {dataset.get('title', '')} v{dataset.get('version')} "
                 f"[{kinds}] {message_id}")  # fmt: skip
        return Response(status=204)

    return app


def serve(port: int, secrets: Callable[[], list[str]]) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # our lines say it all
    run_simple("127.0.0.1", port, make_receiver(secrets), threaded=True)
