"""Benchmark: the whole chain at national scale, through the real processes.

A national catalog export (the demo catalog's 开放目录 CSV, 345,853 rows by default,
generated once into bench/out/) is served by `python -m http.server`; the worker and the
web run as `make run` starts them (`flask --app subscribe worker`, `gunicorn wsgi:app`).
Then, timed from the database's own records:

1. first harvest of the export (records/s; worker RSS; /readyz sampled all along);
2. fully searchable: the search index has applied every change (seconds after 1.);
3. 100,000 scenarios (bulk-inserted as bench/detect.py makes them), 1,000 of them
   subscribed by webhook to a local receiver;
4. 1 % of the rows changed (title edited) and re-harvested: records/s of a run that is
   99 % unchanged rows;
5. events: seconds from the re-harvest's end until matching has written every scenario
   event; deliveries: each webhook's wait from queued to delivered (p50/p95/max; the
   sender's throughput on a backlog is bench/deliver.py's figure).

Each figure is printed beside its target, with the scale and database it was measured at.
The machine is shared: rates are also given per CPU-second of the worker (with its
harvest process: `flask worker` runs each harvest in a child process of its own), and per
CPU-second of that harvest process alone (the worker's threads index and match meanwhile).

    nice -n 10 .venv/bin/python bench/national.py [--records 345853] [--scenarios 100000]
        [--database sqlite|postgresql|<url>]

What the rest of the chain costs a harvest: `--first-only` stops after the first harvest,
`--pause JOB` pauses a worker job all through (update-search-index: the follower;
match-events: matching), `--no-web` runs no gunicorn, `--py-spy FILE` records the harvest
process. Each harvest prints the CPU seconds each part took while it ran, the harvest
process's /proc io, (SQLite) the write-ahead log's size and checkpoints, sampled, and
(PostgreSQL on 127.0.0.1) the server's CPU seconds: the harvest process's backends, the
other backends (follower, matching, web), the server's own processes (read from /proc).

`postgresql` creates a database on postgresql://postgres@127.0.0.1:5432 and drops it after.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_db import OUT, SEED
from detect import scenario_rows
from flask_migrate import upgrade
from procs import (
    children,
    cpu_seconds,
    free_port,
    is_harvest,
    is_matcher,
    local_ports,
    postgres_processes,
    private_mb,
    rss_mb,
    wait_for,
)
from sqlalchemy import func, insert, select

from subscribe import create_app
from subscribe.auth.services import create_user
from subscribe.catalog import services as catalog
from subscribe.catalog.models import CatalogEvent, Cursor, HarvestRun
from subscribe.demo.catalog import DemoCatalog
from subscribe.demo.changes import ChangeFeed
from subscribe.demo.exports import catalog_csv
from subscribe.extensions import db
from subscribe.jobs import services as job_services
from subscribe.notify.models import Delivery, Subscription
from subscribe.notify.services import create_endpoint
from subscribe.scenarios.matching import CURSOR
from subscribe.scenarios.models import Scenario, ScenarioEvent

ROOT = Path(__file__).resolve().parent.parent
NATIONAL = 345_853
TARGETS = {
    "first": 5_000,  # records/s
    "unchanged": 20_000,  # records/s of a 99 %-unchanged re-harvest
    "worker_rss": 400,  # MB
    "web_rss": 300,  # MB
    "delivery_p95": 2.0,  # s from queued to delivered (bench/deliver.py's latency target)
}


# --- the export files --------------------------------------------------------------------


def export_files(records: int, changed: float) -> tuple[Path, Path, int]:
    """national-N.csv and national-N-changed.csv (every 1/changed-th row's title edited)."""
    OUT.mkdir(exist_ok=True)
    first, second = OUT / f"national-{records}.csv", OUT / f"national-{records}-changed.csv"
    step = max(1, round(1 / changed))
    if not second.exists():
        started = time.perf_counter()
        catalog = DemoCatalog(size=records, seed=SEED)
        partial = first.with_suffix(".part")
        with partial.open("w", encoding="utf-8", newline="") as out:
            for chunk in catalog_csv(catalog, ChangeFeed(catalog, tick_seconds=0)):
                out.write(chunk)
        partial.rename(first)
        with (
            first.open(encoding="utf-8-sig", newline="") as src,
            second.open("w", encoding="utf-8-sig", newline="") as dst,
        ):
            reader, writer = csv.reader(src), csv.writer(dst)
            header = next(reader)
            writer.writerow(header)
            title = header.index("资源名称") if "资源名称" in header else 0
            for n, row in enumerate(reader):
                if n % step == 0:
                    row[title] += "（修订）"
                writer.writerow(row)
        print(f"generated {first.name} and its 1 % edit in {time.perf_counter() - started:.0f} s")
    return first, second, len(range(0, records, step))


# --- processes ---------------------------------------------------------------------------


class Receiver(ThreadingHTTPServer):
    """Answers every webhook 204 at once and counts them, over keep-alive connections
    (HTTP/1.1) as webhook receivers commonly answer: over HTTP/1.0 every webhook cost a
    new connection and a new thread here, CPU this process takes from the two cores the
    worker's sender is measured on."""

    daemon_threads = True

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # a 204 has no body: the connection stays open

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(204)
                self.end_headers()
                with receiver.lock:
                    receiver.count += 1

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class Stack:
    """The worker, the web (gunicorn) and the export file server, as `make run` runs them."""

    def __init__(self, database: str, workdir: Path, web: bool = True):
        self.env = {**os.environ, "SUBSCRIBE_DATABASE_URL": database,
                    "SUBSCRIBE_INSTANCE_PATH": str(workdir / "instance"), "SUBSCRIBE_DEMO": "0",
                    "SUBSCRIBE_OUTBOUND_ALLOWLIST": "127.0.0.1", "SUBSCRIBE_LOG_LEVEL": "WARNING"}  # fmt: skip
        self.workdir = workdir
        # A database on the local PostgreSQL server: its name (its backends' titles hold
        # it), so a harvest's server CPU can be read from /proc beside the processes'.
        self.postgres = (
            database.rsplit("/", 1)[1]
            if database.startswith("postgresql") and "@127.0.0.1:" in database
            else None
        )
        self.port, self.files_port = free_port(), free_port()
        flask = [sys.executable, "-m", "flask", "--app", "subscribe"]
        self.procs = {
            "files": self._start("files", [sys.executable, "-m", "http.server", str(self.files_port),
                                           "--bind", "127.0.0.1", "--directory", str(OUT)]),
            "worker": self._start("worker", [*flask, "worker"]),
        }  # fmt: skip
        if web:
            self.procs["web"] = self._start("web", [sys.executable, "-m", "gunicorn", "wsgi:app",
                                                    "--bind", f"127.0.0.1:{self.port}", "--workers",
                                                    "2", "--threads", "4"])  # fmt: skip
        self.url = f"http://127.0.0.1:{self.port}"
        # SQLite's write-ahead log, sampled with the rest (wal_sample): frames, checkpoints.
        self.wal = (
            Path(database.removeprefix("sqlite:///") + "-wal")
            if database.startswith("sqlite:///")
            else None
        )
        self.wal_samples: list[tuple[float, int, int, int, int]] = []
        self.harvest_io: dict = {}
        try:
            if web:
                wait_for(f"{self.url}/healthz", self.procs["web"], seconds=600)  # a loaded machine
        except SystemExit:
            self.stop()
            raise
        self.peak = {
            "worker": 0.0,
            "web": 0.0,
            "harvest": 0.0,
            "writers": 0.0,
            "matcher": 0.0,
            "worker+matcher": 0.0,
            "all": 0.0,
        }
        self.not_ready: list[dict] = []
        self.samples = 0
        # Readiness is sampled from the moment the worker leads (it starts slowly on a
        # loaded machine; before that /readyz rightly says there is no leader).
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not self._leading():
            time.sleep(1.0)

    def _leading(self) -> bool:
        if "web" not in self.procs:  # no /readyz to ask: the lease row itself
            engine = sa.create_engine(self.env["SUBSCRIBE_DATABASE_URL"])
            try:
                with engine.connect() as conn:
                    return bool(conn.execute(sa.text(
                        "SELECT count(*) FROM leases WHERE name = 'scheduler' AND expires_at > :now"),
                        {"now": datetime.now(UTC).replace(tzinfo=None)}).scalar())  # fmt: skip
            except sa.exc.OperationalError:
                return False
            finally:
                engine.dispose()
        try:
            body = requests.get(f"{self.url}/readyz", timeout=30).json()
        except requests.RequestException:
            return False
        return body["checks"].get("scheduler_leader", {}).get("ok", False)

    def _start(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "w")  # noqa: SIM115 (kept open for the child)
        return subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log, stderr=log)

    def file_url(self, path: Path) -> str:
        return f"http://127.0.0.1:{self.files_port}/{path.name}"

    def web_pids(self) -> list[int]:
        return children(self.procs["web"].pid) if "web" in self.procs else []

    def sample(self) -> None:
        """Memory of the worker and of each web worker; /readyz."""
        worker = rss_mb(self.procs["worker"].pid)
        self.peak["worker"] = max(self.peak["worker"], worker)
        # Its children: the harvest process while it runs, its matching process, and the
        # search index's segment writers (forked from the worker for a large backlog:
        # their own memory only).
        writers = harvest = matcher = 0.0
        for pid in children(self.procs["worker"].pid):
            if is_harvest(pid):
                harvest += rss_mb(pid)
            elif is_matcher(pid):
                matcher += rss_mb(pid)
            else:
                writers += private_mb(pid)
        for key, value in (
            ("harvest", harvest),
            ("matcher", matcher),
            ("writers", writers),
            ("worker+matcher", worker + matcher),
            ("all", worker + matcher + harvest + writers),
        ):
            self.peak[key] = max(self.peak[key], value)
        self.wal_sample()
        if "web" not in self.procs:
            return
        for pid in self.web_pids():
            self.peak["web"] = max(self.peak["web"], rss_mb(pid))
        try:
            response = requests.get(f"{self.url}/readyz", timeout=30)
            self.samples += 1
            if response.status_code != 200:
                checks = response.json()["checks"]
                self.not_ready.append({k: v for k, v in checks.items() if not v["ok"]})
        except requests.RequestException as exc:
            self.not_ready.append({"request": str(exc)})

    def wal_sample(self) -> None:
        """The write-ahead log now: (time, file bytes, frames in it, frames checkpointed
        into the database, checkpoint sequence: +1 each time the log restarts from its
        start), from its header and the wal-index (-shm) header (sqlite's wal.c layout)."""
        if self.wal is None:
            return
        try:
            size = self.wal.stat().st_size
            with self.wal.open("rb") as f:
                header = f.read(32)
            with Path(str(self.wal)[:-4] + "-shm").open("rb") as f:
                shm = f.read(136)
        except FileNotFoundError:
            return
        sequence = int.from_bytes(header[12:16], "big") if len(header) == 32 else 0
        frames = int.from_bytes(shm[16:20], "little") if len(shm) >= 20 else 0
        backfilled = int.from_bytes(shm[96:100], "little") if len(shm) >= 100 else 0
        self.wal_samples.append((time.monotonic(), size, frames, backfilled, sequence))

    def wal_summary(self, since: float = 0.0) -> str:
        samples = [s for s in self.wal_samples if s[0] >= since]
        if not samples:
            return "WAL: not sampled"
        frames = [s[2] for s in samples]
        behind = [s[2] - s[3] for s in samples]
        return (f"WAL: file {max(s[1] for s in samples) / 2**20:,.0f} MB peak; frames in the log "
                f"max {max(frames):,}, mean {sum(frames) / len(frames):,.0f}; frames not yet "
                f"checkpointed max {max(behind):,}, mean {sum(behind) / len(behind):,.0f}; "
                f"{samples[-1][4] - samples[0][4]} log restarts in {len(samples)} samples")  # fmt: skip

    def cpu_by_part(self) -> dict[str, float]:
        """CPU seconds so far of each part: the worker's own threads (follower, matching
        runs' share, deliveries, scheduler), its children but matching (harvest processes
        and the follower's segment writers), its matching process, the web's processes,
        and this benchmark (its /readyz samples and polls)."""
        worker = self.procs["worker"].pid
        web = self.procs.get("web")
        return {
            "worker": cpu_seconds(worker),
            "children": self.children_cpu(),
            "matcher": self.matcher_cpu(),
            "web": (cpu_seconds(web.pid, reaped=True) + sum(map(cpu_seconds, self.web_pids())))
            if web
            else 0.0,
            "bench": cpu_seconds(os.getpid()),
        }

    def worker_cpu(self) -> float:
        """CPU seconds of the worker and of its harvest processes, running or ended."""
        worker = self.procs["worker"].pid
        return cpu_seconds(worker, reaped=True) + sum(map(cpu_seconds, children(worker)))

    def children_cpu(self) -> float:
        """CPU seconds of the worker's children but its matching process, running or
        ended: the harvest processes and the search follower's segment writers together
        (reaped children are only counted together: `HarvestWatch` tells them apart)."""
        worker = self.procs["worker"].pid
        return cpu_seconds(worker, reaped=True, own=False) + sum(
            cpu_seconds(pid) for pid in children(worker) if not is_matcher(pid)
        )

    def matcher_cpu(self) -> float:
        """CPU seconds of the worker's matching process so far (0 when there is none)."""
        worker = self.procs["worker"].pid
        return sum(cpu_seconds(pid) for pid in children(worker) if is_matcher(pid))

    def harvest_process_ended(self) -> bool:
        # Only the harvest process: segment writers forked by a follower behind (a loaded
        # machine) may outlive the harvest by minutes.
        return not any(is_harvest(pid) for pid in children(self.procs["worker"].pid))

    def stop(self) -> None:
        for process in self.procs.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.procs.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


