"""A faster Whoosh segment writer for this schema: same index bytes, less Python per posting.

Profiling the follower (20,000 generated datasets, about 57 postings each) showed most
time in Whoosh's generic path, not in analysis:

- per token, a `Token` object through the analyzer chain into `Format.word_values`;
- per posting, `PostingPool.add` sizing each tuple and asserting its types;
- per posting at commit, `doc_field_length` reading the length column from the
  segment file again (a seek, a read and a struct unpack), for block statistics.

`FastSegmentWriter` computes each field's postings straight from `analysis.term_positions`
(the text folded once per field, the title's fold shared with its bigrams), keeps them
grouped by term (documents come in docnum order, so only the terms need sorting at
flush, not every posting), reads each field's lengths column once at flush, and fills
blocks without a Python step per posting. It writes exactly the bytes
`SegmentWriter.add_document` writes (`tests/test_search_fastwrite.py` compares the
files); fields it does not know go through Whoosh's own path.
"""

from __future__ import annotations

import functools
import gc
import os
import pickle
from array import array
from collections import Counter
from itertools import groupby, repeat
from operator import itemgetter

import numpy as np
from whoosh import formats, multiproc
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3FieldWriter, W3PostingsWriter, _lenfield
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length
from whoosh.writing import PostingPool, SegmentWriter

from subscribe.jobs.priority import lower_thread_priority
from subscribe.search.analysis import (
    ChineseTokenizer,
    GramTokenizer,
    counted,
    fold_and_reading,
    reading_positions,
    title_grams,
)

_WhooshSegmentWriter = SegmentWriter

# Whoosh sizes each pool item this way (writing.PostingPool.add) to decide when to spill:
# the fixed part, and below a typical posting's (a field name, a short term, its value).
_ITEM_OVERHEAD = 28 + 4 * 5 + 21 + 26 + 18 + 16 + 21
_POSTING_ESTIMATE = _ITEM_OVERHEAD + 5 + 2 * 6 + 4
_PACKED_FREQ = [pack_uint(n) for n in range(256)]  # pack_uint of the usual frequencies
_DOCNUM = np.dtype(f"u{array('I').itemsize}")  # a block's ids as numpy sees them


def _positions(
    folded: str, reading: str, terms: dict, docnum: int, weights: list
) -> tuple[int, int]:
    """Postings of a Positions field (Whoosh's Positions.word_values + encode) added to
    `terms` (term → [docnum, weight, value, docnum, …], see _GroupedPool); `weights`:
    the field's weight of each frequency. Returns (postings, field length: tokens
    counted, sub-words included, as Whoosh counts them). `reading`: the value's
    regional reading (analysis.term_positions)."""
    length = 0
    found, start = reading_positions(folded, reading)
    for term, poslist in found.items():
        freq = len(poslist)
        length += freq
        # A whole count indexes the shared weights; a reading's term weighs a float
        # (analysis.counted), its weight then made as Whoosh makes it: boosts' sum × boost.
        weighed = freq if poslist[-1] < start else counted(poslist, start)
        key = poslist[0] if freq == 1 else tuple(poslist)
        deltas = _ENCODED.get(key)
        if deltas is None:
            deltas = _ENCODED[key] = _pickled_deltas(poslist)
        # A new bytes object per posting: pickle would write a shared one as a memo
        # reference in the block, and the index would no longer equal Whoosh's byte for byte.
        if type(weighed) is int and weighed < 256:
            weight = weights[weighed]
        else:
            weight = weighed * weights[0]
        if freq < 256:
            posting = (docnum, weight, _PACKED_FREQ[freq] + deltas)
        else:
            posting = (docnum, weight, pack_uint(freq) + deltas)
        postings = terms.get(term)
        if postings is None:
            terms[term] = [*posting]
        else:
            postings += posting
    if len(_ENCODED) > 100_000:
        _ENCODED.clear()
    return len(found), length


_ENCODED: dict = {}  # position lists → their pickled deltas; most are one small position


