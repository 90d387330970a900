"""Offline evaluation of suggestions (issue 20 A): Recall@10 and nDCG@10, model vs baseline.

The catalog is the demo portal's generator (subscribe/demo: realistic Chinese titles,
descriptions, keywords, 27 publishers, 97 kinds of dataset, 11 regions, a second theme
on 15 % of datasets) at national scale. Its text is analysed with the search's own
analysis into an in-memory index, and the suggestion model of subscribe/suggest/profile.py
runs on it unchanged (`MemoryCorpus` is the model's `Corpus`, like the app's IndexCorpus).

Scenarios (each a set P of pinned datasets, 3 ≤ |P| ≤ 300):

- query:     one kind of dataset in one region — what a user pins after searching
             "东湖区 空气质量日报" (other regions' and other publishers' lookalikes are
             the distractors);
- theme:     one publisher's datasets that also carry a given second theme (市交通运输局
             × 公共安全): a cross-cutting interest text alone cannot see;
- keyword:   datasets of one region whose kind shares a keyword across publishers
             (站点: bus stops, bike stations, monitoring stations).

For each scenario 20 % of P (at least one) is hidden; the model sees the rest as the
scenario's members and ranks every other dataset. Recall@10 = |top 10 ∩ hidden| /
min(|hidden|, 10); nDCG@10 with binary relevance (ideal: min(|hidden|, 10) hits on top).
The baseline is "more from the same publisher": datasets ranked by the share of members
with their publisher, newest first within it. Also shown: the model without its
publisher and theme features (text only).

    nice -n 10 .venv/bin/python bench/suggest.py [--size 100000] [--scenarios 100] [--seed 7]

Target (issue 20): beat the baseline by a clear margin (here: ≥ +0.10 in both figures).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from subscribe.demo.catalog import DemoCatalog
from subscribe.search.indexer import body_text
from subscribe.suggest import profile as model

K = 10
HIDE = 0.2
TARGET_MARGIN = 0.10


class MemoryCorpus:
    """The demo catalog analysed into term → ids arrays (the search's analysis)."""

    def __init__(self, size: int, seed: int):
        started = time.perf_counter()
        catalog = DemoCatalog(size=size, exact_sizes=False)
        self.size = size
        self.live_count = size
        self.docs: list[tuple[str, str, str, list[str]]] = []
        self.facts = []  # (department, subject title, region, themes, keywords)
        postings: dict[str, dict[str, list[int]]] = {"title": defaultdict(list),
                                                     "body": defaultdict(list)}  # fmt: skip
        publishers: dict[str, int] = {"": 0}
        self.publisher = np.zeros(size, dtype=np.int32)
        themes: dict[str, list[int]] = defaultdict(list)
        for i in range(size):
            ds = catalog.dataset(i)
            title = ds.title
            body = body_text(ds.notes, list(ds.keywords), ds.department.name, list(ds.themes))
            self.docs.append((title, body, ds.department.name, list(ds.themes)))
            self.facts.append((ds.department.name, ds.subject.title, ds.region, ds.themes,
                               ds.subject.keywords))  # fmt: skip
            for term in model.indexed_terms(title):
                postings["title"][term].append(i)
            for term in model.indexed_terms(body):
                postings["body"][term].append(i)
            self.publisher[i] = publishers.setdefault(ds.department.name, len(publishers))
            for theme in ds.themes:
                themes[theme].append(i)
            if i and i % 20000 == 0:
                print(f"  analysed {i:,} datasets ({time.perf_counter() - started:.0f} s)")
        self.postings = {f: {t: np.asarray(ids, dtype=np.int64) for t, ids in p.items()}
                         for f, p in postings.items()}  # fmt: skip
        self.publisher_names = list(publishers)
        self.themes = {}
        for theme, ids in themes.items():
            mask = np.zeros(size, dtype=bool)
            mask[ids] = True
            self.themes[theme] = mask
        self.seconds = time.perf_counter() - started

    def visible(self) -> np.ndarray:
        return np.ones(self.size, dtype=bool)

    def presence(self, field: str, term: str) -> np.ndarray:
        return self.postings[field].get(term, np.zeros(0, dtype=np.int64))

    def publisher_of(self):
        return self.publisher, self.publisher_names

    def theme_masks(self, names) -> dict[str, np.ndarray]:
        return {n: self.themes[n] for n in names if n in self.themes}

    def texts(self, ids):
        return {i: self.docs[i] for i in ids}


def scenarios(corpus: MemoryCorpus, per_kind: int, rng: random.Random) -> list[tuple]:
    """[(kind, label, sorted ids)] with 3 ≤ |P| ≤ 300, `per_kind` of each kind at most."""
    by_query, by_theme, by_keyword = defaultdict(list), defaultdict(list), defaultdict(list)
    keyword_departments = defaultdict(set)
    for dept, _subject, _region, _themes, keywords in corpus.facts:
        for keyword in keywords:
            keyword_departments[keyword].add(dept)
    shared = {k for k, depts in keyword_departments.items() if len(depts) > 1}
    for i, (dept, subject, region, themes, keywords) in enumerate(corpus.facts):
        label = subject.replace("{Y}年", "").replace("{R}", "")
        by_query[f"{region} {label}"].append(i)
        for theme in themes[1:]:
            by_theme[f"{dept} × {theme}"].append(i)
        for keyword in set(keywords) & shared:
            by_keyword[f"{region} · {keyword}"].append(i)
    found = []
    for kind, groups in (("query", by_query), ("theme", by_theme), ("keyword", by_keyword)):
        usable = sorted((label, ids) for label, ids in groups.items() if 3 <= len(ids) <= 300)
        rng.shuffle(usable)
        found += [(kind, label, ids) for label, ids in usable[:per_kind]]
    return found


def metrics(ranked: list[int], hidden: set[int]) -> tuple[float, float]:
    hits = [1.0 if i in hidden else 0.0 for i in ranked[:K]]
    ideal = min(len(hidden), K)
    recall = sum(hits) / ideal
    dcg = sum(h / math.log2(r + 2) for r, h in enumerate(hits))
    idcg = sum(1 / math.log2(r + 2) for r in range(ideal))
    return recall, dcg / idcg


def model_ranking(corpus: MemoryCorpus, visible: list[int]) -> list[int]:
    members = np.asarray(visible, dtype=np.int64)
    profile = model.build(corpus, members, pinned=visible)
    return [i for i, _fit in model.candidates(corpus, profile, K)]


def baseline_ranking(corpus: MemoryCorpus, visible: list[int]) -> list[int]:
    """Same publisher first (most members' publisher first), newest first within it."""
    counts = np.bincount(corpus.publisher[visible], minlength=len(corpus.publisher_names))
    score = counts[corpus.publisher].astype(np.float64) * corpus.size + np.arange(corpus.size)
    score[visible] = -1
    top = np.argpartition(-score, K)[:K]
    return sorted(top.tolist(), key=lambda i: -score[i])


def text_only_ranking(corpus: MemoryCorpus, visible: list[int]) -> list[int]:
    saved = model.PUBLISHER, model.THEME
    model.PUBLISHER = model.THEME = 0.0
    try:
        return model_ranking(corpus, visible)
    finally:
        model.PUBLISHER, model.THEME = saved


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="datasets (national: 345853)")
    parser.add_argument("--scenarios", type=int, default=100, help="per kind of scenario")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    print(f"catalog: demo generator, {args.size:,} datasets; analysing …")
    corpus = MemoryCorpus(args.size, args.seed)
    print(f"  analysed in {corpus.seconds:.0f} s")
    chosen = scenarios(corpus, args.scenarios, rng)
    rankers = {"model": model_ranking, "text only": text_only_ranking,
               "same publisher": baseline_ranking}  # fmt: skip
    results = {name: defaultdict(list) for name in rankers}
    timings = []
    for kind, _label, ids in chosen:
        hidden = set(rng.sample(ids, max(1, round(HIDE * len(ids)))))
        visible = [i for i in ids if i not in hidden]
        for name, rank in rankers.items():
            started = time.perf_counter()
            ranked = rank(corpus, visible)
            if name == "model":
                timings.append(time.perf_counter() - started)
            recall, ndcg = metrics(ranked, hidden)
            results[name][kind].append((recall, ndcg))
            results[name]["all"].append((recall, ndcg))
    kinds = ["query", "theme", "keyword", "all"]
    counts = {k: len(results["model"][k]) for k in kinds}
    print("\nscenarios: " + ", ".join(f"{k} {counts[k]}" for k in kinds[:3]) +
          f"; 20 % of each scenario's pins hidden; K = {K}")  # fmt: skip
    print(f"{'':16}" + "".join(f"{k + ' R@10':>14}{k + ' nDCG':>14}" for k in kinds))
    means = {}
    for name in rankers:
        row = []
        for k in kinds:
            values = np.asarray(results[name][k] or [(0.0, 0.0)])
            r, n = values.mean(axis=0)
            means[name, k] = (r, n)
            row.append(f"{r:>14.3f}{n:>14.3f}")
        print(f"{name:16}" + "".join(row))
    r_m, n_m = means["model", "all"]
    r_b, n_b = means["same publisher", "all"]
    ok = r_m - r_b >= TARGET_MARGIN and n_m - n_b >= TARGET_MARGIN
    print(f"\nall scenarios: model Recall@10 {r_m:.3f} vs baseline {r_b:.3f} "
          f"({r_m - r_b:+.3f}); nDCG@10 {n_m:.3f} vs {n_b:.3f} ({n_m - n_b:+.3f}); "
          f"target: ≥ +{TARGET_MARGIN:.2f} in both — {'met' if ok else 'MISSED'}")  # fmt: skip
    print(f"model time per scenario: median {np.median(timings) * 1000:.0f} ms, "
          f"max {max(timings) * 1000:.0f} ms at {args.size:,} datasets")  # fmt: skip


if __name__ == "__main__":
    main()