# --- the chain ---------------------------------------------------------------------------


def wait(condition, stack: Stack, seconds: float = 7200):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()
        found = condition()
        if found:
            return found
        stack.sample()
        time.sleep(1.0)
    raise SystemExit("timed out; see the logs in the work folder")


class HarvestWatch(threading.Thread):
    """Polls the worker's harvest process every 0.1 s while a run goes on: its own CPU
    seconds (the last reading before it exits: within 0.1 s) and /proc io counters. The
    worker's reaped-children CPU mixes it with the search follower's segment writers,
    which the worker forks and reaps while the harvest runs (at 150,000 rows they were
    a third of that figure)."""

    def __init__(self, stack: Stack):
        super().__init__(daemon=True)
        self.stack, self.cpu, self.io = stack, {}, {}
        self.done = threading.Event()
        # A local PostgreSQL server's processes (pid -> [kind, CPU-s at the first reading,
        # the last]): the harvest process's backends (found by its sockets' ports in their
        # titles), the other backends, and the server's own (WAL writer, checkpointer …).
        self.server: dict[int, list] = {} if stack.postgres else None
        self.harvest_ports: set[int] = set()

    def run(self) -> None:
        worker = self.stack.procs["worker"].pid
        polls = 0
        while not self.done.is_set():
            for pid in children(worker):
                if is_harvest(pid):
                    self.io[pid] = process_io(pid) or self.io.get(pid, {})
                    self.cpu[pid] = max(self.cpu.get(pid, 0.0), cpu_seconds(pid))
                    if polls % 10 == 0 and self.server is not None:
                        self.harvest_ports |= local_ports(pid)
            if self.server is not None:
                self.server_sample(first=polls == 0, listed=polls % 10 == 0)
            polls += 1
            time.sleep(0.1)

    def server_sample(self, first: bool, listed: bool) -> None:
        """Each known server process's CPU-s; with ``listed``, the processes listed again
        (every second: listing /proc is most of a poll's cost, and backends come and go
        with their connections, rarely)."""
        database = self.stack.postgres
        if listed:
            for pid, title in postgres_processes().items():
                if not title.startswith("postgres:") or f" {database} " not in title:
                    kind = "server"
                elif any(f"({port})" in title for port in self.harvest_ports):
                    kind = "harvest"
                else:
                    kind = "other"
                found = self.server.setdefault(pid, [kind, cpu_seconds(pid) if first else 0.0, 0.0])
                if kind == "harvest":
                    found[0] = kind
        for found_pid, found in self.server.items():
            found[2] = max(found[2], cpu_seconds(found_pid), found[1])

    def seconds(self) -> float:
        return sum(self.cpu.values())

    def server_seconds(self) -> dict[str, float]:
        """CPU-s of the PostgreSQL server's processes while the run went on, by kind."""
        found = {"harvest": 0.0, "other": 0.0, "server": 0.0}
        for kind, start, last in (self.server or {}).values():
            found[kind] += last - start
        return found


