"""Benchmark: resource content checks per second against a local server answering 304.

N resources (default 5,000) in a generated SQLite database (or SUBSCRIBE_DATABASE_URL),
each with a stored ETag, point at a threaded werkzeug server in its own process that
answers 304 to If-None-Match. One run_resource_checks() over all of them is timed end to
end (select due rows, conditional GETs, write states) and printed with the target.
Everything is one host here, so the per-host limits are set high for the run.

    .venv/bin/python bench/checks.py [--resources 5000] [--workers 32]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flask_migrate import upgrade
from procs import free_port, wait_for
from sqlalchemy import insert, select
from werkzeug.serving import WSGIRequestHandler, make_server

from subscribe import create_app
from subscribe.catalog.check_jobs import run_resource_checks
from subscribe.catalog.models import Dataset, Resource, Source
from subscribe.extensions import db

TARGET_RATE = 500  # checks/s
ETAG = '"bench-v1"'
BODY = b"id,value\n1,2\n"
RESOURCES_PER_DATASET = 5


def app(environ, start_response):
    """Answers 304 to the ETag it hands out, and the small file otherwise."""
    if environ.get("HTTP_IF_NONE_MATCH") == ETAG:
        start_response("304 Not Modified", [("ETag", ETAG)])
        return [b""]
    headers = [("ETag", ETAG), ("Content-Type", "text/csv"), ("Content-Length", str(len(BODY)))]
    start_response("200 OK", headers)
    return [BODY]


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:  # one line per request would dominate
        pass


def serve(port: int) -> None:
    make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietHandler).serve_forever()


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    url = f"http://127.0.0.1:{port}"
    wait_for(url, server)
    return server, url


def generate(url: str, count: int) -> None:
    """Datasets and resources as a harvest and a first check would have left them."""
    source_id = db.session.scalar(
        insert(Source).values(name="bench", type="ckan", url=url).returning(Source.id)
    )
    frequencies = ("daily", "weekly", "monthly", "yearly", "unknown")
    datasets = [
        {"source_id": source_id, "identifier": f"ds-{n}", "title": f"Dataset {n}",
         "content_hash": "0" * 64, "frequency": frequencies[n % len(frequencies)]}
        for n in range(-(-count // RESOURCES_PER_DATASET))
    ]  # fmt: skip
    ids = db.session.scalars(
        insert(Dataset).returning(Dataset.id, sort_by_parameter_order=True), datasets
    ).all()
    resources = [
        {"dataset_id": ids[n // RESOURCES_PER_DATASET], "position": n % RESOURCES_PER_DATASET,
         "url": f"{url}/files/{n}.csv", "format": "CSV", "etag": ETAG,
         "content_length": len(BODY), "sha256": "1" * 64, "row_count": 1,
         "columns": ["id", "value"]}
        for n in range(count)
    ]  # fmt: skip
    db.session.execute(insert(Resource), resources)
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=32)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return

    workdir = Path(tempfile.mkdtemp(prefix="bench-checks-"))
    database = os.environ.get("SUBSCRIBE_DATABASE_URL") or f"sqlite:///{workdir / 'bench.db'}"
    flask_app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database,
            "INSTANCE_PATH": str(workdir),
            "SUBSCRIBE_CHECK_WORKERS": args.workers,
            "SUBSCRIBE_CHECK_PER_HOST": args.workers,  # all one host here
            "SUBSCRIBE_CHECK_HOST_RATE": 0.0,
            "SUBSCRIBE_OUTBOUND_ALLOWLIST": ["127.0.0.1"],  # the loopback server (SSRF guard)
        }
    )
    server, url = start_server()
    try:
        with flask_app.app_context():
            upgrade()
            generate(url, args.resources)
            started = time.perf_counter()
            summary = run_resource_checks(limit=args.resources)
            elapsed = time.perf_counter() - started
            checked = db.session.scalar(
                select(db.func.count()).select_from(Resource).where(Resource.checked_at.isnot(None))
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)

    rate = summary["checked"] / elapsed if elapsed else 0.0
    backend = database.split(":", 1)[0]
    print(f"\nresource check benchmark: {args.resources:,} resources, one local host, {backend}")
    print(f"  workers / per host  {args.workers} / {args.workers}")
    print(f"  checked             {summary['checked']:,}  not modified {summary['not_modified']:,}"
          f"  failed {summary['failed']}  downloaded {summary['downloaded_bytes']} bytes"
          f"  states written {checked:,}")  # fmt: skip
    print(f"  elapsed             {elapsed:8.2f} s")
    print(f"  throughput          {rate:8.0f} checks/s   target >= {TARGET_RATE} checks/s   "
          f"{'OK' if rate >= TARGET_RATE else 'BELOW TARGET'}")  # fmt: skip


if __name__ == "__main__":
    main()
