"""A faster Whoosh segment writer for this schema: same index bytes, less Python per posting.

Profiling the follower (20,000 generated datasets, about 57 postings each) showed most
time in Whoosh's generic path, not in analysis:

- per token, a `Token` object through the analyzer chain into `Format.word_values`;
- per posting, `PostingPool.add` sizing each tuple and asserting its types;
- per posting at commit, `doc_field_length` reading the length column from the
  segment file again (a seek, a read and a struct unpack), for block statistics.

`FastSegmentWriter` computes each field's postings straight from `analysis.tokens`
(the text folded once per field, the title's fold shared with its bigrams), appends
them to the pool in one batch, and reads each field's lengths column once at flush.
It writes exactly what `SegmentWriter.add_document` writes (`tests/test_search_fastwrite.py`
compares the postings); fields it does not know go through Whoosh's own path.
"""

from __future__ import annotations

import pickle
from array import array
from collections import Counter
from itertools import groupby
from operator import itemgetter

from whoosh import formats, multiproc
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3FieldWriter, _lenfield
from whoosh.system import pack_uint
from whoosh.util.numeric import byte_to_length
from whoosh.writing import SegmentWriter

from subscribe.search.analysis import ChineseTokenizer, GramTokenizer, fold, title_grams, tokens

_WhooshSegmentWriter = SegmentWriter

# Whoosh sizes each pool item this way (writing.PostingPool.add) to decide when to spill.
_ITEM_OVERHEAD = 28 + 4 * 5 + 21 + 26 + 18 + 16 + 21


def _positions(folded: str, fieldname: str, docnum: int, boost: float, out: list) -> int:
    """Postings of a Positions field (Whoosh's Positions.word_values + encode); returns
    the field length (tokens counted, sub-words included, as Whoosh counts them)."""
    poses: dict[str, list[int]] = {}
    for term, position, _start, _end in tokens(folded):
        found = poses.get(term)
        if found is None:
            poses[term] = [position]
        else:
            found.append(position)
    length = 0
    for term, poslist in poses.items():
        freq = len(poslist)
        length += freq
        key = poslist[0] if freq == 1 else tuple(poslist)
        deltas = _ENCODED.get(key)
        if deltas is None:
            deltas = _ENCODED[key] = _pickled_deltas(poslist)
        # A new bytes object per posting: pickle would write a shared one as a memo
        # reference in the block, and the index would no longer equal Whoosh's byte for byte.
        value = pack_uint(freq) + deltas
        out.append((fieldname, term.encode("utf-8"), docnum, float(freq) * boost, value))
    if len(_ENCODED) > 100_000:
        _ENCODED.clear()
    return length


_ENCODED: dict = {}  # position lists → their pickled deltas; most are one small position


def _pickled_deltas(poslist: list[int]) -> bytes:
    """formats.Positions.encode after the count: the pickled position deltas."""
    base, deltas = 0, []
    for pos in poslist:
        deltas.append(pos - base)
        base = pos
    return pickle.dumps(deltas, 2)


def _frequencies(grams: list[str], fieldname: str, docnum: int, boost: float, out: list) -> int:
    """Postings of a Frequency field over bigrams (Whoosh's Frequency.word_values)."""
    length = 0
    for term, freq in Counter(grams).items():
        length += freq
        out.append((fieldname, term.encode("utf-8"), docnum, float(freq) * boost, pack_uint(freq)))
    return length


class _Lengths:
    """`doc_field_length` over a per-document reader, each field's column read once."""

    def __init__(self, pdr, doccount: int):
        self.pdr, self.doccount, self.cache = pdr, doccount, {}

    def doc_field_length(self, docnum, fieldname, default=0):
        values = self.cache.get(fieldname)
        if values is None:
            reader = self.pdr._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
            if reader is None:
                values = [0] * self.doccount
            else:
                values = [reader[n] for n in range(self.doccount)]
                values = [byte_to_length(b) if b else 0 for b in values]
            self.cache[fieldname] = values
        return values[docnum] or default