def harvest(source, stack: Stack, py_spy: str | None = None) -> tuple[HarvestRun, float, float]:
    """Queue a run for the worker; the run, the worker's CPU seconds it took (with its
    harvest process and the follower's segment writers) and those of the harvest process
    alone. With `py_spy`, a py-spy record of the harvest process (raw collapsed stacks)
    goes to that file."""
    watch, since = HarvestWatch(stack), time.monotonic()
    watch.start()
    run_id = catalog.queue_harvest(source).id
    wait(lambda: db.session.get(HarvestRun, run_id).status == "running", stack, 120)
    cpu, parts = stack.worker_cpu(), stack.cpu_by_part()
    if py_spy:
        pids = wait(lambda: [p for p in children(stack.procs["worker"].pid) if is_harvest(p)],
                    stack, 60)  # fmt: skip
        subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid",
                          str(pids[0]), "--format", "raw", "--rate", "50", "--nonblocking",
                          "--output", py_spy], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    run = wait(
        lambda: (r := db.session.get(HarvestRun, run_id)).status in ("succeeded", "failed") and r,
        stack,
    )
    if run.status != "succeeded":
        raise SystemExit(f"harvest failed: {run.error}")
    wait(stack.harvest_process_ended, stack, 60)  # its CPU is counted once it is reaped
    watch.done.set()
    watch.join()
    stack.harvest_io = next(iter(watch.io.values()), {})
    parts = {k: v - parts[k] for k, v in stack.cpu_by_part().items()}
    parts["children"] -= watch.seconds()
    print(f"  CPU-s during the run: harvest process {watch.seconds():.1f}, "
          + ", ".join(f"{k} {v:.1f}" for k, v in parts.items())
          + " (children: the follower's segment writers)", flush=True)  # fmt: skip
    if watch.server is not None:
        server = watch.server_seconds()
        print(f"  PostgreSQL CPU-s during the run: the harvest process's backends "
              f"{server['harvest']:.1f}, other backends {server['other']:.1f}, the server's own "
              f"processes (WAL writer, checkpointer, …) {server['server']:.1f}", flush=True)  # fmt: skip
    print(f"  during the run: {stack.wal_summary(since)}; harvest process /proc io and switches "
          f"{stack.harvest_io}", flush=True)  # fmt: skip
    return run, stack.worker_cpu() - cpu, watch.seconds()


