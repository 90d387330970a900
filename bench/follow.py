"""Benchmark: the search follower in-process over a tabular harvest's rows.

The demo catalog's 开放目录 CSV (bench/national.py's file, generated once into bench/out/)
is harvested in this process into a fresh SQLite database by the checked-out code (so
the stored text is what that code stores), then the follower (`indexer.apply_changes`)
indexes every row into a fresh index, as the worker does after a national first
harvest. Prints the follower's docs/s and docs per CPU-second of this process and its
segment writer processes (the machine is shared: compare CPU, alternate A/B runs), and
the indexed text's size, so two versions of the code can be compared on their own data.

    nice -n 10 .venv/bin/python bench/follow.py [--records 50000] [--rounds 1]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flask_migrate import upgrade
from national import export_files
from procs import serve_file
from sqlalchemy import func, select

from subscribe import create_app
from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run, harvest_process_gc
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.search import indexer
from subscribe.search.service import get_service

TARGET = 5_000  # docs/s (issue 15)


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (parallel segment writers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=1, help="follows from scratch, each timed")
    args = parser.parse_args()

    first_file, _changed, _edited = export_files(args.records, 0.01)
    workdir, server, url = serve_file(first_file, "bench-follow-")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir / 'bench.db'}",
                      "INSTANCE_PATH": str(workdir),
                      "SUBSCRIBE_OUTBOUND_ALLOWLIST": ["127.0.0.1"]})  # the loopback server  # fmt: skip
    results = []
    try:
        with app.app_context():
            upgrade()
            source = services.create_source("bench", "tabular", url)
            run = services.queue_harvest(source)
            claim_run(run.id)
            with harvest_process_gc():
                run = execute_run(run)
            created = run.created
            text = db.session.scalar(
                select(func.sum(func.length(Dataset.title) + func.length(Dataset.description)))
            )
            db.session.commit()
            store = get_service().store
            for _ in range(args.rounds):
                store.swap(store.create_new())
                started, cpu = time.perf_counter(), cpu_seconds()
                done = indexer.apply_changes(store)
                results.append((time.perf_counter() - started, cpu_seconds() - cpu, done))
                db.session.rollback()
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nfollower from scratch over a tabular harvest: {created:,} datasets "
          f"({text:,} characters of title + description), load {os.getloadavg()[0]:.1f}")  # fmt: skip
    for wall, cpu, done in results:
        print(f"  {done:,} docs  {wall:6.1f} s wall {done / wall:6.0f} docs/s   {cpu:6.1f} CPU-s "
              f"{done / cpu:6.0f} docs/CPU-s   target >= {TARGET} docs/s")  # fmt: skip


if __name__ == "__main__":
    main()
