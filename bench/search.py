"""Benchmark: Chinese full-text search at 345,853 datasets.

Builds the catalog database once (bench/out/), rebuilds the Whoosh index from it, then
runs a fixed mix of queries (1–3 words drawn Zipf-like from the catalog's vocabulary,
with and without filters, always with facets) in-process and over HTTP.
Prints build time and docs/s, p50/p95/p99 latency, index size and web process RSS,
with the targets beside them.

    .venv/bin/python bench/search.py [--size 345853] [--queries 300]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_db import SEED, bench_app, catalog_dir
from procs import free_port

from subscribe.demo.vocab import DEPARTMENTS, REGIONS, THEMES
from subscribe.search import indexer
from subscribe.search.engine import Filters
from subscribe.search.service import get_service, search_datasets

TARGET_BUILD = 2000  # docs/s
TARGET_P95_MS = 100  # in-process, with facets
TARGET_RSS_MB = 500
WORDS = ("数据", "信息", "统计", "公交", "空气质量", "企业", "医疗机构", "学校", "监测", "名录",
         "交通", "道路", "人口", "天气", "水质", "登记", "许可", "价格", "站点", "年度", "预报",
         "排放", "招生", "社保", "就业", "旅游", "农业", "食品", "执法", "补贴", "停车场", "充电桩",
         "air", "quality", "空氣質量", "公車", "醫療")  # fmt: skip


def zipf_choice(rng: random.Random, items):
    weights = [1 / (rank + 1) for rank in range(len(items))]
    return rng.choices(items, weights)[0]


def query_mix(count: int) -> list[dict]:
    """A fixed, seeded mix: 1–3 words; every third query also filters."""
    rng = random.Random(SEED)
    vocabulary = list(WORDS) + [r[0] for r in REGIONS] + [t[0] for t in THEMES]
    publishers = [d.name for d in DEPARTMENTS]
    choices = {
        "theme": [t[0] for t in THEMES],
        "open_type": ["unconditional", "conditional"],
        "format": ["CSV", "JSON", "XLSX", "API"],
    }
    queries = []
    for n in range(count):
        words = [zipf_choice(rng, vocabulary) for _ in range(rng.choice((1, 1, 2, 2, 3)))]
        params: dict = {"q": " ".join(dict.fromkeys(words))}
        if n % 3 == 1:
            params["publisher"] = [zipf_choice(rng, publishers)]
        elif n % 3 == 2:
            kind = rng.choice(tuple(choices))
            params[kind] = [rng.choice(choices[kind])]
        queries.append(params)
    return queries


def percentiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def in_process(app, queries: list[dict]) -> list[float]:
    latencies = []
    with app.app_context():
        search_datasets("", Filters(), "newest", 1, 20)  # load columns once, as a server would
        for params in queries:
            filters = Filters(**{k: v for k, v in params.items() if k != "q"})
            started = time.perf_counter()
            search_datasets(params["q"], filters, "relevance", 1, 20)
            latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def over_http(workdir: Path, queries: list[dict]) -> tuple[list[float], float]:
    port = free_port()
    env = {**os.environ, "SUBSCRIBE_DATABASE_URL": f"sqlite:///{workdir / 'catalog.db'}",
           "SUBSCRIBE_INSTANCE_PATH": str(workdir), "SUBSCRIBE_LOG_LEVEL": "WARNING"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "subscribe", "run", "--port", str(port), "--without-threads"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/api/v1/datasets"
    try:
        with requests.Session() as http:
            for _ in range(300):
                try:
                    http.get(url, params={"per_page": 1}, timeout=120)  # warm-up: columns load
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            latencies = []
            for params in queries:
                started = time.perf_counter()
                response = http.get(url, params=params, timeout=60)
                latencies.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            return latencies, rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=345_853)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--procs", type=int, default=2)
    args = parser.parse_args()

    workdir = catalog_dir(args.size)
    print(f"catalog: {(workdir / 'complete').read_text().strip()} ({workdir})")
    app = bench_app(workdir)
    with app.app_context():
        started = time.perf_counter()
        path = indexer.rebuild(get_service().store, procs=args.procs)
        build = time.perf_counter() - started
    size_mb = sum(f.stat().st_size for f in path.iterdir()) / 2**20
    queries = query_mix(args.queries)
    local = in_process(app, queries)
    remote, rss = over_http(workdir, queries)

    def line(name, samples):
        p50, p95, p99 = percentiles(samples)
        return f"  {name:<22} p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   p99 {p99:6.1f} ms"

    rate = args.size / build
    p95 = percentiles(local)[1]
    print(f"\nsearch benchmark: {args.size:,} datasets, {len(queries)} queries (all with facets)")
    print(f"  index build            {build:6.1f} s   {rate:6.0f} docs/s   target >= {TARGET_BUILD}   "
          f"{'OK' if rate >= TARGET_BUILD else 'BELOW TARGET'}")  # fmt: skip
    print(line("in-process", local) + f"   target p95 <= {TARGET_P95_MS} ms   "
          f"{'OK' if p95 <= TARGET_P95_MS else 'ABOVE TARGET'}")  # fmt: skip
    print(line("over HTTP", remote))
    print(f"  index size             {size_mb:6.1f} MB")
    print(f"  web process RSS        {rss:6.1f} MB   target <= {TARGET_RSS_MB} MB   "
          f"{'OK' if rss <= TARGET_RSS_MB else 'ABOVE TARGET'}")  # fmt: skip


if __name__ == "__main__":
    main()
