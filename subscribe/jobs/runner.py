"""Running registered jobs: the leader lease, run records, pause and run-now requests.

Every worker runs a scheduler, but leader-only jobs run only on the worker holding the
`scheduler` lease (renewed every few seconds, taken over when it lapses), so two
workers never run the same job; per-node jobs run everywhere. Each run is recorded,
and a failing job is logged with its traceback while the others go on.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
from datetime import timedelta

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from subscribe.extensions import db
from subscribe.jobs.models import Job, JobRun, Lease
from subscribe.jobs.registry import JobSpec
from subscribe.models_base import utcnow

log = logging.getLogger(__name__)
LEADER_LEASE = "scheduler"


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sync_jobs(specs: list[JobSpec]) -> None:
    """Make the jobs table list exactly the registered jobs (keeping paused flags)."""
    known = {job.name: job for job in db.session.scalars(select(Job))}
    for spec in specs:
        job = known.pop(spec.name, None) or Job(name=spec.name)
        job.description, job.leader_only = spec.description, spec.leader_only
        job.schedule = f"every {spec.seconds:g}s"
        db.session.add(job)
    for stale in known.values():
        db.session.delete(stale)
    db.session.commit()


def renew_lease(holder: str, seconds: float) -> bool:
    """Take or keep the leader lease; True when `holder` leads."""
    now = utcnow()
    taken = db.session.execute(
        update(Lease)
        .where(Lease.name == LEADER_LEASE, (Lease.holder == holder) | (Lease.expires_at < now))
        .values(holder=holder, expires_at=now + timedelta(seconds=seconds))
    ).rowcount
    if taken:
        db.session.commit()
        return True
    if db.session.get(Lease, LEADER_LEASE) is None:
        db.session.add(
            Lease(name=LEADER_LEASE, holder=holder, expires_at=now + timedelta(seconds=seconds))
        )
        try:
            db.session.commit()
            return True
        except IntegrityError:  # another worker created it first
            db.session.rollback()
    db.session.commit()
    return False


def holds_lease(holder: str) -> bool:
    lease = db.session.get(Lease, LEADER_LEASE)
    return lease is not None and lease.holder == holder and lease.expires_at > utcnow()


def release_lease(holder: str) -> None:
    """On a clean shutdown, so another worker leads at once instead of after the lapse."""
    db.session.execute(
        update(Lease)
        .where(Lease.name == LEADER_LEASE, Lease.holder == holder)
        .values(expires_at=utcnow())
    )
    db.session.commit()


def run_job(app: Flask, spec: JobSpec, holder: str, trigger: str = "schedule") -> JobRun | None:
    """Run one job in its own app context and record it; None when it must not run here."""
    with app.app_context():
        job = db.session.get(Job, spec.name)
        if job is None or (spec.leader_only and not holds_lease(holder)):
            return None
        if job.paused and trigger == "schedule":
            return None
        run = JobRun(job=spec.name, trigger=trigger, worker=holder, started_at=utcnow())
        db.session.add(run)
        db.session.commit()
        started = time.monotonic()
        try:
            result = spec.function()
            run.outcome = "succeeded"
            run.result = result if isinstance(result, dict) else {"count": result}
        except Exception:  # recorded and logged; the scheduler goes on with the others
            db.session.rollback()
            run = db.session.merge(run)
            run.outcome, run.error = "failed", traceback.format_exc()[-20_000:]
            log.exception("job %s failed", spec.name)
        run.finished_at = utcnow()
        run.duration_ms = int((time.monotonic() - started) * 1000)
        job = db.session.get(Job, spec.name)
        if job is not None:
            job.next_run_at = utcnow() + timedelta(seconds=spec.seconds)
        db.session.commit()
        db.session.refresh(run)  # loaded, so callers can read it after this context ends
        db.session.expunge(run)
        return run


def requested_runs() -> list[str]:
    """Jobs an operator asked to run now; the request is consumed."""
    names = list(db.session.scalars(select(Job.name).where(Job.run_requested_at.is_not(None))))
    if names:
        db.session.execute(update(Job).where(Job.name.in_(names)).values(run_requested_at=None))
    db.session.commit()
    return names
