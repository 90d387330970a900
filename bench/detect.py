"""Benchmark: matching 1% changed datasets against 100,000 scenarios (345,853 datasets).

Builds the generated catalog (bench/out/), creates the scenarios, changes 1% of the
datasets through the real catalog writer (versions and catalog events, as a harvest
writes them), then times matching until every scenario event is written. Compares with
running every scenario's query (estimated from a sample), and prints the targets.

Before that, the flood check: the scenarios exist before the catalog's first harvest,
whose catalog events are replayed (one `dataset.created` per dataset, as the writer
wrote them) and followed by a first overdue detection; the scenario-event rows and
`dataset.overdue` events this writes are counted (target: only real changes, ~0). After
the 1% change, the rows are checked against the true membership transitions of a sample
of scenarios (target: exactly one row per changed member).

    .venv/bin/python bench/detect.py [--size 345853] [--scenarios 100000] [--changed 0.01]
        [--workdir bench/out/<name>-345853]

The bench writes (scenarios, catalog events, scenario events, the search index), so give
it a folder of its own with --workdir (a copy of the shared catalog, or an empty folder
where a catalog of --size is built); without it, bench/out/catalog-<size>/ is used.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from catalog_db import SEED, bench_app, catalog_dir
from sqlalchemy import delete, func, insert, literal, select, update

from subscribe.auth.models import User
from subscribe.auth.services import create_user
from subscribe.catalog import services as catalog
from subscribe.catalog.harvest import claim_run
from subscribe.catalog.models import CatalogEvent, Cursor, Dataset, DatasetVersion, HarvestRun
from subscribe.catalog.overdue import detect_overdue
from subscribe.catalog.records import DatasetRecord, ResourceRecord
from subscribe.catalog.writer import CatalogWriter
from subscribe.demo.vocab import DEPARTMENTS, REGIONS
from subscribe.extensions import db
from subscribe.notify.models import Delivery
from subscribe.scenarios.matching import BATCH, PercolatorCache, match_pending_events, spec_of
from subscribe.scenarios.models import Scenario, ScenarioEvent
from subscribe.search import indexer
from subscribe.search.service import get_service

TARGET_SECONDS = 2  # issue 16 (round 1 asked for 10)
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
    parser.add_argument(
        "--workdir", type=Path, help="own catalog folder (the bench writes into it)"
    )
    args = parser.parse_args()
    rng = random.Random(SEED)
    app = bench_app(catalog_dir(args.size, args.workdir))
    with app.app_context():
        service = get_service()
        if service.store.current_dir() is None:
            indexer.rebuild(service.store)
        for table in (ScenarioEvent, Scenario, CatalogEvent, Cursor):
            db.session.execute(delete(table))
        db.session.execute(delete(User).where(User.email == "detect@example.org"))
        db.session.execute(update(Dataset).values(overdue_notified_for=None))
        first_seen = db.session.scalar(select(func.min(Dataset.created_at)))
        last_seen = db.session.scalar(select(func.max(Dataset.created_at)))
        # The catalog build is the source's first harvest: it finished when its last
        # dataset was written.
        db.session.execute(
            update(HarvestRun).where(HarvestRun.finished_at.is_(None), HarvestRun.status == "succeeded")
            .values(finished_at=last_seen)
        )  # fmt: skip
        db.session.commit()
        user = create_user("detect@example.org", "bench password")
        rows = scenario_rows(rng, user.id, args.scenarios)
        for row in rows:  # saved before the first harvest
            row["created_at"] = row["updated_at"] = first_seen - timedelta(days=1)
        db.session.execute(insert(Scenario), rows)
        db.session.commit()

        cache = PercolatorCache()
        started = time.perf_counter()
        cache.get()
        build = time.perf_counter() - started

        # The first harvest's catalog events, as the writer wrote them, then the first
        # overdue detection (most generated datasets are late the moment they are seen),
        # as the worker runs it: right after the harvest. Run at the clock of the day, a
        # catalog built days earlier had datasets that became late since (1 at 2 days,
        # 6 at 7 days): real `dataset.overdue` news for these scenarios (saved before the
        # harvest), which showed as 2 overdue events, 125 first-harvest scenario events
        # and one row too many in the sample below.
        replay_first_harvest()
        started = time.perf_counter()
        overdue_events = detect_overdue(now=last_seen)
        overdue_time = time.perf_counter() - started
        late = db.session.scalar(
            select(func.count()).select_from(Dataset).where(Dataset.overdue_notified_for.is_not(None))
        )  # fmt: skip
        started = time.perf_counter()
        first_events = 0
        while done := match_pending_events(batch=BATCH, cache=cache):
            first_events += done
        first_match = time.perf_counter() - started
        first_rows = db.session.scalar(select(func.count()).select_from(ScenarioEvent))
        first_last_id = db.session.scalar(select(func.max(ScenarioEvent.id))) or 0
        first_deliveries = db.session.scalar(select(func.count()).select_from(Delivery))

        sample = db.session.scalars(
            select(Scenario).order_by(func.random()).limit(args.brute_sample)
        ).all()
        service.refresh(force=True)

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
        picked_set = set(picked)
        before = {s.id: _members(service, s) & picked_set for s in sample}
        for identifier, snapshot in snapshots:
            record = edited(snapshot, rng)
            record.identifier = identifier
            writer.add(record)
        writer.flush()
        run.status = "succeeded"
        db.session.commit()
        indexer.apply_changes(service.store)
        service.refresh(force=True)
        after = {s.id: _members(service, s) & picked_set for s in sample}

        profiler = cProfile.Profile() if args.profile else None
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        matched = 0
        while done := match_pending_events(batch=BATCH, cache=cache):
            matched += done
        matching = time.perf_counter() - started
        matching_cpu = time.process_time() - cpu_started  # the shared machine's load aside
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats(
                os.environ.get("PROFILE_SORT", "cumulative")
            ).print_stats(25)
        written = db.session.scalar(select(func.count()).select_from(ScenarioEvent)) - first_rows
        # Exactly one row per changed member (entered, changed or left) in the sample.
        expected = sum(len(before[s.id] | after[s.id]) for s in sample)
        sampled_rows = db.session.scalar(
            select(func.count()).select_from(ScenarioEvent)
            .where(ScenarioEvent.scenario_id.in_([s.id for s in sample]),
                   ScenarioEvent.id > first_last_id)  # the 1 % change's rows only
        )  # fmt: skip

        # Brute force: every scenario's query over the catalog (once, though a real
        # brute force would need before and after), estimated from a sample.
        times = []
        for scenario in sample:
            spec = spec_of(scenario)
            t0 = time.perf_counter()
            service.engine.members(
                spec.query, spec.filters, sorted(spec.include), sorted(spec.exclude), spec.pins_only
            )
            times.append(time.perf_counter() - t0)
        brute = statistics.mean(times) * args.scenarios

    speedup = brute / matching
    print(f"\ndetect benchmark: {args.size:,} datasets, {args.scenarios:,} scenarios, "
          f"{len(snapshots):,} datasets changed ({args.changed:.0%}), SQLite")  # fmt: skip
    print(f"  first harvest: catalog events     {first_events:,} matched in {first_match:.1f} s; "
          f"datasets late at first sight {late:,}")  # fmt: skip
    print(f"  first harvest: dataset.overdue    {overdue_events:6,}   target 0 (late when first seen is not news)   "
          f"{'OK' if overdue_events == 0 else 'ABOVE TARGET'}  ({overdue_time:.1f} s)")  # fmt: skip
    print(f"  first harvest: scenario events    {first_rows:6,}   deliveries {first_deliveries:,}   target 0   "
          f"{'OK' if first_rows == 0 else 'ABOVE TARGET'}")  # fmt: skip
    ratio = sampled_rows / expected if expected else float("nan")
    print(f"  rows per changed member           {ratio:6.2f}   ({sampled_rows:,} rows for {expected:,} member "
          f"transitions in {len(sample)} sampled scenarios)   target 1.00   {'OK' if sampled_rows == expected else 'OFF'}")  # fmt: skip
    print(f"  percolator build (cold worker)   {build:6.1f} s   (kept between runs)")
    print(f"  harvest done → events written    {matching:6.2f} s wall, {matching_cpu:.2f} s CPU, batches of {BATCH:,}   "
          f"target <= {TARGET_SECONDS} s   {'OK' if matching <= TARGET_SECONDS else 'ABOVE TARGET'}")  # fmt: skip
    print(f"  catalog events matched           {matched:6,}   scenario events written {written:,}")
    print(f"  every scenario's query (est.)    {brute:6.0f} s   speed-up {speedup:,.0f}x   target >= {TARGET_SPEEDUP}x   "
          f"{'OK' if speedup >= TARGET_SPEEDUP else 'BELOW TARGET'}")  # fmt: skip


def _members(service, scenario: Scenario) -> set[int]:
    spec = spec_of(scenario)
    mask, _scores = service.engine.members(spec.query, spec.filters, sorted(spec.include),
                                           sorted(spec.exclude), spec.pins_only)  # fmt: skip
    return {int(i) for i in np.flatnonzero(mask)}


def replay_first_harvest() -> None:
    """One `dataset.created` catalog event per dataset with its first snapshot, stamped
    when the dataset was written: what the catalog writer wrote at the first harvest."""
    db.session.execute(
        insert(CatalogEvent).from_select(
            ["dataset_id", "type", "version", "changes", "after", "created_at"],
            select(Dataset.id, literal("dataset.created"), literal(1), literal("[]"),
                   DatasetVersion.snapshot, Dataset.created_at)
            .join(DatasetVersion, (DatasetVersion.dataset_id == Dataset.id) & (DatasetVersion.number == 1))
            .order_by(Dataset.id),
        )
    )  # fmt: skip
    db.session.commit()


if __name__ == "__main__":
    main()
