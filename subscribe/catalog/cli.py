"""`flask sources …` and `flask harvest SOURCE`: catalog administration from the shell."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.models import SOURCE_TYPES
from subscribe.errors import AppError

sources_cli = AppGroup("sources", help="Manage catalog sources.")


@sources_cli.command("add")
@click.argument("name")
@click.argument("type", type=click.Choice(SOURCE_TYPES))
@click.argument("url")
@click.option("--mapping", default="", help="Tabular field mapping as JSON.")
@click.option("--schedule", type=int, default=None, help="Seconds between harvests.")
def add_source(name: str, type: str, url: str, mapping: str, schedule: int | None) -> None:
    """Add a source: NAME TYPE (ckan|dcat|tabular) URL."""
    try:
        parsed = json.loads(mapping) if mapping else {}
        source = services.create_source(name, type, url, parsed, schedule)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--mapping") from exc
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"added source {source.name} (id {source.id}, {source.type}) {source.url}")


@sources_cli.command("list")
def list_sources() -> None:
    """List sources with their last harvest."""
    for source in services.list_sources():
        run = services.last_run(source)
        last = (
            f"{run.status} {run.finished_at or run.queued_at:%Y-%m-%d %H:%M} "
            f"+{run.created} ~{run.updated} ={run.unchanged} -{run.deleted} bad {run.bad}"
            if run
            else "never harvested"
        )
        click.echo(
            f"{source.id:>4}  {source.name:<20} {source.type:<8} "
            f"{services.dataset_count(source):>7} datasets  {last}  {source.url}"
        )


@click.command("harvest")
@click.argument("source_name")
def harvest_command(source_name: str) -> None:
    """Harvest SOURCE_NAME now, with a progress bar."""
    try:
        source = services.find_source(source_name)
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    run = services.queue_harvest(source, trigger="cli")
    if not claim_run(run.id):
        raise click.ClickException(f"run {run.id} of {source.name} is already running elsewhere")
    with click.progressbar(length=0, label=f"harvesting {source.name}", show_pos=True) as bar:

        def on_total(total: int) -> None:
            bar.length = max(bar.length or 0, 0) + total

        run = execute_run(run, on_total=on_total, on_record=lambda: bar.update(1))
    click.echo(
        f"{run.status}: created {run.created}, updated {run.updated}, unchanged {run.unchanged}, "
        f"deleted {run.deleted}, bad {run.bad}"
    )
    for error in run.errors[:20]:
        click.echo(f"  bad record {error['reference']}: {error['reason']}")
    if run.error:
        raise click.ClickException(run.error)
