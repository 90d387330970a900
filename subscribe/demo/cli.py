"""`flask demo …`: the demo portal and the demo source that points at it."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.models import Source
from subscribe.extensions import db

demo_cli = AppGroup("demo", help="The demo catalog portal.")

DEMO_SOURCE = "demo"


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
    return source


@demo_cli.command("setup")
def setup_demo() -> None:
    """Configure the demo source (once); does nothing when SUBSCRIBE_DEMO=0."""
    source = setup_demo_source()
    click.echo(f"demo source: {source.url}" if source else "SUBSCRIBE_DEMO=0: no demo source")


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