def searchable(stack: Stack, seconds: float) -> bool:
    """Whether the search index applied every change within `seconds`."""

    def caught_up() -> bool:
        body = requests.get(f"{stack.url}/readyz", timeout=30).json()
        detail = body["checks"]["search_index"]["detail"]
        return isinstance(detail, dict) and detail.get("index") and detail["lag"] == 0

    try:
        wait(caught_up, stack, seconds)
    except SystemExit:
        return False
    return True


def matched_all(stack: Stack) -> None:
    def done() -> bool:
        last = db.session.scalar(select(func.max(CatalogEvent.id))) or 0
        cursor = db.session.scalar(select(Cursor.value).where(Cursor.name == CURSOR))
        return (cursor or 0) >= last

    wait(done, stack)


def delivered_all(stack: Stack) -> None:
    wait(
        lambda: (
            not db.session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.status.in_(("pending", "delivering")))
            )
        ),
        stack,
    )


def process_io(pid: int) -> dict:
    """A process's /proc io counters (syscalls, bytes) and context switches, or {}."""
    try:
        io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return {}
    found = {k: int(io[k]) for k in ("rchar", "wchar", "syscr", "syscw")}
    found["cpu_s"] = round(cpu_seconds(pid), 2)
    try:  # seconds on a core, and runnable but waiting for one (the scheduler's own count)
        on_cpu, waiting, _slices = Path(f"/proc/{pid}/schedstat").read_text().split()
        found["sched_run_s"], found["sched_wait_s"] = int(on_cpu) / 1e9, int(waiting) / 1e9
    except (FileNotFoundError, ProcessLookupError, ValueError):
        pass
    for line in status:
        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
            key, value = line.split(":")
            found[key.split("_")[0]] = int(value)
    return found


