"""Whoosh postings as numpy arrays, per segment, with an LRU cache for hot terms.

Whoosh segments are immutable apart from their deleted-document sets, so a term's
postings in a segment can be cached until the segment is merged away; deletions are
applied at query time from the segment's current deleted mask.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from itertools import chain

import numpy as np
from whoosh.codec.whoosh3 import W3LeafMatcher

EMPTY_IDS = np.zeros(0, dtype=np.int32)
EMPTY_TF = np.zeros(0, dtype=np.float32)


def read_postings(segreader, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
    """(docnums, term frequencies) of one term in one segment."""
    if (field, term) not in segreader:
        return EMPTY_IDS, EMPTY_TF
    matcher = segreader.postings(field, term)
    if isinstance(matcher, W3LeafMatcher):
        # Whole blocks at a time, decoded here from the block's data (id deltas, then
        # weights: None for all 1.0, one float for all alike, else one per posting):
        # Whoosh's per-posting id()/next() calls cost ~1 µs each, and even its block
        # reads delta-decode ids with a Python generator.
        deltas: list[int] = []
        weights: list[float] = []
        lengths: list[int] = []
        while not matcher._atend:
            matcher._read_data()
            block_ids, block_weights = matcher._data[0], matcher._data[1]
            count = matcher._blocklength
            if matcher._byteids:  # absolute ids: make them deltas like the others
                block_ids = np.diff(np.asarray(block_ids, dtype=np.int64), prepend=0).tolist()
            deltas.extend(block_ids)
            lengths.append(count)
            if block_weights is None:
                weights.extend([1.0] * count)
            elif isinstance(block_weights, float):
                weights.extend([block_weights] * count)
            else:
                weights.extend(block_weights)
            matcher._next_block()
        ids = np.cumsum(np.asarray(deltas, dtype=np.int64))
        # Each block's deltas start again from 0: take off what the blocks before added.
        ends = np.cumsum(lengths)
        carried = np.concatenate([[0], ids[ends[:-1] - 1]])
        ids -= np.repeat(carried, lengths)
        return ids.astype(np.int32), _compact_tf(np.asarray(weights, dtype=np.float32))
    ids, weights = [], []
    while matcher.is_active():
        ids.append(matcher.id())
        weights.append(matcher.weight())
        matcher.next()
    return np.asarray(ids, dtype=np.int32), _compact_tf(np.asarray(weights, dtype=np.float32))


_ONE = np.ones(1, dtype=np.float32)


def _compact_tf(tf: np.ndarray) -> np.ndarray:
    """tf as read, or when every value is 1.0 (most title and bigram postings) a
    read-only view of one value: half the memory of the cached postings; else, when
    every value is a whole count under 256 (Whoosh's frequencies: nearly all body
    postings), one byte each instead of four (live_postings gives float32 again: the
    same values)."""
    if len(tf) > 1 and bool((tf == 1.0).all()):
        return np.broadcast_to(_ONE, tf.shape)
    if len(tf) and tf.min() >= 0 and tf.max() <= 255:
        counts = tf.astype(np.uint8)
        if np.array_equal(counts, tf):
            return counts
    return tf


def read_positions(segreader, field: str, term: str, wanted: np.ndarray):
    """(docnums, positions), one row per occurrence of the term in the documents
    `wanted` (sorted docnums) of one segment. Only wanted documents' positions are
    decoded, a block at a time (Whoosh's Phrase decodes them posting by posting)."""
    if len(wanted) == 0 or (field, term) not in segreader:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    decode = segreader.schema[field].format.decode_positions
    matcher = segreader.postings(field, term)
    docs: list[int] = []
    lists: list[list[int]] = []
    if isinstance(matcher, W3LeafMatcher):
        while not matcher._atend:
            if matcher._maxid >= wanted[0]:
                matcher._read_ids()
                ids = np.asarray(matcher._ids, dtype=np.int64)
                hits = np.flatnonzero(np.isin(ids, wanted, assume_unique=True))
                if len(hits):
                    matcher._read_values()
                    values = matcher._values
                    docs.extend(ids[hits].tolist())
                    lists.extend(decode(values[i]) for i in hits.tolist())
            matcher._next_block()
    else:
        wanted_set = set(wanted.tolist())
        while matcher.is_active():
            if matcher.id() in wanted_set:
                docs.append(matcher.id())
                lists.append(decode(matcher.value()))
            matcher.next()
    counts = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    flat = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=int(counts.sum()))
    return np.repeat(np.asarray(docs, dtype=np.int64), counts), flat


