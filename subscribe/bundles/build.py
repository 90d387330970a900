"""Building bundles: claim a queued one, fetch its files in parallel, write the zip in order.

Fetches run in a few threads into temporary files (a slow server does not stall the
others); the main thread copies each finished file into the zip in the items' order,
so the archive and its manifest come out the same however the fetches interleave.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
import zipfile
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from itertools import islice
from pathlib import Path

from flask import current_app
from sqlalchemy import or_, select, update

from subscribe.bundles import notify
from subscribe.bundles.archive import BundleWriter, Entry, Manifest, dataset_folder, file_name
from subscribe.bundles.fetch import Failed, Fetched, UnreachableHosts, fetch_to_file
from subscribe.bundles.models import Bundle
from subscribe.bundles.select import Item, bundle_items
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify.models import Subscription
from subscribe.notify.ssrf import OutboundPolicy, guarded_session
from subscribe.preview.services import table_schemas
from subscribe.scenarios.models import Scenario
from subscribe.scenarios.services import member_ids

log = logging.getLogger(__name__)
PROGRESS_EVERY = 1.0  # seconds between progress writes (they also renew the claim)


class LostClaim(RuntimeError):
    """Another worker took the bundle over (our lease lapsed): stop without writing."""


def claim_next(worker: str, lease_seconds: int) -> int | None:
    """Take the oldest queued bundle, or one whose builder died (its claim lapsed)."""
    now = utcnow()
    due = (
        select(Bundle.id)
        .where(
            or_(
                Bundle.status == "queued",
                (Bundle.status == "building") & (Bundle.claimed_until < now),
            )
        )
        .order_by(Bundle.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    claimed = db.session.scalars(
        update(Bundle)
        .where(Bundle.id.in_(due.scalar_subquery()))
        .values(status="building", claimed_by=worker, started_at=now,
                claimed_until=now + timedelta(seconds=lease_seconds))
        .returning(Bundle.id)
    ).all()  # fmt: skip
    db.session.commit()
    return claimed[0] if claimed else None


def bundle_dir() -> Path:
    path = Path(current_app.config["SUBSCRIBE_BUNDLE_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _same_target(bundle: Bundle):
    if bundle.subscription_id is not None:
        return Bundle.subscription_id == bundle.subscription_id
    # a comparison with None is IS NULL
    return (Bundle.scenario_id == bundle.scenario_id) & (Bundle.dataset_id == bundle.dataset_id)


# How many earlier zips of the same target are read for the hashes they recorded.
RECORDED_BUNDLES = 5
_RESOURCE_NAME = re.compile(r"-resource-(\d+)$")


def recorded_hashes(bundle: Bundle) -> dict[int, str]:
    """resource id → the SHA-256 the latest earlier bundles of the same target recorded in
    their datapackage.json (newest first wins; zips no longer on disk say nothing)."""
    directory = bundle_dir()
    found: dict[int, str] = {}
    earlier = db.session.scalars(
        select(Bundle.file_name)
        .where(_same_target(bundle), Bundle.user_id == bundle.user_id, Bundle.id != bundle.id,
               Bundle.status == "ready", Bundle.file_name.is_not(None))
        .order_by(Bundle.changes_until.desc())
        .limit(RECORDED_BUNDLES)
    )  # fmt: skip
    for name in earlier:
        try:
            with zipfile.ZipFile(directory / name) as archive:
                package = json.loads(archive.read("datapackage.json"))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            continue
        for resource in package.get("resources") or []:
            match = _RESOURCE_NAME.search(str(resource.get("name") or ""))
            digest = str(resource.get("hash") or "")
            if match and digest.startswith("sha256:"):
                found.setdefault(int(match.group(1)), digest[len("sha256:") :])
    return found


def _since(bundle: Bundle):
    """An incremental bundle starts where the last finished one of the same target ended
    (the first one of a user's own: everything)."""
    if bundle.mode != "changed" or bundle.since is not None:
        return bundle.since
    same_target = _same_target(bundle)
    previous = db.session.scalar(
        select(Bundle.changes_until)
        .where(same_target, Bundle.user_id == bundle.user_id, Bundle.id != bundle.id,
               Bundle.status.in_(("ready", "expired", "empty")))
        .order_by(Bundle.changes_until.desc())
        .limit(1)
    )  # fmt: skip
    if previous is None and bundle.subscription_id is not None:
        # A subscription's first bundle holds what changed since the user subscribed.
        subscription = db.session.get(Subscription, bundle.subscription_id)
        return subscription.created_at if subscription else None
    return previous


def _target(bundle: Bundle) -> tuple[str, list[int]]:
    if bundle.dataset_id is not None:
        dataset = db.session.get(Dataset, bundle.dataset_id)
        return (dataset.title if dataset else f"#{bundle.dataset_id}"), [bundle.dataset_id]
    scenario = db.session.get(Scenario, bundle.scenario_id)
    return scenario.name, [int(i) for i in member_ids(scenario)]


def build_bundle(bundle_id: int, worker: str) -> Bundle:
    """Build one claimed bundle. Failed fetches are listed in it; only a broken build
    (disk full, lost claim) fails the bundle."""
    bundle = db.session.get(Bundle, bundle_id)
    directory = bundle_dir()
    part = directory / f"bundle-{bundle.id}.zip.part"
    try:
        _build(bundle, worker, directory, part)
    except LostClaim:
        log.warning("bundle %s: claim lost to another worker; stopped", bundle_id)
        db.session.rollback()
        return bundle
    except Exception as exc:  # the bundle fails and says why; the worker goes on
        log.exception("bundle %s failed", bundle_id)
        db.session.rollback()
        part.unlink(missing_ok=True)
        bundle.status, bundle.error = "failed", f"{type(exc).__name__}: {exc}"[:1000]
        bundle.finished_at, bundle.claimed_until = utcnow(), None
        db.session.commit()
    return bundle


def _build(bundle: Bundle, worker: str, directory: Path, part: Path) -> None:
    config = current_app.config
    # "Since the last bundle" (no `since` asked for) also compares each file's hash from
    # the resource checks with the one the last bundles recorded: a file whose first
    # check came after its edit took the new content as its baseline, no change event.
    recorded = recorded_hashes(bundle) if bundle.mode == "changed" and bundle.since is None else {}
    since = _since(bundle)
    bundle.since = since
    bundle.changes_until = utcnow()  # before reading events: nothing falls between bundles
    title, ids = _target(bundle)
    items = bundle_items(ids, since if bundle.mode == "changed" else None, recorded=recorded)
    bundle.files_total, bundle.files_done, bundle.skipped = len(items), 0, []
    if not items and bundle.mode == "changed":
        # Nothing changed: no zip, no bundle.ready; the next bundle starts from here.
        bundle.status, bundle.finished_at, bundle.claimed_until = "empty", utcnow(), None
        db.session.commit()
        return
    db.session.commit()

    manifest = Manifest(bundle.id, title, bundle.mode, since, utcnow())
    progress = _Progress(bundle.id, worker, config["SUBSCRIBE_BUNDLE_LEASE_SECONDS"])
    writer = BundleWriter(part)
    try:
        _fill(writer, manifest, items, directory / f"bundle-{bundle.id}.parts", progress)
        _add_schemas(manifest)
        writer.close(manifest)
    except BaseException:
        writer.abort()
        raise
    final = directory / f"bundle-{bundle.id}.zip"
    part.replace(final)
    _finish(bundle, manifest, final)


def _add_schemas(manifest: Manifest) -> None:
    """Each file's Table Schema from its stored preview (preview/), when it has one."""
    schemas = table_schemas(e.resource["id"] for e in manifest.entries)
    manifest.entries[:] = [
        replace(e, schema=schemas.get(e.resource["id"])) for e in manifest.entries
    ]


def _fill(writer: BundleWriter, manifest: Manifest, items: list[Item], work: Path,
          progress: _Progress) -> None:  # fmt: skip
    config = current_app.config
    max_total = config["SUBSCRIBE_BUNDLE_MAX_BYTES"]
    max_file = config["SUBSCRIBE_BUNDLE_MAX_RESOURCE_BYTES"]
    work.mkdir(parents=True, exist_ok=True)
    taken: dict[str, set] = {}
    written = 0
    try:
        for item, result in _fetched_in_order(items, work, max_file):
            manifest.sources[item.dataset["source"]] = item.dataset["source_url"]
            if isinstance(result, Fetched) and written + result.size > max_total:
                result.path.unlink(missing_ok=True)
                result = Failed(
                    "bundle_size_cap", f"{result.size} bytes would pass the {max_total}-byte cap"
                )
            if isinstance(result, Fetched):
                folder = dataset_folder(item.dataset["id"], item.dataset["title"])
                arcname = f"{folder}/{file_name(item.resource, taken.setdefault(folder, set()))}"
                writer.add(arcname, result.path, result.size, result.retrieved_at)
                result.path.unlink(missing_ok=True)
                written += result.size
                manifest.entries.append(Entry(item.dataset, item.resource, arcname, result.size,
                                              result.sha256, result.media_type, result.retrieved_at))  # fmt: skip
            else:
                manifest.skipped.append(_skipped(item, result))
            progress.step()
    finally:
        for leftover in work.glob("*"):
            leftover.unlink(missing_ok=True)
        work.rmdir()


def _skipped(item: Item, result: Failed) -> dict:
    return {
        "dataset_id": item.dataset["id"], "dataset_title": item.dataset["title"],
        "resource_id": item.resource["id"], "name": item.resource["name"],
        "url": item.resource["url"], "reason": result.reason, "detail": result.detail,
    }  # fmt: skip


def _fetched_in_order(items: list[Item], work: Path, max_file: int) -> Iterator[tuple]:
    """(item, Fetched | Failed) in the items' order, with a few fetches running ahead."""
    config = current_app.config
    workers = max(1, config["SUBSCRIBE_BUNDLE_FETCH_WORKERS"])
    policy = OutboundPolicy(config["SUBSCRIBE_OUTBOUND_ALLOWLIST"])
    timeout = (config["SUBSCRIBE_BUNDLE_CONNECT_TIMEOUT"], config["SUBSCRIBE_BUNDLE_READ_TIMEOUT"])
    ahead = workers * 2
    unreachable = UnreachableHosts()
    with guarded_session(policy, timeout) as session, ThreadPoolExecutor(workers) as pool:

        def start(n: int, item: Item) -> tuple[Item, Future | Failed]:
            if item.skip:
                return item, Failed(item.skip, "")
            target = work / f"{n}.part"
            return item, pool.submit(fetch_to_file, session, item.resource["url"], target, max_file, unreachable)  # fmt: skip

        waiting = enumerate(items)
        pending: deque[tuple[Item, Future | Failed]] = deque()
        try:
            while True:
                pending.extend(start(n, item) for n, item in islice(waiting, ahead - len(pending)))
                if not pending:
                    return
                item, result = pending.popleft()
                yield item, result.result() if isinstance(result, Future) else result
        finally:
            for _item, result in pending:
                if isinstance(result, Future):
                    result.cancel()


class _Progress:
    """Writes files_done at most once a second and renews the claim with it."""

    def __init__(self, bundle_id: int, worker: str, lease_seconds: int) -> None:
        self.bundle_id, self.worker, self.lease = bundle_id, worker, lease_seconds
        self.done, self.last = 0, 0.0

    def step(self) -> None:
        self.done += 1
        if time.monotonic() - self.last >= PROGRESS_EVERY:
            self.flush()

    def flush(self) -> None:
        self.last = time.monotonic()
        renewed = db.session.execute(
            update(Bundle)
            .where(Bundle.id == self.bundle_id, Bundle.claimed_by == self.worker,
                   Bundle.status == "building")
            .values(files_done=self.done, claimed_until=utcnow() + timedelta(seconds=self.lease))
        ).rowcount  # fmt: skip
        db.session.commit()
        if not renewed:
            raise LostClaim


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _finish(bundle: Bundle, manifest: Manifest, path: Path) -> None:
    now = utcnow()
    ttl = timedelta(hours=current_app.config["SUBSCRIBE_BUNDLE_TTL_HOURS"])
    bundle.status, bundle.file_name = "ready", path.name
    bundle.files_done = bundle.files_total
    bundle.file_count, bundle.skipped = len(manifest.entries), manifest.skipped
    bundle.size_bytes, bundle.sha256 = path.stat().st_size, _sha256(path)
    bundle.finished_at, bundle.expires_at = now, now + ttl
    bundle.claimed_until = None
    if bundle.file_count:  # a bundle whose every file was skipped is not announced
        notify.bundle_ready(bundle, manifest.title)
    db.session.commit()


def expire_bundles() -> int:
    """Delete the files of bundles past their time; the rows stay, marked expired."""
    directory = bundle_dir()
    expired = db.session.scalars(
        select(Bundle).where(Bundle.status == "ready", Bundle.expires_at < utcnow())
    ).all()
    for bundle in expired:
        if bundle.file_name:
            (directory / bundle.file_name).unlink(missing_ok=True)
        bundle.status = "expired"
    db.session.commit()
    return len(expired)
