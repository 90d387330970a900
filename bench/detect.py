"""Benchmark: matching 1% changed datasets against 100,000 scenarios (345,853 datasets).

Builds the generated catalog (bench/out/), creates the scenarios, changes 1% of the
datasets through the real catalog writer (versions and catalog events, as a harvest
writes them), then times matching until every scenario event is written. Compares with
running every scenario's query (estimated from a sample), and prints the targets.

    .venv/bin/python bench/detect.py [--size 345853] [--scenarios 100000] [--changed 0.01]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_db import SEED, bench_app, catalog_dir
from sqlalchemy import delete, func, insert, select

from subscribe.auth.models import User
from subscribe.auth.services import create_user
from subscribe.catalog import services as catalog
from subscribe.catalog.harvest import claim_run
from subscribe.catalog.models import CatalogEvent, Cursor, Dataset, DatasetVersion
from subscribe.catalog.records import DatasetRecord, ResourceRecord
from subscribe.catalog.writer import CatalogWriter
from subscribe.demo.vocab import DEPARTMENTS, REGIONS
from subscribe.extensions import db
from subscribe.scenarios.matching import PercolatorCache, match_pending_events, spec_of
from subscribe.scenarios.models import Scenario, ScenarioEvent
from subscribe.search import indexer
from subscribe.search.service import get_service

TARGET_SECONDS = 10
TARGET_SPEEDUP = 100


def scenario_rows(rng: random.Random, user_id: int, count: int) -> list[dict]:
    """Custom scenarios as people make them: a subject word narrowed by a place, a year or
    a department (each has a few hundred members among 345,853 datasets)."""
    keywords = sorted({k for d in DEPARTMENTS for s in d.subjects for k in s.keywords})
    publishers = [d.name for d in DEPARTMENTS]
    regions = [r[0] for r in REGIONS[1:]]
    rows = []
    for n in range(count):
        q, filters = rng.choice(keywords), {}
        narrow = rng.random()
        if narrow < 0.6:
            q += " " + rng.choice(regions)
        elif narrow < 0.8:
            q += f" {rng.randint(2015, 2024)}年"
        else:
            filters["publisher"] = [rng.choice(publishers)]
        if rng.random() < 0.2:
            filters["open_type"] = ["unconditional"]
        rows.append({"user_id": user_id, "name": f"s{n}", "description": "", "q": q, "filters": filters,
                     "include": [], "exclude": []})  # fmt: skip
    return rows


def edited(snapshot: dict, rng: random.Random) -> DatasetRecord:
    """The dataset as a new harvest would see it: a title or description edit."""
    data = dict(snapshot)
    resources = [ResourceRecord(**r) for r in data.pop("resources", [])]
    if rng.random() < 0.5:
        data["title"] = data["title"] + rng.choice(["（更新）", " 公交", " 空气质量", " 修订版"])
    else:
        data["description"] = (data.get("description") or "") + " 本次更新补充了数据字段说明。"
    for key in ("issued", "modified"):
        if data.get(key):
            data[key] = __import__("datetime").datetime.fromisoformat(data[key])
    return DatasetRecord(**data, resources=resources)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=345_853)
    parser.add_argument("--scenarios", type=int, default=100_000)
    parser.add_argument("--changed", type=float, default=0.01)
    parser.add_argument("--brute-sample", type=int, default=200)
    parser.add_argument("--profile", action="store_true", help="print where matching spends time")
    args = parser.parse_args()
    rng = random.Random(SEED)
    app = bench_app(catalog_dir(args.size))
    with app.app_context():
        service = get_service()
        if service.store.current_dir() is None:
            indexer.rebuild(service.store)
        for table in (ScenarioEvent, Scenario, CatalogEvent, Cursor):
            db.session.execute(delete(table))
        db.session.execute(delete(User).where(User.email == "detect@example.org"))
        db.session.commit()
        user = create_user("detect@example.org", "bench password")
        db.session.execute(insert(Scenario), scenario_rows(rng, user.id, args.scenarios))
        db.session.commit()

        cache = PercolatorCache()
        started = time.perf_counter()
        cache.get()
        build = time.perf_counter() - started

        # 1% of the datasets change, written as a harvest writes them.
        max_id = db.session.scalar(select(func.max(Dataset.id)))
        picked = sorted(rng.sample(range(1, max_id + 1), int(args.size * args.changed)))
        snapshots = db.session.execute(
            select(Dataset.identifier, DatasetVersion.snapshot)
            .join(DatasetVersion, (DatasetVersion.dataset_id == Dataset.id) & (DatasetVersion.number == Dataset.version))
            .where(Dataset.id.in_(picked))
        ).all()  # fmt: skip
        source = catalog.list_sources()[0]
        run = catalog.queue_harvest(source)
        claim_run(run.id)
        writer = CatalogWriter(run, batch_size=1000)
        for identifier, snapshot in snapshots:
            record = edited(snapshot, rng)
            record.identifier = identifier
            writer.add(record)
        writer.flush()
        run.status = "succeeded"
        db.session.commit()

        profiler = cProfile.Profile() if args.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        matched = 0
        while done := match_pending_events(batch=5000, cache=cache):
            matched += done
        matching = time.perf_counter() - started
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
        written = db.session.scalar(select(func.count()).select_from(ScenarioEvent))

        # Brute force: every scenario's query over the catalog (once, though a real
        # brute force would need before and after), estimated from a sample.
        service.refresh(force=True)
        sample = db.session.scalars(
            select(Scenario).order_by(func.random()).limit(args.brute_sample)
        ).all()
        times = []
        for scenario in sample:
            spec = spec_of(scenario)
            t0 = time.perf_counter()
            service.engine.members(spec.query, spec.filters, spec.include, spec.exclude)
            times.append(time.perf_counter() - t0)
        brute = statistics.mean(times) * args.scenarios

    speedup = brute / matching
    print(f"\ndetect benchmark: {args.size:,} datasets, {args.scenarios:,} scenarios, "
          f"{len(snapshots):,} datasets changed ({args.changed:.0%})")  # fmt: skip
    print(f"  percolator build (cold worker)   {build:6.1f} s   (kept between runs)")
    print(f"  harvest done → events written    {matching:6.2f} s   target <= {TARGET_SECONDS} s   "
          f"{'OK' if matching <= TARGET_SECONDS else 'ABOVE TARGET'}")  # fmt: skip
    print(f"  catalog events matched           {matched:6,}   scenario events written {written:,}")
    print(f"  every scenario's query (est.)    {brute:6.0f} s   speed-up {speedup:,.0f}x   target >= {TARGET_SPEEDUP}x   "
          f"{'OK' if speedup >= TARGET_SPEEDUP else 'BELOW TARGET'}")  # fmt: skip


if __name__ == "__main__":
    main()
