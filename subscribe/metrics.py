"""`GET /metrics`: Prometheus series read from the database at scrape time.

The web process runs no jobs, so job, harvest and delivery figures are aggregates over
the tables the worker writes (a few GROUP BY queries per scrape), not in-process
counters. Only search latency is measured here, by the process that serves searches
(`observe_search`). Each app has its own registry (app.extensions["metrics"]), so
tests that build many apps never register a series twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, current_app, has_app_context
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select

from subscribe.catalog import sequence
from subscribe.catalog.models import Dataset, HarvestRun, Source
from subscribe.extensions import db
from subscribe.jobs.models import Job, JobRun, Lease
from subscribe.models_base import utcnow
from subscribe.notify.models import Delivery, WebhookEndpoint
from subscribe.search.store import applied_mtime, read_applied

log = logging.getLogger(__name__)

EXTENSION = "metrics"
LEADER_LEASE = "scheduler"  # the lease the scheduler leader holds (jobs/runner.py)
HARVEST_KINDS = ("created", "updated", "unchanged", "deleted", "bad")
JOB_OUTCOMES = ("succeeded", "failed")
DELIVERY_OUTCOMES = ("succeeded", "failed")  # final; pending/delivering are the queue
SEARCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

metrics_blp = Blueprint("metrics", __name__)


@dataclass
class Metrics:
    registry: CollectorRegistry
    search_seconds: Histogram


def init_app(app: Flask) -> None:
    registry = CollectorRegistry()
    search_seconds = Histogram(
        "subscribe_search_seconds",
        "Time to answer a dataset search, in seconds.",
        buckets=SEARCH_BUCKETS,
        registry=registry,
    )
    registry.register(DatabaseCollector())
    app.extensions[EXTENSION] = Metrics(registry, search_seconds)


def observe_search(seconds: float) -> None:
    """Record one search's duration; a no-op outside an app or before init_app."""
    if not has_app_context():
        return
    metrics = current_app.extensions.get(EXTENSION)
    if metrics is not None:
        metrics.search_seconds.observe(seconds)


@metrics_blp.get("/metrics")
def metrics_view():
    registry = current_app.extensions[EXTENSION].registry
    # content_type, not mimetype: Flask would append a second "; charset=utf-8".
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


# --- Figures shared with /readyz ----------------------------------------------------------


def leader_present(now: datetime | None = None) -> bool:
    """An unexpired scheduler lease exists."""
    now = now or utcnow()
    held = db.session.scalar(
        select(func.count())
        .select_from(Lease)
        .where(Lease.name == LEADER_LEASE, Lease.expires_at > now)
    )
    return bool(held)


def oldest_due_pending_seconds(now: datetime | None = None) -> float:
    """How long the longest-waiting due pending delivery has been due (0 when none)."""
    now = now or utcnow()
    oldest = db.session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.status == "pending", Delivery.next_attempt_at <= now
        )
    )
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


def index_sequences() -> tuple[int, int | None]:
    """(the database's change sequence, the index's applied sequence or None: no index)."""
    # Imported here: search.service may import this module (observe_search).
    from subscribe.search.service import get_service

    database = sequence.current()
    path = get_service().store.current_dir()
    return database, (read_applied(path) if path is not None else None)


def index_progress(applied: int, now: datetime) -> tuple[float | None, float | None]:
    """(seconds the oldest change the index has not applied has waited, seconds since the
    follower last committed): None where unknown. The first is the `updated_at` of the
    dataset with the smallest change_seq above `applied` (ix_datasets_change_seq); the
    second the age of the index's applied-sequence file, rewritten at every commit."""
    from subscribe.search.service import get_service

    changed = db.session.scalar(
        select(Dataset.updated_at)
        .where(Dataset.change_seq > applied)
        .order_by(Dataset.change_seq)
        .limit(1)
    )
    waiting = None if changed is None else max(0.0, (now - changed).total_seconds())
    path = get_service().store.current_dir()
    committed = applied_mtime(path) if path is not None else None
    since = None if committed is None else max(0.0, now.replace(tzinfo=UTC).timestamp() - committed)
    return waiting, since


def index_lag() -> int:
    database, applied = index_sequences()
    return max(0, database - (applied or 0))


# --- The collector ---------------------------------------------------------------------------


