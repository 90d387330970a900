"""Benchmark: Chinese full-text search at 345,853 datasets, with tantivy as a peer.

Builds the catalog database once (bench/out/), then indexes it from scratch with the
follower (what a 345,853-record harvest waits for before it is searchable), applies one
change, and runs a fixed mix of queries (1–3 words drawn Zipf-like from the catalog's
vocabulary, with and without filters, always with facets): in-process, and over HTTP
against a freshly started server (first pass, from when /readyz says the process's
search is ready, reported apart from the warm pass; the start-up request before it).
Also measures exact-title recall@10 and 2–4-character substring recall over titles
sampled from the catalog, and runs tantivy (Rust, via its Python package) on the same
corpus and queries in the same run: top 10 + count + one facet (publisher), in-process.
Prints figures with the issue's targets beside them.

tantivy is a bench-only extra, not a runtime dependency:

    .venv/bin/pip install tantivy
    nice -n 10 .venv/bin/python bench/search.py [--size 345853] [--queries 300]
    nice -n 10 .venv/bin/python bench/search.py --size 20000 --follower-only --compare-whoosh
    nice -n 10 .venv/bin/python bench/search.py --workdir DIR --http-only --server gunicorn

Without it the tantivy rows are skipped with a message saying so.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_db import SEED, bench_app, catalog_dir, retitle
from procs import children, free_port, rss_mb
from procs import cpu_seconds as process_cpu
from sqlalchemy import select
from whoosh import multiproc, writing

from subscribe.catalog.models import Dataset
from subscribe.demo.vocab import DEPARTMENTS, REGIONS, THEMES
from subscribe.extensions import db
from subscribe.search import indexer
from subscribe.search.analysis import TRADITIONAL, compact, fold, script
from subscribe.search.engine import Filters
from subscribe.search.query import parse
from subscribe.search.service import get_service, search_datasets

TARGET_FOLLOW = 5000  # docs/s
TARGET_SEARCHABLE_S = 60  # a 345,853-record harvest fully searchable after it ends
TARGET_ONE_CHANGE_S = 1.0
TARGET_FIRST_P95_MS, TARGET_FIRST_P99_MS = 30, 100  # over HTTP, first pass after start
TARGET_WARM_P95_MS = 15  # over HTTP, the same queries again
TARGET_TANTIVY_RATIO = 5  # in-process p95 within 5x tantivy's
TARGET_RECALL = 0.99
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


def in_process(app, queries: list[dict]) -> tuple[list[float], list[float]]:
    """(wall ms, CPU ms) per query: CPU time stays meaningful on a busy shared machine."""
    latencies, cpu = [], []
    with app.app_context():
        search_datasets("", Filters(), "newest", 1, 20)  # load columns once, as a server would
        for params in queries:
            filters = Filters(**{k: v for k, v in params.items() if k != "q"})
            started, cpu_started = time.perf_counter(), time.process_time()
            search_datasets(params["q"], filters, "relevance", 1, 20)
            latencies.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
    return latencies, cpu


STARTUP_QUERY = {"q": "公交"}  # the first search after a start (bench/national.py's too)


def server_command(app_module: str, port: int, server: str, workdir: Path) -> list[str]:
    """flask: Werkzeug's development server, one request at a time (the bench's server
    so far). gunicorn: as `make run` serves the web (gunicorn.conf.py, gthread, 4
    threads, an access log file), with one worker so that its /readyz, CPU and RSS are
    the process the passes meet."""
    if server == "flask":
        return [sys.executable, "-m", "flask", "--app", app_module, "run", "--port", str(port),
                "--without-threads"]  # fmt: skip
    return [sys.executable, "-m", "gunicorn", f"{app_module}:app", "--config",
            str(Path(__file__).resolve().parent.parent / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4",
            "--log-level", "warning", "--access-logfile", str(workdir / "access.log")]  # fmt: skip


def over_http(workdir: Path, queries: list[dict], app_module: str = "wsgi",
              server_kind: str = "flask"):  # fmt: skip
    """(first pass after a fresh start, the same queries again, server RSS MB, server CPU
    ms per request in each pass, start-up figures).

    The server starts as a web process does (`wsgi`: search columns and reader load on
    threads of their own from the start) or, with app_module "subscribe", as before it
    did (everything on the first search). Start-up figures: seconds until /healthz
    answers, then the first search's time (waits included) and the server's CPU seconds
    until it was answered; whether the warm was still running when the first pass
    ended (`warming_after_first_pass`: its seconds so far, None when done).

    The first pass starts when the server reports its search ready, as a balancer
    meets a new process (`ready_s`: seconds after the start): /readyz's `search_index`
    check, since its other checks (a scheduler leader: no worker runs here) never pass
    in this bench. The start-up request is sent before that, as soon as /healthz
    answers, and reported apart."""
    port = free_port()
    env = {**os.environ, "SUBSCRIBE_DATABASE_URL": f"sqlite:///{workdir / 'catalog.db'}",
           "SUBSCRIBE_INSTANCE_PATH": str(workdir), "SUBSCRIBE_LOG_LEVEL": "WARNING"}  # fmt: skip
    launched = time.perf_counter()
    server = subprocess.Popen(
        server_command(app_module, port, server_kind, workdir),
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    web = server.pid  # the process answering: gunicorn's worker once it has started
    base = f"http://127.0.0.1:{port}"
    url = f"{base}/api/v1/datasets"
    startup: dict = {}
    try:
        with requests.Session() as http:
            for _ in range(6000):
                try:
                    http.get(f"{base}/healthz", timeout=300)
                    break
                except requests.ConnectionError:
                    time.sleep(0.1)
            startup["up_s"] = time.perf_counter() - launched
            if server_kind == "gunicorn":
                web = children(server.pid)[0]
            # The one start-up request: the first search after the start, waits included.
            started = time.perf_counter()
            http.get(url, params=STARTUP_QUERY, timeout=300).raise_for_status()
            startup["first_ms"] = (time.perf_counter() - started) * 1000
            startup["cpu_s"] = process_cpu(web)
            while True:  # ready as a balancer sees it (see the docstring)
                check = http.get(f"{base}/readyz", timeout=60).json()["checks"]["search_index"]
                if check["ok"]:
                    break
                assert server.poll() is None, "the server exited"
                time.sleep(0.2)
            startup["ready_s"] = time.perf_counter() - launched
            startup["ready_cpu_s"] = process_cpu(web)
            passes, cpu = [], []
            for _pass in range(2):
                latencies = []
                cpu_started = process_cpu(web)
                for params in queries:
                    started = time.perf_counter()
                    response = http.get(url, params=params, timeout=60)
                    latencies.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                passes.append(latencies)
                cpu.append((process_cpu(web) - cpu_started) * 1000 / len(queries))
                if _pass == 0:
                    detail = http.get(f"{base}/readyz", timeout=60).json()["checks"]
                    process = detail["search_index"]["detail"].get("process", {})
                    startup["warming_after_first_pass"] = process.get("warming_seconds")
            return passes[0], passes[1], rss_mb(web), cpu, startup
    finally:
        server.terminate()
        server.wait(timeout=10)


def startup_line(startup: dict) -> str:
    warming = startup.get("warming_after_first_pass")
    return (f"  HTTP, start-up request     {startup['first_ms']:6.0f} ms   (the first search, "
            f"'{STARTUP_QUERY['q']}', sent when /healthz answered {startup['up_s']:.1f} s after "
            f"the start; server CPU until answered {startup['cpu_s']:.1f} s; warm "
            + ("done by the end of the first pass)" if warming is None
               else f"still running {warming:.0f} s into it at the end of the first pass)")
            + f"\n  HTTP, search ready        {startup['ready_s']:6.1f} s   after the start (/readyz "
            f"search_index ok: the first pass starts then; server CPU until then "
            f"{startup['ready_cpu_s']:.1f} s)")  # fmt: skip


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (parallel segment writers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def follow_from_scratch(app) -> tuple[float, float, int]:
    """Index the whole catalog with the follower into a fresh index: (wall s, CPU s, docs)."""
    with app.app_context():
        store = get_service().store
        store.swap(store.create_new())
        started, cpu = time.perf_counter(), cpu_seconds()
        done = indexer.apply_changes(store)
        return time.perf_counter() - started, cpu_seconds() - cpu, done


@contextmanager
def stock_whoosh_writer():
    """The follower with Whoosh's own SegmentWriter (the figure before fastwrite.py)."""
    saved = indexer._writer, multiproc.SegmentWriter
    multiproc.SegmentWriter = writing.SegmentWriter
    indexer._writer = lambda ix, procs: ix.writer(
        timeout=5.0, procs=procs, multisegment=procs > 1, limitmb=128, compound=False
    )
    try:
        yield
    finally:
        indexer._writer, multiproc.SegmentWriter = saved


