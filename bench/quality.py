"""Benchmark: the quality job (完整性/及时性/准确性) over a national-size catalog.

Writes a synthetic catalog straight into the tables (bulk Core inserts; seeded, so the
same every time; kept in bench/out/quality-<size>/ on SQLite): datasets with the
metadata gaps real catalogs have (publisher, themes, keywords, license, contact point,
frequency missing in different shares; a second source that publishes no contact points
at all), 0–3 resources each (some without format or with an ftp URL; 60% checked, 5% of
those failing), and a CSV schema change for 1% of datasets.

Then runs the job three times, each in a fresh child process whose wall time and peak
RSS (VmHWM) are measured: the first run (every dataset written), a second run the same
day (idempotent: nothing to write), and the next day's run (timeliness blends into the
history). Memory flat: the same three runs over a catalog a tenth the size — the peak
should not grow with the catalog (the job holds one chunk of ids at a time).

    .venv/bin/python bench/quality.py [--size 345853] [--database postgresql://…]

Targets (issue 18): ≤ 60 s for 345,853 datasets; memory flat.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import wait_peak_rss_mb

ROOT = Path(__file__).resolve().parent
OUT = ROOT / "out"
TARGET_SECONDS = 60
SEED = 18
NOW = datetime(2026, 11, 30, 6, 0)
FREQUENCIES = ("daily", "weekly", "monthly", "monthly", "quarterly", "yearly", "yearly",
               "irregular", "unknown", "unknown")  # fmt: skip


def _app(database: str, workdir: Path):
    from subscribe import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": database, "INSTANCE_PATH": str(workdir)})


def build(database: str, workdir: Path, size: int) -> float:
    """Write the synthetic catalog (migrated from empty); returns seconds taken."""
    from flask_migrate import upgrade
    from sqlalchemy import insert

    from subscribe.catalog.models import CatalogEvent, Dataset, Resource, Source
    from subscribe.demo.vocab import DEPARTMENTS, REGIONS, THEMES
    from subscribe.extensions import db

    started = time.perf_counter()
    rng = random.Random(SEED)
    with _app(database, workdir).app_context():
        upgrade()
        db.session.execute(insert(Source), [
            {"id": 1, "name": "city", "type": "ckan", "url": "http://city.example"},
            {"id": 2, "name": "county", "type": "tabular", "url": "http://county.example/c.csv"},
        ])  # fmt: skip
        subjects = [(d.name, s.title) for d in DEPARTMENTS for s in d.subjects]
        themes = [t[0] for t in THEMES]
        regions = [r[0] for r in REGIONS]
        batch, resources, events = [], [], []
        resource_id = 0
        for i in range(1, size + 1):
            publisher, title = rng.choice(subjects)
            title = title.replace("{Y}", str(rng.randint(2015, 2025))).replace(
                "{R}", rng.choice(regions)
            )
            county = i % 10 == 0
            age = timedelta(days=rng.expovariate(1 / 200))
            precision = rng.choice(("day", "day", "datetime", "month", "year"))
            modified = (NOW - age).replace(microsecond=0)
            if precision in ("day", "month", "year"):
                modified = modified.replace(hour=0, minute=0, second=0)
            if precision in ("month", "year"):
                modified = modified.replace(day=1)
            if precision == "year":
                modified = modified.replace(month=1)
            batch.append({
                "id": i, "source_id": 2 if county else 1, "identifier": f"d{i}", "title": f"{title}（{i}）",
                "description": "" if rng.random() < 0.15 else f"{title}，由{publisher}发布，包含{rng.choice(regions)}相关记录。",
                "publisher": "" if rng.random() < 0.05 else publisher,
                "themes": [] if rng.random() < 0.2 else [rng.choice(themes)],
                "keywords": [] if rng.random() < 0.3 else [title[:4], rng.choice(regions)],
                "formats": ["CSV"], "license": "" if rng.random() < 0.4 else "CC-BY-4.0",
                "contact_point": "" if county or rng.random() < 0.5 else "data@example.gov.cn",
                "frequency": rng.choice(FREQUENCIES), "modified": None if rng.random() < 0.05 else modified,
                "modified_precision": precision, "content_hash": f"{i:064x}", "version": 1,
                "change_seq": i, "created_at": NOW, "updated_at": NOW,
            })  # fmt: skip
            for position in range(rng.choice((0, 1, 1, 2, 2, 3, 3, 3, 2, 1))):
                resource_id += 1
                checked = rng.random() < 0.6
                failing = checked and rng.random() < 0.05
                resources.append({
                    "id": resource_id, "dataset_id": i, "position": position, "name": f"文件{position}",
                    "format": "" if rng.random() < 0.1 else "CSV",
                    "url": f"{'ftp' if rng.random() < 0.03 else 'https'}://data.example.gov.cn/{i}/{position}.csv",
                    "checked_at": NOW - timedelta(hours=3) if checked else None,
                    "failures": rng.randint(1, 4) if failing else 0, "unavailable": failing and rng.random() < 0.5,
                })  # fmt: skip
            if rng.random() < 0.01:
                events.append({"dataset_id": i, "type": "dataset.updated", "version": 1,
                               "changes": [{"kind": "schema", "resource_id": resource_id, "url": "…"}],
                               "created_at": NOW - timedelta(days=rng.randint(0, 120))})  # fmt: skip
            if len(batch) >= 10_000 or i == size:
                db.session.execute(insert(Dataset), batch)
                if resources:
                    db.session.execute(insert(Resource), resources)
                if events:
                    db.session.execute(insert(CatalogEvent), events)
                db.session.commit()
                batch, resources, events = [], [], []
        db.engine.dispose()
    return time.perf_counter() - started


def _has_catalog(database: str, workdir: Path, size: int) -> bool:
    """A PostgreSQL database given again: reuse a catalog of this size written before
    (its quality tables emptied)."""
    from sqlalchemy import func, inspect, select

    from subscribe.catalog.models import Dataset
    from subscribe.extensions import db
    from subscribe.quality.models import QualityHistory, QualityScore

    with _app(database, workdir).app_context():
        found = "datasets" in inspect(db.engine).get_table_names() and db.session.scalar(
            select(func.count()).select_from(Dataset)
        )
        if found == size:  # scores of an earlier bench go: the first run is a first run
            db.session.execute(QualityHistory.__table__.delete())
            db.session.execute(QualityScore.__table__.delete())
            db.session.commit()
        db.engine.dispose()
    return found == size


def catalog(size: int, database: str | None) -> tuple[str, Path]:
    """A database holding the synthetic catalog: built once per size on SQLite."""
    workdir = OUT / f"quality-{size}"
    if database is None:
        database = f"sqlite:///{workdir / 'catalog.db'}"
        if (workdir / "complete").exists():
            _has_catalog(database, workdir, size)  # empties the quality tables
            return database, workdir
        shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    if _has_catalog(database, workdir, size):
        print("  the database already holds the catalog: reused", flush=True)
        return database, workdir
    seconds = build(database, workdir, size)
    print(f"  built {size:,} datasets in {seconds:.0f} s", flush=True)
    if database.startswith("sqlite"):
        (workdir / "complete").write_text(f"{size} datasets in {seconds:.0f} s\n")
    return database, workdir


def child(database: str, workdir: str, now: str) -> None:
    """One job run in this process; prints its figures as JSON (the parent adds RSS)."""
    from subscribe.extensions import db
    from subscribe.quality.job import run_quality

    app = _app(database, Path(workdir))
    with app.app_context():
        started = time.perf_counter()
        summary = run_quality(now=datetime.fromisoformat(now))
        summary["wall"] = time.perf_counter() - started
        db.engine.dispose()
    print(json.dumps(summary))


def run_job(database: str, workdir: Path, now: datetime) -> dict:
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", "--database", database, "--workdir", str(workdir),
         "--now", now.isoformat()],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    peak = wait_peak_rss_mb(process, 0.05)
    figures = json.loads(process.stdout.read().strip().splitlines()[-1])
    figures["peak_rss_mb"] = peak
    return figures


def measure(size: int, database: str | None) -> list[dict]:
    database, workdir = catalog(size, database)
    runs = []
    for label, now in (("first run", NOW), ("same day again", NOW + timedelta(hours=2)),
                       ("next day", NOW + timedelta(days=1))):  # fmt: skip
        figures = run_job(database, workdir, now)
        figures["label"] = label
        runs.append(figures)
        print(f"  {size:>8,} datasets · {label:<15} {figures['wall']:6.1f} s  "
              f"peak RSS {figures['peak_rss_mb']:6.0f} MB  written {figures['written']:,}  "
              f"history rows {figures['history']:,}", flush=True)  # fmt: skip
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=345_853)
    parser.add_argument("--database", help="a PostgreSQL URL (the catalog is written into it)")
    parser.add_argument("--no-compare", action="store_true", help="skip the size/10 memory run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.database, args.workdir, args.now)
        return
    print(f"quality job, {args.size:,} datasets ({'PostgreSQL' if args.database else 'SQLite'})")
    full = measure(args.size, args.database)
    small = None
    if not args.no_compare and not args.database:
        print(f"memory check: the same runs over {args.size // 10:,} datasets")
        small = measure(args.size // 10, None)
    worst = max(r["wall"] for r in full)
    print()
    print(
        f"time   : slowest run {worst:.1f} s  (target ≤ {TARGET_SECONDS} s)  "
        f"{'met' if worst <= TARGET_SECONDS else 'MISSED'}"
    )
    peak = max(r["peak_rss_mb"] for r in full)
    if small:
        small_peak = max(r["peak_rss_mb"] for r in small)
        print(
            f"memory : peak RSS {peak:.0f} MB at {args.size:,} vs {small_peak:.0f} MB at "
            f"{args.size // 10:,} (target: flat, i.e. not growing with the catalog)"
        )
    else:
        print(f"memory : peak RSS {peak:.0f} MB")
    print("(shared 2-core machine: wall times include other people's load)")


if __name__ == "__main__":
    main()
