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
    """Take or keep the leader lease (see `take_lease`); True when `holder` leads."""
    return take_lease(holder, seconds, engine) is not None


def take_lease(
    holder: str, seconds: float, engine: Engine | None = None, wait: float | None = None
) -> datetime | None:
    """Take or keep the leader lease in one short transaction of its own: the expiry
    written (naive UTC) when `holder` leads, else None. On SQLite it waits for the write
    lock up to `wait` seconds (default: `seconds`), then raises OperationalError ("database
    is locked"); OperationalError too when the database is down.

    It never joins the caller's session transaction, so a job's open transaction cannot
    delay it. On SQLite the transaction begins with the write lock (`_begin_immediate`),
    and only then is the clock read: the new expiry counts from the moment the lease is
    written, not from before the wait. (Read before, a renewal that waited 9.7 s for the
    write lock during a national harvest wrote a lease with 5 s left, and the next one,
    waiting 4.9 s, let it lapse for 1.6 s with no error logged.) For the same reason a
    lapse during the wait is seen: `acquired_at` changes when the lease changes hands or
    had lapsed, so an unchanged `acquired_at` proves it was held throughout.
    """
    engine = engine or db.engine
    table = Lease.__table__
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                _begin_immediate(conn, seconds if wait is None else wait)
            now = utcnow()
            expires = now + timedelta(seconds=seconds)
            kept = (table.c.holder == holder) & (table.c.expires_at >= now)
            taken = conn.execute(
                update(table)
                .where(
                    table.c.name == LEADER_LEASE,
                    (table.c.holder == holder) | (table.c.expires_at < now),
                )
                .values(
                    holder=holder,
                    expires_at=expires,
                    acquired_at=case((kept, table.c.acquired_at), else_=now),
                )
            ).rowcount
            if taken:
                return expires
            if conn.scalar(select(table.c.name).where(table.c.name == LEADER_LEASE)):
                return None  # another worker holds it
            conn.execute(
                insert(table).values(
                    name=LEADER_LEASE, holder=holder, acquired_at=now, expires_at=expires
                )
            )
            return expires
    except IntegrityError:  # PostgreSQL: another worker created the row meanwhile
        return None


def _begin_immediate(conn, wait: float) -> None:
    """Begin with SQLite's write lock, asking for it every few milliseconds for up to
    `wait` seconds. SQLite's own busy handler sleeps 100 ms between tries once it has
    waited a while, and a lock is granted to whoever asks first: beside a harvest's
    batches, matching and deliveries all waiting for the same lock, a renewal sleeping
    100 ms at a time missed gap after gap (a test writer pausing 50 ms between
    transactions kept it out for 6 s). On a connection with a short busy_timeout
    (`LEASE_BUSY_MS`) each BEGIN IMMEDIATE tries at 0, 1, 3, 8 and 18 ms, then gives up
    and is issued again at once."""
    deadline = time.monotonic() + wait
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        except OperationalError as exc:
            busy = "locked" in str(exc) or "busy" in str(exc)
            if not busy or time.monotonic() >= deadline:
                raise


# The lease connection's SQLite busy_timeout: one BEGIN IMMEDIATE's share of the wait.
LEASE_BUSY_MS = 20