def follower_line(name: str, wall: float, cpu: float, docs: int) -> str:
    return (f"  {name:<26} {wall:6.1f} s wall {docs / wall:6.0f} docs/s   {cpu:6.1f} s CPU "
            f"{docs / cpu:6.0f} docs/CPU-s   target >= {TARGET_FOLLOW} docs/s   "
            f"{verdict(docs / wall >= TARGET_FOLLOW)}")  # fmt: skip


def one_change(app) -> float:
    """Seconds from one committed title change to its being searchable."""
    with app.app_context():
        service = get_service()
        service.refresh(force=True)  # columns loaded and reader warm, as on a running server
        dataset_id = db.session.scalar(select(Dataset.id).order_by(Dataset.id.desc()).limit(1))
        retitle([dataset_id], " 基准改名")
        started = time.perf_counter()
        indexer.apply_changes(service.store)
        service.refresh(force=True)
        mask, _ = service.engine.members(parse("基准改名"), Filters())
        elapsed = time.perf_counter() - started
        assert mask[dataset_id], "the changed title is not searchable"
        return elapsed


def sample_titles(app, count: int) -> list[tuple[int, str]]:
    rng = random.Random(SEED + 1)
    with app.app_context():
        rows = db.session.execute(
            select(Dataset.id, Dataset.title).where(Dataset.deleted_at.is_(None))
        ).all()
    return rng.sample([(r.id, r.title) for r in rows], min(count, len(rows)))


