"""Benchmark: preview and profile 200 CSV files of 10 MB from a loopback server.

A threaded werkzeug server in its own process serves N generated CSV files (default 200
× 10 MB; Chinese company rows with 统一社会信用代码, 行政区划代码, phone numbers, dates,
amounts; each file differs in its first data row). This process previews them one after
another exactly as the `preview-resources` job does (preview.services.make_preview:
guarded fetch to a temporary file, encoding detection, CSV read, profile of the first
SUBSCRIBE_PREVIEW_PROFILE_ROWS rows, masking, line count for the rest), and prints the
throughput (MB of files per wall second) and this process's peak RSS beside the targets.

    .venv/bin/python bench/preview.py [--files 200] [--mb 10] [--profile-rows 10000]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procs import free_port, peak_rss_mb, wait_for
from stdnum.cn import uscc
from werkzeug.serving import WSGIRequestHandler, make_server

from subscribe.notify.ssrf import OutboundPolicy
from subscribe.preview.services import make_preview

TARGET_MB_S = 50.0
TARGET_RSS_MB = 200.0
COUNTIES = ("340102", "340103", "340104", "340111", "340121", "340122", "340123", "340181")
HEADER = "企业名称,统一社会信用代码,行政区划代码,联系电话,成立日期,注册资本(万元),员工人数,地址\n"


def template(size: int) -> bytes:
    """About `size` bytes of rows (built once; each file prefixes its own first row)."""
    rng = random.Random(19)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    rows = []
    for n in range(5000):
        body = "91" + rng.choice(COUNTIES) + "".join(rng.choice(alphabet) for _ in range(9))
        rows.append(
            f"示例市第{n}商贸有限公司,{body + uscc.calc_check_digit(body)},{rng.choice(COUNTIES)},"
            f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d},"
            f"20{rng.randint(10, 23)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d},"
            f"{rng.randint(10, 50000)},{rng.randint(1, 900)},示例市东湖区人民路{n}号\n"
        )
    block = "".join(rows).encode()
    return (block * (size // len(block) + 1))[:size].rsplit(b"\n", 1)[0] + b"\n"


def serve(port: int, size: int) -> None:
    rows = template(size - 200)

    def app(environ, start_response):
        n = environ["PATH_INFO"].rsplit("/", 1)[-1].split(".")[0]
        first = f"{HEADER}示例市首行{n}有限公司,,340102,,2020-01-01,1,1,示例\n".encode()
        start_response("200 OK", [("Content-Type", "text/csv"),
                                  ("Content-Length", str(len(first) + len(rows)))])  # fmt: skip
        return [first, rows]

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:
            pass

    make_server("127.0.0.1", port, app, threaded=True, request_handler=Quiet).serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--mb", type=float, default=10.0)
    parser.add_argument("--profile-rows", type=int, default=10_000)
    parser.add_argument("--serve", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(*args.serve)
        return
    size = int(args.mb * 1024 * 1024)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), str(size)]
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(f"{base}/files/warmup.csv", server, seconds=60)
        settings = {"policy": OutboundPolicy("127.0.0.1"), "max_bytes": 20 * 1024 * 1024,
                    "seconds": 60.0, "profile_rows": args.profile_rows}  # fmt: skip
        baseline = peak_rss_mb(os.getpid())  # the app's modules, before any file
        total, failed, formats_found = 0, 0, set()
        started, cpu_started = time.perf_counter(), time.process_time()
        for n in range(args.files):
            answer = make_preview(f"{base}/files/{n}.csv", "CSV", **settings)
            if answer["status"] != "ok":
                failed += 1
                print(f"file {n}: {answer['reason']} {answer.get('detail')}", file=sys.stderr)
                continue
            total += answer["bytes_read"]
            formats_found.update(c["format"] for c in answer["profile"] if c["format"])
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        server.terminate()
        server.wait()
    mb = total / 1024 / 1024
    rss = peak_rss_mb(os.getpid())
    print(f"files: {args.files} × {args.mb:g} MB, {failed} failed; profiled rows per file: "
          f"{args.profile_rows:,}; formats found: {sorted(formats_found)}")  # fmt: skip
    print(f"throughput: {mb / wall:8.1f} MB/s   (target ≥ {TARGET_MB_S:g})   "
          f"{mb:,.0f} MB in {wall:.1f} s wall, {cpu:.1f} s CPU of this process")  # fmt: skip
    print(f"peak RSS:   {rss:8.1f} MB     (target ≤ {TARGET_RSS_MB:g})   "
          f"of which {baseline:.0f} MB before the first file (imports)")  # fmt: skip


if __name__ == "__main__":
    main()