def phrase_docnums(view: SegmentView, cache: PostingCache, field: str, terms: tuple[str, ...]):
    """Docnums (deleted ones included, as cached postings) of one segment whose field
    holds the terms at consecutive positions, and a dummy tf array (the cache's shape).

    Candidates are the documents holding every term (cached postings intersected);
    term i at position p then becomes the key docnum·2³² + p − i, and a document
    holds the phrase when one key is shared by every term."""
    candidates = None
    for term in dict.fromkeys(terms):
        docnums = cache.get(view, field, term)[0]
        candidates = docnums if candidates is None else np.intersect1d(candidates, docnums)
        if len(candidates) == 0:
            return EMPTY_IDS, EMPTY_TF
    positions = {t: view.positions(field, t, candidates) for t in dict.fromkeys(terms)}
    shared = None
    for i, term in enumerate(terms):
        docs, offsets = positions[term]
        keys = np.unique((docs << 32) + offsets - i)
        shared = keys if shared is None else np.intersect1d(shared, keys, assume_unique=True)
        if len(shared) == 0:
            return EMPTY_IDS, EMPTY_TF
    docnums = np.unique(shared >> 32).astype(np.int32)
    return docnums, np.ones(len(docnums), dtype=np.float32)


class SegmentView:
    """One segment's docnum → dataset id map and deleted mask.

    Whoosh calls on the segment go through `lock`: its reader reads each file through
    one shared file object (seek, then read), which two threads must not use at once."""

    def __init__(self, segreader):
        self.reader = segreader
        self.lock = threading.Lock()
        segment = segreader.segment()
        self.segment_id = segment.segment_id()
        self.deleted_count = segment.deleted_count()
        with self.lock:
            self.dataset_ids = np.asarray(segreader.column_reader("id").load(), dtype=np.int64)
        self.live = np.ones(len(self.dataset_ids), dtype=bool)
        if self.deleted_count:
            self.live[np.fromiter(segment.deleted_docs(), dtype=np.int64)] = False

    def with_reader(self, segreader) -> SegmentView:
        """The same segment seen by a newer reader: ids kept, deletions re-read if
        changed. A new view (its own lock, for its own reader's files): the one before
        may still be read by searches of the reader before."""
        segment = segreader.segment()
        view = object.__new__(SegmentView)
        view.reader, view.lock, view.segment_id = segreader, threading.Lock(), self.segment_id
        view.deleted_count, view.dataset_ids = segment.deleted_count(), self.dataset_ids
        if view.deleted_count == self.deleted_count:
            view.live = self.live
        else:
            view.live = np.ones(len(self.dataset_ids), dtype=bool)
            view.live[np.fromiter(segment.deleted_docs(), dtype=np.int64)] = False
        return view

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            return read_postings(self.reader, field, term)

    def positions(self, field: str, term: str, wanted: np.ndarray):
        with self.lock:
            return read_positions(self.reader, field, term, wanted)

    def has_term(self, field: str, term: str) -> bool:
        with self.lock:
            return (field, term) in self.reader

    def most_frequent_terms(self, field: str, number: int) -> list:
        with self.lock:
            return list(self.reader.most_frequent_terms(field, number))


class PostingCache:
    """LRU of (segment, field, term) → postings, bounded by the number of postings held."""

    def __init__(self, max_postings: int = 8_000_000):
        self.max_postings = max_postings
        self.size = 0
        self.entries: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, view: SegmentView, field: str, term) -> tuple[np.ndarray, np.ndarray]:
        """(docnums, tf) of a term (str), or of a phrase (tuple of terms: tf all 1)."""
        key = (view.segment_id, field, term)
        with self.lock:
            found = self.entries.get(key)
            if found is not None:
                self.entries.move_to_end(key)
                return found
        if isinstance(term, tuple):
            found = phrase_docnums(view, self, field, term)
        else:
            found = view.postings(field, term)
        with self.lock:
            if key not in self.entries:
                self.entries[key] = found
                self.size += len(found[0])
                while self.size > self.max_postings and len(self.entries) > 1:
                    _key, (old, _tf) = self.entries.popitem(last=False)
                    self.size -= len(old)
        return found

    def forget_segments(self, keep: set[str]) -> None:
        """Drop entries of segments that were merged away."""
        with self.lock:
            for key in [k for k in self.entries if k[0] not in keep]:
                self.size -= len(self.entries.pop(key)[0])


def live_postings(view: SegmentView, cache: PostingCache, field: str, term: str):
    """(dataset ids, tf) of a term in a segment, without deleted documents."""
    docnums, tf = cache.get(view, field, term)
    if len(docnums) == 0:
        return EMPTY_IDS, EMPTY_TF
    keep = view.live[docnums]
    return view.dataset_ids[docnums[keep]], tf[keep].astype(np.float32, copy=False)
