"""Chaos: SIGKILL the delivery worker process again and again while 2,000 webhooks go out.

A real `flask --app subscribe deliver` subprocess (two at once on PostgreSQL, one on
SQLite as the design supports) sends to a real receiver on loopback that counts every
webhook-id it gets. Whatever the kills interrupt (a claim, a send, the commit of the
results), every message must arrive at least once and every delivery row must end up
`succeeded`. Duplicates are allowed (at-least-once) and reported.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, update
from werkzeug import Request, Response
from werkzeug.exceptions import ClientDisconnected
from werkzeug.serving import WSGIRequestHandler, make_server

from subscribe.auth.services import create_user
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify import payloads
from subscribe.notify.models import Delivery
from subscribe.notify.services import create_endpoint
from subscribe.notify.ssrf import OutboundPolicy

ROOT = Path(__file__).resolve().parent.parent
MESSAGES = 2000
ENDPOINTS = 5
KILLS = 5  # SIGKILLs that must land while there is still work (the loop kills until then)
# Seconds for the whole test; past it the test fails, it never hangs (generous: CI machines
# are shared, and make test runs another test process beside it; 106 s seen under load 8).
TIME_LIMIT = 300.0
RECEIVER_DELAY = 0.01  # seconds per request: keeps the workers from finishing between kills
LEASE_SECONDS = 2  # a killed worker's claims lapse after this (SUBSCRIBE_DELIVERY_LEASE_SECONDS)


class CountingReceiver:
    """A threaded werkzeug server on loopback: answers 200, counts every webhook-id."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ids: set[str] = set()
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.server = make_server(
            "127.0.0.1", 0, self.wsgi, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wsgi(self, environ, start_response):
        request = Request(environ)
        try:
            request.get_data()  # only a whole request counts
        except ClientDisconnected:  # the sender was SIGKILLed mid-request
            return Response("", status=400)(environ, start_response)
        message_id = request.headers.get("webhook-id", "")
        time.sleep(RECEIVER_DELAY)
        with self.lock:
            self.ids.add(message_id)
            self.counts[message_id] += 1
            self.total += 1
        return Response("ok", status=200)(environ, start_response)

    def received(self) -> int:
        with self.lock:
            return self.total

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # thousands of lines otherwise
        pass


def queue_deliveries(receiver_url: str) -> set[str]:
    """MESSAGES due webhook deliveries spread over ENDPOINTS endpoints of one receiver."""
    user = create_user("chaos@example.org", "long password")
    allowed = OutboundPolicy(["127.0.0.1"])  # as the workers' allow-list says
    endpoints = [create_endpoint(user, f"{receiver_url}/hook/{n}", policy=allowed)
                 for n in range(ENDPOINTS)]  # fmt: skip
    now, rows = utcnow(), []
    for n in range(MESSAGES):
        message_id = payloads.new_message_id()
        body = payloads.message(message_id, "dataset.updated", now, "http://x", dataset_id=n + 1,
                                snapshot={"title": f"数据 {n}"}, version=2, changes=[{"kind": "content"}])  # fmt: skip
        rows.append({
            "message_id": message_id, "user_id": user.id, "endpoint_id": endpoints[n % ENDPOINTS].id,
            "channel": "webhook", "event_type": "dataset.updated", "payload": body,
            "status": "pending", "attempts": 0, "next_attempt_at": now - timedelta(seconds=1),
            "created_at": now,
        })  # fmt: skip
    db.session.execute(insert(Delivery), rows)
    db.session.commit()
    return {row["message_id"] for row in rows}


def statuses() -> dict[str, int]:
    # A fresh connection per look: a long-held SQLite read transaction would see a stale snapshot.
    with db.engine.connect() as conn:
        return dict(
            conn.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )


class Workers:
    """`python -m flask --app subscribe deliver` subprocesses; every one is killed in the end."""

    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.env = {
            **os.environ,
            "SUBSCRIBE_DATABASE_URL": database_url,
            "SUBSCRIBE_INSTANCE_PATH": str(tmp_path / "worker-instance"),
            "SUBSCRIBE_OUTBOUND_ALLOWLIST": "127.0.0.1",
            "SUBSCRIBE_DELIVERY_LEASE_SECONDS": str(LEASE_SECONDS),
            "SUBSCRIBE_DELIVERY_POLL_SECONDS": "0.2",
            # Small batches, two threads, a receiver taking RECEIVER_DELAY per request: a
            # worker sends at most ~200/s, so at least KILLS kills land while there is work
            # left — in a claim, a send or the commit of the results.
            "SUBSCRIBE_DELIVERY_BATCH": "50",
            "SUBSCRIBE_DELIVERY_THREADS": "2",
            "SUBSCRIBE_LOG_LEVEL": "WARNING",
        }
        self.log_path = tmp_path / "workers.log"
        self.log = self.log_path.open("ab")
        self.running: list[subprocess.Popen] = []
        self.started = 0

    def start(self, count: int) -> None:
        for _ in range(count):
            argv = [sys.executable, "-m", "flask", "--app", "subscribe", "deliver"]
            self.running.append(
                subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log)
            )
            self.started += 1

    def crashed(self) -> list[int]:
        """Exit codes of workers that stopped on their own (they should not)."""
        return [p.returncode for p in self.running if p.poll() is not None]

    def kill_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
        for process in self.running:
            process.wait(timeout=10)
        self.running = []

    def stop_all(self) -> None:
        """SIGTERM: the loop finishes its round and exits; SIGKILL if it does not."""
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self.running = []

    def log_tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def close(self) -> None:
        self.kill_all()
        self.log.close()


