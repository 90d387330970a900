"""The reading side of the text index: the current Whoosh reader, refreshed when it changes.

Web processes warm a new reader on a thread of their own (`warm_in_background`): the
reader before it answers meanwhile, or at a cold start the new one, unwarmed (right
answers, read from disk on demand). Every Whoosh call on a segment goes through its
view's lock: a segment reader shares one file object per file between its callers
(seek, then read), so two threads reading postings at once would read each other's
offsets. A replaced reader is closed once no call still uses it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from contextlib import contextmanager

import numpy as np

from subscribe.search.postings import PostingCache, SegmentView, live_postings
from subscribe.search.store import IndexStore

log = logging.getLogger(__name__)

WARM_TERMS = 200  # per field and large segment: the postings read when a reader opens
WARM_MIN_DOCS = 5_000  # smaller segments are cheap to read on demand
# A background warm steps aside while searches run, at most this long per postings read:
# a busy warm thread made every search wait for the interpreter lock at each of its
# lock releases (numpy, SQLite, the socket), and still ends under steady traffic.
YIELD_SECONDS = 0.02
# The reader before answers at most this long while a new one warms; then the new one
# takes over (the text is fresh again) and the warm goes on beside it. A national
# harvest's last reader, warmed first in full, left searches on the reader before it
# for the whole warm (a search right after the index caught up missed ~7 % of 公交).
WARM_SWAP_SECONDS = 10.0
# Opening the current generation races the writer's commits (see refresh): tries.
OPEN_ATTEMPTS = 3
FIELDS = ("title", "body")  # word fields
GRAMS = "grams"  # the title's character bigrams (analysis.GramTokenizer)


class Snapshot:
    """One opened reader, its segment views and its (folder, generation) key; `users`
    counts the calls reading it, so a replaced one is closed only once they end."""

    def __init__(self, reader, views: list[SegmentView], key: tuple):
        self.reader, self.views, self.key = reader, views, key
        self.users = 0
        self.retired = False


EMPTY = Snapshot(None, [], None)


class TextIndex:
    def __init__(self, store: IndexStore, cache: PostingCache, refresh_interval: float = 0.5):
        self.store = store
        self.cache = cache
        self.refresh_interval = refresh_interval
        self.lock = threading.Lock()  # one opener (and one swap) at a time
        self._pins = threading.Lock()  # Snapshot.users and retirement
        self._checked_at = 0.0
        self._current = EMPTY
        self._indexed: tuple[tuple, int, np.ndarray] | None = None  # (key, size, mask)
        # Pre-read postings when a reader opens: for processes that answer people's
        # searches (web). Batch processes (worker, bundle builder) turn it off: they
        # would hold tens of MB of postings and the segmenter dictionary for no one.
        self.warm_on_open = True
        # Web processes (service.serve_in_background): warm on a thread of its own, not
        # on the request that noticed the new reader (~17 CPU-s at 345,853 datasets).
        self.warm_in_background = False
        self._warming: threading.Thread | None = None
        # Called by a background warm once its reader is shown, with the frequent
        # (field, term) pairs it read, most frequent first, and a step-aside callable
        # (the engine computes their weights: SearchEngine.prewarm).
        self.after_warm = None
        self._pending: Snapshot | None = None  # warming before it is shown
        self.warming_since: float | None = None  # time.monotonic() when it began
        self._searching = 0  # searches in flight (see serving)
        self._closed = False

    # --- the reader shown ---------------------------------------------------------
    @property
    def reader(self):
        return self._current.reader

    @property
    def views(self) -> list[SegmentView]:
        return self._current.views

    @property
    def key(self) -> tuple | None:
        """(folder, generation) of the reader shown: changes whenever the text does."""
        return self._current.key

    @property
    def warming(self) -> bool:
        """A new reader's postings are being pre-read on a thread of their own."""
        return self._warming is not None

    @contextmanager
    def serving(self):
        """Around a search someone waits for (service.search): a background warm steps
        aside meanwhile (YIELD_SECONDS)."""
        with self._pins:
            self._searching += 1
        try:
            yield
        finally:
            with self._pins:
                self._searching -= 1

    def _step_aside(self) -> None:
        self._swap_pending()
        deadline = time.monotonic() + YIELD_SECONDS
        while self._searching and time.monotonic() < deadline:
            time.sleep(0.001)

    @contextmanager
    def pinned(self, snapshot: Snapshot | None = None):
        """The current snapshot (or `snapshot`), kept open for the duration."""
        with self._pins:
            snapshot = snapshot or self._current
            snapshot.users += 1
        try:
            yield snapshot
        finally:
            with self._pins:
                snapshot.users -= 1
                close = snapshot.retired and snapshot.users == 0
            if close:
                _close(snapshot)

    def _swap(self, snapshot: Snapshot) -> None:
        """Show `snapshot`; the one before is closed now or when its last user ends.
        Called with self.lock held."""
        self.cache.forget_segments({view.segment_id for view in snapshot.views})
        with self._pins:
            previous, self._current = self._current, snapshot
        self._retire(previous)

    def _retire(self, snapshot: Snapshot) -> None:
        """Close `snapshot` now, or when the last call reading it ends (see pinned)."""
        with self._pins:
            snapshot.retired = True
            close = snapshot.users == 0
        if close:
            _close(snapshot)

    # --- opening ------------------------------------------------------------------
    def refresh(self, force: bool = False) -> None:
        """Reopen when the current index or its generation changed (checked at most
        every refresh_interval seconds, so a busy server does not stat per request).

        While a new reader warms before it is shown (at most WARM_SWAP_SECONDS) nothing
        else opens; a reader opened while a warm goes on beside the one shown is shown
        at once (its new segments read on demand). `force` waits for a warm in progress
        and for another thread's opening (tests, benches, the CLI)."""
        now = time.monotonic()
        if not force and now - self._checked_at < self.refresh_interval:
            return
        if force:
            warming = self._warming
            if warming is not None:
                warming.join()
        # Without a reader a request waits for the thread opening one (it answers with
        # it as soon as it is open); with one, it goes on with that one.
        if not self.lock.acquire(blocking=force or self._current.reader is None):
            return
        try:
            self._checked_at = now
            if self._pending is not None or self._closed:
                return
            for attempt in range(OPEN_ATTEMPTS):
                try:
                    ix = self.store.open_current()
                    if ix is None:  # nothing indexed yet: text queries find nothing yet
                        return
                    key = (ix.storage.folder, ix.latest_generation())
                    if key == self.key:
                        return
                    snapshot = self._open(ix, key)
                    break
                except FileNotFoundError:
                    # The writer committed a newer generation and deleted the files of
                    # the one being opened (its TOC, merged segments) between listing
                    # and reading them: open the newer one.
                    if attempt == OPEN_ATTEMPTS - 1:
                        raise
            known = {view.segment_id for view in self.views}
            new = [view for view in snapshot.views if view.segment_id not in known]
            cold = [v for v in new if v.reader.doc_count_all() >= WARM_MIN_DOCS]
            if not (self.warm_on_open and cold):
                self._swap(snapshot)  # small segments: cheap to read on demand
            elif not self.warm_in_background:
                self.warm(cold)
                self._swap(snapshot)
            elif self._warming is not None or self.reader is None:
                # A warm goes on beside the reader shown, or a cold start: answer with
                # the new one now (slower at first); only a cold start warms it.
                self._swap(snapshot)
                if self._warming is None:
                    self._start_warm(snapshot, cold)
            else:
                self._pending = snapshot  # the one before serves meanwhile
                self._start_warm(snapshot, cold)
        finally:
            self.lock.release()

    def _open(self, ix, key: tuple) -> Snapshot:
        reader = ix.reader()
        old = {view.segment_id: view for view in self.views}
        views = []
        for segreader, _offset in reader.leaf_readers():
            segment_id = segreader.segment().segment_id() if segreader.doc_count_all() else None
            if segment_id is None:
                continue
            known = old.get(segment_id)
            views.append(known.with_reader(segreader) if known else SegmentView(segreader))
        return Snapshot(reader, views, key)

    def _start_warm(self, snapshot: Snapshot, views: list[SegmentView]) -> None:
        self.warming_since = time.monotonic()
        self._warming = threading.Thread(
            target=self._warm_then_swap, args=(snapshot, views), name="search-warm",
            daemon=True,
        )  # fmt: skip
        self._warming.start()

    def _swap_pending(self, due: bool = True) -> None:
        """Show the reader warming before it is shown, once WARM_SWAP_SECONDS have passed
        (or now with due=False: its warm ended)."""
        pending, since = self._pending, self.warming_since
        if pending is None or (due and time.monotonic() - (since or 0) < WARM_SWAP_SECONDS):
            return
        with self.lock:
            if self._pending is pending:
                self._pending = None
                if self._closed:
                    self._retire(pending)
                else:
                    self._swap(pending)

    def _warm_then_swap(self, snapshot: Snapshot, views: list[SegmentView]) -> None:
        started = time.monotonic()
        terms: list[tuple[str, str]] = []
        try:
            with self.pinned(snapshot):
                terms = self.warm(views, step_aside=True)
        except Exception:  # the reader still answers, reading postings on demand
            log.exception("search: warming a new reader failed")
        finally:
            self._swap_pending(due=False)
            try:
                if self.after_warm is not None and terms and self._current is snapshot:
                    self.after_warm(terms, self._step_aside)
            except Exception:  # searches compute what is missing on demand
                log.exception("search: warming the engine's term weights failed")
            with self.lock:
                self._warming, self.warming_since = None, None
        log.info("search: reader %s warmed in %.1f s", snapshot.key, time.monotonic() - started)

    def warm(self, views: list[SegmentView], step_aside: bool = False) -> list[tuple[str, str]]:
        """Pre-read what the first queries after a start or a swap would otherwise read
        from disk and decode one by one: the query analysis (segmenter dictionary,
        OpenCC), and the most frequent terms' postings in every new large segment.

        Terms go most frequent first over all those segments and fields together, each
        read in every segment, within three quarters of the posting cache (warming
        never evicts itself). Per segment in turn, a from-scratch index of 15 segments
        spent the whole budget on its first two and left the rest cold.

        `step_aside` (a background warm): before each read, wait while searches run
        (at most YIELD_SECONDS). Returns the (field, term) pairs read, most frequent
        first."""
        from subscribe.search.query import parse  # the analysis loads its dictionaries

        parse("数据 空气质量 PM2.5")
        large = [view for view in views if view.reader.doc_count_all() >= WARM_MIN_DOCS]
        frequency: Counter[tuple[str, str]] = Counter()
        for view in large:
            for field in (*FIELDS, GRAMS):
                if step_aside:
                    self._step_aside()
                for weight, term in view.most_frequent_terms(field, WARM_TERMS):
                    term = term.decode("utf-8") if isinstance(term, bytes) else term
                    frequency[(field, term)] += weight
        budget = self.cache.max_postings * 3 // 4
        read = []
        for (field, term), _weight in frequency.most_common():
            for view in large:
                if step_aside:
                    self._step_aside()
                budget -= len(self.cache.get(view, field, term)[0])
            read.append((field, term))
            if budget <= 0 or self._closed:
                break
        return read

    def close(self) -> None:
        """Release the index files (the app is going away); a warm in progress stops."""
        self._closed = True
        warming = self._warming
        if warming is not None:
            warming.join()
        with self.lock:
            self._swap(EMPTY)
            EMPTY.retired = False  # EMPTY is shared and has nothing to close
        self._closed = False  # a later search opens the index again

    # --- reading --------------------------------------------------------------------
    def indexed(self, size: int) -> tuple[tuple | None, np.ndarray]:
        """(key of the reader read, mask of the dataset ids < size whose text is in it:
        searchable by text), the two of one reader."""
        with self.pinned() as snapshot:
            key, views = snapshot.key, snapshot.views
            cached = self._indexed
            if cached is not None and cached[0] == key and cached[1] == size:
                return key, cached[2]
            mask = np.zeros(size, dtype=bool)
            for view in views:
                ids = view.dataset_ids[view.live]
                mask[ids[ids < size]] = True
            self._indexed = (key, size, mask)
            return key, mask

    def postings(self, field: str, term: str) -> tuple[np.ndarray, np.ndarray]:
        with self.pinned() as snapshot:
            parts = [live_postings(view, self.cache, field, term) for view in snapshot.views]
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
        with self.pinned() as snapshot:
            for view in snapshot.views:
                docnums = np.concatenate([self.cache.get(view, f, tuple(terms))[0] for f in FIELDS])
                if len(docnums):
                    docnums = docnums[view.live[docnums]]
                    found.append(view.dataset_ids[docnums])
        return np.unique(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    def has_term(self, field: str, term: str) -> bool:
        with self.pinned() as snapshot:
            return any(view.has_term(field, term) for view in snapshot.views)


def _close(snapshot: Snapshot) -> None:
    if snapshot.reader is not None:
        snapshot.reader.close()
