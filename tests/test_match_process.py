"""The worker matches in a process of its own (scenarios/match_process.py), kept between
runs: it writes what in-process matching writes, wakes the worker's deliverer, and a
process killed mid-run loses nothing and doubles nothing (the next run starts another)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from subscribe.auth.services import create_user
from subscribe.catalog import services as catalog
from subscribe.catalog.models import CatalogEvent, Cursor
from subscribe.extensions import db
from subscribe.jobs import jobs
from subscribe.jobs.models import JobRun
from subscribe.notify.models import Delivery
from subscribe.notify.services import create_subscription
from subscribe.scenarios import services as scenarios
from subscribe.scenarios.match_process import MatchingFailed
from subscribe.scenarios.matching import CURSOR
from subscribe.scenarios.models import ScenarioEvent
from tests.catalog_helpers import serve_csv_rows
from tests.search_helpers import CHINESE_CSV, harvest

HEADER, *ROWS = CHINESE_CSV.read_text(encoding="utf-8").splitlines()
TRAFFIC = [row for row in ROWS if row.startswith("JT-")]


def serve(httpserver, rows: list[str]) -> str:
    return serve_csv_rows(httpserver, HEADER, rows)


@pytest.fixture
def in_child(app, database_url, tmp_path, monkeypatch):
    """Matching in the worker's matching process, which reads its settings from the
    environment as the worker's does; ended after the test."""
    app.config["SUBSCRIBE_MATCH_IN_CHILD"] = True
    monkeypatch.setenv("SUBSCRIBE_DATABASE_URL", database_url)
    monkeypatch.setenv("SUBSCRIBE_INSTANCE_PATH", str(tmp_path / "child"))
    monkeypatch.setenv("SUBSCRIBE_DEMO", "0")
    monkeypatch.setenv("SUBSCRIBE_MATCH_BATCH", "1")  # a batch per event
    yield
    jobs.stop_matcher()


@pytest.fixture
def changed_catalog(app, httpserver):
    """Traffic datasets harvested once (the starting state), a scenario with an inbox
    subscription, then every title edited and harvested: one catalog event each, pending."""
    user = create_user("analyst@example.org", "long password")
    url = serve(httpserver, TRAFFIC)
    source = catalog.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    harvest(source)
    scenario = scenarios.create_scenario(
        user, {"name": "交通", "q": "交通", "filters": {}, "include": [], "exclude": []}
    )
    create_subscription(user, {"scenario_id": scenario.id, "channel": "inbox",
                               "events": ["dataset.updated"], "cadence": "immediate",
                               "push": "alert"})  # fmt: skip
    jobs.match_events()  # the first harvest: starting state
    serve(httpserver, [row.replace("示例市", "示例市（修订）", 1) for row in TRAFFIC])
    harvest(source)
    return scenario


def _matched() -> tuple[int, int, int]:
    """(scenario events, deliveries, catalog events after the cursor)."""
    db.session.rollback()  # see the process's commits
    cursor = db.session.scalar(select(Cursor.value).where(Cursor.name == CURSOR)) or 0
    left = db.session.scalar(select(func.count()).where(CatalogEvent.id > cursor))
    return (
        db.session.scalar(select(func.count()).select_from(ScenarioEvent)),
        db.session.scalar(select(func.count()).select_from(Delivery)),
        left,
    )


def test_matching_in_its_process_writes_what_matching_here_writes(
    app, in_child, changed_catalog, monkeypatch
):
    woken = []
    monkeypatch.setattr(jobs.sender, "wake", lambda: woken.append(True))
    pending = len(TRAFFIC)
    assert jobs.match_events() == pending  # in the process: its own pid
    process = jobs.matcher.pid
    assert process is not None and process != os.getpid()
    events, deliveries, left = _matched()
    assert left == 0 and events == pending and deliveries == pending
    assert woken  # the deliverer here was told each time a batch queued deliveries
    assert {e.type for e in db.session.scalars(select(ScenarioEvent))} == {"dataset.updated"}
    assert jobs.match_events() == 0
    assert jobs.matcher.pid == process  # kept between runs (its percolator with it)


