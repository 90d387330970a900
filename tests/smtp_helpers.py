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


def immediate_email_subscription(app, controller, user, name: str, **config):
    """Point the app's SMTP at `controller` (plus any `config`), save a scenario `name` over
    空气 for `user` and an immediate e-mail subscription to it; returns the subscription."""
    from subscribe.extensions import db
    from subscribe.notify.models import Subscription
    from subscribe.scenarios.services import create_scenario

    app.config.update(
        SUBSCRIBE_SMTP_HOST="127.0.0.1", SUBSCRIBE_SMTP_PORT=controller.port, **config
    )
    scenario = create_scenario(
        user, {"name": name, "q": "空气", "filters": {}, "include": [], "exclude": []}
    )
    subscription = Subscription(user_id=user.id, scenario_id=scenario.id, channel="email",
                                cadence="immediate")  # fmt: skip
    db.session.add(subscription)
    db.session.commit()
    return subscription


def queue_email_delivery(subscription, *, dataset_id: int = 1, title: str = "空气质量日报",
                         sent_at=None) -> None:  # fmt: skip
    """Queue one due `dataset.updated` e-mail delivery (a content change of `title`) for
    `subscription`, as matching would; the caller commits."""
    from datetime import timedelta

    from subscribe.extensions import db
    from subscribe.models_base import utcnow
    from subscribe.notify import payloads
    from subscribe.notify.models import Delivery
    from subscribe.scenarios.models import Scenario

    scenario = db.session.get(Scenario, subscription.scenario_id)
    message_id = payloads.new_message_id()
    body = payloads.message(message_id, "dataset.updated", sent_at or utcnow(), "http://x",
                            dataset_id=dataset_id, snapshot={"title": title}, version=2,
                            changes=[{"kind": "content"}],
                            scenario={"id": scenario.id, "name": scenario.name})  # fmt: skip
    db.session.add(Delivery(message_id=message_id, subscription_id=subscription.id,
                            user_id=subscription.user_id, channel="email",
                            event_type="dataset.updated", payload=body,
                            next_attempt_at=utcnow() - timedelta(seconds=1)))  # fmt: skip
