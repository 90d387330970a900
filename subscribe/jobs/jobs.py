"""Job functions the worker schedules. Each is a plain function that logs and goes on."""

from __future__ import annotations

import logging
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, func, select, update

from subscribe.audit import services as audit
from subscribe.bundles import build as bundles
from subscribe.catalog import overdue
from subscribe.catalog import services as catalog
from subscribe.catalog.check_jobs import run_resource_checks
from subscribe.catalog.harvest import claim_run, run_claimed
from subscribe.catalog.models import HarvestRun, Source
from subscribe.extensions import db
from subscribe.jobs.models import JobRun
from subscribe.jobs.priority import lower_thread_priority
from subscribe.models_base import utcnow
from subscribe.notify import sender
from subscribe.notify.models import DeliveryAttempt
from subscribe.preview import services as previews
from subscribe.quality.job import run_quality
from subscribe.scenarios import matching
from subscribe.scenarios.match_process import MatcherProcess
from subscribe.search import indexer
from subscribe.search.service import get_service

log = logging.getLogger(__name__)


def enqueue_due_harvests() -> int:
    """Queue a harvest for every enabled source whose schedule has come round."""
    queued = 0
    now = utcnow()
    for source in db.session.scalars(select(Source).where(Source.enabled.is_(True))):
        last_start = db.session.scalar(
            select(func.max(HarvestRun.queued_at)).where(HarvestRun.source_id == source.id)
        )
        if last_start is None or now - last_start >= timedelta(seconds=source.schedule):
            catalog.queue_harvest(source, trigger="schedule")
            queued += 1
    return queued


def run_queued_harvests() -> int:
    """Run every queued harvest, oldest first; one bad source does not stop the others."""
    done = 0
    while True:
        run_id = db.session.scalar(
            select(HarvestRun.id)
            .where(HarvestRun.status == "queued")
            .order_by(HarvestRun.id)
            .limit(1)
        )
        if run_id is None:
            return done
        if claim_run(run_id):
            run_claimed(run_id)  # in a child process when run by the worker
            done += 1


def fail_stale_runs(older_than: timedelta) -> int:
    """Runs left 'running' by a worker that died are marked failed, so new ones can queue."""
    result = db.session.execute(
        update(HarvestRun)
        .where(HarvestRun.status == "running", HarvestRun.started_at < utcnow() - older_than)
        .values(status="failed", finished_at=utcnow(), error="worker stopped during the run")
    )
    db.session.commit()
    return result.rowcount


def detect_overdue() -> int:
    """Datasets newly late for their declared frequency get one overdue event each."""
    return overdue.detect_overdue()


# The worker's matching process (scenarios/match_process.py), kept between runs.
matcher = MatcherProcess()


def match_events() -> int:
    """Turn new catalog events into scenario events until none are left; how many were
    matched. In the worker's matching process when the app says so (SUBSCRIBE_MATCH_IN_CHILD,
    which ``flask worker`` sets), else in this thread (tests, ``flask detect``).

    The process has its own interpreter lock: on the worker's threads, matching a national
    harvest and the search follower indexing it took turns on one. What the process's
    batches queue wakes this process's deliverer (sender.wake), as in-process matching does."""
    if current_app.config.get("SUBSCRIBE_MATCH_IN_CHILD") and sys.platform == "linux":
        db.session.commit()  # no transaction of ours stays open while it runs
        return matcher.run(on_queued=sender.wake)
    return matching.match_all()


def interrupt_matching() -> None:
    """The worker is stopping: a matching run going on ends after its current batch."""
    matcher.interrupt()


def stop_matcher() -> None:
    """The worker is stopping (its scheduler has stopped): end its matching process."""
    matcher.stop()


def deliver_notifications(seconds: float = 20.0, linger: float = 0.0) -> int:
    """Send due deliveries until none are left (or `seconds` have passed: others jobs wait).

    `linger` (seconds, the worker's poll interval): with none due, wait that long for this
    process's matching to queue more (`sender.wake`) and look again, until `seconds` are
    up. The worker's deliverer so keeps polling within one run and sends what matching
    queues the moment it commits; between scheduled runs it had waited up to a poll."""
    started, total = time.monotonic(), 0
    while (elapsed := time.monotonic() - started) < seconds:
        done = sender.deliver_due(current_app.config["SUBSCRIBE_DELIVERY_BATCH"])
        total += done
        if not done:
            if not linger or sender.lingering_stopped():
                break
            sender.wait_for_queued(min(linger, seconds - elapsed))
    return total


# The search follower's own thread, at a lower priority than the rest of the worker (and
# than a harvest process): indexing is background work that must not take the cores a
# harvest and the web need. During a national first harvest on two cores the follower took
# as much CPU as the harvest process, which waited for a core most of its time. A thread
# of its own because a thread's priority cannot be raised again without privileges, and
# the scheduler's pool threads run every other job too. Nice values above the worker's.
FOLLOWER_NICE = 10
_follower = ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="search-follower", initializer=lower_thread_priority,
    initargs=(FOLLOWER_NICE,),
)  # fmt: skip


def update_search_index() -> int:
    """Apply new catalog changes to this node's search index (the node's one writer), on
    the follower's low-priority thread; this thread waits for it."""
    app = current_app._get_current_object()

    def apply() -> int:
        with app.app_context():
            return indexer.apply_changes(get_service().store, leave_bursts=True)

    return _follower.submit(apply).result()


def score_quality() -> dict:
    """Score every live dataset's quality (quality/job.py); runs at worker start."""
    return run_quality()


def check_resources() -> dict:
    """Check the content of due resources, cheapest check first (catalog/check_jobs.py)."""
    return run_resource_checks(limit=current_app.config["SUBSCRIBE_CHECK_LIMIT"])


def preview_resources() -> dict:
    """Preview files of open datasets that have no preview or a stale one (preview/)."""
    return previews.run_previews()


def build_bundles(seconds: float = 300.0) -> dict:
    """Build queued bundles (a while at most: a later run takes the rest); delete expired ones."""
    config, started, built = current_app.config, time.monotonic(), 0
    worker, lease = sender.worker_name(), config["SUBSCRIBE_BUNDLE_LEASE_SECONDS"]
    expired = bundles.expire_bundles()
    while time.monotonic() - started < seconds and (bundle_id := bundles.claim_next(worker, lease)):
        bundles.build_bundle(bundle_id, worker)
        built += 1
    return {"built": built, "expired": expired}


def expire_audit() -> dict:
    """Retention of the audit trail (SUBSCRIBE_AUDIT_RETENTION_DAYS; 0 keeps all)."""
    return {"deleted": audit.expire()}


def clean_up() -> dict:
    """Retention: old job runs and delivery attempts go (deliveries themselves stay)."""
    now = utcnow()
    config = current_app.config
    runs = db.session.execute(
        delete(JobRun).where(
            JobRun.finished_at < now - timedelta(days=config["SUBSCRIBE_JOB_RUN_RETENTION_DAYS"])
        )
    ).rowcount
    attempts = db.session.execute(
        delete(DeliveryAttempt).where(
            DeliveryAttempt.started_at
            < now - timedelta(days=config["SUBSCRIBE_DELIVERY_LOG_RETENTION_DAYS"])
        )
    ).rowcount
    db.session.commit()
    return {"job_runs_deleted": runs, "attempts_deleted": attempts}