def _write_postings(fieldwriter, schema, lengths, items) -> None:
    """`FieldWriter.add_postings` for the W3 codec, a term's postings block by block:
    the same blocks as `W3PostingsWriter.add_posting` fills one posting at a time."""
    if type(fieldwriter) is not W3FieldWriter:
        fieldwriter.add_postings(schema, lengths, items)
        return
    dfl = lengths.doc_field_length if lengths else (lambda docnum, fieldname: 0)
    for (fieldname, btext), group in groupby(items, key=itemgetter(0, 1)):
        if fieldname != fieldwriter._fieldname or not fieldwriter._infield:
            if fieldwriter._infield:
                fieldwriter.finish_field()
            fieldwriter.start_field(fieldname, schema[fieldname])
        postings = [item for item in group if item[2] != -1]  # -1: spelling words, none here
        if not postings:
            continue
        fieldwriter.start_term(btext)
        writer = fieldwriter._postwriter
        limit = writer._blocklimit
        for start in range(0, len(postings), limit):
            if start:
                writer._write_block()
                writer._new_block()
            block = postings[start : start + limit]
            docnums = [item[2] for item in block]
            weights = [item[3] for item in block]
            found = [dfl(docnum, fieldname) for docnum in docnums]
            found = [length for length in found if length]
            writer._ids = array("I", docnums)
            writer._weights = array("f", weights)
            writer._values = [item[4] for item in block if item[4]]
            writer._maxweight = max(0, max(weights))
            writer._minlength = min(found) if found else None
            writer._maxlength = max(found) if found else 0
        fieldwriter.finish_term()
    if fieldwriter._infield:
        fieldwriter.finish_field()


class FastSegmentWriter(SegmentWriter):
    """`SegmentWriter` with a fast `add_document` for ChineseTokenizer/GramTokenizer fields."""

    def __init__(self, ix, **kwargs):
        # Explicitly Whoosh's: MpWriter, a SegmentWriter, runs multiproc.SegmentWriter's
        # __init__ (this class once patched below) on itself.
        _WhooshSegmentWriter.__init__(self, ix, **kwargs)
        self._plans = {}
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
            elif type(field.format) is formats.Frequency and type(field.analyzer) is GramTokenizer:
                self._plans[name] = "grams"

    def add_document(self, **fields):
        names = sorted(fields)
        if any(name.startswith("_") or name not in self._plans for name in names):
            return super().add_document(**fields)
        self._check_state()
        perdoc, schema, docnum = self.perdocwriter, self.schema, self.docnum
        postings: list = []
        folded_title: dict[str, str] = {}  # a value folded once (title and grams share it)
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
                    folded = folded_title.get(value)
                    if folded is None:
                        folded = folded_title[value] = fold(value)
                    boost = field.format.field_boost
                    if plan == "positions":
                        length = _positions(folded, name, docnum, boost, postings)
                    else:
                        grams = title_grams(folded)
                        length = _frequencies(grams, name, docnum, boost, postings)
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
        self._add_postings(postings)
        self._added = True
        self.docnum += 1

    def _add_postings(self, postings: list) -> None:
        pool = self.pool
        pool.fieldnames.update(item[0] for item in postings)
        pool.currentsize += sum(
            _ITEM_OVERHEAD + len(item[0]) + 2 * len(item[1]) + len(item[4]) for item in postings
        )
        pool.current.extend(postings)
        if pool.currentsize > pool.limit:
            pool.save()

    def _flush_segment(self):
        self.perdocwriter.close()
        pdr = self.per_document_reader() if self.codec.length_stats else None
        lengths = _Lengths(pdr, self.docnum) if pdr else None
        _write_postings(self.fieldwriter, self.schema, lengths, self.pool.iter_postings())
        self.fieldwriter.close()
        if pdr:
            pdr.close()


# Whoosh's parallel writer builds its per-process writers from this module global; the
# follower's bulk backlogs use it, so they get the fast path too.
multiproc.SegmentWriter = FastSegmentWriter
