"""Facet counts of multi-valued columns (themes, formats) over their combinations."""

from __future__ import annotations

import json
import random

import numpy as np

from subscribe.search.columns import BitsetColumn


def test_counts_match_the_rows_values_as_values_grow_and_rows_change():
    """Counted by combination, the same as counting each row's values: past 64 values
    (a second word per row), after rows are reassigned, and for any subset of rows."""
    rng = random.Random(7)
    column = BitsetColumn(10)
    held: dict[int, set[str]] = {}
    for round_ in range(4):
        names = [f"v{n}" for n in range(30 * (round_ + 1))]  # 30 … 120 distinct values
        column.resize(len(column.bits) + 50)
        ids = np.array(sorted(rng.sample(range(len(column.bits)), 40)), dtype=np.int64)
        values = [rng.sample(names, rng.randint(0, 3)) for _ in ids]
        # Stored texts as either backend spells them (SQLite as written, PostgreSQL's
        # jsonb with its spaces), and an empty list as NULL or JSON null.
        texts = [json.dumps(v, separators=(",", ":") if n % 2 else (", ", ": ")) for n, v in
                 enumerate(values)]  # fmt: skip
        texts = [None if t == "[]" and n % 3 == 0 else "null" if t == "[]" and n % 3 == 1 else t
                 for n, t in enumerate(texts)]  # fmt: skip
        column.assign_json(ids, texts)
        held.update({int(i): set(v) for i, v in zip(ids, values, strict=True)})
        some = np.array(sorted(rng.sample(range(len(column.bits)), 60)), dtype=np.int64)
        counts = column.counts(some)
        expected = [
            sum(value in held.get(int(i), ()) for i in some) for value in column.vocabulary.values
        ]
        expected[0] = 0  # ordinal 0, the empty value, is never set
        assert counts.tolist() == expected
    assert column.counts(np.zeros(0, dtype=np.int64)).tolist() == [0] * len(column.vocabulary)


def test_the_same_list_spelled_two_ways_is_one_combination():
    column = BitsetColumn(4)
    column.assign_json(np.arange(4), ['["交通", "环境"]', '["交通","环境"]', None, "[]"])
    assert column.combo.tolist()[:2] == [column.combo[0]] * 2
    assert column.combo[2] == column.combo[3] == 0
    assert column.counts(np.arange(4)).tolist() == [0, 2, 2]
