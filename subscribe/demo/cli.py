"""`flask demo …`: the demo portal and the demo source that points at it."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from subscribe.auth.models import User
from subscribe.auth.services import create_user
from subscribe.catalog import services
from subscribe.catalog.models import Source
from subscribe.catalog.origins import split_origin
from subscribe.demo.receiver import serve
from subscribe.devports import is_free
from subscribe.extensions import db
from subscribe.notify.models import DATASET_EVENTS, WebhookEndpoint
from subscribe.notify.services import create_endpoint, create_subscription
from subscribe.notify.ssrf import OutboundPolicy
from subscribe.scenarios.services import create_scenario

demo_cli = AppGroup("demo", help="The demo catalog portal.")

DEMO_SOURCE = "demo"
# A local demo account so a newcomer sees scenario timelines fill up without any set-up.
# Only created with SUBSCRIBE_DEMO=1; `make run` prints these.
DEMO_EMAIL = "demo@example.org"
DEMO_PASSWORD = "subscribe-demo"
# The demo account's webhook endpoint; `make run` starts the receiver it points at.
DEMO_ENDPOINT_DESCRIPTION = "the demo receiver: flask --app subscribe demo receiver"
DEMO_SCENARIOS = (
    {"name": "交通出行数据", "q": "", "filters": {"theme": ["交通出行"]}},
    {"name": "空气质量监测", "q": "空气质量", "filters": {}},
    {"name": "企业与市场监管", "q": "企业", "filters": {"publisher": ["市市场监督管理局"]}},
)


def demo_portal_url() -> str:
    return f"http://127.0.0.1:{current_app.config['SUBSCRIBE_DEMO_PORT']}"


def setup_demo_source() -> Source | None:
    """Configure the demo source once; nothing when SUBSCRIBE_DEMO=0."""
    if not current_app.config["SUBSCRIBE_DEMO"]:
        return None
    source = db.session.scalar(select(Source).where(Source.name == DEMO_SOURCE))
    if source is None:
        # Harvest often, so a newcomer sees the portal's changes arrive within a minute.
        source = services.create_source(DEMO_SOURCE, "ckan", demo_portal_url(), schedule=20)
    elif source.url != demo_portal_url():  # the portal moved to another port
        # Every URL the portal writes is on its own origin: move the stored ones with it,
        # so files stay reachable until the next full listing settles the move quietly.
        old, new = split_origin(source.url), split_origin(demo_portal_url())
        source.url = demo_portal_url()
        db.session.commit()
        if old and new and old[0] != new[0]:
            services.move_stored_urls(source, old[0], new[0])
    return source


def setup_demo_account() -> User | None:
    """The demo operator with a few scenarios, each with inbox and webhook subscriptions
    (the webhook goes to the demo receiver); the first one's inbox subscription pushes
    bundles (one subscription per scenario and channel), created once."""
    if not current_app.config["SUBSCRIBE_DEMO"]:
        return None
    user = db.session.scalar(select(User).where(User.email == DEMO_EMAIL))
    if user is not None:
        _follow_receiver_port(user)
    else:
        user = create_user(DEMO_EMAIL, DEMO_PASSWORD, role="operator")
        # The receiver is this demo's own process on loopback: allowed whatever the
        # allow-list says (`make run` adds 127.0.0.1 to it for the worker's deliveries).
        endpoint = create_endpoint(user, receiver_url(), DEMO_ENDPOINT_DESCRIPTION,
                                   policy=OutboundPolicy(["127.0.0.1", "::1"]))  # fmt: skip
        for n, body in enumerate(DEMO_SCENARIOS):
            scenario = create_scenario(
                user, {**body, "description": "示例场景", "include": [], "exclude": []}
            )
            base = {"scenario_id": scenario.id, "events": list(DATASET_EVENTS), "cadence": "immediate",
                    "push": "alert"}  # fmt: skip
            # The first scenario's inbox gets its changed files: bundle.ready.
            inbox = {**base, "channel": "inbox", "push": "bundle" if n == 0 else "alert"}
            if n == 1:  # and suggestions of new datasets like its members (opt-in)
                inbox["events"] = [*DATASET_EVENTS, "dataset.suggested"]
            create_subscription(user, inbox)
            create_subscription(user, {**base, "channel": "webhook", "endpoint_id": endpoint.id})
            if n == 1:  # and one by e-mail: the demo mailbox (/mailbox) shows what is sent
                create_subscription(user, {**base, "channel": "email"})
    return user


def _follow_receiver_port(user: User) -> None:
    """Point the demo endpoint at the receiver's current port (it may have moved)."""
    endpoints = db.session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.user_id == user.id,
            WebhookEndpoint.description == DEMO_ENDPOINT_DESCRIPTION,
        )
    ).all()
    for endpoint in endpoints:
        endpoint.url = receiver_url()
    db.session.commit()


def receiver_url() -> str:
    """Where the demo receiver listens: SUBSCRIBE_DEMO_RECEIVER_PORT on loopback."""
    return f"http://127.0.0.1:{current_app.config['SUBSCRIBE_DEMO_RECEIVER_PORT']}/hook"


def _demo_secrets() -> list[str]:
    endpoints = db.session.scalars(
        select(WebhookEndpoint).where(WebhookEndpoint.url == receiver_url())
    ).all()
    secrets = [e.secret for e in endpoints] + [
        e.previous_secret for e in endpoints if e.previous_secret
    ]
    db.session.remove()
    return secrets


@demo_cli.command("setup")
def setup_demo() -> None:
    """Configure the demo source and account (once); nothing when SUBSCRIBE_DEMO=0."""
    source = setup_demo_source()
    user = setup_demo_account()
    click.echo(f"demo source: {source.url}" if source else "SUBSCRIBE_DEMO=0: no demo source")
    if user:
        click.echo(f"demo account: {DEMO_EMAIL} / {DEMO_PASSWORD}")


@demo_cli.command("receiver")
def run_demo_receiver() -> None:
    """Receive the demo account's webhooks: verify, de-duplicate and print each one."""
    app = current_app._get_current_object()

    def secrets() -> list[str]:
        with app.app_context():
            return _demo_secrets()

    port = current_app.config["SUBSCRIBE_DEMO_RECEIVER_PORT"]
    if not is_free(port):
        raise click.ClickException(
            f"port {port} is already in use (is `make run` already running the receiver? "
            "It writes to instance/logs/demo-receiver.log): set SUBSCRIBE_DEMO_RECEIVER_PORT"
        )
    click.echo(f"demo webhook receiver on {receiver_url()} (Ctrl-C stops)")
    serve(port, secrets)


@demo_cli.command("portal")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=None, help="Default: SUBSCRIBE_DEMO_PORT.")
@click.option("--size", type=int, default=None, help="Datasets in the catalog.")
@click.option("--tick", type=float, default=None, help="Seconds between published changes.")
def run_demo_portal(host: str, port: int | None, size: int | None, tick: float | None) -> None:
    """Serve the demo CKAN-compatible portal, publishing a change every few seconds."""
    from subscribe.demo.portal import run_portal

    run_portal(
        host=host,
        port=port or current_app.config["SUBSCRIBE_DEMO_PORT"],
        tick_seconds=tick or current_app.config["SUBSCRIBE_DEMO_TICK_SECONDS"],
        size=size,
    )
