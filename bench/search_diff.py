"""Differential check for search speed work: the same API answers before and after.

Dumps /api/v1/datasets answers (ids, order, totals, facets, scores, highlights, partial)
for the bench's query mix and a second mix of sorts, pages, phrases, exclusions,
partial matches and filters, from a catalog folder that already holds a search index
(a copy of one bench/search.py has run in: the dump only reads it). Run it once with
the code before the change (PYTHONPATH naming a checkout of it) and once after, then
compare:

    git archive <before> subscribe | tar -x -C /tmp/base
    .venv/bin/python bench/search_diff.py COPY1 --code /tmp/base --dump before.json
    .venv/bin/python bench/search_diff.py COPY2 --dump after.json --compare before.json

(COPY1 and COPY2: fresh copies of the same folder; `--churn` writes to them.)

Each query is answered twice in a row (cold, then from the engine's caches) and
`--churn` runs the mix again after committing title changes to some datasets and
applying them with the follower, so caches that outlive a commit are checked too.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import json
import random
import sys
from pathlib import Path

if "--code" in sys.argv:  # before anything imports subscribe: the package from that folder
    sys.path.insert(0, sys.argv[sys.argv.index("--code") + 1])
    sys.meta_path.insert(0, importlib.machinery.PathFinder)  # ahead of the editable install
sys.path.insert(0, str(Path(__file__).resolve().parent))
from catalog_db import SEED, bench_app, retitle
from search import query_mix
from sqlalchemy import select

from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.search import indexer
from subscribe.search.service import get_service

RARE = ("基准改名", "充电桩", "停车场", "水质", "招生", "社保", "补贴", "air", "quality", "醫療")


def extra_mix(count: int) -> list[dict]:
    """Sorts, pages, quoted phrases, exclusions, partial matches and other filters."""
    rng = random.Random(SEED + 7)
    base = query_mix(count)
    sorts = ("relevance", "newest", "oldest", "quality", "completeness")
    mixed = []
    for n, params in enumerate(base):
        params = dict(params)
        words = params["q"].split()
        kind = n % 8
        if kind == 0:
            params["sort"] = rng.choice(sorts)
        elif kind == 1:
            params["page"] = rng.choice((2, 3, 7))
        elif kind == 2 and words:
            params["q"] = f'"{words[0]}" ' + " ".join(words[1:])
        elif kind == 3 and len(words) > 1:
            params["q"] = " ".join(words[:-1]) + " -" + words[-1]
        elif kind == 4:
            params["q"] += " " + rng.choice(RARE) + " " + rng.choice(RARE)  # often partial
        elif kind == 5:
            params["per_page"] = 100
        elif kind == 6:
            params["modified_from"] = rng.choice(("2019", "2021-05", "2023"))
            params["quality_min"] = rng.choice((0, 40))
        else:
            params["q"] = "".join(words)  # run together: bigrams and the phrase bonus
        mixed.append(params)
    return mixed


def answer(client, params: dict) -> dict:
    response = client.get("/api/v1/datasets", query_string=params)
    # The JSON text (keys sorted by Flask): 1 and 1.0 differ here, not once parsed.
    return {"status": response.status_code, "body": response.get_data(as_text=True)}


def run_mix(client, queries: list[dict]) -> list[dict]:
    answers = []
    for params in queries:
        first = answer(client, params)
        again = answer(client, params)
        answers.append({"params": params, "first": first, "again_same": first == again})
    return answers


def churn(app, count: int) -> None:
    """Commit title changes to `count` datasets and apply them with the follower."""
    rng = random.Random(SEED + 9)
    with app.app_context():
        ids = db.session.scalars(select(Dataset.id).where(Dataset.deleted_at.is_(None))).all()
        retitle(sorted(rng.sample(ids, count)), " 数据 基准改名")
        indexer.apply_changes(get_service().store)
        get_service().refresh(force=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--churn", type=int, default=0, help="datasets changed between passes")
    parser.add_argument("--dump", type=Path, required=True)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--code", type=Path, help="import subscribe from this folder")
    args = parser.parse_args()

    import subscribe

    print(f"code: {Path(subscribe.__file__).parent}", flush=True)
    app = bench_app(args.workdir)
    queries = query_mix(args.queries) + extra_mix(args.queries)
    client = app.test_client()
    with app.app_context():
        get_service().refresh(force=True)
    result = {"before_churn": run_mix(client, queries)}
    if args.churn:
        churn(app, args.churn)
        result["after_churn"] = run_mix(client, queries)
    args.dump.write_text(json.dumps(result, ensure_ascii=False, indent=0))
    unstable = [a["params"] for run in result.values() for a in run if not a["again_same"]]
    print(f"{len(queries)} queries per pass; answers differing on a second ask: {len(unstable)}")
    if args.compare:
        before = json.loads(args.compare.read_text())
        differing = 0
        for name, run in result.items():
            for old, new in zip(before.get(name, []), run, strict=False):
                if old["first"] != new["first"]:
                    differing += 1
                    if differing <= 5:
                        print("DIFFERS:", name, new["params"])
        print(f"compared with {args.compare}: {differing} answers differ")
        sys.exit(1 if differing or unstable else 0)


if __name__ == "__main__":
    main()
