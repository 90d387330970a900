"""`flask bundles …`: build queued bundles now, delete expired ones."""

import click
from flask import current_app
from flask.cli import AppGroup

from subscribe.bundles import build
from subscribe.bundles.models import Bundle
from subscribe.extensions import db
from subscribe.notify.sender import worker_name

bundles_cli = AppGroup("bundles", help="Bulk download bundles.")


@bundles_cli.command("build")
def build_queued() -> None:
    """Build every queued bundle now (the worker's build-bundles job does this too)."""
    from subscribe.search.service import batch_process  # here: keeps the CLI's import light

    batch_process()  # members are searched once: no warm-up
    worker, lease = worker_name(), current_app.config["SUBSCRIBE_BUNDLE_LEASE_SECONDS"]
    while (bundle_id := build.claim_next(worker, lease)) is not None:
        bundle: Bundle = build.build_bundle(bundle_id, worker)
        click.echo(
            f"bundle {bundle.id}: {bundle.status}, {bundle.file_count} files, "
            f"{bundle.size_bytes} bytes, {len(bundle.skipped or [])} skipped"
            + (f" ({bundle.error})" if bundle.error else "")
        )
    db.session.remove()


@bundles_cli.command("expire")
def expire() -> None:
    """Delete the files of bundles past their expiry."""
    click.echo(f"expired {build.expire_bundles()} bundles")