class LeaderLease:
    """The worker's lease keeper: renews the leader lease every `interval` seconds on its
    own thread and its own one-connection engine, so neither a busy scheduler thread pool
    nor a long job can make it miss a renewal.

    How long the lease survives a busy database: an attempt starts at most `interval`
    after the last success and, on SQLite, waits for the write lock as long as the lease
    itself (`seconds`): giving up earlier only left a gap of `interval` without trying
    before the next attempt. Since the expiry counts from when the lease is written (see
    `renew_lease`), the lease lapses only if no write gets in for `seconds - interval`
    (28 s by default). Every writer keeps its transactions far shorter than that (a
    harvest batch, a matching batch: well under a second to a few seconds on a loaded
    machine); a renewal that waited longer than `interval` is logged, so a writer
    creeping towards the limit shows before the lease is lost.

    `history` records the last attempts as (at, leading, error, waited seconds).
    """

    def __init__(self, app: Flask, holder: str, seconds: float, interval: float = 2.0):
        self.holder, self.seconds, self.interval = holder, seconds, interval
        self.engine = _own_engine()
        self.leading = False
        self.expires: datetime | None = None  # of the lease this keeper last wrote
        self.history: deque[tuple[datetime, bool, str | None, float]] = deque(maxlen=1000)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leader-lease", daemon=True)

    def start(self) -> LeaderLease:
        self.renew()  # lead (or not) before the scheduler starts
        self._thread.start()
        return self

    def renew(self) -> bool:
        started = time.monotonic()
        try:
            expires, error = take_lease(self.holder, self.seconds, self.engine), None
        except OperationalError as exc:  # busy or unreachable: keep what we knew, retry soon
            expires, error = self.expires, str(exc)
        waited = time.monotonic() - started
        if error:
            log.warning("leader lease renewal failed after %.1f s, retrying: %s", waited, error)
        elif waited > self.interval:
            log.warning("leader lease renewal waited %.1f s for the database", waited)
        if error is None and expires is not None and self.expires is not None:
            written = expires - timedelta(seconds=self.seconds)
            if written > self.expires:
                log.warning("the leader lease had lapsed for %.1f s (the renewal waited %.1f s)",
                            (written - self.expires).total_seconds(), waited)  # fmt: skip
        self.expires = expires
        # After a failed attempt this worker still leads until the lease it wrote expires.
        self.leading = expires is not None and (error is None or utcnow() < expires)
        self.history.append((utcnow(), self.leading, error, waited))
        return self.leading

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.renew()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.seconds + 30)
        release_lease(self.holder, self.engine)
        self.engine.dispose()


def _own_engine() -> Engine:
    """A one-connection engine for the lease: never waits for the session pool. On SQLite
    its busy_timeout is short: `_begin_immediate` asks for the lock again and again."""
    engine = create_engine(db.engine.url, pool_size=1, max_overflow=0, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        from subscribe import sqlite_pragmas

        event.listen(engine, "connect", partial(sqlite_pragmas, busy_timeout_ms=LEASE_BUSY_MS))
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


# One run of a job at a time in this process. APScheduler's max_instances covers a
# job's own schedule only: a "run now" is another scheduler job, so a manual run of
# check-resources overlapped a scheduled one (and the next scheduled one started beside
# the manual one). Leader-only jobs run in the leader's process alone.
_RUNNING_GUARD = threading.Lock()
_RUNNING: dict[str, threading.Lock] = {}


def _job_lock(name: str) -> threading.Lock:
    with _RUNNING_GUARD:
        return _RUNNING.setdefault(name, threading.Lock())


def running_here() -> set[str]:
    """Names of the jobs running in this process now."""
    with _RUNNING_GUARD:
        return {name for name, lock in _RUNNING.items() if lock.locked()}


def run_job(app: Flask, spec: JobSpec, holder: str, trigger: str = "schedule") -> JobRun | None:
    """Run one job in its own app context and record it; None when it must not run here,
    or when a run of it is already going on (a scheduled run is then skipped, as its
    next one comes; a manual one is asked for again, so it starts after this one)."""
    lock = _job_lock(spec.name)
    if not lock.acquire(blocking=False):
        if trigger == "manual":
            with app.app_context():
                db.session.execute(
                    update(Job)
                    .where(Job.name == spec.name, Job.run_requested_at.is_(None))
                    .values(run_requested_at=utcnow())
                )
                db.session.commit()
        log.info("job %s is still running: this %s run is not started", spec.name, trigger)
        return None
    try:
        return _run_job(app, spec, holder, trigger)
    finally:
        lock.release()


def _run_job(app: Flask, spec: JobSpec, holder: str, trigger: str) -> JobRun | None:
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
    """Jobs an operator asked to run now; the request is consumed. A request for a job
    running in this process waits (it is consumed once that run has ended)."""
    busy = running_here()
    names = [
        name
        for name in db.session.scalars(select(Job.name).where(Job.run_requested_at.is_not(None)))
        if name not in busy
    ]
    if names:
        db.session.execute(update(Job).where(Job.name.in_(names)).values(run_requested_at=None))
    db.session.commit()
    return names