def _pickled_deltas(poslist: list[int]) -> bytes:
    """formats.Positions.encode after the count: the pickled position deltas."""
    base, deltas = 0, []
    for pos in poslist:
        deltas.append(pos - base)
        base = pos
    return pickle.dumps(deltas, 2)


def _frequencies(grams: list[str], terms: dict, docnum: int, weights: list) -> tuple[int, int]:
    """Postings of a Frequency field over bigrams (Whoosh's Frequency.word_values) added
    to `terms` as `_positions` does; returns (postings, field length)."""
    counted = Counter(grams)
    for term, freq in counted.items():
        if freq < 256:
            posting = (docnum, weights[freq], pack_uint(freq))
        else:
            posting = (docnum, weights[0] * freq, pack_uint(freq))
        postings = terms.get(term)
        if postings is None:
            terms[term] = [*posting]
        else:
            postings += posting
    return len(counted), len(grams)


def _weights(boost: float) -> list[float]:
    """A field's posting weight (Whoosh: float(freq) * field boost) of each frequency
    < 256, one shared float each; [0] is the boost itself, for larger frequencies."""
    return [boost] + [float(freq) * boost for freq in range(1, 256)]


class _GroupedPool(PostingPool):
    """Whoosh's posting pool, plus the fast writer's postings grouped by field and term.

    Documents arrive in docnum order, so each term's list is already in the order
    Whoosh's pool sorts it into: writing needs only the (few) terms sorted, not the
    ~60 postings a document adds. A term's postings are one flat list (docnum, weight,
    value, docnum, …): no tuple per posting to allocate, hold, and unzip at flush.
    Whatever reads the pool the Whoosh way (a spill to disk, a merge's postings added
    item by item, the parallel writer's sub-segment runs) first gets the groups as
    Whoosh's items, so the pool stays one pool."""

    def __init__(self, tempstore, segment, limit: int):
        PostingPool.__init__(self, tempstore, segment)
        self.limit = limit
        self.fields: dict[str, dict[str, list]] = {}
        self.grouped = 0  # postings held in `fields`

    def field(self, name: str) -> dict[str, list]:
        terms = self.fields.get(name)
        if terms is None:
            terms = self.fields[name] = {}
            self.fieldnames.add(name)
        return terms

    def added(self, postings: int) -> None:
        self.grouped += postings
        if self.currentsize + self.grouped * _POSTING_ESTIMATE > self.limit:
            self.save()

    def _ungroup(self) -> None:
        if not self.grouped:
            return
        current = self.current
        for name, terms in self.fields.items():
            for term, flat in terms.items():
                btext = term.encode("utf-8")
                current.extend(zip(repeat(name), repeat(btext), flat[0::3], flat[1::3], flat[2::3]))
                self.currentsize += len(flat) // 3 * _POSTING_ESTIMATE
        self.fields, self.grouped = {}, 0

    def groups(self):
        """(field, term bytes, flat postings) in Whoosh's posting order, or None when
        some postings are in Whoosh's form (then read them with iter_postings)."""
        if self.current or self.runs:
            return None
        return (
            (name, btext, self.fields[name][term])
            for name, btext, term in sorted(
                (name, term.encode("utf-8"), term)
                for name, terms in self.fields.items()
                for term in terms
            )
        )

    def save(self):
        self._ungroup()
        PostingPool.save(self)

    def iter_postings(self):
        self._ungroup()
        return PostingPool.iter_postings(self)


class _Lengths:
    """`doc_field_length` over a per-document reader, each field's column read once."""

    def __init__(self, pdr, doccount: int):
        self.pdr, self.doccount, self.cache = pdr, doccount, {}

    def column(self, fieldname) -> np.ndarray:
        """Every document's stored (byte-rounded) length of the field, 0 when none."""
        values = self.cache.get(fieldname)
        if values is None:
            reader = self.pdr._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
            values = np.zeros(self.doccount, dtype=np.int64)
            if reader is not None:
                stored = [reader[n] for n in range(self.doccount)]
                values[:] = [byte_to_length(b) if b else 0 for b in stored]
            self.cache[fieldname] = values
        return values

    def doc_field_length(self, docnum, fieldname, default=0):
        return int(self.column(fieldname)[docnum]) or default


