"""Benchmark: a tabular (开放目录 CSV) harvest in-process: first harvest, then 1 % edited.

The export is the demo catalog's CSV (bench/national.py's files, generated once into
bench/out/), served by `python -m http.server` in its own process; the harvest runs in
this one into a fresh SQLite database (or SUBSCRIBE_DATABASE_URL). Prints records/s by
wall clock and per CPU-second of this process (the machine is shared), with the
targets beside them, and the peak RSS.

    nice -n 10 .venv/bin/python bench/harvest_tabular.py [--records 20000] [--profile out.prof]

`--add-id` gives the second file a new id column (资源编号), as a portal that starts
publishing ids does: the identity scheme changes, so the run carries the stored
identities over (tabular_carry) instead of deleting and creating every dataset; what
that costs beside the usual re-harvest.

`--move-origin` gives the second file the first one's rows with every URL moved from
http://demo-portal.invalid to https://data.example.cn (a portal going https on a new
host; origins.py): every identity (the landing page) and fingerprint changes, the rows
are carried by title and publisher and settled as one origin move, without events.

`--profile out.prof` writes a cProfile of each harvest (out.prof.first, out.prof.second;
read with `python -m pstats`).
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import os
import resource
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flask_migrate import upgrade
from national import export_files
from procs import postgres_cpu, serve_file

from subscribe import create_app
from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run, harvest_process_gc

TARGETS = {"first": 5_000, "unchanged": 20_000}  # records/s (issue 16)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_harvest(source, profiler: cProfile.Profile | None):
    run = services.queue_harvest(source)
    claim_run(run.id)
    database = local_postgres()
    server = postgres_cpu(database) if database else (0.0, 0.0)
    wall, cpu = time.perf_counter(), cpu_seconds()
    if profiler:
        profiler.enable()
    with harvest_process_gc():  # as in the worker's harvest process (harvest_process)
        run = execute_run(run)
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    if database:
        after = postgres_cpu(database)
        print(f"  PostgreSQL CPU-s during the run: this database's backends "
              f"{after[0] - server[0]:.1f}, the server's own processes {after[1] - server[1]:.1f}"
              f" (this process {cpu:.1f}, {wall:.1f} s wall)", flush=True)  # fmt: skip
    counts = {name: getattr(run, name) for name in ("status", "created", "updated", "unchanged",
                                                   "bad", "error")}  # fmt: skip
    for move in (run.mapping_report or {}).get("origin_moves", []):
        print(f"  origin moved: {move['from']} -> {move['to']}, {move['datasets']:,} datasets",
              flush=True)  # fmt: skip
    return counts, wall, cpu


def local_postgres() -> str | None:
    """The database's name when SUBSCRIBE_DATABASE_URL is on the local PostgreSQL server
    (its backends' CPU is read from /proc), else None."""
    url = os.environ.get("SUBSCRIBE_DATABASE_URL") or ""
    return url.rsplit("/", 1)[1] if url.startswith("postgresql") and "@127.0.0.1:" in url else None


def with_id(source: Path, target: Path) -> None:
    """The export with a first column 资源编号 of unique ids (ZY00000001 …)."""
    with (
        source.open(encoding="utf-8-sig", newline="") as src,
        target.open("w", encoding="utf-8-sig", newline="") as dst,
    ):
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(["资源编号", *next(reader)])
        for n, row in enumerate(reader, 1):
            writer.writerow([f"ZY{n:08d}", *row])


def with_origin_moved(source: Path, target: Path) -> None:
    """The export with every URL on http://demo-portal.invalid moved to
    https://data.example.cn, nothing else changed."""
    text = source.read_text(encoding="utf-8-sig")
    target.write_text(text.replace("http://demo-portal.invalid/", "https://data.example.cn/"),
                      encoding="utf-8-sig")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--add-id", action="store_true",
                        help="the second file gains an id column (identity scheme change)")  # fmt: skip
    parser.add_argument("--move-origin", action="store_true",
                        help="the second file is the first with every URL's origin moved")  # fmt: skip
    parser.add_argument("--profile", help="write a cProfile of the harvests to this file")
    parser.add_argument("--first-only", action="store_true", help="the first harvest alone")
    args = parser.parse_args()

    first_file, changed_file, edited = export_files(args.records, args.changed)
    workdir, server, url = serve_file(first_file, "bench-tabular-")
    database = os.environ.get("SUBSCRIBE_DATABASE_URL") or f"sqlite:///{workdir / 'bench.db'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database,
            "INSTANCE_PATH": str(workdir),
            "SUBSCRIBE_OUTBOUND_ALLOWLIST": ["127.0.0.1"],
        }
    )  # the loopback server
    try:
        with app.app_context():
            upgrade()
            source = services.create_source("bench", "tabular", url)
            # CPU time, not wall: the machine is shared, and waiting for a core is not our cost.
            profilers = [cProfile.Profile(time.process_time) if args.profile else None
                         for _ in range(2)]  # fmt: skip
            first = timed_harvest(source, profilers[0])
            if args.first_only:
                print_runs(args, edited, [("first harvest", "first", first)])
                return
            if args.add_id:
                with_id(changed_file, workdir / "export.csv")
            elif args.move_origin:
                with_origin_moved(first_file, workdir / "export.csv")
            else:
                shutil.copy(changed_file, workdir / "export.csv")
            second = timed_harvest(source, profilers[1])
            # The same file again: the identities stay carried (read every run) while
            # every row's fingerprint is known again.
            third = timed_harvest(source, None) if args.add_id or args.move_origin else None
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)
    if args.profile:
        profilers[0].dump_stats(f"{args.profile}.first")
        profilers[1].dump_stats(f"{args.profile}.second")

    runs = [("first harvest", "first", first),
            ("re-harvest, every URL's origin moved" if args.move_origin else
             f"re-harvest, {edited} edited" + (", id added" if args.add_id else ""), "unchanged",
             second)]  # fmt: skip
    if third:
        runs.append(("same file again", "unchanged", third))
    print_runs(args, edited, runs)


def print_runs(args, edited: int, runs: list) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    backend = (os.environ.get("SUBSCRIBE_DATABASE_URL") or "sqlite").split(":", 1)[0]
    print(f"\ntabular harvest: {args.records:,} rows of the 开放目录 CSV into {backend}")
    for label, key, (run, wall, cpu) in runs:
        total = run["created"] + run["updated"] + run["unchanged"] + run["bad"]
        rate, per_cpu = total / wall, total / cpu if cpu else 0.0
        verdict = "OK" if rate >= TARGETS[key] else "MISSED"
        print(
            f"  {label:<34} {rate:8,.0f} rec/s wall  {per_cpu:8,.0f} per CPU-s  "
            f"({wall:.1f} s wall, {cpu:.1f} CPU-s; created {run['created']:,} "
            f"updated {run['updated']:,} unchanged {run['unchanged']:,} bad {run['bad']}; "
            f"{run['status']} {run['error'] or ''})   target >= {TARGETS[key]:,}  {verdict}"
        )
    print(f"  peak RSS                 {peak:8.0f} MB")


if __name__ == "__main__":
    main()