def exact_title_recall(app, titles: list[tuple[int, str]]) -> float:
    """Share of titles that, searched as typed, have a dataset of that title in the top 10."""
    hits = 0
    with app.app_context():
        for _id, title in titles:
            page = search_datasets(title, Filters(), "relevance", 1, 10)
            hits += any(compact(d.title) == compact(title) for d in page["items"])
    return hits / len(titles)


def other_script_recall(app, titles: list[tuple[int, str]]) -> tuple[float, float, int]:
    """(share in the top 10, share first, titles asked) of titles holding Chinese of one
    script searched as the other script writes them (a traditional title typed in
    simplified characters, t2s; a simplified one typed in traditional, OpenCC s2t): an
    equal title once folded is an exact title, so a dataset of that title should be in
    the top 10 and one of the titles equal to it first."""
    import opencc

    s2t = opencc.OpenCC("s2t")
    asked = []
    for _id, title in titles:
        kind = script(title)
        if kind:
            asked.append((title, fold(title) if kind == TRADITIONAL else s2t.convert(title)))
    hits = first = 0
    with app.app_context():
        for title, typed in asked:
            items = search_datasets(typed, Filters(), "relevance", 1, 10)["items"]
            equal = [compact(d.title) == compact(title) for d in items]
            hits += any(equal)
            first += bool(equal) and equal[0]
    return hits / max(len(asked), 1), first / max(len(asked), 1), len(asked)