class _FastPostingsWriter(W3PostingsWriter):
    """W3PostingsWriter with its block minifying done without a Python step per posting
    (its delta_encode and all() generators): the same values, so the same bytes."""

    def _mini_ids(self):
        ids = self._ids
        if self._byteids or len(ids) < 2:
            return W3PostingsWriter._mini_ids(self)
        as_int = np.frombuffer(ids, dtype=_DOCNUM).astype(np.int64)
        return tuple(np.diff(as_int, prepend=0).tolist())

    def _mini_weights(self):
        weights = self._weights.tolist()
        if weights.count(1.0) == len(weights):
            return None
        if weights.count(weights[0]) == len(weights):
            return weights[0]
        return tuple(weights)


def _start_field(fieldwriter, fieldname: str, schema) -> None:
    if fieldname != fieldwriter._fieldname or not fieldwriter._infield:
        if fieldwriter._infield:
            fieldwriter.finish_field()
        fieldwriter.start_field(fieldname, schema[fieldname])
        if type(fieldwriter._postwriter) is W3PostingsWriter:
            fieldwriter._postwriter.__class__ = _FastPostingsWriter


def _write_groups(fieldwriter, schema, lengths, groups) -> None:
    """`FieldWriter.add_postings` for the W3 codec from grouped postings (_GroupedPool:
    flat lists), a term's postings block by block: the same blocks as
    `W3PostingsWriter.add_posting` fills one posting at a time."""
    for fieldname, btext, flat in groups:
        _start_field(fieldwriter, fieldname, schema)
        column = lengths.column(fieldname) if lengths else None
        fieldwriter.start_term(btext)
        writer = fieldwriter._postwriter
        limit = writer._blocklimit
        all_docnums, all_weights, all_values = flat[0::3], flat[1::3], flat[2::3]
        for start in range(0, len(all_docnums), limit):
            if start:
                writer._write_block()
                writer._new_block()
            weights = all_weights[start : start + limit]
            writer._ids = array("I", all_docnums[start : start + limit])
            writer._weights = array("f", weights)
            writer._values = [value for value in all_values[start : start + limit] if value]
            writer._maxweight = max(0, max(weights))
            _block_lengths(writer, column)
        fieldwriter.finish_term()
    if fieldwriter._infield:
        fieldwriter.finish_field()


def _block_lengths(writer, column: np.ndarray | None) -> None:
    """The block's min and max length of the documents holding the term (0: none)."""
    writer._minlength, writer._maxlength = None, 0
    if column is None:
        return
    found = column[np.frombuffer(writer._ids, dtype=_DOCNUM)]
    found = found[found > 0]
    if len(found):
        writer._minlength, writer._maxlength = int(found.min()), int(found.max())


def _write_postings(fieldwriter, schema, lengths, items) -> None:
    """`FieldWriter.add_postings` for the W3 codec from Whoosh's pool items (sorted
    (field, term, docnum, weight, value) tuples), grouped here, then as `_write_groups`."""
    if type(fieldwriter) is not W3FieldWriter:
        fieldwriter.add_postings(schema, lengths, items)
        return
    grouped = (
        (fieldname, btext, [x for item in group if item[2] != -1 for x in item[2:]])  # -1: spelling
        for (fieldname, btext), group in groupby(items, key=itemgetter(0, 1))
    )
    _write_groups(fieldwriter, schema, lengths, (g for g in grouped if g[2]))


