"""The tabular reader's fast paths give what the general code they stand in for gives."""

from __future__ import annotations

import itertools
import random

from subscribe.catalog.harvesters import tabular
from subscribe.catalog.normalize import BLANK_WORDS, clean_text


def test_blank_cells_are_exactly_the_cells_whose_lower_case_is_a_blank_word():
    letters = set("".join(BLANK_WORDS))
    # Every character whose lower case holds a blank word's character (over all of Unicode).
    relevant = [
        char
        for code in range(0x110000)
        if not 0xD800 <= code < 0xE000
        and (set((char := chr(code)).lower()) & letters or char in letters)
    ]
    longest = max(map(len, BLANK_WORDS))
    tried = 0
    for size in range(1, longest + 1):
        for chars in itertools.product(relevant, repeat=size):
            text = "".join(chars)
            tried += 1
            assert (text.lower() in BLANK_WORDS) == (text in tabular._BLANK_CELLS), repr(text)
    assert tried >= len(relevant) ** longest
    assert {"NaN", "N/A", "NULL", "None", "无", "—"} <= tabular._BLANK_CELLS
    assert "CSV" not in tabular._BLANK_CELLS and "" not in tabular._BLANK_CELLS


def test_texts_fast_path_is_clean_text_per_cell():
    rng = random.Random(7)
    pool = ["", "NaN", "n/a", "Null", "无", "—", "-", "CSV", "数据", "a  b", " x", "y ", "\u3000z",
            "none ", "ab\x07", "市交通局", "NONE", "nULL", "nan2"]  # fmt: skip
    for _ in range(20_000):
        cells = [rng.choice(pool) for _ in range(rng.randint(1, 6))]
        assert tabular._texts(cells) == [clean_text(cell) for cell in cells], cells