def seconds_between(a, b) -> float:
    return (b - a).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=NATIONAL)
    parser.add_argument("--scenarios", type=int, default=100_000)
    parser.add_argument("--subscribed", type=int, default=1_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--database", default="sqlite", help="sqlite, postgresql or a URL")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument(
        "--search-wait",
        type=float,
        default=900.0,
        help="seconds to wait for the search index to catch up",
    )
    parser.add_argument("--pause", action="append", default=[], metavar="JOB",
                        help="pause this worker job all through (repeatable: update-search-index, "
                             "match-events, deliver, …): what it costs the harvest")  # fmt: skip
    parser.add_argument("--no-web", action="store_true",
                        help="no gunicorn (nor /readyz samples): what the web's reads cost "
                             "the harvest; with --first-only")  # fmt: skip
    parser.add_argument(
        "--first-only",
        action="store_true",
        help="stop after the first harvest (an A/B of the harvest alone)",
    )
    parser.add_argument("--py-spy", metavar="FILE",
                        help="py-spy record the first harvest's process into FILE (raw "
                             "collapsed stacks, CPU samples only)")  # fmt: skip
    args = parser.parse_args()
    if args.no_web and not args.first_only:
        parser.error("--no-web needs --first-only (the rest of the chain reads /readyz)")
    # Stopped (timeout, kill): still stop the worker and web and drop the database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    first_file, changed_file, edited = export_files(args.records, args.changed)
    workdir = Path(tempfile.mkdtemp(prefix="bench-national-"))
    database, drop = database_url(args.database, workdir)
    # The receiver is on loopback: endpoints are checked against the allow-list at creation.
    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "INSTANCE_PATH": str(workdir / "instance"),
                      "SUBSCRIBE_OUTBOUND_ALLOWLIST": ["127.0.0.1"]})  # fmt: skip
    with app.app_context():
        upgrade()
        db.engine.dispose()
    stack = Stack(database, workdir, web=not args.no_web)
    receiver = Receiver()
    figures = {}
    try:
        with app.app_context():
            for name in args.pause:
                job_services.set_paused(name, True)
            source = catalog.create_source("national", "tabular", stack.file_url(first_file))
            run, cpu, child = harvest(source, stack, args.py_spy)
            took = seconds_between(run.started_at, run.finished_at)
            figures["first"] = (run.created / took, run.created / cpu, took, run.created, run.bad,
                                run.created / child)  # fmt: skip
            figures["harvest_io"] = dict(stack.harvest_io)
            progress("first", args, edited, figures, stack)
            if args.first_only:
                return
            started = time.perf_counter()
            done = searchable(stack, args.search_wait)
            figures["searchable"] = (time.perf_counter() - started) if done else None
            figures["search"] = search_check(stack)
            figures["rss_after_first"] = dict(stack.peak)
            progress("searchable", args, edited, figures, stack)
            matched_all(stack)

            user = create_user("national@example.org", "bench password")
            rng = random.Random(SEED)
            db.session.execute(insert(Scenario), scenario_rows(rng, user.id, args.scenarios))
            endpoint = create_endpoint(user, receiver.url)
            ids = db.session.scalars(
                select(Scenario.id).order_by(Scenario.id).limit(args.subscribed)
            )
            db.session.execute(
                insert(Subscription),
                [{"user_id": user.id, "scenario_id": sid, "channel": "webhook",
                  "endpoint_id": endpoint.id, "events": ["dataset.created", "dataset.updated",
                  "dataset.deleted"], "cadence": "immediate", "push": "alert"} for sid in ids],
            )  # fmt: skip
            db.session.commit()

            catalog.update_source(source, {"url": stack.file_url(changed_file)})
            run, cpu, child = harvest(source, stack)
            took = seconds_between(run.started_at, run.finished_at)
            seen = run.created + run.updated + run.unchanged
            figures["second"] = (
                seen / took,
                seen / cpu,
                took,
                run.updated,
                run.unchanged,
                run.created,
                seen / child,
            )
            progress("second", args, edited, figures, stack)
            finished = run.finished_at
            matched_all(stack)
            last_event = db.session.scalar(select(func.max(ScenarioEvent.created_at)))
            # Matching keeps up batch by batch: most events are written while the run goes on.
            events = db.session.scalar(
                select(func.count()).select_from(ScenarioEvent)
                .where(ScenarioEvent.created_at >= run.started_at)
            )  # fmt: skip
            figures["events"] = (
                seconds_between(finished, last_event) if last_event else 0.0,
                events,
            )
            progress("events", args, edited, figures, stack)
            delivered_all(stack)
            # Webhooks are queued at matching's pace all through the re-harvest, so their
            # count over that span measures the harvest, not the sender (bench/deliver.py
            # measures its throughput on a backlog): here each one's wait is the figure.
            waits = sorted(
                seconds_between(queued, delivered)
                for queued, delivered in db.session.execute(
                    select(Delivery.created_at, Delivery.delivered_at)
                    .where(Delivery.status == "succeeded")
                )
            )  # fmt: skip
            figures["deliveries"] = (len(waits), waits)
            figures["received"] = receiver.count
            progress("deliveries", args, edited, figures, stack)
            stack.sample()
            figures["rss_end"] = {
                "worker": rss_mb(stack.procs["worker"].pid),
                "web": max((rss_mb(p) for p in stack.web_pids()), default=0.0),
            }
            figures["peak"] = dict(stack.peak)
            figures["cpu_end"] = {"worker": stack.worker_cpu(), "harvest": stack.children_cpu(),
                                  "matcher": stack.matcher_cpu()}  # fmt: skip
            db.session.remove()
            db.engine.dispose()
    finally:
        stack.stop()
        receiver.shutdown()
        drop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report(args, database, edited, figures, stack)