def test_sigkilled_workers_lose_no_webhook(app, database_url, tmp_path):
    deadline = time.monotonic() + TIME_LIMIT
    postgres = db.engine.dialect.name == "postgresql"
    per_round = 2 if postgres else 1  # SKIP LOCKED shares the queue; SQLite runs one worker
    lease_knob = "SUBSCRIBE_DELIVERY_LEASE_SECONDS" in app.config
    receiver = CountingReceiver()
    workers = Workers(database_url, tmp_path)
    kills_with_work_left = 0
    try:
        expected = queue_deliveries(receiver.url)

        def check_time(doing: str) -> None:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"over {TIME_LIMIT:.0f} s while {doing}: rows {statuses()}, "
                    f"received {receiver.received()} ({len(receiver.ids & expected)} distinct), "
                    f"workers started {workers.started}\n--- worker log ---\n{workers.log_tail()}"
                )

        while kills_with_work_left < KILLS:
            if statuses().get("succeeded", 0) == MESSAGES:
                break  # all delivered before KILLS kills: the assertion below reports it
            before = receiver.received()
            workers.start(per_round)
            # Starting takes over a second (imports, app); kill 0.3–0.8 s after the workers
            # begin sending, so every kill lands in the middle of the work, not in the imports.
            while receiver.received() == before and statuses().get("succeeded", 0) < MESSAGES:
                check_time("waiting for a restarted worker to send")
                assert not workers.crashed(), workers.log_tail()
                time.sleep(0.02)
            time.sleep(random.uniform(0.3, 0.8))
            assert not workers.crashed(), f"a worker exited by itself\n{workers.log_tail()}"
            workers.kill_all()
            left = statuses()
            kills_with_work_left += left.get("succeeded", 0) < MESSAGES
            if not lease_knob:
                # No lease setting to shorten: simulate the 120 s lease passing for the dead
                # workers' claims (no worker is alive now, so no live claim is touched).
                db.session.execute(
                    update(Delivery)
                    .where(Delivery.status == "delivering")
                    .values(claimed_until=utcnow() - timedelta(seconds=1))
                )
                db.session.commit()

        # The last run(s) go to completion: killed claims lapse (LEASE_SECONDS) and are resent.
        workers.start(per_round)
        while (left := statuses()).get("succeeded", 0) < MESSAGES:
            check_time("waiting for the last run to deliver everything")
            assert not workers.crashed(), f"a worker exited by itself\n{workers.log_tail()}"
            assert not left.get("failed"), f"deliveries failed: {left}\n{workers.log_tail()}"
            time.sleep(0.1)
        workers.stop_all()
    finally:
        workers.close()
        receiver.close()

    rows = statuses()
    missing = expected - receiver.ids
    duplicates = {i: n for i, n in receiver.counts.items() if n > 1}
    report = (
        f"{'postgresql, 2 workers' if postgres else 'sqlite, 1 worker'} per run; "
        f"{workers.started} processes started, {kills_with_work_left} SIGKILLs with work left; "
        f"received {receiver.total} requests for {len(receiver.ids & expected)} of {MESSAGES} ids; "
        f"{len(duplicates)} ids arrived more than once ({sum(duplicates.values()) - len(duplicates)} "
        f"extra requests; allowed: at-least-once); rows {rows}"
    )
    print(report)
    assert kills_with_work_left >= KILLS, report
    assert not missing, f"{len(missing)} ids never arrived, e.g. {sorted(missing)[:5]}; {report}"
    assert receiver.ids <= expected, f"unknown ids arrived; {report}"
    assert rows == {"succeeded": MESSAGES}, report