class DatabaseCollector:
    """Reads current values at each scrape; needs the app context the view runs in."""

    def collect(self):
        now = utcnow()
        try:
            families = [
                *self._jobs(now),
                *self._harvests(),
                *self._deliveries(now),
                _gauge("subscribe_search_index_lag",
                       "Catalog changes not yet applied to the search index.", index_lag()),
            ]  # fmt: skip
        except Exception:  # a scrape must answer even when the database does not
            log.exception("metrics: reading the database failed")
            db.session.rollback()
            yield _gauge("subscribe_metrics_scrape_error", "1 when the last scrape failed.", 1)
            return
        yield from families
        yield _gauge("subscribe_metrics_scrape_error", "1 when the last scrape failed.", 0)

    def _jobs(self, now: datetime):
        jobs = dict(db.session.execute(select(Job.name, Job.paused)).all())
        counts = db.session.execute(
            select(JobRun.job, JobRun.outcome, func.count())
            .where(JobRun.outcome.in_(JOB_OUTCOMES))
            .group_by(JobRun.job, JobRun.outcome)
        ).all()
        latest = (
            select(func.max(JobRun.id).label("id"))
            .where(JobRun.finished_at.is_not(None))
            .group_by(JobRun.job)
            .subquery()
        )
        durations = db.session.execute(
            select(JobRun.job, JobRun.duration_ms).join(latest, JobRun.id == latest.c.id)
        ).all()
        last_ok = (
            select(JobRun.job.label("job"), func.max(JobRun.id).label("id"))
            .where(JobRun.outcome == "succeeded")
            .group_by(JobRun.job)
            .subquery()
        )
        streaks = dict(
            db.session.execute(
                select(JobRun.job, func.count())
                .outerjoin(last_ok, JobRun.job == last_ok.c.job)
                .where(JobRun.outcome == "failed", JobRun.id > func.coalesce(last_ok.c.id, 0))
                .group_by(JobRun.job)
            ).all()
        )

        runs = CounterMetricFamily(
            "subscribe_job_runs", "Finished job runs by outcome.", labels=["job", "outcome"]
        )
        by_key = {(job, outcome): count for job, outcome, count in counts}
        names = sorted(set(jobs) | {job for job, _outcome in by_key})
        for job in names:
            for outcome in JOB_OUTCOMES:
                runs.add_metric([job, outcome], by_key.get((job, outcome), 0))
        yield runs

        duration = GaugeMetricFamily(
            "subscribe_job_last_duration_seconds",
            "Duration of each job's latest finished run.",
            labels=["job"],
        )
        for job, ms in sorted(durations):
            duration.add_metric([job], (ms or 0) / 1000.0)
        yield duration

        streak = GaugeMetricFamily(
            "subscribe_job_failure_streak",
            "Failed runs of each job since its last successful run.",
            labels=["job"],
        )
        for job in names:
            streak.add_metric([job], streaks.get(job, 0))
        yield streak

        paused = GaugeMetricFamily(
            "subscribe_job_paused", "1 when an operator paused the job.", labels=["job"]
        )
        for job in sorted(jobs):
            paused.add_metric([job], 1 if jobs[job] else 0)
        yield paused

        yield _gauge(
            "subscribe_scheduler_leader_present",
            "1 when a worker holds an unexpired scheduler lease.",
            1 if leader_present(now) else 0,
        )

    def _harvests(self):
        sums = [func.coalesce(func.sum(getattr(HarvestRun, kind)), 0) for kind in HARVEST_KINDS]
        rows = db.session.execute(
            select(Source.name, *sums)
            .select_from(Source)
            .outerjoin(HarvestRun, HarvestRun.source_id == Source.id)
            .group_by(Source.name)
        ).all()
        family = CounterMetricFamily(
            "subscribe_harvest_datasets",
            "Records seen by harvests, by source and outcome (sum over recorded runs).",
            labels=["source", "kind"],
        )
        for name, *values in sorted(rows):
            for kind, value in zip(HARVEST_KINDS, values, strict=True):
                family.add_metric([name, kind], int(value))
        yield family

    def _deliveries(self, now: datetime):
        rows = db.session.execute(
            select(Delivery.channel, Delivery.status, func.count()).group_by(
                Delivery.channel, Delivery.status
            )
        ).all()
        family = CounterMetricFamily(
            "subscribe_deliveries",
            "Finished deliveries by channel and outcome (succeeded or failed for good).",
            labels=["channel", "status"],
        )
        for channel, status, count in sorted(rows):
            if status in DELIVERY_OUTCOMES:
                family.add_metric([channel, status], count)
        yield family
        depth = sum(count for _c, status, count in rows if status in ("pending", "delivering"))
        yield _gauge("subscribe_delivery_queue_depth", "Deliveries pending or in flight.", depth)
        yield _gauge(
            "subscribe_delivery_oldest_pending_seconds",
            "Seconds the longest-waiting due pending delivery has been due.",
            oldest_due_pending_seconds(now),
        )
        failing = db.session.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.enabled.is_(True), WebhookEndpoint.failing_since.is_not(None))
        )
        yield _gauge(
            "subscribe_failing_endpoints",
            "Enabled webhook endpoints failing since their last success.",
            failing or 0,
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)