class FastSegmentWriter(SegmentWriter):
    """`SegmentWriter` with a fast `add_document` for ChineseTokenizer/GramTokenizer fields."""

    def __init__(self, ix, **kwargs):
        # Explicitly Whoosh's: MpWriter, a SegmentWriter, runs multiproc.SegmentWriter's
        # __init__ (this class once patched below) on itself.
        _WhooshSegmentWriter.__init__(self, ix, **kwargs)
        self.pool = _GroupedPool(self._tempstorage, self.newsegment, self.pool.limit)
        self._plans = {}
        self._weights = {}
        for name in self.schema.names():
            field = self.schema[name]
            if field.vector or field.separate_spelling():
                continue
            if not field.indexed:
                self._plans[name] = None
            elif (
                type(field.format) is formats.Positions and type(field.analyzer) is ChineseTokenizer
            ):
                self._plans[name] = "positions"
                self._weights[name] = _weights(field.format.field_boost)
            elif type(field.format) is formats.Frequency and type(field.analyzer) is GramTokenizer:
                self._plans[name] = "grams"
                self._weights[name] = _weights(field.format.field_boost)

    def add_document(self, **fields):
        names = sorted(fields)
        if any(name.startswith("_") or name not in self._plans for name in names):
            return super().add_document(**fields)
        self._check_state()
        perdoc, schema, docnum, pool = self.perdocwriter, self.schema, self.docnum, self.pool
        added = 0
        folded_title: dict[str, tuple] = {}  # a value folded once (title and grams share it)
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                plan = self._plans[name]
                length = 0
                if plan is not None:
                    both = folded_title.get(value)
                    if both is None:
                        both = folded_title[value] = fold_and_reading(value)
                    folded, reading = both
                    weights = self._weights[name]
                    if plan == "positions":
                        postings, length = _positions(folded, reading, pool.field(name), docnum,
                                                      weights)  # fmt: skip
                    else:
                        grams = title_grams(folded)
                        postings, length = _frequencies(grams, pool.field(name), docnum, weights)
                    added += postings
                    if not field.scorable:
                        length = 0
                perdoc.add_field(name, field, value if field.stored else None, length)
                column = field.column_type
                if column:
                    perdoc.add_column_value(name, column, field.to_column_value(value))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        pool.added(added)
        self._added = True
        self.docnum += 1

    def _flush_segment(self):
        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        lengths = _Lengths(pdr, self.docnum) if pdr else None
        # The pool's million-odd postings are live until the segment is written: kept out
        # of the garbage collector's full passes, each of which walked them all (a
        # quarter of this step's CPU at 25,000 documents).
        gc.freeze()
        try:
            groups = self.pool.groups()
            if groups is not None and type(self.fieldwriter) is W3FieldWriter:
                _write_groups(self.fieldwriter, self.schema, lengths, groups)
            else:
                _write_postings(self.fieldwriter, self.schema, lengths, self.pool.iter_postings())
        finally:
            gc.unfreeze()
        self.fieldwriter.close()
        if pdr:
            pdr.close()


# Whoosh's parallel writer builds its per-process writers from this module global; the
# follower's bulk backlogs use it, so they get the fast path too.
multiproc.SegmentWriter = FastSegmentWriter

# The segment writer processes index in the background (the follower's bulk backlogs, a
# reindex). During a national first harvest they took 24 CPU-s beside the harvest's 42
# on two cores, and the harvest waited for a core most of its time: they yield to it
# (and to the web) by a lower priority. Alone on a machine they run as fast as before.
SEGMENT_WRITER_NICE = 5


def _niced(run):
    @functools.wraps(run)
    def run_niced(self):
        # Lower than the process that started it (its main thread), not lower again:
        # started from the worker's search follower thread (jobs.FOLLOWER_NICE), a writer
        # has inherited that thread's value already.
        lower_thread_priority(SEGMENT_WRITER_NICE, base_pid=os.getppid())
        return run(self)

    return run_niced


if not hasattr(multiproc.SubWriterTask.run, "__wrapped__"):
    multiproc.SubWriterTask.run = _niced(multiproc.SubWriterTask.run)
