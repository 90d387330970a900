"""Cached postings keep term frequencies small, and give back the float32 values read."""

from __future__ import annotations

import numpy as np

from subscribe.search.postings import _compact_tf, live_postings


class _View:
    def __init__(self, count: int):
        self.segment_id = "s"
        self.live = np.ones(count, dtype=bool)
        self.live[1] = False
        self.dataset_ids = np.arange(count, dtype=np.int64) + 100


class _Cache:
    def __init__(self, docnums, tf):
        self.found = (docnums, tf)

    def get(self, view, field, term):
        return self.found


def test_whole_counts_are_kept_in_a_byte_and_read_back_as_the_same_float32():
    for values in ([1, 1, 1], [1, 2, 255], [3.0, 0.0, 7.0], [1.5, 2, 3], [1, 256, 2]):
        tf = np.asarray(values, dtype=np.float32)
        kept = _compact_tf(tf)
        whole = all(float(v).is_integer() and 0 <= v <= 255 for v in values)
        small = kept.dtype == np.uint8 or kept.strides == (0,)  # a byte each, or one 1.0
        assert small == whole
        docnums = np.arange(len(values), dtype=np.int32)
        ids, read = live_postings(_View(len(values)), _Cache(docnums, kept), "body", "t")
        assert read.dtype == np.float32
        expected = np.delete(tf, 1)
        assert np.array_equal(read, expected)
        assert ids.tolist() == [100 + n for n in range(len(values)) if n != 1]
