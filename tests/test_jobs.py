"""Scheduled jobs: run records, failures, pause/run-now, the leader lease, the operators' API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select

from subscribe.auth.models import User
from subscribe.extensions import db
from subscribe.jobs import runner
from subscribe.jobs.models import Job, JobRun, Lease
from subscribe.jobs.registry import JobSpec, job_specs
from subscribe.models_base import utcnow
from subscribe.notify.models import Delivery


def boom():
    raise RuntimeError("the source is on fire")


@pytest.fixture
def specs(app):
    specs = [
        JobSpec("fine", lambda: {"done": 3}, 60, "works"),
        JobSpec("broken", boom, 60, "raises"),
    ]
    runner.sync_jobs(specs)
    return {spec.name: spec for spec in specs}


def test_runs_are_recorded_and_a_failure_does_not_stop_the_others(app, specs):
    assert runner.renew_lease("w1", 30)
    failed = runner.run_job(app, specs["broken"], "w1")
    ok = runner.run_job(app, specs["fine"], "w1")
    assert (
        failed.outcome == "failed"
        and "the source is on fire" in failed.error
        and "Traceback" in failed.error
    )
    assert ok.outcome == "succeeded" and ok.result == {"done": 3} and ok.worker == "w1"
    assert db.session.get(Job, "fine").next_run_at > utcnow()


def test_leader_only_jobs_run_only_on_the_leader(app, specs):
    assert runner.renew_lease("w1", 30) is True
    assert runner.renew_lease("w2", 30) is False  # w1 holds it
    assert runner.run_job(app, specs["fine"], "w2") is None
    assert runner.run_job(app, specs["fine"], "w1").outcome == "succeeded"
    lease = db.session.get(Lease, runner.LEADER_LEASE)
    lease.expires_at = utcnow() - timedelta(seconds=1)  # w1 stopped renewing
    db.session.commit()
    assert runner.renew_lease("w2", 30) is True and runner.renew_lease("w1", 30) is False
    runner.release_lease("w2")
    assert runner.renew_lease("w1", 30) is True  # released: taken at once


def test_paused_jobs_skip_schedules_but_run_on_request(app, specs):
    runner.renew_lease("w1", 30)
    db.session.get(Job, "fine").paused = True
    db.session.commit()
    assert runner.run_job(app, specs["fine"], "w1") is None
    assert runner.run_job(app, specs["fine"], "w1", trigger="manual").outcome == "succeeded"


def test_every_registered_job_is_listed(app):
    runner.sync_jobs(job_specs(app))
    names = set(db.session.scalars(select(Job.name)))
    assert {"run-harvests", "check-resources", "detect-overdue", "match-events", "deliver",
            "update-search-index", "cleanup", "enqueue-harvests", "build-bundles",
            "preview-resources", "score-quality",
            "audit-retention"} <= names  # fmt: skip
    assert names == {spec.name for spec in job_specs(app)}


def test_workers_syncing_jobs_at_once_both_start(app):
    """Two workers started together: the other inserts a job between this one's read of
    the jobs table and its commit. This one syncs again instead of dying on the name."""
    specs = job_specs(app)
    other = db.engine.connect()
    collided = []

    def the_other_worker_commits_first(session, _context, _instances):
        if collided:
            return
        collided.append(True)
        other.execute(insert(Job).values(name=specs[0].name, description="",
                                         schedule="every 1s", leader_only=False))  # fmt: skip
        other.commit()

    event.listen(db.session, "before_flush", the_other_worker_commits_first)
    try:
        runner.sync_jobs(specs)
    finally:
        event.remove(db.session, "before_flush", the_other_worker_commits_first)
        other.close()
    assert collided
    jobs = {job.name: job for job in db.session.scalars(select(Job))}
    assert set(jobs) == {spec.name for spec in specs}
    assert jobs[specs[0].name].description == specs[0].description  # synced over the other's


def test_operators_api(app, client, specs, operator_headers, user_headers):
    runner.renew_lease("w1", 30)
    owner = db.session.scalar(select(User).where(User.email == "user@example.org"))
    now = utcnow()
    for n, (status, due_at) in enumerate(
        [
            ("pending", now - timedelta(minutes=1)),
            ("pending", now - timedelta(seconds=1)),
            ("pending", now + timedelta(hours=1)),
            ("delivering", now - timedelta(minutes=1)),
            ("failed", now - timedelta(hours=1)),
            ("succeeded", now - timedelta(hours=1)),
        ]
    ):
        db.session.add(Delivery(message_id=f"msg_{n}", user_id=owner.id, channel="inbox",
                                event_type="dataset.updated", payload={}, status=status,
                                next_attempt_at=due_at))  # fmt: skip
    db.session.commit()
    runner.run_job(app, specs["broken"], "w1")
    runner.run_job(app, specs["broken"], "w1")
    body = client.get("/api/v1/jobs", headers=operator_headers).json
    broken = next(j for j in body["items"] if j["name"] == "broken")
    assert broken["failure_streak"] == 2 and broken["last_run"]["outcome"] == "failed"
    queue = body["delivery_queue"]
    # Waiting or being sent; of those, pending and due now; given up.
    assert (queue["depth"], queue["due"], queue["failed"]) == (4, 2, 1)
    assert queue["oldest_pending_seconds"] >= 59
    assert body["leader"] == {
        "holder": "w1",
        "expires_at": body["leader"]["expires_at"],
        "present": True,
    }
    assert client.post("/api/v1/jobs/fine/pause", headers=operator_headers).json["paused"] is True
    assert client.post("/api/v1/jobs/fine/resume", headers=operator_headers).json["paused"] is False
    assert client.post("/api/v1/jobs/fine/run", headers=operator_headers).status_code == 202
    assert runner.requested_runs() == ["fine"] and runner.requested_runs() == []
    runs = client.get("/api/v1/jobs/broken/runs", headers=operator_headers).json
    assert runs["total"] == 2 and runs["items"][0]["error"]
    assert client.get("/api/v1/jobs/nope/runs", headers=operator_headers).status_code == 404
    assert client.get("/api/v1/jobs", headers=user_headers).status_code == 403


def test_one_run_of_a_job_at_a_time(app, client, operator_headers):
    """A "run now" of check-resources during a scheduled run started a second, concurrent
    run (and the next scheduled run started beside the manual one): max_instances covers
    a job's own schedule only. Now run now answers 409 naming the run going on; a request
    that meets a run anyway waits and starts after it; a scheduled run is skipped."""
    import threading

    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        assert release.wait(30)
        return 1

    spec = JobSpec("slow", slow, 60, "takes a while")
    runner.sync_jobs([spec])
    assert runner.renew_lease("w1", 60)
    results = []
    scheduled = threading.Thread(target=lambda: results.append(runner.run_job(app, spec, "w1")))
    scheduled.start()
    try:
        assert started.wait(30)
        [running] = db.session.scalars(select(JobRun).where(JobRun.outcome == "running"))
        answer = client.post("/api/v1/jobs/slow/run", headers=operator_headers)
        assert answer.status_code == 409, answer.json
        assert answer.json["errors"]["run_id"] == [running.id]
        assert f"run {running.id}" in answer.json["message"]
        assert runner.run_job(app, spec, "w1") is None  # the next schedule: skipped
        # A request that got in before the run started: kept for after it, not started.
        db.session.get(Job, "slow").run_requested_at = utcnow()
        db.session.commit()
        assert runner.requested_runs() == []
        assert runner.run_job(app, spec, "w1", trigger="manual") is None
        db.session.expire_all()
        assert db.session.get(Job, "slow").run_requested_at is not None
    finally:
        release.set()
        scheduled.join(30)
    assert results[0].outcome == "succeeded"
    assert runner.requested_runs() == ["slow"]  # now it starts
    assert runner.run_job(app, spec, "w1", trigger="manual").outcome == "succeeded"
    runs = db.session.scalars(select(JobRun).where(JobRun.job == "slow")).all()
    assert [r.trigger for r in runs] == ["schedule", "manual"]
    # A run left 'running' by a worker that is no longer the leader blocks nothing.
    db.session.add(JobRun(job="slow", worker="gone", started_at=utcnow()))
    db.session.commit()
    assert client.post("/api/v1/jobs/slow/run", headers=operator_headers).status_code == 202


def test_jobs_cli(app, runner_cli=None):
    cli = app.test_cli_runner()
    runner.sync_jobs(job_specs(app))
    assert "detect-overdue" in cli.invoke(args=["jobs", "list"]).output
    assert cli.invoke(args=["jobs", "pause", "detect-overdue"]).exit_code == 0
    assert db.session.get(Job, "detect-overdue").paused is True
    assert cli.invoke(args=["jobs", "resume", "detect-overdue"]).exit_code == 0
    assert cli.invoke(args=["jobs", "run", "detect-overdue"]).exit_code == 0
    assert db.session.get(Job, "detect-overdue").run_requested_at is not None
    assert cli.invoke(args=["jobs", "run", "nope"]).exit_code != 0


LEASE = 5  # seconds; renewed every 2 s, so a busy machine does not lose it by accident


def _start_worker(database_url: str, tmp_path, name: str) -> subprocess.Popen:
    env = {**os.environ, "SUBSCRIBE_DATABASE_URL": database_url, "SUBSCRIBE_INSTANCE_PATH": str(tmp_path / name),
           "SUBSCRIBE_LEADER_LEASE_SECONDS": str(LEASE), "SUBSCRIBE_DEMO": "0", "SUBSCRIBE_LOG_LEVEL": "WARNING"}  # fmt: skip
    with open(tmp_path / f"{name}.log", "w") as log:  # the child keeps its own copy of the fd
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "subscribe", "worker"], env=env, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


def _wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()  # see other processes' commits
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_workers_one_leader_failover_and_run_now(app, database_url, tmp_path):
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers share one database only on PostgreSQL")
    workers = {name: _start_worker(database_url, tmp_path, name) for name in ("a", "b")}
    try:
        lease = _wait_for(
            lambda: db.session.get(Lease, runner.LEADER_LEASE), 120, "a leader"
        )  # slow start on a loaded machine
        first = lease.holder
        pids = {str(p.pid): name for name, p in workers.items()}
        leader_name = pids[first.rsplit(":", 1)[1]]
        _wait_for(
            lambda: db.session.scalar(select(JobRun).where(JobRun.job == "match-events")),
            20,
            "a run",
        )
        leaders_runs = {
            r.worker for r in db.session.scalars(select(JobRun).where(JobRun.job == "match-events"))
        }
        assert leaders_runs == {first}  # only the leader runs leader-only jobs
        everywhere = {
            r.worker
            for r in db.session.scalars(select(JobRun).where(JobRun.job == "update-search-index"))
        }
        assert first in everywhere

        # Run-now reaches the leader within seconds.
        db.session.get(Job, "detect-overdue").run_requested_at = utcnow()
        db.session.commit()
        _wait_for(lambda: db.session.scalar(select(JobRun).where(JobRun.job == "detect-overdue", JobRun.trigger == "manual")),
                  10, "the requested run")  # fmt: skip

        killed_at, killed_wall = time.monotonic(), utcnow()
        workers[leader_name].send_signal(signal.SIGKILL)
        try:
            new = _wait_for(lambda: (lease := db.session.get(Lease, runner.LEADER_LEASE)) and lease.holder != first and lease.holder,
                            20, "a new leader")  # fmt: skip
        except AssertionError as exc:  # rare under load: say what the survivor was doing
            survivor = next(name for name in workers if name != leader_name)
            raise AssertionError(f"{exc}; survivor alive: {workers[survivor].poll() is None}; its log:\n"
                                 + (tmp_path / f"{survivor}.log").read_text()[-4000:]) from exc  # fmt: skip
        took = time.monotonic() - killed_at
        # The lease must lapse, then the survivor's next renewal (every 2 s) takes it.
        assert took < LEASE + 2 + 4, f"failover took {took:.1f} s"
        print(f"\nfailover took {took:.1f} s")
        _wait_for(lambda: db.session.scalar(select(JobRun).where(JobRun.job == "match-events", JobRun.worker == new)),
                  10, "a run on the new leader")  # fmt: skip
        # No leader-only job ran twice at the same time.
        for job in ("match-events", "run-harvests", "enqueue-harvests"):
            runs = db.session.scalars(
                select(JobRun).where(JobRun.job == job).order_by(JobRun.started_at)
            ).all()
            # A run the kill cut short never finished: it ended at the kill.
            spans = [(r.started_at, r.finished_at or (killed_wall if r.worker == first else utcnow()))
                     for r in runs]  # fmt: skip
            overlaps = [(a, b) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]
            assert not overlaps, (job, overlaps)
    finally:
        for process in workers.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in workers.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_the_worker_hands_the_interpreter_lock_on_sooner():
    """Deliverer threads back from a socket wait 1 ms, not Python's 5 ms, while matching or
    the search follower compute (jobs/cli.py favour_waiting_threads)."""
    import sys

    from subscribe.jobs import cli

    before = sys.getswitchinterval()
    try:
        cli.favour_waiting_threads()
        assert sys.getswitchinterval() == pytest.approx(0.001) and before > 0.001
    finally:
        sys.setswitchinterval(before)


@pytest.mark.skipif(sys.platform != "linux", reason="thread priorities are Linux's")
def test_the_search_follower_runs_at_a_lower_priority_than_the_worker(app, monkeypatch):
    """Indexing is background work: a national first harvest on two cores waited for a
    core while the follower indexed it at the same priority. The follower runs on a thread
    of its own at FOLLOWER_NICE; the scheduler's thread that asked keeps its priority."""
    import threading

    from subscribe.jobs import jobs
    from subscribe.search import indexer

    seen = {}

    def record(store, leave_bursts=False):
        seen["leave_bursts"] = leave_bursts  # a harvest's burst is indexed after it
        seen["thread"] = threading.get_native_id()
        seen["nice"] = os.getpriority(os.PRIO_PROCESS, seen["thread"])
        seen["store"] = store
        return 7

    monkeypatch.setattr(indexer, "apply_changes", record)
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    with app.app_context():
        assert jobs.update_search_index() == 7
    assert seen["thread"] != threading.get_native_id()
    process = os.getpriority(os.PRIO_PROCESS, os.getpid())
    assert seen["nice"] == min(19, process + jobs.FOLLOWER_NICE)
    assert seen["store"] is not None and seen["leave_bursts"] is True
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


@pytest.mark.skipif(sys.platform != "linux", reason="thread priorities are Linux's")
def test_lowering_a_priority_is_relative_to_the_process_and_never_twice():
    """Work started from an already lowered thread (a segment writer from the follower) is
    not lowered twice; a larger step asked for is taken; steps count from the process's
    main thread (a worker an operator runs niced keeps the same order)."""
    import threading

    from subscribe.jobs.priority import lower_thread_priority

    seen = []

    def lower(first, second):
        me = threading.get_native_id()
        lower_thread_priority(first)
        lower_thread_priority(second)
        seen.append(os.getpriority(os.PRIO_PROCESS, me))

    base = os.getpriority(os.PRIO_PROCESS, os.getpid())  # pytest may run niced
    if base > 15:
        pytest.skip("no room below this process's priority (nice > 15) to lower threads")
    for first, second in ((3, 1), (1, 4)):
        thread = threading.Thread(target=lower, args=(first, second))
        thread.start()
        thread.join()
    assert seen == [base + 3, base + 4]
