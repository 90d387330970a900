"""Differential check of the catalog writer: what a series of tabular harvests stores,
dumped so that two versions of the code can be compared (same datasets, resources,
versions and events, value for value as stored).

The series, on a sample of the national export (bench/national.py's files): first
harvest; 1 % of titles edited; every 97th row gone (deleted); the edited file again
(those rows restored). After each run every stored row is dumped without its
timestamps and database ids (datasets by identifier, everything else by its dataset's
identifier), as the database holds it (JSON as its text). Run it with each version of
the code (each checkout's own venv) and compare the dumps:

    .venv/bin/python bench/harvest_diff.py dump /tmp/after.jsonl [--records 20000]
    /work/main/.venv/bin/python bench/harvest_diff.py dump /tmp/before.jsonl
    python bench/harvest_diff.py compare /tmp/before.jsonl /tmp/after.jsonl

SUBSCRIBE_DATABASE_URL (a PostgreSQL database, emptied first) runs it on PostgreSQL;
SQLite by default. JSON is compared as parsed values there (jsonb keeps no text).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sqlalchemy as sa
from flask_migrate import upgrade
from national import export_files
from procs import wait_for

from subscribe import create_app
from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.extensions import db

PORT = 18_765
# Not compared: when a row was written, and ids (numbered by insertion order).
SKIP = {"id", "created_at", "updated_at", "last_seen_run_id", "harvest_run_id", "next_check_at"}


def dump_rows(connection, out) -> None:
    identifiers = dict(connection.execute(sa.text("SELECT id, identifier FROM datasets")).all())
    for table, order in (
        ("datasets", "identifier"),
        ("resources", "dataset_id, position, id"),
        ("dataset_versions", "dataset_id, number"),
        ("catalog_events", "id"),
    ):
        result = connection.execute(sa.text(f"SELECT * FROM {table} ORDER BY {order}"))
        rows = []
        for row in result.mappings():
            values = {k: v for k, v in row.items() if k not in SKIP}
            if "deleted_at" in values:  # when is not compared; whether is
                values["deleted_at"] = values["deleted_at"] is not None
            if "dataset_id" in values:
                values["dataset_id"] = identifiers[values["dataset_id"]]
            rows.append(values)
        if table != "catalog_events":  # datasets in identifier order, the rest by dataset
            rows.sort(key=lambda r: json.dumps(r, sort_keys=True, default=str))
        for values in rows:
            out.write(json.dumps([table, values], sort_keys=True, ensure_ascii=False,
                                 default=str) + "\n")  # fmt: skip


def series(first: Path, changed: Path, workdir: Path) -> list[Path]:
    """The files harvested in turn: first, edited, with rows gone, edited again."""
    fewer = workdir / "fewer.csv"
    with (
        changed.open(encoding="utf-8-sig", newline="") as src,
        fewer.open("w", encoding="utf-8-sig", newline="") as dst,
    ):
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(next(reader))
        for n, row in enumerate(reader):
            if n % 97:
                writer.writerow(row)
    return [first, changed, fewer, changed]


def dump(path: Path, records: int) -> None:
    first, changed, _ = export_files(records, 0.01)
    workdir = Path(tempfile.mkdtemp(prefix="harvest-diff-"))
    files = series(first, changed, workdir)
    port = PORT  # fingerprints cover the export's origin: the same in every dump
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/export.csv"
    database = os.environ.get("SUBSCRIBE_DATABASE_URL") or f"sqlite:///{workdir / 'diff.db'}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database,
            "INSTANCE_PATH": str(workdir),
            "SUBSCRIBE_OUTBOUND_ALLOWLIST": ["127.0.0.1"],
        }
    )  # the loopback server
    try:
        shutil.copy(files[0], workdir / "export.csv")
        wait_for(url, server)
        with app.app_context(), path.open("w", encoding="utf-8") as out:
            if database.startswith("postgresql"):
                db.session.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
                db.session.commit()
            upgrade()
            source = services.create_source("diff", "tabular", url)
            for step, file in enumerate(files):
                shutil.copy(file, workdir / "export.csv")
                run = services.queue_harvest(source)
                claim_run(run.id)
                run = execute_run(run)
                counts = {k: getattr(run, k) for k in
                          ("status", "created", "updated", "unchanged", "deleted", "bad")}  # fmt: skip
                counts["errors"] = run.errors
                print(f"run {step}: {counts}")
                out.write(
                    json.dumps(["run", step, counts], sort_keys=True, ensure_ascii=False) + "\n"
                )
                db.session.commit()
                with db.engine.connect() as connection:
                    dump_rows(connection, out)
    finally:
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


def _normal(line: str):
    """A dumped line with JSON text parsed (jsonb and SQLite's text compare as values)."""
    item = json.loads(line)
    if item[0] != "run":
        for key, value in item[1].items():
            if isinstance(value, str) and value[:1] in "[{" or value == "null":
                with contextlib.suppress(ValueError):
                    item[1][key] = json.loads(value)
    return item


def compare(before: Path, after: Path, parsed: bool) -> int:
    a, b = before.read_text().splitlines(), after.read_text().splitlines()
    if parsed:
        a, b = [_normal(x) for x in a], [_normal(x) for x in b]
    differences = [(n, x, y) for n, (x, y) in enumerate(zip(a, b, strict=False)) if x != y]
    print(f"{len(a):,} and {len(b):,} lines; {len(differences):,} differ")
    for n, x, y in differences[:5]:
        print(f"line {n}:\n  before {str(x)[:400]}\n  after  {str(y)[:400]}")
    return 0 if len(a) == len(b) and not differences else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("path", type=Path)
    d.add_argument("--records", type=int, default=20_000)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--parsed", action="store_true", help="compare JSON text as values")
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.path, args.records)
    else:
        sys.exit(compare(args.before, args.after, args.parsed))


if __name__ == "__main__":
    main()
