"""Benchmark: build and download a bundle of 200 resources totalling 2 GB from loopback.

A file server in its own process serves 200 generated files (10 MB each by default; the
bytes are made on the fly, so nothing is held in memory) and a CKAN package_search that
lists them as 20 datasets of 10 resources. This process harvests them into a fresh
SQLite database, saves a scenario and queues a bundle; `flask bundles build` builds it
in its own process with the worker's code. Then gunicorn serves the API and the zip is downloaded whole and
resumed from the middle with HTTP Range.

Printed: build MB/s (target >= 100), download MB/s (target >= 100), peak RSS of the
`flask bundles build` process and of the gunicorn worker (target <= 150 MB each).

    .venv/bin/python bench/bundle.py [--files 200] [--mb 10] [--workers 4]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flask_migrate import upgrade
from procs import free_port, peak_rss_mb, wait_for, wait_peak_rss_mb

from subscribe import create_app
from subscribe.auth.services import create_token, create_user
from subscribe.bundles.models import Bundle
from subscribe.bundles.queue import new_bundle
from subscribe.catalog import services as catalog
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.extensions import db
from subscribe.scenarios.services import create_scenario
from subscribe.search import indexer
from subscribe.search.service import get_service

ROOT = Path(__file__).resolve().parent.parent
TARGET_MBPS = 100.0
TARGET_RSS_MB = 150.0
BLOCK = os.urandom(1024 * 1024)  # incompressible bytes, like real zipped or binary data
PER_DATASET = 10


# --- the portal, in its own process ---------------------------------------------------
class PortalHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    files = 200
    size = 10 * 1024 * 1024

    def log_message(self, *_args):
        pass

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/api/3/action/package_search":
            return self._packages(parse_qs(url.query))
        if url.path.startswith("/files/"):
            return self._file(int(url.path.rsplit("/", 1)[1].split(".")[0]))
        self.send_error(404)

    def _packages(self, query):
        start, rows = int(query.get("start", ["0"])[0]), int(query.get("rows", ["10"])[0])
        base = f"http://127.0.0.1:{self.server.server_port}/files"
        packages = [
            {"id": f"ds-{d:03d}", "name": f"ds-{d:03d}", "title": f"基准数据集 {d}",
             "organization": {"title": "基准局"}, "license_id": "CC-BY-4.0",
             "metadata_modified": "2026-11-01T00:00:00",
             "resources": [{"id": f"r-{n}", "name": f"file-{n}.bin", "format": "BIN",
                            "url": f"{base}/{n}.bin"}
                           for n in range(d * PER_DATASET, min((d + 1) * PER_DATASET, self.files))]}
            for d in range((self.files + PER_DATASET - 1) // PER_DATASET)
        ]  # fmt: skip
        body = json.dumps(
            {
                "success": True,
                "result": {"count": len(packages), "results": packages[start : start + rows]},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _file(self, n: int):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(self.size))
        self.end_headers()
        left = self.size
        prefix = n.to_bytes(8, "big")  # every file differs, so every hash differs
        self.wfile.write(prefix)
        left -= len(prefix)
        while left > 0:
            chunk = BLOCK[: min(left, len(BLOCK))]
            self.wfile.write(chunk)
            left -= len(chunk)


def serve_portal(port: int, files: int, size: int) -> None:
    PortalHandler.files, PortalHandler.size = files, size
    ThreadingHTTPServer(("127.0.0.1", port), PortalHandler).serve_forever()


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--mb", type=float, default=10.0, help="size of each file in MB")
    parser.add_argument("--workers", type=int, default=4, help="fetch threads")
    args = parser.parse_args()
    size = int(args.mb * 1024 * 1024)

    work = Path(tempfile.mkdtemp(prefix="subscribe-bench-bundle-"))
    portal_port, web_port = free_port(), free_port()
    env = {
        **os.environ, "SUBSCRIBE_INSTANCE_PATH": str(work), "SUBSCRIBE_DEMO": "0",
        "SUBSCRIBE_OUTBOUND_ALLOWLIST": "127.0.0.1", "SUBSCRIBE_BUNDLE_DIR": str(work / "bundles"),
        "SUBSCRIBE_BUNDLE_MAX_BYTES": str(64 * 1024**3), "SUBSCRIBE_BUNDLE_FETCH_WORKERS": str(args.workers),
        "SUBSCRIBE_LOG_LEVEL": "WARNING", "SUBSCRIBE_DATABASE_URL": f"sqlite:///{work / 'bench.db'}",
    }  # fmt: skip
    os.environ.update(env)
    portal = subprocess.Popen(
        [sys.executable, "-c", f"import bench.bundle as b; b.serve_portal({portal_port}, {args.files}, {size})"],
        cwd=ROOT,
    )  # fmt: skip
    gunicorn = None
    try:
        wait_for(
            f"http://127.0.0.1:{portal_port}/api/3/action/package_search?rows=0", seconds=300
        )  # loaded machine
        app = create_app()
        with app.app_context():
            upgrade()
            source = catalog.create_source("bench", "ckan", f"http://127.0.0.1:{portal_port}/")
            run = catalog.queue_harvest(source)
            claim_run(run.id)
            execute_run(run)
            indexer.apply_changes(get_service().store)
            user = create_user("bench@example.org", "correct horse battery")
            _t, token = create_token(user, "bench")
            # Every dataset of the source (a scenario with no words and no filters holds only
            # its pinned datasets).
            scenario = create_scenario(user, {"name": "基准", "q": "", "filters": {"source": ["bench"]},
                                              "include": [], "exclude": []})  # fmt: skip
            bundle = new_bundle(user.id, scenario_id=scenario.id)
            db.session.commit()
            bundle_id = bundle.id

        # The build runs in its own process, as in a worker, so its peak RSS is the build's.
        started = time.perf_counter()
        builder = subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "subscribe", "bundles", "build"],
                                   cwd=ROOT, env=env)  # fmt: skip
        rss_build = wait_peak_rss_mb(builder, interval=0.05)
        process_seconds = time.perf_counter() - started
        assert builder.returncode == 0, "flask bundles build failed"
        with app.app_context():
            bundle = db.session.get(Bundle, bundle_id)
            assert bundle.status == "ready", bundle.error
            content_mb = args.files * size / 1024**2
            zip_size, zip_sha, files_in_zip = bundle.size_bytes, bundle.sha256, bundle.file_count
            # From the claim to `ready` (fetch, zip, hash the zip): the process start is apart.
            build_seconds = (bundle.finished_at - bundle.started_at).total_seconds()

        idle = subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "subscribe", "bundles", "--help"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL)  # fmt: skip
        idle_rss = wait_peak_rss_mb(idle, interval=0.02)
        gunicorn = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-w", "1", "-b", f"127.0.0.1:{web_port}", "wsgi:app"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        wait_for(f"http://127.0.0.1:{web_port}/healthz", seconds=300)  # a loaded machine
        url = f"http://127.0.0.1:{web_port}/api/v1/bundles/{bundle_id}/download"
        headers = {"Authorization": f"Bearer {token}"}
        digest, got = hashlib.sha256(), 0
        started = time.perf_counter()
        with requests.get(url, headers=headers, stream=True, timeout=60) as response:
            response.raise_for_status()
            for chunk in response.iter_content(1024 * 1024):
                got += len(chunk)
                digest.update(chunk)
        download_seconds = time.perf_counter() - started
        assert got == zip_size and digest.hexdigest() == zip_sha, "download differs from the zip"
        cut = zip_size // 2
        resumed = requests.get(
            url, headers={**headers, "Range": f"bytes={cut}-"}, stream=True, timeout=60
        )
        tail = sum(len(c) for c in resumed.iter_content(1024 * 1024))
        assert resumed.status_code == 206 and tail == zip_size - cut
        worker_pids = subprocess.run(["pgrep", "-P", str(gunicorn.pid)], capture_output=True, text=True).stdout.split()  # fmt: skip
        rss_web = max(peak_rss_mb(int(p)) for p in worker_pids)
    finally:
        for proc in (gunicorn, portal):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)

    build_mbps = content_mb / build_seconds
    download_mbps = zip_size / 1024**2 / download_seconds
    print(
        f"bundle: {files_in_zip} files, {content_mb:,.0f} MB of content, zip {zip_size / 1024**2:,.0f} MB"
    )
    print(f"`flask bundles build` process: {process_seconds:.1f} s including start-up")
    print(f"build:    {build_seconds:6.1f} s  {build_mbps:7.1f} MB/s  (target >= {TARGET_MBPS:.0f})  {verdict(build_mbps >= TARGET_MBPS)}")  # fmt: skip
    print(f"download: {download_seconds:6.1f} s  {download_mbps:7.1f} MB/s  (target >= {TARGET_MBPS:.0f})  {verdict(download_mbps >= TARGET_MBPS)}")  # fmt: skip
    print(f"peak RSS, `flask bundles build` process: {rss_build:.0f} MB; the app alone (flask --help): {idle_rss:.0f} MB  (target <= {TARGET_RSS_MB:.0f})  {verdict(rss_build <= TARGET_RSS_MB)}")  # fmt: skip
    print(f"peak RSS, gunicorn worker serving the download: {rss_web:.0f} MB  (target <= {TARGET_RSS_MB:.0f})  {verdict(rss_web <= TARGET_RSS_MB)}")  # fmt: skip
    print("Range resume from the middle: 206, byte count exact")


if __name__ == "__main__":
    main()
