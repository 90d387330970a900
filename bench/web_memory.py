"""Benchmark: one web process's memory with its search warmed, then under the query mix.

This process is the web process: it imports `wsgi` as gunicorn does (the search keeper
loads the columns and opens the reader, a background warm pre-reads postings and the
engine's prewarm computes term weights), waits until /readyz's search check would pass
and the warm has ended, and prints its RSS and USS with what the search caches hold;
that is the state bench/national.py's web workers sit in (one search, '公交'). Then
it runs bench/search.py's query mix through the API (Flask test clients, facets on) on
`--threads` threads as a gunicorn worker's threads would, `--passes` times, and prints
the same after each pass, with each pass's latency and CPU.

It needs a catalog folder with a search index (bench/search.py --http-only --workdir X
builds one). Older commits: copy this file into a `git archive` of the commit and run
it from there (it reads only what every version has; missing figures print as '-').

    nice -n 10 .venv/bin/python bench/web_memory.py --workdir bench/out/<yours>
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import importlib.machinery
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
sys.meta_path.insert(0, importlib.machinery.PathFinder)  # this tree's code, not the editable one


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _uss() -> float:
    text = Path("/proc/self/smaps_rollup").read_text()
    fields = dict(line.split(":", 1) for line in text.splitlines()[1:])
    return sum(int(fields[f].split()[0]) for f in ("Private_Clean", "Private_Dirty")) / 1024


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]  # fmt: skip


def _malloc() -> str:
    """glibc's heap: bytes in use, free inside the heap (held, not returned), mmapped."""
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallinfo2.restype = _Mallinfo2
        info = libc.mallinfo2()
    except (OSError, AttributeError):
        return "malloc -"
    mb = 2**20
    return (f"malloc in use {info.uordblks / mb:5.0f} MB, free in heap {info.fordblks / mb:5.0f} MB, "
            f"mmapped {info.hblkhd / mb:5.0f} MB")  # fmt: skip


def _nbytes(*arrays) -> int:
    total = 0
    for a in arrays:
        if a is None:
            continue
        base = a
        while getattr(base, "base", None) is not None:  # broadcast views hold one value
            base = base.base
        total += min(a.nbytes, getattr(base, "nbytes", a.nbytes))
    return total


def caches(service) -> str:
    import numpy as np

    mb = 2**20
    postings = sum(_nbytes(*v) for v in list(service.text.cache.entries.values()))
    engine = service.engine
    weights = getattr(engine, "_cached", None)
    filters = sum(
        sum(x.nbytes for x in v if isinstance(x, np.ndarray))
        for v in list(getattr(engine, "_filter_cache", {}).values())
    )
    columns = sum(
        v.nbytes for v in vars(service.columns).values() if isinstance(v, np.ndarray)
    ) + sum(_nbytes(b.bits, b.combo) for b in (service.columns.themes, service.columns.formats))
    return (f"postings {postings / mb:5.0f} MB ({service.text.cache.size / 1e6:.1f} M)  "
            f"weights {'-' if weights is None else f'{weights / mb:5.0f}'} MB "
            f"({len(engine._cache)} terms)  filters {filters / mb:4.1f} MB  "
            f"columns {columns / mb:4.0f} MB (capacity {service.columns.capacity:,})")  # fmt: skip


def report(label: str, service) -> tuple[float, float]:
    gc.collect()
    rss, uss = _status("VmRSS"), _uss()
    print(f"{label:<22} RSS {rss:6.0f} MB  USS {uss:6.0f} MB  peak {_status('VmHWM'):6.0f} MB  "
          f"{_malloc()}\n{'':<22} {caches(service)}", flush=True)  # fmt: skip
    return rss, uss


def run_pass(app, queries: list[dict], threads: int) -> tuple[list[float], float]:
    """(wall ms per query, process CPU ms per query) of one pass of `queries`, split
    round-robin over `threads` threads, each with its own test client."""
    latencies: list[float] = []
    lock = threading.Lock()

    def work(part: list[dict]) -> None:
        client = app.test_client()
        for params in part:
            started = time.perf_counter()
            response = client.get("/api/v1/datasets", query_string=params)
            took = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.status_code
            with lock:
                latencies.append(took)

    cpu = time.process_time()
    workers = [threading.Thread(target=work, args=(queries[i::threads],)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies, (time.process_time() - cpu) * 1000 / len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True,
                        help="catalog folder with catalog.db and its search index")  # fmt: skip
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn's --threads")
    args = parser.parse_args()
    workdir = args.workdir.resolve()
    os.environ.update({"SUBSCRIBE_DATABASE_URL": f"sqlite:///{workdir / 'catalog.db'}",
                       "SUBSCRIBE_INSTANCE_PATH": str(workdir),
                       "SUBSCRIBE_LOG_LEVEL": "WARNING"})  # fmt: skip
    started, cpu = time.perf_counter(), time.process_time()
    from search import query_mix

    import subscribe
    import wsgi  # the web process: keeper and background warm start here

    print(f"code: {Path(subscribe.__file__).parent}  load {os.getloadavg()[0]:.1f}", flush=True)
    app = wsgi.app
    service = app.extensions["search"]
    with app.app_context():
        while not (service.status()["ready"] and service.loaded and not service.text.warming):
            time.sleep(0.2)
    print(f"search warmed in {time.perf_counter() - started:.1f} s, "
          f"{time.process_time() - cpu:.1f} CPU-s", flush=True)  # fmt: skip
    report("warmed", service)
    with app.test_client() as client:  # bench/national.py's one search
        assert client.get("/api/v1/datasets", query_string={"q": "公交"}).status_code == 200
    report("after '公交'", service)
    queries = query_mix(args.queries)
    for number in range(1, args.passes + 1):
        latencies, cpu_ms = run_pass(app, queries, args.threads)
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        print(f"pass {number}: {len(queries)} queries on {args.threads} threads, p50 "
              f"{cuts[49]:.1f} ms p95 {cuts[94]:.1f} ms p99 {cuts[98]:.1f} ms, CPU {cpu_ms:.1f} ms "
              f"a query, load {os.getloadavg()[0]:.1f}", flush=True)  # fmt: skip
        report(f"after pass {number}", service)
    service.close()


if __name__ == "__main__":
    main()
