"""`flask sources …` and `flask harvest SOURCE`: catalog administration from the shell."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from subscribe import cli_input
from subscribe.catalog import services
from subscribe.catalog.harvest import (
    claim_run,
    execute_run,
)
from subscribe.catalog.models import SOURCE_TYPES
from subscribe.catalog.schemas import SourceCreateSchema
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
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--mapping") from exc
    # The API's own checks (an http(s) URL, a name of letters and digits, a schedule in
    # range): a source added here is one the API and the pages would have accepted.
    body = {"name": name, "type": type, "url": url, "mapping": parsed, "schedule": schedule}
    values = cli_input.load(SourceCreateSchema(), body)
    try:
        source = services.create_source(**values)
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


@sources_cli.command("preview")
@click.argument("name")
@click.option("--rows", type=click.IntRange(1, 100), default=5, help="Datasets to show.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole preview as JSON.")
def preview_command(name: str, rows: int, as_json: bool) -> None:
    """Dry run of source NAME: how its columns map and its first rows, nothing written."""
    from subscribe.catalog.preview import preview_source

    try:
        result = preview_source(services.find_source(name), rows=rows)
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=str))
        return
    report = result["mapping"]
    if report and "columns" in report:  # a tabular export's column mapping
        _echo_mapping(report)
    elif report:  # other harvesters report what they noticed (dates not read, …)
        for key, value in report.items():
            click.echo(f"{key}: {json.dumps(value, ensure_ascii=False, default=str)}")
    click.echo(f"\nfirst {len(result['records'])} of {result['total']} records:")
    for record in result["records"]:
        shown = {k: v for k, v in record.items() if v not in ("", None, [], "unknown")}
        click.echo("  " + json.dumps(shown, ensure_ascii=False, default=str))
    for bad in result["bad"][:20]:
        click.echo(f"  bad record {bad['reference']}: {bad['reason']}")


def _echo_mapping(report: dict) -> None:
    where = f"sheet {report['sheet']}, " if report.get("sheet") else ""
    header_row = report.get("header_row")
    click.echo(f"{report['format']}, {where}header at row {header_row}, {report['rows']} rows")
    for column in report["columns"]:
        target = column["field"] or "—"
        score = f" [{column['score']}]" if "score" in column else ""
        click.echo(
            f"  {column['column'] or '(blank)':<24} → {target:<14} {column['role']:<8}"
            f"{score} {column.get('reason', '')}"
        )
    identity = report["identity"]
    click.echo(f"identity: {identity.get('column') or identity['method']} ({identity['reason']})")
    for rejected in identity.get("rejected", []):
        click.echo(f"  not identity: {rejected['column']}: {rejected['reason']}")
    for skipped in report.get("skipped_rows", []):
        click.echo(f"skipped {skipped['reference']}: {skipped['reason']}")


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
