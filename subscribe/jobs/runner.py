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
import threading
import time
import traceback
from collections import deque
from datetime import datetime, timedelta
from functools import partial

from flask import Flask
from sqlalchemy import Engine, case, create_engine, event, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from subscribe.extensions import db
from subscribe.jobs.memory import trim_heap
from subscribe.jobs.models import Job, JobRun, Lease
from subscribe.jobs.registry import JobSpec
from subscribe.models_base import utcnow

log = logging.getLogger(__name__)
LEADER_LEASE = "scheduler"


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def sync_jobs(specs: list[JobSpec], attempts: int = 3) -> None:
    """Make the jobs table list exactly the registered jobs (keeping paused flags).

    Workers started together sync at the same moment: when another one inserted a job
    between this one's read and its commit (IntegrityError on the job's name), the table
    is read again and synced against what is there now. Raises IntegrityError only after
    `attempts` such collisions."""
    for attempt in range(1, attempts + 1):
        try:
            _sync_jobs_once(specs)
            return
        except IntegrityError:
            db.session.rollback()
            if attempt == attempts:
                raise
            log.info("another worker wrote the jobs table meanwhile; syncing again")


def _sync_jobs_once(specs: list[JobSpec]) -> None:
    known = {job.name: job for job in db.session.scalars(select(Job))}
    for spec in specs:
        job = known.pop(spec.name, None) or Job(name=spec.name)
        job.description, job.leader_only = spec.description, spec.leader_only
        job.schedule = f"every {spec.seconds:g}s"
        db.session.add(job)
    for stale in known.values():
        db.session.delete(stale)
    db.session.commit()


def renew_lease(holder: str, seconds: float, engine: Engine | None = None) -> bool:
    """Take or keep the leader lease in one short transaction of its own; True when
    `holder` leads.

    It never joins the caller's session transaction, so a job's open transaction cannot
    delay it. The single UPDATE is the transaction's first statement: on SQLite it takes
    the write lock at once (waiting out busy_timeout) instead of upgrading a read snapshot
    that a harvest commit may have made stale. `acquired_at` changes only when the lease
    changes hands or had lapsed, so an unchanged `acquired_at` proves it was held throughout.
    """
    engine = engine or db.engine
    table = Lease.__table__
    now = utcnow()
    kept = (table.c.holder == holder) & (table.c.expires_at >= now)
    with engine.begin() as conn:
        taken = conn.execute(
            update(table)
            .where(
                table.c.name == LEADER_LEASE,
                (table.c.holder == holder) | (table.c.expires_at < now),
            )
            .values(
                holder=holder,
                expires_at=now + timedelta(seconds=seconds),
                acquired_at=case((kept, table.c.acquired_at), else_=now),
            )
        ).rowcount
    if taken:
        return True
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(table).values(
                    name=LEADER_LEASE, holder=holder, acquired_at=now,
                    expires_at=now + timedelta(seconds=seconds),
                )
            )  # fmt: skip
        return True
    except IntegrityError:  # the row exists (another worker holds it) or was just created
        return False


class LeaderLease:
    """The worker's lease keeper: renews the leader lease every `interval` seconds on its
    own thread and its own database connection, so neither a busy scheduler thread pool
    nor a long job can make it miss a renewal. A failed attempt (a busy database) is
    logged and retried on the next tick, well before the lease lapses.

    `history` records the last renewals as (at, leading, error) for operators and tests.
    """

    def __init__(self, app: Flask, holder: str, seconds: float, interval: float = 2.0):
        self.holder, self.seconds, self.interval = holder, seconds, interval
        self.engine = _own_engine(seconds)
        self.leading = False
        self.history: deque[tuple[datetime, bool, str | None]] = deque(maxlen=1000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-lease", daemon=True)

    def start(self) -> LeaderLease:
        self.renew()  # lead (or not) before the scheduler starts
        self._thread.start()
        return self

    def renew(self) -> bool:
        try:
            self.leading = renew_lease(self.holder, self.seconds, self.engine)
            self.history.append((utcnow(), self.leading, None))
        except OperationalError as exc:  # busy or unreachable: keep what we knew, retry soon
            log.warning("leader lease renewal failed, retrying: %s", exc)
            self.history.append((utcnow(), self.leading, str(exc)))
        return self.leading

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.renew()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 30)
        release_lease(self.holder, self.engine)
        self.engine.dispose()


def _own_engine(seconds: float) -> Engine:
    """A one-connection engine for the lease: never waits for the session pool. On SQLite
    an attempt waits for the write lock up to 60 % of the lease: the busy handler polls
    every few milliseconds, so it gets in between two harvest batches rather than
    sleeping through the gap."""
    engine = create_engine(db.engine.url, pool_size=1, max_overflow=0, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        from subscribe import sqlite_pragmas

        wait_ms = max(2000, int(seconds * 600))
        event.listen(engine, "connect", partial(sqlite_pragmas, busy_timeout_ms=wait_ms))
    return engine


def holds_lease(holder: str) -> bool:
    lease = db.session.get(Lease, LEADER_LEASE)
    return lease is not None and lease.holder == holder and lease.expires_at > utcnow()


def release_lease(holder: str, engine: Engine | None = None) -> None:
    """On a clean shutdown, so another worker leads at once instead of after the lapse."""
    table = Lease.__table__
    with (engine or db.engine).begin() as conn:
        conn.execute(
            update(table)
            .where(table.c.name == LEADER_LEASE, table.c.holder == holder)
            .values(expires_at=utcnow())
        )


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
    # What the run freed goes back to the system (rate-limited), not kept for a next peak.
    trim_heap()
    return run


def requested_runs() -> list[str]:
    """Jobs an operator asked to run now; the request is consumed."""
    names = list(db.session.scalars(select(Job.name).where(Job.run_requested_at.is_not(None))))
    if names:
        db.session.execute(update(Job).where(Job.name.in_(names)).values(run_requested_at=None))
    db.session.commit()
    return names
