"""Bundle services for the API and pages: ask for one, read it, find its file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from subscribe.audit import services as audit
from subscribe.auth.models import User
from subscribe.bundles.models import Bundle
from subscribe.bundles.queue import new_bundle
from subscribe.errors import ConflictError, GoneError, NotFoundError
from subscribe.extensions import db
from subscribe.models_base import to_naive_utc
from subscribe.paging import paginate
from subscribe.scenarios.models import Scenario


def request_bundle(user: User, scenario: Scenario, mode: str, since: datetime | None) -> Bundle:
    """Queue a bundle of the scenario: all members, or what changed since `since` (default:
    since this scenario's last bundle; the first one holds everything)."""
    bundle = new_bundle(
        user.id, scenario_id=scenario.id, mode=mode, since=to_naive_utc(since) if since else None
    )
    db.session.flush()
    audit.record("bundle.request", "bundle", bundle.id,
                 {"scenario_id": scenario.id, "mode": mode, "since": since}, actor=user)  # fmt: skip
    db.session.commit()
    return bundle


def get_bundle(user: User, bundle_id: int) -> Bundle:
    """The caller's bundle; someone else's is as missing as one that never existed."""
    bundle = db.session.get(Bundle, bundle_id)
    if bundle is None or bundle.user_id != user.id:
        raise NotFoundError("No such bundle.")
    return bundle


def list_bundles(user: User, scenario: Scenario, page: int, per_page: int) -> dict:
    query = (
        select(Bundle)
        .where(Bundle.user_id == user.id, Bundle.scenario_id == scenario.id)
        .order_by(Bundle.id.desc())
    )
    return paginate(query, page, per_page)


def download_path(bundle: Bundle) -> Path:
    """The finished zip on disk, or why there is none: 409 while it is queued or being
    built (ask again later), 404 when its final state has no file (`empty`: nothing
    changed; `failed`: its error), 410 once expired. `errors.status` is the status."""
    if bundle.status == "expired":
        raise GoneError("This bundle has expired and was deleted; ask for a new one.")
    if bundle.status == "empty":
        since = (
            f"since {bundle.since:%Y-%m-%d %H:%M:%S} UTC" if bundle.since else "in the selection"
        )
        raise NotFoundError(
            f"This bundle has no files: nothing changed {since}, so no zip was made. "
            'Ask for a bundle with {"mode": "all"} to get every file.',
            {"status": ["empty"]},
        )
    if bundle.status == "failed":
        raise NotFoundError(
            f"This bundle could not be built ({bundle.error or 'no reason recorded'}); "
            "ask for a new one.",
            {"status": ["failed"]},
        )
    if bundle.status != "ready" or not bundle.file_name:
        raise ConflictError(
            f"The bundle is not ready yet (status: {bundle.status}); ask again shortly.",
            {"status": [bundle.status]},
        )
    path = Path(current_app.config["SUBSCRIBE_BUNDLE_DIR"]) / bundle.file_name
    if not path.is_file():
        raise GoneError("The bundle's file is gone; ask for a new one.")
    return path
