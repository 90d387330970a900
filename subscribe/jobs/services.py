"""What operators see of the jobs, and the requests they make (pause, resume, run now)."""

from __future__ import annotations

from sqlalchemy import func, select

from subscribe.audit import services as audit
from subscribe.errors import ConflictError, NotFoundError
from subscribe.extensions import db
from subscribe.jobs.models import Job, JobRun, Lease
from subscribe.jobs.runner import LEADER_LEASE
from subscribe.metrics import oldest_due_pending_seconds
from subscribe.models_base import utcnow
from subscribe.notify.channels.chat import mask_url
from subscribe.notify.health import smtp_state
from subscribe.notify.models import Delivery, WebhookEndpoint
from subscribe.paging import paginate


def get_job(name: str) -> Job:
    job = db.session.get(Job, name)
    if job is None:
        raise NotFoundError(f"No job named {name!r}.")
    return job


def _last_runs(name: str, limit: int = 50) -> list[JobRun]:
    return list(
        db.session.scalars(
            select(JobRun).where(JobRun.job == name).order_by(JobRun.id.desc()).limit(limit)
        )
    )


def describe(job: Job) -> dict:
    """A job with its last run and how many runs in a row have failed."""
    runs = _last_runs(job.name)
    finished = [r for r in runs if r.outcome != "running"]
    streak = 0
    for run in finished:
        if run.outcome != "failed":
            break
        streak += 1
    return {
        "name": job.name, "description": job.description, "schedule": job.schedule,
        "leader_only": job.leader_only, "paused": job.paused, "next_run_at": job.next_run_at,
        "run_requested": job.run_requested_at is not None,
        "last_run": finished[0] if finished else None, "running": any(r.outcome == "running" for r in runs[:1]),
        "failure_streak": streak,
    }  # fmt: skip


def list_jobs() -> list[dict]:
    return [describe(job) for job in db.session.scalars(select(Job).order_by(Job.name))]


def runs(name: str, page: int, per_page: int) -> dict:
    get_job(name)
    return paginate(
        select(JobRun).where(JobRun.job == name).order_by(JobRun.id.desc()), page, per_page
    )


def set_paused(name: str, paused: bool) -> dict:
    job = get_job(name)
    job.paused, job.updated_at = paused, utcnow()
    audit.record("job.pause" if paused else "job.resume", "job", name)
    db.session.commit()
    return describe(job)


def running_run(name: str) -> JobRun | None:
    """The job's run going on now on the scheduler leader (where "run now" starts it), if
    any. A run left 'running' by a worker that is no longer the leader does not count."""
    lease = db.session.get(Lease, LEADER_LEASE)
    if lease is None or lease.expires_at <= utcnow():
        return None
    return db.session.scalar(
        select(JobRun)
        .where(JobRun.job == name, JobRun.outcome == "running", JobRun.worker == lease.holder)
        .order_by(JobRun.id.desc())
        .limit(1)
    )


def request_run(name: str) -> dict:
    """The leader starts it within seconds (it checks for requests every 2 s). One run of
    a job at a time: while one is going on, 409 naming it (a request that still meets a
    run, in the moment between, waits on the leader and starts after it)."""
    job = get_job(name)
    running = running_run(name)
    if running is not None:
        raise ConflictError(
            f"Job {name!r} is running now (run {running.id}, started "
            f"{running.started_at:%Y-%m-%d %H:%M:%S} UTC); ask again once it has finished.",
            {"run_id": [running.id], "url": [f"/api/v1/jobs/{name}/runs"]},
        )
    job.run_requested_at = utcnow()
    audit.record("job.run", "job", name)
    db.session.commit()
    return describe(job)


def leader() -> dict:
    lease = db.session.get(Lease, LEADER_LEASE)
    alive = lease is not None and lease.expires_at > utcnow()
    return {"holder": lease.holder if lease else None, "expires_at": lease.expires_at if lease else None,
            "present": alive}  # fmt: skip


def _count_deliveries(*conditions) -> int:
    return db.session.scalar(select(func.count()).select_from(Delivery).where(*conditions))


def delivery_queue() -> dict:
    """What an operator watches besides the jobs: the outbox and the endpoints failing."""
    depth = _count_deliveries(Delivery.status.in_(("pending", "delivering")))
    failing = db.session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.failing_since.is_not(None) | WebhookEndpoint.enabled.is_(False))
        .order_by(WebhookEndpoint.failing_since)
        .limit(20)
    ).all()
    return {
        "depth": depth,
        "due": _count_deliveries(Delivery.status == "pending", Delivery.next_attempt_at <= utcnow()),
        "failed": _count_deliveries(Delivery.status == "failed"),
        "oldest_pending_seconds": oldest_due_pending_seconds(),
        "smtp": smtp_state(),
        "failing_endpoints": [
            # A chat robot's URL is its credential: operators see it masked.
            {"id": e.id, "url": e.url if e.kind == "webhook" else mask_url(e.kind, e.url),
             "enabled": e.enabled, "failing_since": e.failing_since,
             "disabled_reason": e.disabled_reason}
            for e in failing
        ],
    }  # fmt: skip
