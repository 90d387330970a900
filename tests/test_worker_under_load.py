"""The embedded default (SQLite) under a large harvest, with the real worker process.

- Beside the scheduler: the leader lease is never lost (its `acquired_at` would move if
  it had lapsed even once), no job run fails with "database is locked", and /readyz
  reports the leader present in every sample taken during the harvest.
- A writer holding SQLite's write lock for most of the lease, again and again, beside
  threads that keep the interpreter busy: the keeper's lease never lapses.
- SIGKILL in the middle of a harvest: nothing is half-written, and the next run (by a
  new worker) completes with every dataset exactly once.

The portal is the demo CKAN portal on loopback; the worker is `flask --app subscribe
worker` as `make run` starts it. No timing is asserted: only recorded facts.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import datetime

import pytest
from sqlalchemy import func, insert, select

from subscribe.auth.services import create_user
from subscribe.catalog import services
from subscribe.catalog.models import CatalogEvent, Cursor, Dataset, DatasetVersion, HarvestRun
from subscribe.demo.portal import start_portal
from subscribe.demo.vocab import DEPARTMENTS
from subscribe.extensions import db
from subscribe.jobs import runner
from subscribe.jobs.models import JobRun, Lease
from subscribe.models_base import utcnow
from subscribe.notify.models import Subscription
from subscribe.scenarios.matching import CURSOR
from subscribe.scenarios.models import Scenario, ScenarioEvent

# Enough for a harvest of a few dozen write batches (500 records each), matching and
# indexing backlogs behind it, and many lease renewals during it: the workers here renew
# every RENEW seconds (the production 2 s period would need a harvest of 20,000, 3x as
# long, to overlap as many), with the production 30 s lease.
SIZE = int(os.environ.get("SUBSCRIBE_TEST_LOAD_SIZE", "6000"))
RENEW = 0.25


@pytest.fixture
def sqlite_only(database_url):
    if not database_url.startswith("sqlite"):
        pytest.skip("about the embedded default: SQLite under one busy writer")


@pytest.fixture
def portal():
    server = start_portal(size=SIZE, tick_seconds=0)
    yield server
    server.stop()


def _start_worker(database_url: str, tmp_path, name: str, lease: float) -> subprocess.Popen:
    env = {**os.environ, "SUBSCRIBE_DATABASE_URL": database_url,
           "SUBSCRIBE_INSTANCE_PATH": str(tmp_path / name), "SUBSCRIBE_DEMO": "0",
           "SUBSCRIBE_OUTBOUND_ALLOWLIST": "127.0.0.1,::1",  # the portal is on loopback
           "SUBSCRIBE_LEADER_LEASE_SECONDS": str(lease),
           "SUBSCRIBE_LEADER_LEASE_RENEW_SECONDS": str(RENEW), "SUBSCRIBE_LOG_LEVEL": "WARNING"}  # fmt: skip
    with open(tmp_path / f"{name}.log", "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "subscribe", "worker"],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_for(condition, seconds: float, what: str, each=lambda: None):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()  # see the worker's commits
        found = condition()
        if found:
            return found
        each()
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _run(run_id: int) -> HarvestRun:
    return db.session.get(HarvestRun, run_id)


def _assert_whole(source_id: int) -> None:
    """Every dataset has its current version, one event per version, and no dataset twice."""
    datasets = db.session.execute(
        select(Dataset.id, Dataset.identifier, Dataset.version).where(
            Dataset.source_id == source_id
        )
    ).all()
    versions = dict(
        db.session.execute(
            select(DatasetVersion.dataset_id, func.max(DatasetVersion.number)).group_by(
                DatasetVersion.dataset_id
            )
        ).all()
    )
    events = dict(
        db.session.execute(
            select(CatalogEvent.dataset_id, func.count())
            .where(CatalogEvent.type != "dataset.overdue")  # overdue: no new version
            .group_by(CatalogEvent.dataset_id)
        ).all()
    )
    assert len({d.identifier for d in datasets}) == len(datasets)
    broken = [
        d for d in datasets if versions.get(d.id) != d.version or events.get(d.id) != d.version
    ]
    assert not broken, broken[:5]


@contextmanager
def _leader(database_url: str, tmp_path, client):
    """A worker that leads the scheduler, and a watch over it: yields ``sample()``, which
    notes what /readyz says and the lease's expiry; on leaving, the worker stops, and the
    lease must have been held by it throughout and renewed several times while sampled,
    /readyz must have seen the database and the leader in every sample, no job may have
    failed and the log may hold no lock error or lapse."""
    worker = _start_worker(database_url, tmp_path, "w", lease=30)
    samples: list[tuple[bool, bool]] = []
    expiries = set()

    def sample() -> None:
        body = client.get("/readyz").json["checks"]
        samples.append((body["database"]["ok"], body["scheduler_leader"]["ok"]))
        expiries.add(db.session.scalar(
            select(Lease.expires_at).where(Lease.name == runner.LEADER_LEASE)))  # fmt: skip

    try:
        lease = _wait_for(lambda: db.session.get(Lease, runner.LEADER_LEASE), 300, "a leader")
        holder, acquired = lease.holder, lease.acquired_at
        yield sample
        lease = db.session.get(Lease, runner.LEADER_LEASE)
        # Held by the same worker the whole time: a lapse would have reset acquired_at.
        assert (lease.holder, lease.acquired_at) == (holder, acquired)
        assert len(samples) > 3 and all(db_ok and leader for db_ok, leader in samples), samples
        assert len(expiries) > 3, expiries  # the sampled work overlapped several renewals
        failed = db.session.scalars(select(JobRun).where(JobRun.outcome == "failed")).all()
        assert not failed, [r.error[-300:] for r in failed]
    finally:
        _stop(worker)
    log = (tmp_path / "w.log").read_text()
    assert "database is locked" not in log
    assert "leader lease had lapsed" not in log


def test_lease_held_and_ready_during_a_large_harvest(
    sqlite_only, app, client, database_url, portal, tmp_path
):
    source = services.create_source("national", "ckan", portal.url)
    with _leader(database_url, tmp_path, client) as sample:
        run_id = services.queue_harvest(source).id
        _wait_for(lambda: _run(run_id).status not in ("queued", "running"), 900, "the harvest",
                  each=sample)  # fmt: skip
        run = _run(run_id)
        assert (run.status, run.created, run.bad) == ("succeeded", SIZE, 0), run.error
        assert db.session.get(Lease, runner.LEADER_LEASE).expires_at > run.finished_at
        # The harvest job's own run record closes just after the harvest run does, and a
        # deliver run polls on for up to 20 s (for what matching queues) before it closes.
        for job in ("run-harvests", "match-events", "update-search-index", "deliver"):
            _wait_for(lambda job=job: db.session.scalar(select(JobRun).where(
                      JobRun.job == job, JobRun.outcome == "succeeded")), 300,
                      f"a succeeded {job} run")  # fmt: skip
    _assert_whole(source.id)


def _scenarios_for_everything(user_id: int, count: int) -> None:
    """`count` scenarios on the demo portal's subject words (a few hundred members each
    at 20,000), two that match every dataset, and an inbox subscription on three."""
    words = sorted({k for d in DEPARTMENTS for s in d.subjects for k in s.keywords})
    rows = [{"user_id": user_id, "name": f"s{n}", "description": "", "q": words[n % len(words)],
             "filters": {}, "include": [], "exclude": []} for n in range(count)]  # fmt: skip
    rows += [{"user_id": user_id, "name": f"all{n}", "description": "", "q": "",
              "filters": {}, "include": [], "exclude": []} for n in range(2)]  # fmt: skip
    db.session.execute(insert(Scenario), rows)
    for scenario_id in db.session.scalars(select(Scenario.id).order_by(Scenario.id).limit(3)):
        db.session.add(Subscription(user_id=user_id, scenario_id=scenario_id, channel="inbox",
                                    cadence="immediate"))  # fmt: skip
    db.session.commit()


def test_lease_held_while_matching_works_through_a_backlog(
    sqlite_only, app, client, database_url, portal, tmp_path
):
    """A harvest whose every record is news (the source's first harvest is done, so
    these are real `dataset.created` events) against hundreds of scenarios: matching
    works through a backlog of large write transactions while the harvest process
    writes its batches, the follower indexes and deliveries go out. The lease is held
    throughout, /readyz sees the leader in every sample, no job fails."""
    small = start_portal(size=50, tick_seconds=0)
    source = services.create_source("national", "ckan", small.url)
    try:
        with _leader(database_url, tmp_path, client) as sample:
            first = services.queue_harvest(source).id
            _wait_for(lambda: _run(first).status == "succeeded", 300, "the first harvest")
            user = create_user("backlog@example.org", "a long enough password")
            _scenarios_for_everything(user.id, 300)
            services.update_source(source, {"url": portal.url})
            run_id = services.queue_harvest(source).id

            def matched_all() -> bool:
                last = db.session.scalar(select(func.max(CatalogEvent.id)))
                cursor = db.session.get(Cursor, CURSOR)
                return _run(run_id).status not in ("queued", "running") and (
                    cursor is not None and cursor.value >= last
                )

            _wait_for(matched_all, 1200, "the harvest and its matching", each=sample)
            run = _run(run_id)
            assert (run.status, run.bad) == ("succeeded", 0), run.error
            assert run.created > SIZE // 2  # most of the big portal is news
            events = db.session.scalar(select(func.count()).select_from(ScenarioEvent))
            assert events >= 2 * run.created  # the two match-everything scenarios, at least
    finally:
        small.stop()


def test_lease_outlasts_a_writer_holding_the_lock(sqlite_only, app):
    """The write lock held for 60 % of the lease at a time, released for a moment, taken
    again (a long matching transaction among harvest batches), while two threads keep the
    interpreter busy. A watcher reads the lease as /readyz does, all along. The old keeper
    gave up after 60 % of the lease and counted the new expiry from before its wait: its
    lease lapsed here with no error logged. Now an attempt waits as long as the lease and
    counts from when it writes."""
    seconds = 6.0
    path = db.engine.url.database
    keeper = runner.LeaderLease(app, "keeper", seconds, interval=0.5).start()
    acquired = db.session.get(Lease, runner.LEADER_LEASE).acquired_at
    db.session.commit()
    stop = threading.Event()
    lapses = []

    def hog() -> None:  # pure Python: holds the interpreter lock but for switches
        while not stop.is_set():
            sum(i * i for i in range(10_000))

    def watch() -> None:  # reads (WAL: never blocked by the writer), as /readyz does
        reader = sqlite3.connect(path, timeout=60)
        while not stop.wait(0.1):
            (expires,) = reader.execute(
                "SELECT expires_at FROM leases WHERE name = ?", (runner.LEADER_LEASE,)
            ).fetchone()
            if datetime.fromisoformat(expires) <= utcnow():
                lapses.append(expires)
        reader.close()

    threads = [threading.Thread(target=f, daemon=True) for f in (hog, hog, watch)]
    writer = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        for thread in threads:
            thread.start()
        for _ in range(4):
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("UPDATE change_counter SET value = value")
            time.sleep(seconds * 0.6)
            writer.execute("COMMIT")
            time.sleep(0.05)  # the keeper's busy handler polls: it may get in here
    finally:
        stop.set()
        writer.close()
        for thread in threads:
            thread.join()
        history = list(keeper.history)
        keeper.stop()
    assert not lapses, lapses
    lease = db.session.get(Lease, runner.LEADER_LEASE)
    # Held by the same keeper throughout: a lapse, even during a wait, resets acquired_at.
    assert (lease.holder, lease.acquired_at) == ("keeper", acquired)
    assert all(leading and error is None for _at, leading, error, *_waited in history), history


def test_sigkill_mid_harvest_loses_nothing(sqlite_only, app, database_url, portal, tmp_path):
    source = services.create_source("national", "ckan", portal.url)
    first = _start_worker(database_url, tmp_path, "first", lease=4)
    try:
        run_id = services.queue_harvest(source).id
        _wait_for(lambda: _run(run_id).created >= SIZE // 4, 600, "a quarter written")
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        _stop(first)
    db.session.rollback()
    killed = _run(run_id)
    assert killed.status == "running" and 0 < killed.created < SIZE
    _assert_whole(source.id)  # every committed batch is whole: no half-written dataset

    second = _start_worker(database_url, tmp_path, "second", lease=4)
    try:
        # The new leader fails the dead worker's run, so a new one can be queued and run.
        _wait_for(lambda: _run(run_id).status == "failed", 300, "the stale run failed")
        again = services.queue_harvest(source).id
        _wait_for(lambda: _run(again).status not in ("queued", "running"), 900, "the re-run")
    finally:
        _stop(second)
    rerun = _run(again)
    assert rerun.status == "succeeded", rerun.error
    assert rerun.created + rerun.unchanged == SIZE and rerun.updated == 0
    assert rerun.created == SIZE - killed.created  # the rest, nothing created twice
    count = db.session.scalar(
        select(func.count()).select_from(Dataset).where(Dataset.deleted_at.is_(None))
    )
    assert count == SIZE
    _assert_whole(source.id)
