"""`flask search …`: rebuild the index, or bring it up to date now."""

import click
from flask.cli import AppGroup

from subscribe.search import indexer
from subscribe.search.service import get_service

search_cli = AppGroup("search", help="The full-text search index.")


@search_cli.command("reindex")
@click.option("--procs", type=int, default=2, help="Writer processes.")
def reindex(procs: int) -> None:
    """Rebuild the index from the database; the old one serves until the swap."""
    store = get_service().store
    with click.progressbar(length=0, label="indexing", show_pos=True) as bar:

        def on_total(total: int) -> None:
            bar.length = total

        path = indexer.rebuild(store, on_total=on_total, on_progress=bar.update, procs=procs)
    click.echo(f"index rebuilt and swapped in: {path}")


@search_cli.command("update")
def update() -> None:
    """Apply the catalog changes the index has not seen yet."""
    click.echo(f"applied {indexer.apply_changes(get_service().store)} changes")
