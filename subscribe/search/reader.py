"""The reading side of the text index: the current Whoosh reader, refreshed when it changes."""

from __future__ import annotations

import threading
import time
from collections import Counter

import numpy as np

from subscribe.search.postings import PostingCache, SegmentView, live_postings
from subscribe.search.store import IndexStore

WARM_TERMS = 200  # per field and large segment: the postings read when a reader opens
WARM_MIN_DOCS = 5_000  # smaller segments are cheap to read on demand
FIELDS = ("title", "body")  # word fields
GRAMS = "grams"  # the title's character bigrams (analysis.GramTokenizer)


class TextIndex:
    def __init__(self, store: IndexStore, cache: PostingCache, refresh_interval: float = 0.5):
        self.store = store
        self.cache = cache
        self.refresh_interval = refresh_interval
        self.lock = threading.Lock()
        self._checked_at = 0.0
        self._key: tuple | None = None  # (folder, generation) the reader shows
        self.reader = None
        self.views: list[SegmentView] = []
        self._indexed: tuple[tuple, int, np.ndarray] | None = None  # (key, size, mask)
        # Pre-read postings when a reader opens: for processes that answer people's
        # searches (web). Batch processes (worker, bundle builder) turn it off: they
        # would hold tens of MB of postings and the segmenter dictionary for no one.
        self.warm_on_open = True

    def refresh(self, force: bool = False) -> None:
        """Reopen when the current index or its generation changed (checked at most
        every refresh_interval seconds, so a busy server does not stat per request)."""
        now = time.monotonic()
        if not force and now - self._checked_at < self.refresh_interval:
            return
        with self.lock:
            self._checked_at = now
            ix = self.store.open_current()
            if ix is None:  # nothing indexed yet: text queries find nothing until the worker runs
                return
            key = (ix.storage.folder, ix.latest_generation())
            if key == self._key:
                return
            reader = ix.reader()
            old = {view.segment_id: view for view in self.views}
            views = []
            for segreader, _offset in reader.leaf_readers():
                segment_id = segreader.segment().segment_id() if segreader.doc_count_all() else None
                if segment_id is None:
                    continue
                known = old.get(segment_id)
                views.append(known.with_reader(segreader) if known else SegmentView(segreader))
            self.cache.forget_segments({view.segment_id for view in views})
            if self.warm_on_open:
                self.warm([view for view in views if view.segment_id not in old])
            previous, self.reader, self.views, self._key = self.reader, reader, views, key
            if previous is not None:
                previous.close()

    def warm(self, views: list[SegmentView]) -> None:
        """Pre-read what the first queries after a start or a swap would otherwise read
        from disk and decode one by one: the query analysis (segmenter dictionary,
        OpenCC), and the most frequent terms' postings in every new large segment.

        Terms go most frequent first over all those segments and fields together, each
        read in every segment, within three quarters of the posting cache (warming
        never evicts itself). Per segment in turn, a from-scratch index of 15 segments
        spent the whole budget on its first two and left the rest cold."""
        from subscribe.search.query import parse  # the analysis loads its dictionaries

        parse("数据 空气质量 PM2.5")
        large = [view for view in views if view.reader.doc_count_all() >= WARM_MIN_DOCS]
        frequency: Counter[tuple[str, str]] = Counter()
        for view in large:
            for field in (*FIELDS, GRAMS):
                for weight, term in view.reader.most_frequent_terms(field, WARM_TERMS):
                    term = term.decode("utf-8") if isinstance(term, bytes) else term
                    frequency[(field, term)] += weight
        budget = self.cache.max_postings * 3 // 4
        for (field, term), _weight in frequency.most_common():
            for view in large:
                budget -= len(self.cache.get(view, field, term)[0])
            if budget <= 0:
                return

    @property
    def key(self) -> tuple | None:
        """(folder, generation) of the reader shown: changes whenever the text does."""
        return self._key

    def close(self) -> None:
        with self.lock:
            if self.reader is not None:
                self.reader.close()
            self.reader, self.views, self._key = None, [], None

    def indexed_mask(self, size: int) -> np.ndarray:
        """Dataset ids (< size) whose text is in the index: searchable by text."""
        key, views = self._key, self.views
        cached = self._indexed
        if cached is not None and cached[0] == key and cached[1] == size:
            return cached[2]
        mask = np.zeros(size, dtype=bool)
        for view in views:
            ids = view.dataset_ids[view.live]
            mask[ids[ids < size]] = True
        self._indexed = (key, size, mask)
        return mask

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        parts = [live_postings(view, self.cache, field, term) for view in self.views]
        if not parts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        if len(parts) == 1:
            return parts[0]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def phrase_ids(self, terms: list[str]) -> np.ndarray:
        """Dataset ids whose title or body holds the terms at consecutive positions."""
        if len(terms) == 1:
            return np.unique(np.concatenate([self.postings(f, terms[0])[0] for f in FIELDS]))
        found = []
        for view in self.views:
            docnums = np.concatenate([self.cache.get(view, f, tuple(terms))[0] for f in FIELDS])
            if len(docnums):
                docnums = docnums[view.live[docnums]]
                found.append(view.dataset_ids[docnums])
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    def has_term(self, field: str, term: str) -> bool:
        return any((field, term) in view.reader for view in self.views)
