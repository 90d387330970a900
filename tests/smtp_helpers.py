"""A real SMTP server on loopback for tests (aiosmtpd), shared by the e-mail tests."""

from __future__ import annotations

from aiosmtpd.controller import Controller


class _Controller(Controller):
    """aiosmtpd's threaded Controller on a port the OS picks (1.4 needs a fixed port; this
    binds port 0 and reads the port back, so no two tests can race for one)."""

    def _create_server(self):
        return self._listen()

    async def _listen(self):
        server = await self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=0, ssl=self.ssl_context
        )
        self.port = server.sockets[0].getsockname()[1]
        return server


class Recorder:
    """Accepts every message and keeps its envelope."""

    def __init__(self, data_reply: str = "250 Message accepted for delivery") -> None:
        self.envelopes: list = []
        self.data_reply = data_reply

    async def handle_DATA(self, server, session, envelope):
        if self.data_reply.startswith("250"):
            self.envelopes.append(envelope)
        return self.data_reply


class RefuseRecipient(Recorder):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such user here"


def start_servers():
    """Yields a `start(handler=None, **kwargs)` that runs SMTP servers until the end."""
    started: list[_Controller] = []

    def start(handler=None, **smtp_kwargs) -> tuple[_Controller, Recorder]:
        handler = handler or Recorder()
        controller = _Controller(handler, hostname="127.0.0.1", **smtp_kwargs)
        controller.start()
        started.append(controller)
        return controller, handler

    yield start
    for controller in started:
        controller.stop()