def database_url(choice: str, workdir: Path):
    if choice == "sqlite":
        return f"sqlite:///{workdir / 'subscribe.db'}", lambda: None
    if choice != "postgresql":
        return choice, lambda: None
    admin_url = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    name = f"national_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", drop


def search_check(stack: Stack) -> tuple[int, int, float]:
    """A search through the web API: its total, how many datasets it says are still
    being indexed (the web's reader may still be the one before while the new warms)
    and its time (ms)."""
    started = time.perf_counter()
    try:  # a loaded machine answered after 60 s: the figure, not the end of the bench
        body = requests.get(f"{stack.url}/api/v1/datasets", params={"q": "公交"},
                            timeout=600).json()  # fmt: skip
    except requests.RequestException:
        body = {"total": -1}
    took = (time.perf_counter() - started) * 1000
    return body.get("total", 0), body.get("indexing") or 0, took


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def line(key: str, args, edited: int, f: dict, stack: Stack) -> str:
    """One figure beside its target (``f[key]`` measured)."""
    if key == "first":
        rate, per_cpu, took, created, bad, per_child = f["first"]
        return (f"  first harvest          {rate:9,.0f} rec/s  ({per_cpu:,.0f} per worker CPU-s, {per_child:,.0f} per "
                f"harvest-process CPU-s; {created:,} created, "
                f"{bad} bad, {took:.0f} s)   target >= {TARGETS['first']:,}  {verdict(rate >= TARGETS['first'])}")  # fmt: skip
    if key == "searchable":
        total, indexing, ms = f["search"]
        after = (f"{f['searchable']:9.1f} s" if f["searchable"] is not None
                 else f"not within {args.search_wait:.0f} s")  # fmt: skip
        return f"  fully searchable       {after} after the harvest; '公交' finds {total:,}, {indexing:,} still indexing ({ms:.0f} ms)"
    if key == "second":
        rate, per_cpu, took, updated, unchanged, created, per_child = f["second"]
        return (f"  re-harvest, {edited:,} edited {rate:9,.0f} rec/s  ({per_cpu:,.0f} per worker CPU-s, {per_child:,.0f} "
                f"per harvest-process CPU-s; {updated:,} updated, "
                f"{unchanged:,} unchanged, {took:.0f} s)   target >= {TARGETS['unchanged']:,}  "
                f"{verdict(rate >= TARGETS['unchanged'])}")  # fmt: skip
    if key == "events":
        seconds, events = f["events"]
        return (f"  events                 {events:9,} scenario events since the re-harvest began, the last "
                f"{seconds:.1f} s after its end")  # fmt: skip
    if key == "deliveries":
        count, waits = f["deliveries"]
        p50, p95 = (waits[int(q * (count - 1))] if count else 0.0 for q in (0.5, 0.95))
        return (f"  deliveries             {count:9,} webhooks ({f['received']:,} received), queued -> delivered "
                f"p50 {p50:.2f} s, p95 {p95:.2f} s, max {waits[-1] if waits else 0:.2f} s   "
                f"target p95 <= {TARGETS['delivery_p95']:.0f} s  {verdict(p95 <= TARGETS['delivery_p95'])}"
                f"   (throughput: bench/deliver.py)")  # fmt: skip
    if key == "worker":
        peak = f["peak"]
        return (f"  worker RSS             {peak['worker']:9.0f} MB peak ({f['rss_end']['worker']:.0f} MB at the end)   "
                f"target <= {TARGETS['worker_rss']}  {verdict(peak['worker'] <= TARGETS['worker_rss'])}\n"
                f"  harvest process RSS    {peak['harvest']:9.0f} MB peak (the worker's child while a harvest runs; "
                f"not in the worker's figure)\n"
                f"  index writers private  {peak['writers']:9.0f} MB peak (segment writers forked by the worker for "
                f"a large backlog, together; not in the worker's figure)\n"
                f"  matching process RSS   {peak['matcher']:9.0f} MB peak (the worker's long-lived child; not in "
                f"the worker's figure); worker + matching {peak['worker+matcher']:.0f} MB peak, worker and all "
                f"its processes {peak['all']:.0f} MB peak (sampled together)\n"
                f"  CPU-s at the end       worker {f['cpu_end']['worker']:.0f} (with its processes), harvest "
                f"processes and index segment writers {f['cpu_end']['harvest']:.0f}, matching process {f['cpu_end']['matcher']:.0f}")  # fmt: skip
    if key == "web":
        peak = f["peak"]
        return (f"  web RSS (per worker)   {peak['web']:9.0f} MB peak ({f['rss_end']['web']:.0f} MB at the end)   "
                f"target <= {TARGETS['web_rss']}  {verdict(peak['web'] <= TARGETS['web_rss'])}")  # fmt: skip
    return (f"  /readyz                {stack.samples - len(stack.not_ready):,} of {stack.samples:,} samples ready"
            + (f"; not ready: {stack.not_ready[:3]}" if stack.not_ready else ""))  # fmt: skip


def progress(key: str, args, edited: int, f: dict, stack: Stack) -> None:
    """Print a figure as soon as it is measured (a long run stopped midway keeps them),
    with the peak RSS so far and the machine's load."""
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print(f"[{time.strftime('%H:%M:%S')} load {load}; peak RSS worker {stack.peak['worker']:.0f} MB, "
          f"matching process {stack.peak['matcher']:.0f} MB, web {stack.peak['web']:.0f} MB]", flush=True)  # fmt: skip
    print(line(key, args, edited, f, stack), flush=True)


def report(args, database: str, edited: int, f: dict, stack: Stack) -> None:
    backend = database.split(":", 1)[0].split("+")[0]
    print(f"\nnational chain: {args.records:,} records, {args.scenarios:,} scenarios "
          f"({args.subscribed:,} subscribed by webhook), {backend}, {os.cpu_count()} cores shared")  # fmt: skip
    for key in ("first", "searchable", "second", "events", "deliveries", "worker", "web", "readyz"):
        print(line(key, args, edited, f, stack))
    print(f"  load average at the end: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