def test_a_process_killed_mid_run_loses_and_doubles_nothing(
    app, in_child, changed_catalog, database_url
):
    """Killed after its first batch committed, with the next one waiting on the
    database: that batch rolls back, the run fails, the next run (a new process)
    matches the rest exactly once."""
    blocker = create_engine(database_url)
    conn = blocker.connect()  # connected beforehand: the lock is taken at once
    held = []

    def kill_mid_run() -> None:
        if held:
            return
        # The process's next write waits on our lock, so the kill finds a batch open.
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.begin()
            conn.execute(text("LOCK TABLE scenario_events, cursors IN EXCLUSIVE MODE"))
        held.append(True)
        os.kill(jobs.matcher.pid, signal.SIGKILL)

    killed = None
    try:
        try:
            jobs.matcher.run(on_queued=kill_mid_run)
        except MatchingFailed as exc:
            killed = exc
    finally:
        conn.rollback()
        conn.close()
        blocker.dispose()
    assert held  # the first batch queued its delivery before the kill
    # As a rule the kill finds the next batch waiting for the lock (the run fails); on a
    # slow lock it may find the run already done: either way nothing may be lost or doubled.
    if killed is not None:
        assert "ended unexpectedly" in str(killed)
    else:  # the run ended before the kill took effect: the next run could find it alive yet
        _wait_for(lambda: jobs.matcher.pid is None, 30, "the killed process to end")
    jobs.match_events()  # a new process
    events, deliveries, left = _matched()
    assert left == 0 and events == len(TRAFFIC) and deliveries == len(TRAFFIC)
    pairs = db.session.execute(select(ScenarioEvent.scenario_id, ScenarioEvent.catalog_event_id))
    pairs = list(pairs)
    assert len(set(pairs)) == len(pairs)  # none twice


def test_a_stopping_worker_ends_the_run_after_a_batch(app, in_child, changed_catalog):
    """SIGTERM (the worker stopping): the run ends after the batch at hand and reports
    what it matched; the process exits; the next run (another process) does the rest."""
    first = jobs.matcher.pid

    def interrupt_again_and_again() -> None:
        # The worker signals on every queued batch, and its stop once more: SIGTERMs in a
        # row (one landing in the handler of another deadlocked the process on a
        # threading.Event's lock; a clean-clone CI run hung there).
        for _ in range(50):
            jobs.interrupt_matching()

    answer: dict = {}
    running = threading.Thread(
        target=lambda: answer.update(done=jobs.matcher.run(on_queued=interrupt_again_and_again)),
        daemon=True,
    )
    running.start()
    running.join(60)
    if running.is_alive():  # deadlocked: end it, and fail instead of hanging the suite
        os.kill(jobs.matcher.pid, signal.SIGKILL)
        running.join(30)
        pytest.fail("the matching process hung on SIGTERMs in a row")
    done = answer["done"]
    assert 1 <= done <= len(TRAFFIC)
    _wait_for(lambda: jobs.matcher.pid is None, 30, "the matching process to exit")
    assert jobs.match_events() == 0  # the worker is stopping: no run starts a process
    assert jobs.matcher.pid is None
    jobs.stop_matcher()  # stopped; a worker started again matches again
    assert jobs.match_events() == len(TRAFFIC) - done
    assert jobs.matcher.pid not in (None, first)
    events, deliveries, left = _matched()
    assert left == 0 and events == len(TRAFFIC) and deliveries == len(TRAFFIC)


def test_a_sigterm_between_runs_ends_the_process_at_once(app, in_child, changed_catalog):
    """The worker's stop (SIGTERM) landing after a run has replied, while the process
    waits on stdin for the next: it ends at once. It stayed blocked in the read, alive,
    and the worker's stop then waited on it (the suite under load saw it)."""
    assert jobs.match_events() == len(TRAFFIC)
    process = jobs.matcher._process
    assert jobs.matcher.pid is not None  # idle, between runs
    jobs.interrupt_matching()
    assert process.wait(timeout=30) == 0
    jobs.stop_matcher()  # a worker started again matches again
    assert jobs.match_events() == 0 and jobs.matcher.pid not in (None, process.pid)


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _is_matcher(pid: int) -> bool:
    try:
        return b"match_process" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def _wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_killed_worker_leaves_no_matching_process(app, database_url, tmp_path):
    env = {**os.environ, "SUBSCRIBE_DATABASE_URL": database_url,
           "SUBSCRIBE_INSTANCE_PATH": str(tmp_path / "worker"), "SUBSCRIBE_DEMO": "0",
           "SUBSCRIBE_LOG_LEVEL": "WARNING"}  # fmt: skip
    with open(tmp_path / "worker.log", "w") as log:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "subscribe", "worker"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        run = _wait_for(
            lambda: db.session.scalar(
                select(JobRun).where(JobRun.job == "match-events", JobRun.outcome == "succeeded")
            ),
            180,  # a loaded machine starts a worker slowly
            "a match-events run",
        )
        assert run.result == {"count": 0}
        [matcher] = [pid for pid in _children(worker.pid) if _is_matcher(pid)]
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        _wait_for(lambda: _gone(matcher), 30, "the matching process to end with the worker")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
