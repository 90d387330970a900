"""Filter and facet columns: one numpy array per field, indexed by dataset id.

Built from the database (the truth) and kept current by the change sequence, like the
text index. Filters become vectorized comparisons and facet counts become bincounts,
so neither walks documents in Python (the cost that makes Whoosh's own facets slow).
Multi-valued fields (themes, formats) are bitsets: one bit per distinct value.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import secrets
import threading
from pathlib import Path

import numpy as np
from sqlalchemy import Text, cast, func, select
from sqlalchemy.exc import IntegrityError

from subscribe.catalog.models import Cursor, Dataset, Resource, Source
from subscribe.catalog.normalize import period_end
from subscribe.catalog.records import FREQUENCIES, OPEN_TYPES
from subscribe.extensions import db
from subscribe.models_base import epoch_seconds
from subscribe.search.analysis import fold_key

NO_DATE = np.iinfo(np.int64).min
NO_SCORE = -1  # quality not judged (yet): below every minimum, last in quality sorts
QUALITY_AXES = ("overall", "completeness", "timeliness", "accuracy")
HEADROOM = 8  # capacity holds the highest id seen and an eighth more (see _grow)
TEXT_COMBOS_KEPT = 100_000  # distinct stored theme (format) lists remembered per column
QUALITY_CURSOR = "quality"  # bumped by the quality job (quality/job.py) when scores change
# A snapshot (save/load) holds every column but these: quality scores load on their own
# (their cursor), the title rank when a sort needs it, a lock is no state.
SNAPSHOT_FORMAT = 2  # bump when what a column means changes without its name changing
NOT_IN_SNAPSHOT = ("lock", "title_rank", "quality", "quality_seq", "quality_capacity")
NO_TRANSLATIONS = (None, "{}", "null")  # datasets.translations as text, holding none
DATABASE_TOKEN = "search_columns_database"  # a cursor row: see database_token
log = logging.getLogger(__name__)


def database_token(create: bool) -> int | None:
    """A random number kept in the database (a `cursors` row), made by the first
    snapshot saved: a columns snapshot names the database it was read from, so a new
    database in the same instance folder (a deleted file, another URL) is never taken
    for it. A copy of the database (a backup) keeps it, and its history with it."""
    query = select(Cursor.value).where(Cursor.name == DATABASE_TOKEN)
    token = db.session.scalar(query)
    if token is None and create:
        try:
            db.session.add(Cursor(name=DATABASE_TOKEN, value=secrets.randbits(62) + 1))
            db.session.commit()
        except IntegrityError:  # another web process made it first: theirs
            db.session.rollback()
        token = db.session.scalar(query)
    return token


def _period_seconds(modified, precision: str | None) -> tuple[int, int]:
    """(start, end) of a modification period as epoch seconds (NO_DATE without a date)."""
    if not modified:
        return NO_DATE, NO_DATE
    return epoch_seconds(modified), epoch_seconds(period_end(modified, precision))


class Vocabulary:
    """Distinct values of a field and their ordinals; ordinal 0 is the empty value."""

    def __init__(self, values: tuple[str, ...] = ()):
        self.values: list[str] = [""]
        self.ordinals: dict[str, int] = {"": 0}
        for value in values:
            self.ordinal(value)

    def ordinal(self, value: str) -> int:
        found = self.ordinals.get(value)
        if found is None:
            found = self.ordinals[value] = len(self.values)
            self.values.append(value)
        return found

    def __len__(self) -> int:
        return len(self.values)


class BitsetColumn:
    """A multi-valued field: row i has bit k set when it holds value k.

    Rows also carry a combination number (`combo`): the distinct sets of values are few
    (a dataset has one or two themes, from a few dozen), so a facet count is one
    bincount of the rows' combinations, then each combination's bits counted once."""

    def __init__(self, capacity: int):
        self.vocabulary = Vocabulary()
        self.bits = np.zeros((capacity, 1), dtype=np.uint64)
        self.combo = np.zeros(capacity, dtype=np.int32)
        # Append-only: a combination's number never changes. Keyed by the row's bytes
        # without trailing zeros, so rows widened by a grown vocabulary keep their key.
        self._combos: dict[bytes, int] = {b"": 0}
        self._combo_rows: list[np.ndarray] = [np.zeros(1, dtype=np.uint64)]
        self._combo_bits: np.ndarray | None = None  # (combinations, values) 0/1, see counts
        self._text_combos: dict[str | None, int] = {}  # stored JSON text → combination
        self._matrix: np.ndarray | None = None  # see _combo_matrix

    def resize(self, capacity: int) -> None:
        """Rows 0..capacity-1: new rows hold no value; rows past it are dropped."""
        bits = np.zeros((capacity, self.bits.shape[1]), dtype=np.uint64)
        kept = min(capacity, len(self.bits))
        bits[:kept] = self.bits[:kept]
        combo = np.zeros(capacity, dtype=np.int32)
        combo[:kept] = self.combo[:kept]
        self.bits, self.combo = bits, combo

    def encode(self, values: list[str]) -> list[int]:
        return [self.vocabulary.ordinal(v) for v in values if v]

    def assign_json(self, ids: np.ndarray, texts: list[str | None]) -> None:
        """Rows `ids` hold the values of the JSON lists `texts` (as stored; None: none).

        A stored list's text maps straight to its combination (TEXT_COMBOS_KEPT of
        them kept): the distinct lists are few, so a load of 345,853 rows decodes a few
        hundred, not every row's (JSON, encoding and bits were a third of its CPU)."""
        combos = np.fromiter(map(self._combo_of_text, texts), dtype=np.int32, count=len(texts))
        words_needed = (len(self.vocabulary) + 63) // 64
        if words_needed > self.bits.shape[1]:
            pad = np.zeros((len(self.bits), words_needed - self.bits.shape[1]), dtype=np.uint64)
            self.bits = np.hstack([self.bits, pad])
        self.bits[ids] = self._combo_matrix(self.bits.shape[1])[combos]
        self.combo[ids] = combos

    def _combo_of_text(self, text: str | None) -> int:
        found = self._text_combos.get(text)
        if found is None:
            ordinals = self.encode((json.loads(text) if text else None) or [])
            row = np.zeros(max(ordinals, default=0) // 64 + 1, dtype=np.uint64)
            for ordinal in ordinals:
                row[ordinal >> 6] |= np.uint64(1) << np.uint64(ordinal & 63)
            found = self._combo_of(row)
            if len(self._text_combos) < TEXT_COMBOS_KEPT:
                self._text_combos[text] = found
        return found

    def _combo_matrix(self, words: int) -> np.ndarray:
        """(combinations, words) uint64: each combination's bits, as rows of `bits`."""
        found = self._matrix
        if found is None or found.shape != (len(self._combo_rows), words):
            found = np.zeros((len(self._combo_rows), words), dtype=np.uint64)
            for number, row in enumerate(self._combo_rows):
                found[number, : len(row)] = row
            self._matrix = found
        return found

    def _combo_of(self, row: np.ndarray) -> int:
        key = row.tobytes().rstrip(b"\0")
        found = self._combos.get(key)
        if found is None:
            found = self._combos[key] = len(self._combo_rows)
            self._combo_rows.append(row.copy())
        return found

    def mask_any(self, ordinals: list[int]) -> np.ndarray:
        """Rows holding at least one of the ordinals."""
        wanted = np.zeros(self.bits.shape[1], dtype=np.uint64)
        for ordinal in ordinals:
            if (ordinal >> 6) < len(wanted):
                wanted[ordinal >> 6] |= np.uint64(1) << np.uint64(ordinal & 63)
        return (self.bits & wanted).any(axis=1)

    def counts(self, ids: np.ndarray) -> np.ndarray:
        """How many of the rows hold each ordinal (index = ordinal)."""
        values = len(self.vocabulary)
        if len(ids) == 0:
            return np.zeros(values, dtype=np.int64)
        # One histogram of the rows' combinations, then each combination's bits: a pass
        # over the rows per 8 values (a histogram per byte) was most of a frequent
        # word's facets at 345,853 datasets.
        per_combo = np.bincount(self.combo[ids])
        return per_combo @ self._bits_of_combos(len(per_combo), values)

    def _bits_of_combos(self, combos: int, values: int) -> np.ndarray:
        """(combos, values) int64: 1 where combination c holds value k."""
        found = self._combo_bits
        if found is None or found.shape[0] < combos or found.shape[1] != values:
            rows = list(self._combo_rows)  # append-only: at least `combos` of them
            words = max(len(row) for row in rows)
            matrix = np.zeros((len(rows), words), dtype=np.uint64)
            for number, row in enumerate(rows):
                matrix[number, : len(row)] = row
            unpacked = np.unpackbits(matrix.view(np.uint8), axis=1, bitorder="little")
            found = np.zeros((len(rows), values), dtype=np.int64)
            width = min(values, unpacked.shape[1])
            found[:, :width] = unpacked[:, :width]
            self._combo_bits = found
        return found[:combos]


class CatalogColumns:
    """Every live dataset's filterable fields, as arrays indexed by dataset id."""

    def __init__(self, capacity: int = 1024):
        self.lock = threading.Lock()
        self.seq = 0  # the last change sequence applied
        # Bumped when datasets die without a change sequence applied (their source was
        # deleted, and its datasets with it; drop_deleted ahead of a catch-up): caches
        # keyed by `seq` key by this too.
        self.dropped = 0
        self.capacity = 0
        self.alive = np.zeros(0, dtype=bool)
        self.live_count = 0  # alive.sum(), kept with alive: every search term's IDF needs it
        self.source = np.zeros(0, dtype=np.int32)
        self.publisher = np.zeros(0, dtype=np.int32)
        self.open_type = np.zeros(0, dtype=np.int8)
        self.frequency = np.zeros(0, dtype=np.int8)
        self.modified = np.zeros(0, dtype=np.int64)  # start of the period: sort and filter
        self.modified_end = np.zeros(0, dtype=np.int64)  # its end: lateness (freshness.py)
        self.resource_count = np.zeros(0, dtype=np.int32)
        self.resource_bytes = np.zeros(0, dtype=np.int64)  # sizes the catalog declares
        self.title_len = np.zeros(0, dtype=np.int32)  # compact characters (BM25 length)
        self.title_key = np.zeros(0, dtype=np.int64)  # analysis.title_key (exact-title bonus)
        # Scripts the title is written in (analysis.script of it and of each translated
        # title, as bits: TRADITIONAL 1, SIMPLIFIED 2): the script bonus (engine.py).
        self.title_script = np.zeros(0, dtype=np.int8)
        # Translated titles (datasets.translations) other than the shown one, as title
        # keys: dataset id → its keys, and key → dataset ids (the exact-title bonus).
        # Few datasets have any (DCAT-AP, CKAN fluent fields): dicts, not columns.
        self.other_title_keys: dict[int, tuple[int, ...]] = {}
        self.other_titles: dict[int, set[int]] = {}
        self.avg_title_len = 1.0
        self.publishers = Vocabulary()
        self.open_types = Vocabulary(OPEN_TYPES)
        self.frequencies = Vocabulary(FREQUENCIES)
        self.themes = BitsetColumn(0)
        self.formats = BitsetColumn(0)
        self.source_names: dict[int, str] = {}
        self.title_rank: np.ndarray | None = None  # computed when a title sort needs it
        # Quality scores 0–100 (NO_SCORE: none), one array per axis. They follow the
        # `quality` cursor, not change_seq: a score is no catalog change.
        self.quality_seq = -1
        self.quality_capacity = 0  # capacity at the last load: a grown one loads again
        self.quality = {axis: np.zeros(0, dtype=np.int8) for axis in QUALITY_AXES}
        self._grow(capacity)

    def _grow(self, needed: int) -> None:
        """Room for ids < needed, and HEADROOM more: every mask, score and dense term
        weight array of a search is capacity long (with 1.5× growth a load of 345,853
        ended at 512,581: half again of every whole-range pass and array)."""
        if needed <= self.capacity:
            return
        self._resize(max(needed + needed // HEADROOM, 1024))

    def _resize(self, capacity: int) -> None:
        for name in ("alive", "source", "publisher", "open_type", "frequency", "modified",
                     "modified_end", "resource_count", "resource_bytes", "title_len",
                     "title_key", "title_script"):  # fmt: skip
            old = getattr(self, name)
            fill = NO_DATE if name.startswith("modified") else 0
            new = np.full(capacity, fill, dtype=old.dtype)
            new[: min(len(old), capacity)] = old[:capacity]
            setattr(self, name, new)
        for axis, old in self.quality.items():
            new = np.full(capacity, NO_SCORE, dtype=np.int8)
            new[: min(len(old), capacity)] = old[:capacity]
            self.quality[axis] = new
        self.themes.resize(capacity)
        self.formats.resize(capacity)
        self.capacity = capacity

    def _fit(self) -> None:
        """Take a capacity grown with more headroom (a snapshot saved by older code) down
        to the rows held (any row ever applied has a source) and HEADROOM more."""
        held = np.flatnonzero(self.source)
        needed = int(held[-1]) + 1 if len(held) else 0
        fitted = max(needed + needed // HEADROOM, 1024)
        if self.capacity > fitted + fitted // HEADROOM:
            self._resize(fitted)

    def drop_deleted_sources(self) -> bool:
        """Mark dead the datasets of sources deleted since the last look (True if any).

        Deleting a source deletes its datasets in the database (ON DELETE CASCADE): no
        row is left to carry a change sequence, so `catch_up` never hears of them and
        search kept counting them (totals, facets, empty result pages) until a reindex.
        Dataset ids are never reused, so they stay dead."""
        with self.lock:
            return self._sync_sources()

    def _sync_sources(self) -> bool:
        names = dict(db.session.execute(select(Source.id, Source.name)).all())
        gone = [source_id for source_id in self.source_names if source_id not in names]
        if names != self.source_names:
            self.source_names = names  # a new dict: filter caches key by its id
        if not gone:
            return False
        dead = np.isin(self.source, np.asarray(gone, dtype=self.source.dtype)) & self.alive
        self.alive[dead] = False
        self.live_count = int(self.alive.sum())
        self.title_rank = None
        self.dropped += 1
        return True

    def changed_since(self) -> int:
        """How many datasets changed after the columns' `seq` (created, edited or deleted
        since they last caught up): one count over that range of the change_seq index,
        each dataset once however many changes it had (a change can take several
        sequence numbers)."""
        t = Dataset.__table__.c
        return db.session.scalar(select(func.count()).where(t.change_seq > self.seq)) or 0

    def drop_deleted(self, after: int = 0) -> int:
        """Mark dead the datasets deleted with a change sequence after `after` and `seq`,
        ahead of `catch_up` (which applies those rows again, with the rest, later);
        returns how many died. One query over that range of the change_seq index: the
        keeper's way to take deleted datasets out of results while it leaves a burst of
        changes for later (a deletion takes a new change sequence, so the keeper looks
        only past the counter it read at its last look)."""
        t = Dataset.__table__.c
        found = db.session.scalars(
            select(t.id).where(t.change_seq > max(after, self.seq), t.deleted_at.is_not(None))
        ).all()
        with self.lock:
            ids = np.asarray(found, dtype=np.int64)
            ids = ids[ids < self.capacity]
            dead = ids[self.alive[ids]]
            if not len(dead):
                return 0
            self.alive[dead] = False
            self.live_count = int(self.alive.sum())
            self.title_rank = None
            self.dropped += 1  # no change sequence applied: caches key by this too
            return len(dead)

    def catch_up(self, chunk: int = 10_000) -> int:
        """Apply every dataset change newer than `seq`; returns how many rows changed.

        The lock is taken per chunk: a first load at 345,853 datasets takes ~12 CPU-s,
        and a title sort (ensure_title_rank) waits for one chunk only, not all of them."""
        applied = 0
        with self.lock:
            self._sync_sources()
        t = Dataset.__table__.c
        while True:
            with self.lock:
                # Table columns (Core), not the model's attributes: the ORM's row
                # processing was a fifth of a catch-up's CPU, per row, for plain tuples.
                rows = db.session.execute(
                    select(
                        t.id, t.source_id, t.publisher,
                        cast(t.themes, Text).label("themes"),  # as stored: see assign_json
                        cast(t.formats, Text).label("formats"), t.open_type,
                        t.frequency, t.modified, t.modified_precision,
                        t.deleted_at, t.change_seq, t.title,
                        cast(t.translations, Text).label("translations"),
                    )
                    .where(t.change_seq > self.seq)
                    .order_by(t.change_seq)
                    .limit(chunk)
                ).all()  # fmt: skip
                if not rows:
                    return applied
                ids = np.fromiter((r.id for r in rows), dtype=np.int64, count=len(rows))
                self._apply(ids, rows)
                self._apply_resources(ids, self.seq, rows[-1].change_seq)
                self.seq = rows[-1].change_seq
                applied += len(rows)
                self.title_rank = None

    def _apply(self, ids: np.ndarray, rows) -> None:
        self._grow(int(ids.max()) + 1)
        self.alive[ids] = [r.deleted_at is None for r in rows]
        self.live_count = int(self.alive.sum())
        titles = [fold_key(r.title or "") for r in rows]  # (compact, key, script)
        self.title_len[ids] = [len(t[0]) for t in titles]
        self.title_key[ids] = [t[1] for t in titles]
        self.title_script[ids] = [t[2] for t in titles]
        known = self.other_title_keys
        for row, (_compact, key, _script) in zip(rows, titles, strict=True):
            # "{}" is how an empty translations object is stored: most rows.
            if row.translations not in NO_TRANSLATIONS or row.id in known:
                self._translated_titles(row.id, key, row.translations)
        self.avg_title_len = (
            max(float(self.title_len[self.alive].mean()), 1.0) if self.live_count else 1.0
        )
        self.source[ids] = [r.source_id for r in rows]
        self.publisher[ids] = [self.publishers.ordinal(r.publisher or "") for r in rows]
        self.open_type[ids] = [self.open_types.ordinal(r.open_type) for r in rows]
        self.frequency[ids] = [self.frequencies.ordinal(r.frequency) for r in rows]
        spans = [_period_seconds(r.modified, r.modified_precision) for r in rows]
        self.modified[ids] = [span[0] for span in spans]
        self.modified_end[ids] = [span[1] for span in spans]
        self.themes.assign_json(ids, [r.themes for r in rows])
        self.formats.assign_json(ids, [r.formats for r in rows])

    def _translated_titles(self, dataset_id: int, shown: int, stored: str | None) -> None:
        """Record the dataset's translated titles (`stored`: its translations as stored
        JSON, or None): their keys for the exact-title bonus, their scripts."""
        for key in self.other_title_keys.pop(dataset_id, ()):
            held = self.other_titles.get(key)
            if held is not None:
                held.discard(dataset_id)
                if not held:
                    del self.other_titles[key]
        entries = (json.loads(stored) if stored else None) or {}
        titles = [e.get("title") for e in entries.values() if isinstance(e, dict)]
        keys = []
        for title in dict.fromkeys(t for t in titles if t and isinstance(t, str)):
            _compact, key, script = fold_key(title)
            self.title_script[dataset_id] |= script
            if key != shown and key not in keys:
                keys.append(key)
        if keys:
            self.other_title_keys[dataset_id] = tuple(keys)
            for key in keys:
                self.other_titles.setdefault(key, set()).add(dataset_id)

    def with_other_title(self, key: int) -> np.ndarray:
        """Ids (int64, sorted) of the datasets with a translated title of this key."""
        with self.lock:
            return np.asarray(sorted(self.other_titles.get(key, ())), dtype=np.int64)

    def _apply_resources(self, ids: np.ndarray, after: int, through: int) -> None:
        """Resource counts and declared bytes of the rows `ids`: those whose change
        sequence is in (after, through], read by that range (a list of thousands of ids
        as bound parameters, compiled per chunk, was a sixth of a catch-up's CPU). A
        dataset that changed again meanwhile is left out here and read with its next
        change."""
        self.resource_count[ids] = 0
        self.resource_bytes[ids] = 0
        d = Dataset.__table__.c
        r = Resource.__table__.c
        totals = db.session.execute(
            select(r.dataset_id, func.count(), func.coalesce(func.sum(r.size), 0))
            .join(Dataset.__table__, d.id == r.dataset_id)
            .where(d.change_seq > after, d.change_seq <= through)
            .group_by(r.dataset_id)
        ).all()
        if totals:
            found = np.asarray([t[0] for t in totals], dtype=np.int64)
            kept = np.isin(found, ids)  # committed into the range since the rows were read
            self.resource_count[found[kept]] = np.asarray([t[1] for t in totals])[kept]
            self.resource_bytes[found[kept]] = np.asarray([t[2] for t in totals])[kept]

    # --- snapshot: a web process's start loads it, then catches up the changes since ---
    def save(self, path: Path) -> None:
        """Write the columns to `path` (atomically: a new file renamed over the old),
        with the database's token (database_token): load() takes them only from it."""
        token = database_token(create=True)
        with self.lock:
            state = {k: v for k, v in vars(self).items() if k not in NOT_IN_SNAPSHOT}
            data = pickle.dumps({"format": SNAPSHOT_FORMAT, "database": token, "state": state},
                                protocol=pickle.HIGHEST_PROTOCOL)  # fmt: skip
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)

    def load(self, path: Path) -> bool:
        """Take the columns saved at `path` (fresh columns only: seq 0), if they belong to
        this database (its token) and its change counter is not behind them (a backup
        restored from before them): else the caller loads in full. catch_up then applies
        only the changes since. The file is the process's own instance data (as the
        index is), written by save(): pickle is trusted here."""
        if self.seq != 0:
            return False
        try:
            saved = pickle.loads(path.read_bytes())
        except FileNotFoundError:
            return False
        except Exception:  # a torn or foreign file: load in full
            log.warning("search: the columns snapshot %s is unreadable", path, exc_info=True)
            return False
        state = saved.get("state", {}) if isinstance(saved, dict) else {}
        if (saved.get("format") != SNAPSHOT_FORMAT
                or set(state) != set(vars(self)) - set(NOT_IN_SNAPSHOT)):  # fmt: skip
            return False  # written by other code: its columns are not these
        from subscribe.catalog import sequence

        token = database_token(create=False)
        if token is None or saved.get("database") != token or sequence.current() < state["seq"]:
            return False  # another database, or this one restored from before them
        with self.lock:
            vars(self).update(state)
            self.quality = {a: np.full(self.capacity, NO_SCORE, np.int8) for a in QUALITY_AXES}
            self._fit()
            self.quality_seq, self.quality_capacity, self.title_rank = -1, 0, None
        return True

    def quality_of(self, dataset_id: int) -> dict[str, int | None]:
        """{overall, completeness, timeliness, accuracy}: 0–100, None when not judged."""
        values = {}
        for axis, column in self.quality.items():
            value = int(column[dataset_id]) if dataset_id < len(column) else NO_SCORE
            values[axis] = None if value == NO_SCORE else value
        return values

    def quality_cursor(self) -> int:
        return db.session.scalar(select(Cursor.value).where(Cursor.name == QUALITY_CURSOR)) or 0

    def load_quality(self, seq: int | None = None, chunk: int = 50_000) -> None:
        """Read every stored score again (the job rewrites many at once; a reload of a
        few int8 arrays is cheaper than tracking rows). `seq`: the cursor value read."""
        from subscribe.quality.models import QualityScore  # quality imports search columns

        seq = self.quality_cursor() if seq is None else seq
        fresh = {axis: np.full(self.capacity, NO_SCORE, dtype=np.int8) for axis in QUALITY_AXES}
        q = QualityScore
        last = 0
        while True:
            rows = db.session.execute(
                select(q.dataset_id, q.overall, q.completeness, q.timeliness, q.accuracy)
                .where(q.dataset_id > last)
                .order_by(q.dataset_id)
                .limit(chunk)
            ).all()
            if not rows:
                break
            last = rows[-1][0]
            ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            inside = ids < self.capacity  # rows the columns have not caught up to yet
            for k, axis in enumerate(QUALITY_AXES, start=1):
                values = np.fromiter(
                    (NO_SCORE if r[k] is None else round(r[k]) for r in rows),
                    dtype=np.int8, count=len(rows),
                )  # fmt: skip
                fresh[axis][ids[inside]] = values[inside]
        with self.lock:
            if all(len(a) == self.capacity for a in fresh.values()):
                self.quality = fresh
                self.quality_seq = seq
                self.quality_capacity = self.capacity

    def ensure_title_rank(self) -> np.ndarray:
        """Rank of every dataset by title (the database sorts; no titles kept in memory)."""
        with self.lock:
            if self.title_rank is None or len(self.title_rank) < self.capacity:
                rank = np.full(self.capacity, np.iinfo(np.int32).max, dtype=np.int32)
                ordered = db.session.scalars(
                    select(Dataset.id)
                    .where(Dataset.deleted_at.is_(None))
                    .order_by(Dataset.title, Dataset.id)
                ).all()
                ids = np.asarray(ordered, dtype=np.int64)
                ids = ids[ids < self.capacity]
                rank[ids] = np.arange(len(ids), dtype=np.int32)
                self.title_rank = rank
            return self.title_rank
