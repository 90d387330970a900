"""The worker's matching process, and the worker's handle on it (`MatcherProcess`)::

    python -m subscribe.scenarios.match_process --parent WORKER_PID

Why a process: matching a national first harvest (345,853 catalog events) is minutes of
Python CPU, and on the worker's threads it took turns on one interpreter lock with the
search follower indexing the same harvest (both ran at a fraction of a core). Here it has
a lock of its own.

Why one long-lived process rather than one per run: the `match-events` job runs every
few seconds, and each run of a fresh process would pay its start (the interpreter, the
app) and the percolator of every scenario (seconds for 100,000). The process keeps the
percolator between runs (`matching.PercolatorCache`, rebuilt only when scenarios change).

Protocol, one JSON object a line: the worker writes ``match`` to the process's stdin for
each run; the process matches every pending catalog event (`matching.match_all`), writes
``{"queued": true}`` after each batch that committed deliveries (the worker then wakes its
deliverer: `sender.wake`), and ends the run with ``{"done": N}`` (catalog events matched)
or ``{"error": TRACEBACK}`` (the batch rolled back; the process stays). A stopping worker
sends SIGTERM: the run ends after the batch at hand (the worker's stop does not wait out
a national backlog) and the process exits 0; so does end of stdin.

Faults: it dies with the worker (die_with_parent: PR_SET_PDEATHSIG). Each batch's scenario
events, deliveries and the cursor commit together, so a process killed mid-run loses only
its uncommitted batch, which the next run matches again: nothing lost, nothing twice. A
process that ends mid-run fails that job run in the worker; the next run starts a new one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable

log = logging.getLogger(__name__)
RUN = "match"


class MatchingFailed(RuntimeError):
    """A run failed in the matching process (the message holds its traceback), or the
    process ended during the run."""


class MatcherProcess:
    """The worker's matching process: started at the first run, kept between runs, started
    again when it ended. Thread-safe: runs are one at a time (a scheduled run and a
    run-now request may overlap). Linux only (PR_SET_PDEATHSIG)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._stopping = False

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def run(self, on_queued: Callable[[], object]) -> int:
        """One run: how many catalog events were matched. `on_queued` is called each time
        a batch committed deliveries. Raises MatchingFailed. Once the worker is stopping
        (`interrupt`), runs match nothing and start no process."""
        with self._lock:
            if self._stopping:
                return 0
            process = self._alive()
            try:
                process.stdin.write(RUN + "\n")
                process.stdin.flush()
            except (BrokenPipeError, OSError):
                return self._ended(process)
            for line in process.stdout:
                reply = json.loads(line)
                if "queued" in reply:
                    on_queued()
                elif "done" in reply:
                    return int(reply["done"])
                elif "error" in reply:
                    raise MatchingFailed(f"matching failed in its process:\n{reply['error']}")
            return self._ended(process)

    def interrupt(self) -> None:
        """The worker is stopping: a run going on ends after its current batch (SIGTERM),
        and no run starts after it (the scheduler may start one before it shuts down:
        it would find the process exiting and fail)."""
        self._stopping = True
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)

    def stop(self, seconds: float = 30.0) -> None:
        """End the process (its stdin closes: it exits between runs); kill it after
        `seconds`. Call when no run is going on (the worker stops its scheduler first).
        A later run starts a new process."""
        with self._lock:
            process, self._process, self._stopping = self._process, None, False
            if process is None:
                return
            try:
                process.stdin.close()
                process.wait(timeout=seconds)
            except (OSError, subprocess.TimeoutExpired):
                process.kill()
                process.wait()
            _close(process)

    def _alive(self) -> subprocess.Popen:
        process = self._process
        if process is not None and process.poll() is None:
            return process
        if process is not None:  # ended between runs (killed): say so, start another
            log.warning("matching process %s had ended (exit code %s); starting another",
                        process.pid, process.returncode)  # fmt: skip
            _close(process)
        argv = [sys.executable, "-m", "subscribe.scenarios.match_process",
                "--parent", str(os.getpid())]  # fmt: skip
        # The worker's environment, working directory and log (stderr); stdout is the replies.
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        return self._process

    def _ended(self, process: subprocess.Popen) -> int:
        code = process.wait()
        _close(process)
        self._process = None
        raise MatchingFailed(f"matching process ended unexpectedly (exit code {code})")


def _close(process: subprocess.Popen) -> None:
    """The pipes of an ended process (its stdin may hold an unsent, broken write)."""
    for pipe in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            pipe.close()


# --- the process itself ------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m subscribe.scenarios.match_process")
    parser.add_argument("--parent", type=int, required=True, help="the worker's pid: die with it")
    args = parser.parse_args(argv)
    from subscribe.catalog.harvest_process import die_with_parent

    die_with_parent(args.parent)  # before the imports: a worker killed meanwhile ends us too
    # Ctrl-C reaches the whole process group: the worker ends the run (SIGTERM), then stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Plain flags, not a threading.Event: a signal handler runs between two bytecodes of
    # the main thread, maybe inside Event.set, whose lock is not re-entrant. A second
    # SIGTERM landing there (the worker's interrupt, then its stop) deadlocked the
    # process on that lock (seen in a clean-clone CI run: the suite hung).
    stopping = [False]
    idle = [True]  # between runs, waiting on stdin for the next one

    def on_sigterm(_signum, _frame) -> None:
        """A run ends after its current batch; between runs, the process ends at once: a
        SIGTERM landing just after a run's reply left it blocked reading stdin, alive
        (the worker then waited on it; seen under load in the suite)."""
        stopping[0] = True
        if idle[0]:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print goes to the log

    from subscribe import create_matching_app
    from subscribe.extensions import db
    from subscribe.jobs.memory import trim_heap
    from subscribe.scenarios import matching

    def reply(message: dict) -> None:
        replies.write(json.dumps(message) + "\n")

    app = create_matching_app()  # settings, logging, the database; search for suggestions
    for line in sys.stdin:
        if line.strip() != RUN:
            continue
        idle[0] = False
        with app.app_context():
            try:
                done = matching.match_all(
                    on_queued=lambda: reply({"queued": True}), stop=lambda: stopping[0]
                )
                reply({"done": done})
            except Exception:  # the batch rolled back; the worker records the failed run
                log.exception("matching failed")
                db.session.rollback()
                reply({"error": traceback.format_exc()[-20_000:]})
            finally:
                db.session.remove()
                idle[0] = True
        if stopping[0]:  # the worker stops (or someone else stopped us): end here
            break
        trim_heap(force=True)  # a national run's batches: given back, not kept idle
    return 0


if __name__ == "__main__":
    sys.exit(main())
