"""Benchmark: 100,000 scenarios over the 345,853-dataset catalog.

Creates the scenarios through the scenario service (validation and all), then reads a
fixed sample's first page of members and its report. Prints creation time and p50/p95
latencies with the targets beside them.

    .venv/bin/python bench/scenarios.py [--size 345853] [--scenarios 100000] [--sample 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_db import SEED, bench_app, catalog_dir
from search import WORDS, zipf_choice
from sqlalchemy import delete, func, select

from subscribe.auth.models import User
from subscribe.auth.services import create_user
from subscribe.catalog.models import Dataset
from subscribe.demo.vocab import DEPARTMENTS, THEMES
from subscribe.extensions import db
from subscribe.scenarios import services
from subscribe.scenarios.models import Scenario
from subscribe.search import indexer
from subscribe.search.service import get_service

TARGET_MEMBERS_P95_MS = 150
TARGET_REPORT_P95_MS = 500


def scenario_body(rng: random.Random, max_id: int) -> dict:
    words = [zipf_choice(rng, WORDS) for _ in range(rng.choice((0, 1, 1, 2)))]
    filters: dict = {}
    if rng.random() < 0.5:
        filters["publisher"] = [zipf_choice(rng, [d.name for d in DEPARTMENTS])]
    if rng.random() < 0.3:
        filters["theme"] = [rng.choice(THEMES)[0]]
    if rng.random() < 0.2:
        filters["open_type"] = ["unconditional"]
    return {
        "name": f"场景 {' '.join(words) or '全部'}",
        "q": " ".join(dict.fromkeys(words)),
        "filters": filters,
        "include": rng.sample(range(1, max_id + 1), rng.choice((0, 0, 1, 3))),
        "exclude": rng.sample(range(1, max_id + 1), rng.choice((0, 0, 0, 2))),
    }


def percentile(samples: list[float], cut: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[cut - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=345_853)
    parser.add_argument("--scenarios", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=300)
    args = parser.parse_args()

    app = bench_app(catalog_dir(args.size))
    rng = random.Random(SEED)
    with app.app_context():
        service = get_service()
        if service.store.current_dir() is None:
            indexer.rebuild(service.store)
        indexer.apply_changes(service.store)
        db.session.execute(delete(Scenario))
        db.session.execute(delete(User).where(User.email == "bench@example.org"))
        db.session.commit()
        user = create_user("bench@example.org", "bench password")
        max_id = db.session.scalar(select(func.max(Dataset.id)))

        started = time.perf_counter()
        for _ in range(args.scenarios):
            services.create_scenario(user, scenario_body(rng, max_id))
        creation = time.perf_counter() - started

        ids = db.session.scalars(select(Scenario.id)).all()
        sample = [services.get_scenario(user, i) for i in rng.sample(ids, args.sample)]
        service.refresh(force=True)
        members, reports = [], []
        for scenario in sample:
            t0 = time.perf_counter()
            services.members_page(scenario, "relevance", 1, 20)
            t1 = time.perf_counter()
            services.report(scenario)
            t2 = time.perf_counter()
            members.append((t1 - t0) * 1000)
            reports.append((t2 - t1) * 1000)

    m95, r95 = percentile(members, 95), percentile(reports, 95)
    print(f"\nscenario benchmark: {args.scenarios:,} scenarios over {args.size:,} datasets")
    print(
        f"  create {args.scenarios:,} scenarios   {creation:7.1f} s   {args.scenarios / creation:6.0f} scenarios/s"
    )
    print(f"  members, first page   p50 {percentile(members, 50):6.1f} ms   p95 {m95:6.1f} ms   "
          f"target p95 <= {TARGET_MEMBERS_P95_MS} ms   {'OK' if m95 <= TARGET_MEMBERS_P95_MS else 'ABOVE TARGET'}")  # fmt: skip
    print(f"  report                p50 {percentile(reports, 50):6.1f} ms   p95 {r95:6.1f} ms   "
          f"target p95 <= {TARGET_REPORT_P95_MS} ms   {'OK' if r95 <= TARGET_REPORT_P95_MS else 'ABOVE TARGET'}")  # fmt: skip


if __name__ == "__main__":
    main()
