"""Facet counts of multi-valued columns (themes, formats) over their combinations."""

from __future__ import annotations

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
        column.grow(len(column.bits) + 50)
        ids = np.array(sorted(rng.sample(range(len(column.bits)), 40)), dtype=np.int64)
        values = [rng.sample(names, rng.randint(0, 3)) for _ in ids]
        column.assign(ids, [column.encode(v) for v in values])
        held.update({int(i): set(v) for i, v in zip(ids, values, strict=True)})
        some = np.array(sorted(rng.sample(range(len(column.bits)), 60)), dtype=np.int64)
        counts = column.counts(some)
        expected = [
            sum(value in held.get(int(i), ()) for i in some) for value in column.vocabulary.values
        ]
        expected[0] = 0  # ordinal 0, the empty value, is never set
        assert counts.tolist() == expected
    assert column.counts(np.zeros(0, dtype=np.int64)).tolist() == [0] * len(column.vocabulary)
