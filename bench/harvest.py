"""Benchmark: harvest a generated 345,853-dataset catalog from a local CKAN-compatible portal.

Prints datasets/s and memory (RSS at checkpoints and peak) with the targets beside them.
The portal runs in its own process (the demo portal with a lazy catalog of N datasets),
the harvest in this one, into a fresh SQLite database (or SUBSCRIBE_DATABASE_URL).

    .venv/bin/python bench/harvest.py [--size 345853]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flask_migrate import upgrade
from procs import free_port, wait_for

from subscribe import create_app
from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run

TARGET_RATE = 5000  # datasets/s into SQLite (issue 16)
CHINA_2023_TOTAL = 345_853


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_portal(size: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    argv = [sys.executable, "-m", "flask", "--app", "subscribe", "demo", "portal",
            "--port", str(port), "--size", str(size), "--tick", "1000000"]  # fmt: skip
    portal = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/api/3/action/status_show", portal)
    return portal, url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=CHINA_2023_TOTAL)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-harvest-"))
    database = os.environ.get("SUBSCRIBE_DATABASE_URL") or f"sqlite:///{workdir / 'bench.db'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database,
            "INSTANCE_PATH": str(workdir),
            "SUBSCRIBE_OUTBOUND_ALLOWLIST": ["127.0.0.1"],
        }
    )  # the loopback server
    portal, url = start_portal(args.size)
    checkpoints: list[tuple[int, float, float]] = []
    seen = 0
    try:
        with app.app_context():
            upgrade()
            source = services.create_source("bench", "ckan", url)
            run = services.queue_harvest(source)
            claim_run(run.id)
            started = time.perf_counter()

            def on_record() -> None:
                nonlocal seen
                seen += 1
                if seen % max(1, args.size // 10) == 0:
                    checkpoints.append((seen, time.perf_counter() - started, rss_mb()))

            run = execute_run(run, on_record=on_record)
            elapsed = time.perf_counter() - started
    finally:
        portal.terminate()
        portal.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = run.created / elapsed if elapsed else 0.0
    backend = database.split(":", 1)[0]
    print(
        f"\nharvest benchmark: {args.size:,} datasets from a local CKAN-compatible portal into {backend}"
    )
    print(
        f"  run status          {run.status}  created {run.created:,}  bad {run.bad}  error {run.error}"
    )
    print(f"  elapsed             {elapsed:8.1f} s")
    print(f"  throughput          {rate:8.0f} datasets/s   target >= {TARGET_RATE:,} datasets/s   "
          f"{'OK' if rate >= TARGET_RATE else 'BELOW TARGET'}")  # fmt: skip
    print("  RSS while harvesting (memory must stay flat, not grow with the catalog):")
    for count, at, rss in checkpoints:
        print(f"    after {count:>9,} datasets  {at:7.1f} s  RSS {rss:7.1f} MB")
    print(f"  peak RSS            {peak:8.1f} MB")


if __name__ == "__main__":
    main()