def substring_recall(app, titles: list[tuple[int, str]]) -> tuple[float, int]:
    """Share of random 2–4-character Chinese substrings of titles that find their title."""
    import re

    rng = random.Random(SEED + 2)
    han = re.compile(r"[\u4e00-\u9fff]{2,}")
    pairs = []
    for dataset_id, title in titles:
        runs = han.findall(fold(title))
        if runs:
            run = rng.choice(runs)
            size = rng.randint(2, min(4, len(run)))
            start = rng.randint(0, len(run) - size)
            pairs.append((dataset_id, run[start : start + size]))
    with app.app_context():
        service = get_service()
        service.refresh(force=True)
        hits = sum(bool(service.engine.members(parse(sub), Filters())[0][i]) for i, sub in pairs)
    return hits / len(pairs), len(pairs)


def tantivy_peer(app, workdir: Path, queries: list[dict]):
    """(build seconds, latencies ms, CPU ms per query) of tantivy on the same corpus and
    queries, or why not.

    Text is folded like ours and cut by the same segmenter (rjieba, whole words), then
    indexed with tantivy's whitespace tokenizer; a query is every word (title or body)
    plus its filters, answered with top 10 + count + a terms aggregation on publisher.
    """
    try:
        import tantivy
    except ImportError:
        return "tantivy not installed (bench-only peer): .venv/bin/pip install tantivy"
    import tempfile

    import rjieba

    def cut(text: str) -> str:
        return " ".join(w for w in rjieba.cut(fold(text or ""), hmm=False) if w.strip())

    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("id", stored=True, indexed=True, fast=True)
    for name in ("title", "body"):
        builder.add_text_field(name, tokenizer_name="whitespace")
    for name in ("publisher", "theme", "format", "open_type"):
        builder.add_text_field(name, tokenizer_name="raw", fast=True)
    schema = builder.build()
    folder = tempfile.mkdtemp(prefix="tantivy-", dir=str(workdir))
    index = tantivy.Index(schema, path=folder)
    started = time.perf_counter()
    writer = index.writer(heap_size=256_000_000, num_threads=2)
    with app.app_context():
        rows = db.session.execute(
            select(Dataset.id, Dataset.title, Dataset.description, Dataset.keywords,
                   Dataset.publisher, Dataset.themes, Dataset.formats, Dataset.open_type)
            .where(Dataset.deleted_at.is_(None)).execution_options(yield_per=5000)
        )  # fmt: skip
        for row in rows:
            body = indexer.body_text(row.description, row.keywords, row.publisher, row.themes)
            writer.add_document(tantivy.Document(
                id=row.id, title=cut(row.title), body=cut(body), publisher=row.publisher or "",
                theme=list(row.themes or []) or [""], format=list(row.formats or []) or [""],
                open_type=row.open_type or "",
            ))  # fmt: skip
    writer.commit()
    writer.wait_merging_threads()
    build = time.perf_counter() - started
    index.reload()
    searcher = index.searcher()
    facet = {"publisher": {"terms": {"field": "publisher", "size": 20}}}
    latencies, cpu = [], []
    for params in queries:
        started, cpu_started = time.perf_counter(), time.process_time()
        must = []
        for word in cut(params["q"]).split():
            either = [tantivy.Query.term_query(schema, f, word) for f in ("title", "body")]
            must.append((tantivy.Occur.Must, tantivy.Query.boolean_query(
                [(tantivy.Occur.Should, q) for q in either])))  # fmt: skip
        for name in ("publisher", "theme", "format", "open_type"):
            if params.get(name):
                must.append(
                    (tantivy.Occur.Must, tantivy.Query.term_query(schema, name, params[name][0]))
                )
        query = tantivy.Query.boolean_query(must)
        result = searcher.search(query, limit=10, count=True)
        [searcher.doc(address)["id"] for _score, address in result.hits]
        searcher.aggregate(query, facet)
        latencies.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
    return build, latencies, cpu


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def http_line(name: str, samples: list[float], target: str = "") -> str:
    p50, p95, p99 = percentiles(samples)
    return f"  {name:<26} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  p99 {p99:6.1f} ms   {target}"


