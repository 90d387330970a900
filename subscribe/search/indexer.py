"""Writing the Whoosh index: follow the change sequence, or rebuild from scratch and swap.

This is the node's one writer (Whoosh allows one per index); the worker runs
`apply_changes` every second, `flask search reindex` runs `rebuild`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sqlalchemy import func, select
from whoosh import index
from whoosh.writing import LockError

from subscribe.catalog import sequence
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.search.fastwrite import FastSegmentWriter
from subscribe.search.service import BURST_CHANGES, BURST_MAX_SECONDS, BURST_STILL_SECONDS
from subscribe.search.store import IndexStore, is_current_schema, read_applied, write_applied

log = logging.getLogger(__name__)
BODY_LIMIT = 4000  # characters of description indexed; enough to find, cheap to build

_COLUMNS = (Dataset.id, Dataset.title, Dataset.description, Dataset.keywords,
            Dataset.publisher, Dataset.themes, Dataset.translations, Dataset.deleted_at,
            Dataset.change_seq, Dataset.distinguished_by)  # fmt: skip


def body_text(
    description: str,
    keywords: list,
    publisher: str,
    themes: list,
    other_languages: str = "",
    distinguished_by: dict | None = None,
) -> str:
    """The indexed `body` field; the document matcher builds the same text. Separate
    values are joined by line breaks, which a quoted phrase does not run across (two
    keywords 公交, 站点 are not the phrase "公交站点"). `distinguished_by`'s values (what
    tells twins apart: 西山区) are words of the dataset: 公交站点 西山区 finds that one."""
    parts = [(description or "")[:BODY_LIMIT], "\n".join(keywords or []), publisher or "",
             "\n".join(themes or []), other_languages]  # fmt: skip
    if distinguished_by:
        parts.append("\n".join(str(value) for value in distinguished_by.values()))
    return "\n".join(parts)


def other_languages_text(translations: dict | None, title: str, description: str) -> str:
    """The translations' titles, descriptions and keywords that the shown ones do not
    already hold, so every language finds the dataset ("Air quality", "空气质量")."""
    shown = {title or "", description or ""}
    texts = []
    for entry in (translations or {}).values():
        texts.extend(entry.get(name) or "" for name in ("title", "description"))
        texts.extend(entry.get("keywords") or ())
    return "\n".join(dict.fromkeys(t for t in texts if t and t not in shown))[:BODY_LIMIT]


def document(row) -> dict:
    other = other_languages_text(row.translations, row.title, row.description)
    body = body_text(
        row.description, row.keywords, row.publisher, row.themes, other, row.distinguished_by
    )
    return {"id": row.id, "title": row.title or "", "body": body, "grams": row.title or ""}


BULK = 20_000  # a backlog at least this large is written by parallel segment writers
CHUNK = 50_000  # rows per commit: readers see a large backlog arrive in steps
# Rows per commit when this process writes the segment itself (a backlog under BULK):
# the worker holds those postings until the commit. At 20,000 rows a commit it grew by
# ~280 MB (814 MB peak in a national harvest, where the backlog stays a few thousand
# rows behind the harvest); at 5,000, by ~55 MB, for ~7 % more follower CPU.
SOLO_CHUNK = 5_000
# Estimated size (Whoosh's PostingPool estimate, ~150 bytes a posting) of the postings a
# segment writer sorts in memory. Past it Whoosh spills sorted runs to disk and merges
# them back with pickle and heapq, in Python: with 128 MB, a 25,000-document segment of
# a chunk spilled, and spilling and merging were two thirds of the follower's CPU.
POOL_MB = 1024
MERGE_POOL_MB = 128  # the writing process's own pool: its few documents and merges (_writer)
# A growing backlog (a bulk writer at work: a harvest) is left until it stands still (see
# _burst_state): BURST_ROWS or more rows waiting, left until the newest change is
# BURST_STILL_SECONDS old, or BURST_MAX_SECONDS after the burst was first seen at the
# latest: the schedule on which the web processes' keeper catches its columns up.
BURST_ROWS = BURST_CHANGES
_bursts: dict[str, list[float]] = {}  # index folder → [newest change, first seen, moved at]
# Which segments a follower commit merges (`follower_merge`). A segment of LARGE_SEGMENT
# documents or more (each segment writer's: a chunk of BULK to CHUNK rows over the two
# writers, 10,000 to 25,000 each) is written once and kept
# until over half of it is deleted; smaller ones are merged by size level (powers of
# ten), MERGE_FACTOR of a level at a time, so a document is rewritten a few times at
# most. Whoosh's default (MERGE_SMALL), once a few small segments sat beside a dozen
# large ones, merged the whole index in the worker, in Python: in a national first
# harvest 80 % of the follower's own CPU, and a commit that took over 300 s.
# BULK // 2, not 20,000: the writers' 10,000-19,999-document segments (a national first
# harvest's backlog written in 20,000-45,000-row steps) counted as small, and ten of them
# were merged in the worker's 128 MB pool, spilling to disk and merging back in Python
# (py-spy: ~47 % of the follower's samples, commit merges and the pool's flush).
LARGE_SEGMENT = BULK // 2
MERGE_FACTOR = 10


# A segment's documents never change once written (only its deletion set does), so its id
# column is read once: at 345,853 documents, reading every id again on each follower run
# was a quarter of the worker's CPU during a re-harvest. Keyed by Whoosh's segment id
# (index name + a random id) and size; a few dozen segments at most.
_SEGMENT_IDS: dict[tuple[str, int], np.ndarray] = {}


def _segment_ids(segreader) -> np.ndarray:
    key = (segreader.segment().segment_id(), segreader.doc_count_all())
    ids = _SEGMENT_IDS.get(key)
    if ids is None:
        ids = np.asarray(segreader.column_reader("id").load(), dtype=np.int64)
        if len(_SEGMENT_IDS) >= 256:  # merged-away segments: drop them all now and then
            _SEGMENT_IDS.clear()
        _SEGMENT_IDS[key] = ids
    return ids


def existing_documents(writer) -> tuple[np.ndarray, np.ndarray]:
    """(dataset ids sorted, their global document numbers) of the documents the writer's
    index holds, deleted ones left out: updates delete by number, not by a term lookup
    per row (Whoosh's update_document), which was the follower's main cost."""
    ids, docnums = [], []
    reader = writer.reader()
    for segreader, offset in reader.leaf_readers():
        if not segreader.doc_count_all():
            continue
        seg_ids = _segment_ids(segreader)
        live = np.ones(len(seg_ids), dtype=bool)
        segment = segreader.segment()
        if segment.deleted_count():
            live[np.fromiter(segment.deleted_docs(), dtype=np.int64)] = False
        ids.append(seg_ids[live])
        docnums.append(np.flatnonzero(live) + offset)
    reader.close()
    if not ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    all_ids, all_docnums = np.concatenate(ids), np.concatenate(docnums)
    order = np.argsort(all_ids, kind="stable")
    return all_ids[order], all_docnums[order]


def apply_changes(
    store: IndexStore, chunk: int = CHUNK, procs: int = 2, leave_bursts: bool = False
) -> int:
    """Index every dataset change newer than the index's applied sequence.

    Returns the rows applied. A backlog of BULK rows or more is written by `procs`
    segment writer processes (as the rebuild does); each chunk is one commit, after
    which the applied sequence is recorded (a crash redoes at most one chunk).
    `leave_bursts` (the worker's scheduled runs): a backlog still growing is left for a
    later run (`_burst_state`); returns 0 then.
    """
    ix = store.open_current(create=True)
    if not is_current_schema(ix):  # built by an older version: fields differ
        log.warning("search index has an older schema; rebuilding it")
        rebuild(store, procs=procs)
        return 0
    path = Path(ix.storage.folder)
    applied = read_applied(path)
    done = 0
    paused_at, began = None, 0.0  # a burst whose writer paused: its counter then, its start
    if leave_bursts:
        # Told by the change counter alone, before any row is read: reading the waiting
        # rows at each look (50,000 a second) to leave them was the worker's largest CPU
        # during a national harvest. Numbers past `applied` are at least the rows waiting.
        counter = sequence.current()
        state, began = _burst_state(str(path), counter - applied, counter)
        if state == "left":
            return 0
        if state == "still":
            paused_at = counter
    rows = _changes_after(applied, chunk)
    while rows:
        parallel = procs if len(rows) >= BULK else 1
        if parallel == 1:
            # Written in this process: its postings are held here until the commit.
            rows = rows[:SOLO_CHUNK]
        try:
            writer = _writer(ix, parallel)
        except LockError:
            log.warning("search index is locked by another writer; will retry")
            return done
        following = None
        last_seq, count = rows[-1].change_seq, len(rows)
        try:
            _write(writer, rows)
            if parallel > 1:
                # The segment writer processes are still analysing and writing this
                # chunk: read the next one meanwhile, not while they wait for it (at
                # 345,853 rows, seven reads of 50,000 rows that left a core idle). The
                # rows were handed over (pickled to the writers' task files): let them
                # go first, or the worker holds two chunks (national peak 339 -> 481 MB).
                rows = None
                following = _changes_after(last_seq, chunk)
            writer.commit(mergetype=follower_merge)
        except BaseException:
            writer.cancel()
            raise
        applied = last_seq
        write_applied(path, applied)
        done += count
        if paused_at is not None and _writer_resumed(str(path), paused_at, began):
            return done
        rows = following if following is not None else _changes_after(applied, chunk)
    return done


def _writer_resumed(folder: str, paused_at: int, began: float) -> bool:
    """Whether the writer of a burst that had paused (its counter still BURST_STILL_SECONDS:
    this catch-up began) is writing again: BURST_ROWS or more changes since. The burst is
    then left again (from when it began, for BURST_MAX_SECONDS): a national first harvest
    on PostgreSQL paused over 3 s once (a checkpoint's flush, say), and the catch-up then
    chased it to its end, indexing beside it (worker 56 CPU-s, segment writers 20)."""
    counter = sequence.current()
    if counter - paused_at < BURST_ROWS:
        return False
    now = time.monotonic()
    _bursts[folder] = [counter, began, now]
    log.info("search follower: the writer resumed after a pause; the rest is left for later")
    return True


def _burst_state(folder: str, waiting: int, newest: int) -> tuple[str, float]:
    """Whether to leave this backlog (`waiting` rows, the newest change `newest`) for a
    later run: a burst (BURST_ROWS or more waiting) whose newest change moved within
    BURST_STILL_SECONDS, for at most BURST_MAX_SECONDS since it was first seen. Returns
    (state, when the burst began): "left" (leave it), "still" (its writer paused: write
    it, unless the writer resumes meanwhile), "due" (BURST_MAX_SECONDS passed: write
    it all) or "none" (no burst).

    Indexing beside a bulk harvest took the cores the harvest needed: on two cores a
    national first harvest waited for one most of its time while the follower and its
    segment writers indexed it (even niced: they share the cores' caches and pipelines).
    `bench/national.py --first-only`, PostgreSQL, back to back: follower paused all
    through 2,525 -> 3,131 rec/s. Written after the harvest instead, in CHUNK-row steps by
    the segment writers; before, a backlog under BULK was written here at every run too
    (SOLO_CHUNK rows a commit, its pool spilling and merging in Python: ~45 % of the
    follower's py-spy samples in a national harvest). Text freshness during a burst: new
    datasets are searchable BURST_STILL_SECONDS after the writer ends or pauses (the web
    processes show them then too), or BURST_MAX_SECONDS after it began."""
    now = time.monotonic()
    if waiting < BURST_ROWS:
        _bursts.pop(folder, None)
        return "none", now
    burst = _bursts.get(folder)
    if burst is None:
        _bursts[folder] = [newest, now, now]
        return "left", now
    if newest != burst[0]:
        burst[0], burst[2] = newest, now
    if now - burst[1] >= BURST_MAX_SECONDS:
        _bursts.pop(folder, None)
        return "due", burst[1]
    if now - burst[2] >= BURST_STILL_SECONDS:
        _bursts.pop(folder, None)
        return "still", burst[1]
    return "left", burst[1]


def _level(documents: int) -> int:
    """A small segment's size level: 0 below 10 documents, 1 below 100, and so on."""
    return len(str(max(documents, 1))) - 1


def merge_plan(segments) -> tuple[list, list]:
    """(segments to merge, segments kept) for a follower commit (see LARGE_SEGMENT).

    Kept: large segments (LARGE_SEGMENT documents, deleted ones counted) with at least
    half of their documents live, and small ones of a level with fewer than MERGE_FACTOR
    segments. Merged: large segments mostly deleted (their live documents rewritten),
    every level of MERGE_FACTOR small segments or more, and small segments with no live
    document (dropped)."""
    merge, keep, levels = [], [], {}
    for segment in segments:
        total, live = segment.doc_count_all(), segment.doc_count()
        if total >= LARGE_SEGMENT:
            (merge if live * 2 < total else keep).append(segment)
        elif live == 0:
            merge.append(segment)
        else:
            levels.setdefault(_level(total), []).append(segment)
    for level in levels.values():
        (merge if len(level) >= MERGE_FACTOR else keep).extend(level)
    return merge, keep


def follower_merge(writer, segments):
    """Whoosh merge policy of the follower's commits (`merge_plan`): the segments to
    merge are added to the writer's new segment; returns those kept as they are."""
    from whoosh.reading import SegmentReader

    merge, keep = merge_plan(segments)
    for segment in merge:
        reader = SegmentReader(writer.storage, writer.schema, segment)
        writer.add_reader(reader)
        reader.close()
    return keep


def _changes_after(applied: int, chunk: int) -> list:
    """Up to `chunk` dataset rows changed after the sequence number `applied`, in order."""
    return db.session.execute(
        select(*_COLUMNS)
        .where(Dataset.change_seq > applied)
        .order_by(Dataset.change_seq)
        .limit(chunk)
    ).all()


def _writer(ix, procs: int):
    """One fast segment writer, or `procs` of them in parallel (multiproc.py uses
    FastSegmentWriter once fastwrite is imported).

    Only the segment writer processes get the large pool. In this process (the worker)
    the pool holds this process's own few documents and the postings of the small
    segments each commit merges: with POOL_MB it held up to ~1 GB of them in memory
    (the worker's 1.0–1.5 GB peaks in a national harvest); past MERGE_POOL_MB a merge
    spills to disk instead."""
    if procs > 1:
        writer = ix.writer(timeout=5.0, procs=procs, multisegment=True, limitmb=POOL_MB,
                           compound=False)  # fmt: skip
        writer.pool.limit = MERGE_POOL_MB * 1024 * 1024  # this process's pool only
        return writer
    return FastSegmentWriter(ix, timeout=5.0, limitmb=MERGE_POOL_MB, compound=False)


def _write(writer, rows) -> None:
    known_ids, known_docnums = existing_documents(writer)
    ids = np.fromiter((row.id for row in rows), dtype=np.int64, count=len(rows))
    where = np.searchsorted(known_ids, ids)
    where[where >= len(known_ids)] = 0
    present = (known_ids[where] == ids) if len(known_ids) else np.zeros(len(ids), dtype=bool)
    for docnum in known_docnums[where[present]]:
        writer.delete_document(int(docnum))
    for row in rows:
        if row.deleted_at is None:
            writer.add_document(**document(row))


def rebuild(store: IndexStore, on_total: Callable[[int], None] = lambda n: None,
            on_progress: Callable[[int], None] = lambda n: None, procs: int = 2) -> Path:  # fmt: skip
    """Build a fresh index from the database while the current one keeps serving, then swap."""
    start_seq = sequence.current()  # later changes are applied by the follower after the swap
    alive = Dataset.deleted_at.is_(None)
    on_total(db.session.scalar(select(func.count()).select_from(Dataset).where(alive)))
    path = store.create_new()
    # Separate (not compound) segment files are memory-mapped as they are; a compound
    # file is copied into memory when opened, which costs a reader the index size in RAM.
    writer = index.open_dir(path).writer(
        procs=procs, batchsize=1000, limitmb=POOL_MB, multisegment=procs > 1, compound=False
    )
    try:
        rows = db.session.execute(
            select(*_COLUMNS).where(alive).order_by(Dataset.id).execution_options(yield_per=2000)
        )
        for count, row in enumerate(rows, 1):
            writer.add_document(**document(row))
            if count % 1000 == 0:
                on_progress(1000)
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    write_applied(path, start_seq)
    store.swap(path)
    apply_changes(store)
    return path
