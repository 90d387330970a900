"""The process the worker runs a harvest in (catalog/harvest.run_claimed starts it)::

    python -m subscribe.catalog.harvest_process RUN_ID --parent WORKER_PID

It builds the harvest app (``subscribe.create_harvest_app``: the environment's settings
and the database), not the whole service: the API schemas, pages, commands, demo
catalog and bundles were most of the 1.5-2.6 s such a process took to start, for
nothing a harvest uses. It dies with the worker (die_with_parent, first of all) and
exits 0 once the run is recorded (succeeded or failed); 2 when the run is not a claimed,
running one. Any other exit makes the worker fail the run.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Have the kernel SIGKILL this process when its parent dies (Linux); exit now if
    the parent is already gone. Run first thing in a harvest process."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m subscribe.catalog.harvest_process")
    parser.add_argument("run_id", type=int)
    parser.add_argument("--parent", type=int, required=True, help="the worker's pid: die with it")
    args = parser.parse_args(argv)
    die_with_parent(args.parent)  # before the imports: a worker killed meanwhile ends us too

    from subscribe import create_harvest_app
    from subscribe.catalog.harvest import execute_run, harvest_process_gc
    from subscribe.catalog.models import HarvestRun
    from subscribe.extensions import db

    with create_harvest_app().app_context():
        run = db.session.get(HarvestRun, args.run_id)
        if run is None or run.status != "running":
            print(f"run {args.run_id} is not a claimed, running run", file=sys.stderr)
            return 2
        with harvest_process_gc():
            execute_run(run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