def first_verdict(first: list[float]) -> str:
    f95, f99 = percentiles(first)[1:]
    return verdict(f95 <= TARGET_FIRST_P95_MS and f99 <= TARGET_FIRST_P99_MS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=345_853)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--titles", type=int, default=300, help="titles sampled for recall")
    parser.add_argument(
        "--follower-only",
        action="store_true",
        help="only the follower figures (and one change), no query passes",
    )
    parser.add_argument("--compare-whoosh", action="store_true",
                        help="also index with Whoosh's stock writer first (the before figure)")  # fmt: skip
    parser.add_argument("--workdir", type=Path, default=None,
                        help="a catalog folder of your own (a copy of a shared one: the bench "
                        "writes its search index there); built with --size datasets if empty")  # fmt: skip
    parser.add_argument("--http-only", action="store_true",
                        help="only the HTTP passes (start-up request, first and warm pass) over "
                        "the index already in the catalog folder (built by the follower if none)")  # fmt: skip
    parser.add_argument("--recall-only", action="store_true",
                        help="only the title recalls, over the index already in the catalog "
                        "folder (built by the follower if none)")  # fmt: skip
    parser.add_argument("--server-app", default="wsgi", choices=("wsgi", "subscribe"),
                        help="wsgi: as a web process starts (search loads in the background); "
                        "subscribe: everything on the first search (the behaviour before)")  # fmt: skip
    parser.add_argument("--server", default="flask", choices=("flask", "gunicorn"),
                        help="flask: Werkzeug's development server (single-threaded); gunicorn: "
                        "as `make run` serves the web (gunicorn.conf.py, 4 threads; one worker)")  # fmt: skip
    args = parser.parse_args()

    workdir = catalog_dir(args.size, args.workdir)
    print(f"catalog: {(workdir / 'complete').read_text().strip()} ({workdir})", flush=True)
    app = bench_app(workdir)
    if args.recall_only:
        with app.app_context():
            if get_service().store.current_dir() is None:
                print(
                    follower_line("follower, from scratch", *follow_from_scratch(app)), flush=True
                )
        titles = sample_titles(app, args.titles)
        other, other_first, others = other_script_recall(app, titles)
        print(f"  exact-title recall@10      {exact_title_recall(app, titles):6.1%}")
        print(f"  other-script title recall@10 {other:4.1%}   ({others} titles; first "
              f"{other_first:.1%})   load average {os.getloadavg()[0]:.1f}")  # fmt: skip
        return
    if args.http_only:
        with app.app_context():
            if get_service().store.current_dir() is None:
                print(
                    follower_line("follower, from scratch", *follow_from_scratch(app)), flush=True
                )
        first, warm, rss, server_cpu, startup = over_http(workdir, query_mix(args.queries),
                                                          args.server_app, args.server)  # fmt: skip
        print(f"\nHTTP passes: {args.size:,} datasets (SQLite), {args.queries} queries, server "
              f"{args.server} started as --app {args.server_app}, load average "
              f"{os.getloadavg()[0]:.1f}")  # fmt: skip
        print(startup_line(startup))
        print(http_line("HTTP, first pass", first, f"target p95 <= {TARGET_FIRST_P95_MS}, p99 <= "
                        f"{TARGET_FIRST_P99_MS}   {first_verdict(first)}"))  # fmt: skip
        print(http_line("HTTP, warm pass", warm, f"target p95 <= {TARGET_WARM_P95_MS}"))
        print(f"  HTTP server CPU per request  first pass {server_cpu[0]:5.1f} ms, warm pass "
              f"{server_cpu[1]:5.1f} ms;  web process RSS {rss:.0f} MB")  # fmt: skip
        return
    if args.compare_whoosh:
        with stock_whoosh_writer():
            stock = follow_from_scratch(app)
        print(follower_line("follower, Whoosh's writer", *stock), flush=True)
    follow, follow_cpu, indexed = follow_from_scratch(app)
    print(follower_line("follower, from scratch", follow, follow_cpu, indexed), flush=True)
    change = one_change(app)
    if args.follower_only:
        print(f"  one change searchable      {change:6.2f} s   target <= {TARGET_ONE_CHANGE_S} s   "
              f"{verdict(change <= TARGET_ONE_CHANGE_S)}")  # fmt: skip
        return
    with app.app_context():
        path = get_service().store.current_dir()
    size_mb = sum(f.stat().st_size for f in path.iterdir()) / 2**20
    queries = query_mix(args.queries)
    first, warm, rss, server_cpu, startup = over_http(
        workdir, queries, args.server_app, args.server
    )
    print("HTTP passes done", flush=True)
    local, local_cpu = in_process(app, queries)
    titles = sample_titles(app, args.titles)
    exact = exact_title_recall(app, titles)
    substring, pairs = substring_recall(app, titles)
    other, other_first, others = other_script_recall(app, titles)
    peer = tantivy_peer(app, workdir, queries)

    line = http_line

    f95, f99 = percentiles(first)[1:]
    w95 = percentiles(warm)[1]
    l95 = percentiles(local)[1]
    print(
        f"\nsearch benchmark: {args.size:,} datasets (SQLite), {len(queries)} queries, all with "
        f"facets; HTTP server: {args.server}"
    )
    print(follower_line("follower, from scratch", follow, follow_cpu, indexed)
          + f" (<= {TARGET_SEARCHABLE_S} s at 345,853)")  # fmt: skip
    print(f"  one change searchable      {change:6.2f} s   target <= {TARGET_ONE_CHANGE_S} s   "
          f"{verdict(change <= TARGET_ONE_CHANGE_S)}")  # fmt: skip
    print(startup_line(startup))
    print(line("HTTP, first pass", first, f"target p95 <= {TARGET_FIRST_P95_MS}, p99 <= {TARGET_FIRST_P99_MS}   "
               f"{verdict(f95 <= TARGET_FIRST_P95_MS and f99 <= TARGET_FIRST_P99_MS)}"))  # fmt: skip
    print(
        line(
            "HTTP, warm pass",
            warm,
            f"target p95 <= {TARGET_WARM_P95_MS}   {verdict(w95 <= TARGET_WARM_P95_MS)}",
        )
    )
    print(f"  HTTP server CPU per request  first pass {server_cpu[0]:5.1f} ms, warm pass {server_cpu[1]:5.1f} ms"
          f"   (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")  # fmt: skip
    print(line("in-process (ours)", local))
    print(line("in-process CPU (ours)", local_cpu))
    if isinstance(peer, str):
        print(f"  tantivy                    skipped: {peer}")
    else:
        build, peer_latencies, peer_cpu = peer
        t95 = percentiles(peer_latencies)[1]
        print(
            line("in-process (tantivy)", peer_latencies, f"(tantivy index built in {build:.1f} s)")
        )
        print(line("in-process CPU (tantivy)", peer_cpu))
        c95 = percentiles(local_cpu)[1] / max(percentiles(peer_cpu)[1], 1e-3)
        print(f"  ratio ours/tantivy CPU p95 {c95:6.1f} x   (wall ratio below)")
        print(f"  ratio ours/tantivy p95     {l95 / t95:6.1f} x   target <= {TARGET_TANTIVY_RATIO} x   "
              f"{verdict(l95 / t95 <= TARGET_TANTIVY_RATIO)}")  # fmt: skip
    print(f"  exact-title recall@10      {exact:6.1%}   ({len(titles)} titles)   target >= {TARGET_RECALL:.0%}   "
          f"{verdict(exact >= TARGET_RECALL)}")  # fmt: skip
    print(f"  other-script title recall@10 {other:4.1%}   ({others} titles typed in the other script; "
          f"first {other_first:.1%})   target >= {TARGET_RECALL:.0%}   {verdict(other >= TARGET_RECALL)}")  # fmt: skip
    print(f"  2–4-char substring recall  {substring:6.1%}   ({pairs} substrings)   target >= {TARGET_RECALL:.0%}   "
          f"{verdict(substring >= TARGET_RECALL)}")  # fmt: skip
    print(f"  index size                 {size_mb:6.1f} MB")
    print(
        f"  web process RSS            {rss:6.1f} MB   target <= {TARGET_RSS_MB} MB   {verdict(rss <= TARGET_RSS_MB)}"
    )


if __name__ == "__main__":
    main()
