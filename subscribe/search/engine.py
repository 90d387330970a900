"""Query execution: match, filter, score, facet, sort and page, all over dense arrays.

Every step is a vectorized operation over arrays indexed by dataset id (numpy), fed by
Whoosh postings (reader.py) and the filter columns (columns.py).

Ranking. For a query of clauses c (query.py) the score of a dataset d is

    score(d) = Σ_terms w_f · idf_f(t) · tf·(k1+1) / (tf + k1·L_f(d))  (f: title if it holds t,
                                                                        else body)
             + Σ_gram-only clauses  w_g · Σ_g idf_g(g) · tf·(k1+1) / (tf + k1·L_title(d))
             + PHRASE_BONUS · |q| / |title(d)|   when the whole query is inside the title
             + EXACT_BONUS                       when the title, or a translated title
                                                 (datasets.translations), is the query
    and then × SCRIPT_WEIGHT when the query is written in one script and so is the
    title (see "Script" below)

with idf(t) = ln(1 + (N − n_t + 0.5)/(n_t + 0.5)) per field (N live datasets, n_t
datasets holding t), k1 = 1.2, w_title = 3, w_body = 1, w_g = 1;
L_title(d) = 1 − b + b·|title(d)|/avg|title| with b = 0.75 (|·| in compact characters,
analysis.compact), so "环境" outranks "北京市环境" for 环境; L_body = 1 (b = 0: bodies
are cut at 4,000 characters). |q| is the compact query; "inside the title" means every
bigram of it is in the title's grams, the query's bigrams made as a title's are: none
across clause punctuation typed (空气质量，日报 is inside 空气质量，日报汇总, whose grams
have no 量日, and inside 空气质量日报). Results are ordered by clauses met (only when
falling back to partial matches), then clauses met by words rather than bigrams only,
then score, then newer, then lower id.

Script. Folding makes 公共自行車 and 公共自行车 the same terms, so a Taiwan catalog's
title and a mainland one holding the query read equally, and ranked by length alone
(the 13-character Taipei title 13th of 30 for 公共自行車, under 11-character mainland
ones). A query written in traditional characters (analysis.script: t2s changes it) or
in simplified ones (it holds a character only simplified writing uses: 车, 数, not 台)
multiplies by SCRIPT_WEIGHT the score of the datasets meeting every clause whose title
(or a translated title) is written in the same script and holds each Chinese clause,
as typed or as its regional reading (all its bigrams in the title's grams). A factor,
not an addend: it means the same at any catalog size (BM25 weights grow with IDF) and
reorders near-equals only, titles of the other script scoring under 1.2 times as much
(the Taipei title 33.2 × 1.2 against 37.6 beside the demo catalog), not a wall between
scripts: for 医疗机构 the 8-character 醫療機構基本資料 (46.8) falls under mainland titles
of 10 and 11 characters (42.4, 40.6: × 1.2) but stays above the 12-character ones, so
field case 14's must_include stay in the first 10 whichever script is typed. An exact
title of the other script (EXACT_BONUS) stays above a non-exact one of the query's.
Queries of neither script (公共, English) are not weighed.

Readings. A clause typed in traditional characters is met by its own words (their
character-level reading) or by its phrase reading's (query.Clause.regional). Its own
words weigh in full; the reading's words it lacks count × READING_WEIGHT (0.5), and only
for the datasets its own words did not meet, so a Taiwan title (indexed with both) is
weighed once and the words typed rank above OpenCC's rewrite of them (檔案 → 文件):
see search/regional.py.

A word counts once per dataset, in its title when the title holds it: a description
that repeats the title's words (many portals' descriptions begin with the title) gave
those datasets a second weight for the same word, so in a mixed catalog a short title
holding the whole query with no description (醫療機構基本資料 for 医疗机构) ranked below
longer titles with descriptions repeating it.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from subscribe.digits import ascii_int
from subscribe.models_base import epoch_seconds
from subscribe.search.analysis import compact_key
from subscribe.search.columns import NO_DATE, QUALITY_AXES, CatalogColumns
from subscribe.search.query import Clause, Exclusion, ParsedQuery, Requirement
from subscribe.search.reader import FIELDS, GRAMS, TextIndex
from subscribe.search.regional import READING_WEIGHT

K1 = 1.2
TITLE_B = 0.75
FIELD_BOOST = {"title": 3.0, "body": 1.0, GRAMS: 1.0}
PHRASE_BONUS = 20.0
EXACT_BONUS = 100.0
SCRIPT_WEIGHT = 1.2  # the script factor: see the module docstring
PHRASE_LIMIT = 64  # longer queries are not looked for as a whole inside titles
WEIGHTS_CACHED = 80 * 2**20  # bytes of per-term weights kept (sparse: 12 B a posting)
# Bytes of weights a background warm computes ahead (SearchEngine.prewarm): half the
# cache (48 MB, ~11 dense terms at 512k ids) put a warmed web process at 324 MB RSS
# against 284 MB without, over bench/national.py's 300 MB target.
PREWARM_BYTES = 16 * 2**20
FILTERS_CACHED = 256  # filter masks kept, packed (one bit per dataset each: 64 kB at 512k)
DENSE_SHARE = 8  # a term in at least 1/8 of the datasets is held dense (see TermWeights)
TIER = 1e6  # a tier step outweighs any score sum
FACETS = ("publisher", "theme", "format", "open_type", "frequency", "source")
# quality sorts: best first (overall, or one axis), datasets not yet scored last
QUALITY_SORTS = ("quality", "completeness", "timeliness", "accuracy")
SORTS = ("relevance", "newest", "oldest", "title", *QUALITY_SORTS)


@dataclass
class Filters:
    """Values within a field are ORed; fields are ANDed."""

    publisher: list[str] = field(default_factory=list)
    theme: list[str] = field(default_factory=list)
    format: list[str] = field(default_factory=list)
    open_type: list[str] = field(default_factory=list)
    frequency: list[str] = field(default_factory=list)
    source: list[str] = field(default_factory=list)
    modified_from: datetime | None = None
    modified_to: datetime | None = None
    # Minimum quality score (0–100) per axis in QUALITY_AXES ("overall", …); a dataset
    # not scored yet meets no minimum. Search only: scenarios do not store these.
    quality_min: dict[str, int] = field(default_factory=dict)


@dataclass
class SearchResult:
    ids: list[int]
    total: int
    facets: dict[str, list[dict]]
    scores: dict[int, float]
    partial: bool = False  # no dataset met every word: the best partial matches instead
    pending: int = 0  # datasets in the catalog whose text is not yet searchable


@dataclass(frozen=True)
class TermWeights:
    """One term's datasets (ids < size) and BM25 weights for one engine epoch.

    Sparse (`ids` int32, sorted, `weights` float64), or for a term in at least
    1/DENSE_SHARE of the datasets dense: `present` (bool per dataset) and `dense`
    (float64 per dataset, 0.0 where absent). A dense term's weights for the datasets a
    search ranks are one gather, and its mask one AND; adding 0.0 leaves a score
    bit-for-bit as it was, so both forms give the same scores (`at`)."""

    ids: np.ndarray | None = None
    weights: np.ndarray | None = None
    present: np.ndarray | None = None
    dense: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.ids, self.weights, self.present, self.dense)
                   if a is not None)  # fmt: skip

    def mask(self, size: int) -> np.ndarray:
        """A new bool array: datasets (< size) holding the term."""
        if self.present is not None:
            return self.present[:size].copy()
        mask = np.zeros(size, dtype=bool)
        mask[self.ids[self.ids < size]] = True
        return mask

    def restrict(self, mask: np.ndarray) -> None:
        """mask &= the datasets holding the term (mask: bool, the epoch's size)."""
        if self.present is not None:
            mask &= self.present
        else:  # in place: no new array of the whole id range
            ids = self.ids if not len(self.ids) or self.ids[-1] < len(mask) else (
                self.ids[self.ids < len(mask)])  # fmt: skip
            kept = ids[mask[ids]]
            mask[:] = False
            mask[kept] = True

    def at(self, ids: np.ndarray) -> np.ndarray:
        """The term's weight for each of `ids` (dataset ids < size), 0.0 where
        absent: adding it leaves a score bit-for-bit as adding only where present."""
        if self.dense is not None:
            return self.dense[ids]
        if not len(self.ids) or not len(ids):
            return np.zeros(len(ids), dtype=np.float64)
        if len(ids) * SEARCH_SHARE < len(self.ids):
            # A few ids (a page): a binary search each in the term's sorted ids.
            where = np.minimum(np.searchsorted(self.ids, ids), len(self.ids) - 1)
            hit = self.ids[where] == ids
            found = np.zeros(len(ids), dtype=np.float64)
            found[hit] = self.weights[where[hit]]
            return found
        # Many: the weights scattered into this thread's zeroed scratch array, gathered,
        # and zeroed again (binary searches of 200k ids were ~10 ms).
        scratch = _scratch(max(int(self.ids[-1]), int(ids.max())) + 1)
        try:
            scratch[self.ids] = self.weights
            return scratch[ids]
        finally:
            scratch[self.ids] = 0.0


SEARCH_SHARE = 16  # TermWeights.at: binary searches when the ids are this many times fewer
_scratches = threading.local()


def _scratch(size: int) -> np.ndarray:
    """This thread's float64 array of at least `size` zeros (kept zero by its users)."""
    found = getattr(_scratches, "array", None)
    if found is None or len(found) < size:
        found = _scratches.array = np.zeros(size, dtype=np.float64)
    return found


def _is_dense(count: int, size: int) -> bool:
    return count * DENSE_SHARE >= size


def _term_weights(ids: np.ndarray, weights: np.ndarray, size: int) -> TermWeights:
    if not _is_dense(len(ids), size):
        order = np.argsort(ids, kind="stable")  # segments hold ids out of order: see at()
        return TermWeights(ids[order], weights[order])
    present = np.zeros(size, dtype=bool)
    present[ids] = True
    dense = np.zeros(size, dtype=np.float64)
    dense[ids] = weights
    return _dense(present, dense)


def _dense(present: np.ndarray, dense: np.ndarray) -> TermWeights:
    for array in (present, dense):
        array.flags.writeable = False  # shared by every search of the epoch
    return TermWeights(present=present, dense=dense)


@dataclass(frozen=True)
class GramSum:
    """A clause's bigram scores: their BM25 weights summed (in bigram order, from 0.0)
    for the datasets of `mask` (met by the bigrams only), then added; or the words its
    regional reading adds, summed, × `factor` (READING_WEIGHT) for the datasets met by
    the reading only."""

    weights: list[TermWeights]
    mask: np.ndarray
    factor: float = 1.0


@dataclass(frozen=True)
class ExactBonus:
    """EXACT_BONUS for the candidates whose title key is `key`, or one of whose
    translated titles' is (`others`: their ids, sorted)."""

    key: int
    candidates: np.ndarray
    others: np.ndarray


@dataclass(frozen=True)
class ScriptWeight:
    """The score × SCRIPT_WEIGHT for the datasets of `chosen` (the plan's last step)."""

    chosen: np.ndarray


@dataclass(frozen=True)
class PhraseBonus:
    """PHRASE_BONUS · length / max(|title|, length) for the datasets of `inside`."""

    length: int
    inside: np.ndarray


@dataclass
class Matched:
    """What a query matched: every clause met (`mask`), and for ranking how many clauses
    each dataset met at all and by words, and how its score is summed (`plan`: the
    steps in the order the formula adds them; see SearchEngine.scores_at). Scores are
    summed only for the datasets a search ranks, not over the whole id range."""

    mask: np.ndarray
    plan: list | None = None  # None for an empty query (no scores)
    met: np.ndarray | None = None  # clauses met (words or bigrams)
    by_words: np.ndarray | None = None  # clauses met by words
    clauses: int = 0
    pending: int = 0  # live datasets not searchable by the reader matched with


class SearchEngine:
    def __init__(self, text: TextIndex, columns: CatalogColumns, facet_limit: int = 20):
        self.text = text
        self.columns = columns
        self.facet_limit = facet_limit
        # (field or None, term) → TermWeights for one (reader, columns) epoch; see _weights
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str | None, str], TermWeights] = OrderedDict()
        self._cached = 0  # bytes held
        self._epoch: tuple | None = None
        self._visible_cache: tuple | None = None  # (epoch, mask, count, pending)
        self._filter_cache: OrderedDict[tuple, tuple[dict, np.ndarray]] = OrderedDict()

    def prewarm(self, terms: list[tuple[str, str]], step_aside=None) -> int:
        """Compute and keep the weights of frequent terms ((field, term) pairs, most
        frequent first, as the reader's warm read them: title and body words as the
        searches ask for them, summed; `grams` as bigrams), within PREWARM_BYTES, so the
        first searches after a start find them. `step_aside` is called before each.
        Returns how many were computed.

        It stops once the reader or the columns move on (a harvest under way: the
        columns catch up every refresh): the weights it made are then dropped with
        their epoch, and going on computed every term again for nothing, beside the
        search follower (a sixth of the web processes' CPU in a national first harvest)."""
        size = self.columns.capacity
        epoch = (self.text.key, self.columns.seq, self.columns.dropped)
        done = 0
        for name, term in dict.fromkeys((None if f in FIELDS else f, t) for f, t in terms):
            if self._cached >= PREWARM_BYTES:
                break
            if step_aside is not None:
                step_aside()
            if (self.text.key, self.columns.seq, self.columns.dropped) != epoch:
                break
            self._weights(name, term, size)
            done += 1
        return done

    # --- matching -------------------------------------------------------------------
    def visible(self, size: int) -> np.ndarray:
        """Live datasets whose text is searchable: what every count counts (read-only:
        kept for as long as the reader and the columns stay the same)."""
        return self._visible(size)[0]

    def _visible(self, size: int) -> tuple[np.ndarray, int, int]:
        """(mask, its count, live datasets not in it: `SearchResult.pending`), the three
        of one reader and one state of the columns: a search keeps the ones it matched
        with, so a reader shown meanwhile cannot make a dataset it did not count vanish
        from `pending` too."""
        epoch = (self.text.key, self.columns.seq, self.columns.dropped, size)
        cached = self._visible_cache
        if cached is None or cached[0] != epoch:
            seq, dropped, live = self.columns.seq, self.columns.dropped, self.columns.live_count
            key, indexed = self.text.indexed(size)
            mask = self.columns.alive[:size] & indexed
            mask.flags.writeable = False
            count = int(mask.sum())
            cached = (key, seq, dropped, size), mask, count, max(live - count, 0)
            self._visible_cache = cached
        return cached[1], cached[2], cached[3]

    def match(self, query: ParsedQuery) -> tuple[np.ndarray, np.ndarray | None]:
        """(mask over dataset ids of live matches, scores or None for an empty query):
        see members()."""
        matched = self.evaluate(query)
        return matched.mask, self._dense_scores(matched)

    def _dense_scores(self, matched: Matched) -> np.ndarray | None:
        """Scores of the datasets of `matched.mask` (0.0 for the others), or None."""
        if matched.plan is None:
            return None
        scores = np.zeros(len(matched.mask), dtype=np.float64)
        ids = np.flatnonzero(matched.mask)
        scores[ids] = self.scores_at(matched.plan, ids)
        return scores

    def scores_at(self, plan: list, ids: np.ndarray) -> np.ndarray:
        """The score of each of `ids` (dataset ids < the epoch's size), summed
        step by step in the order of `plan` (Matched.plan): every addition is the one
        a whole-range score array would get, so the same floats, only for these ids."""
        scores = np.zeros(len(ids), dtype=np.float64)
        for step in plan:
            if isinstance(step, TermWeights):
                scores += step.at(ids)
            elif isinstance(step, GramSum):
                chosen = step.mask[ids]
                if chosen.any():
                    summed = np.zeros(len(ids), dtype=np.float64)
                    for weights in step.weights:
                        summed += weights.at(ids)
                    if step.factor != 1.0:
                        summed *= step.factor
                    np.add(scores, summed, out=scores, where=chosen)
            elif isinstance(step, ExactBonus):
                exact = self.columns.title_key[ids] == step.key
                if len(step.others):
                    exact |= np.isin(ids, step.others)
                np.add(scores, EXACT_BONUS, out=scores, where=exact & step.candidates[ids])
            elif isinstance(step, ScriptWeight):
                np.multiply(scores, SCRIPT_WEIGHT, out=scores, where=step.chosen[ids])
            else:
                # The bonus of every one of `ids`, added only where chosen: the same
                # additions as through a boolean index (scores[chosen] += …), without its
                # gather and scatter (one-word queries of 8,770-204,627 matches at
                # 345,853: scores_at 1.69 -> 1.22 ms CPU, same process, load 1.7).
                chosen = step.inside[ids]
                lengths = np.maximum(self.columns.title_len[ids], step.length)
                np.add(scores, PHRASE_BONUS * step.length / lengths, out=scores, where=chosen)
        return scores

    def evaluate(self, query: ParsedQuery) -> Matched:
        columns = self.columns
        size = columns.capacity
        visible, _count, pending = self._visible(size)
        if query.is_empty:
            matched = Matched(visible.copy(), pending=pending)
        else:
            plan: list = []
            met = np.zeros(size, dtype=np.int16)
            by_words = np.zeros(size, dtype=np.int16)
            for clause in query.clauses:
                words, grams = self._clause(clause, size, plan)
                met += words | grams
                by_words += words
            mask = met == len(query.clauses)
            for phrase in query.phrases:
                terms = [Requirement(t) for t in phrase]
                present = self._all_of(terms, size, plan)
                if len(phrase) > 1 and present.any():
                    present &= self._id_mask(self.text.phrase_ids(phrase), size)
                mask &= present
                met += present  # a quoted phrase is a clause of its own
                by_words += present
            mask &= visible
            met *= visible
            self._title_bonus(query, size, plan, met > 0)
            self._script_weight(query, size, plan, mask)
            clauses = len(query.clauses) + len(query.phrases)
            matched = Matched(mask, plan, met, by_words, clauses, pending)
        for exclusion in query.exclusions:
            out = self._meets_all(exclusion, size)
            matched.mask &= ~out
            if matched.met is not None:
                matched.met[out] = 0
        return matched

    def _meets_all(self, exclusion: Exclusion, size: int) -> np.ndarray:
        """Mask of datasets meeting every clause and phrase of a -word or -"phrase" (what
        the text alone would find); their scores are not wanted."""
        mask = np.ones(size, dtype=bool)
        for clause in exclusion.clauses:
            words, grams = self._clause(clause, size, None)
            mask &= words | grams
            if not mask.any():
                return mask
        for phrase in exclusion.phrases:
            present = self._all_of([Requirement(t) for t in phrase], size)
            if len(phrase) > 1 and present.any():
                present &= self._id_mask(self.text.phrase_ids(list(phrase)), size)
            mask &= present
        return mask

    def _clause(self, clause: Clause, size: int, plan: list | None):
        """(met by words, met by title bigrams only) masks; adds their scores to plan
        (unless None). Words are the clause's own or its regional reading's
        (query.Clause): the reading's words the clause lacks count × READING_WEIGHT,
        and only for the datasets its own words did not meet (`_reading`)."""
        words = self._all_of(list(clause.words), size, plan)
        for phrase in clause.phrases:
            present = self._all_of([Requirement(t) for t in phrase], size, plan)
            if present.any():
                present &= self._id_mask(self.text.phrase_ids(list(phrase)), size)
            words &= present
        if clause.regional is not None:
            words |= self._reading(clause, words, size, plan)
        if not clause.grams:
            return words, np.zeros(size, dtype=bool)
        return words, self._grams(clause.grams, size, [] if plan is None else plan, ~words)

    def _reading(self, clause: Clause, words: np.ndarray, size: int, plan: list | None):
        """The datasets meeting `clause.regional` (its phrase reading, query.Clause); adds
        to plan, for those its own words (`words`) did not meet, the weights of the
        reading's words the clause lacks, summed, × READING_WEIGHT. A dataset meeting
        both readings (a Taiwan title holds its own words and is indexed with its
        reading's) is weighed once, by the words typed, not twice."""
        regional = clause.regional
        read = self._clause(regional, size, None)[0]
        only = read & ~words
        if plan is None or not only.any():
            return read
        own = {t for r in clause.words for t in (r.term, r.joined, *r.parts) if t}
        own.update(t for phrase in clause.phrases for t in phrase)
        terms = [t for r in regional.words for t in (r.term, r.joined, *r.parts) if t]
        terms += [t for phrase in regional.phrases for t in phrase]
        extra = [self._weights(None, t, size) for t in dict.fromkeys(terms) if t not in own]
        if extra:
            only.flags.writeable = False
            plan.append(GramSum(extra, only, READING_WEIGHT))
        return read

    def _grams(self, grams, size: int, plan: list, mask: np.ndarray) -> np.ndarray:
        """Those of `mask` (datasets the clause's words did not meet) whose title holds
        every bigram; adds their bigram BM25 sum to plan. Masks first, scores only
        when some remain: a frequent word's bigrams are mostly in titles holding the
        word, so most clauses add nothing here."""
        found = []
        for gram in grams:
            weights = self._weights(GRAMS, gram, size)
            weights.restrict(mask)
            if not mask.any():
                return mask
            found.append(weights)
        mask.flags.writeable = False  # kept by the plan: the same datasets when summed
        plan.append(GramSum(found, mask))
        return mask

    def _title_bonus(self, query: ParsedQuery, size: int, plan: list, candidates):
        """The exact-title and phrase-in-title bonuses (see the module docstring), as
        plan steps: which datasets qualify is masks over the id range (cheap); the
        title keys and lengths are read only for the datasets a search ranks."""
        text = query.text
        if not text or not candidates.any():
            return
        candidates.flags.writeable = False
        key = compact_key(text)
        plan.append(ExactBonus(key, candidates, self.columns.with_other_title(key)))
        if len(text) < 2 or len(text) > PHRASE_LIMIT or not query.grams:
            return
        inside = candidates.copy()
        for gram in query.grams:
            self._weights(GRAMS, gram, size).restrict(inside)
            if not inside.any():
                return
        inside.flags.writeable = False
        plan.append(PhraseBonus(len(text), inside))

    def _script_weight(self, query: ParsedQuery, size: int, plan: list, mask) -> None:
        """The script factor (see the module docstring) as the plan's last step: for a query
        written in one script, the datasets meeting every clause whose title is written
        in that script (or has a translated title that is) and holds each Chinese clause
        as typed or as its regional reading (all its bigrams in the title's grams)."""
        if not query.script or not mask.any():
            return
        chosen = mask & ((self.columns.title_script[:size] & query.script) != 0)
        for clause in query.clauses:
            if not chosen.any():
                return
            if not clause.grams:
                continue  # a letter/digit token or one character: met is enough
            held = chosen.copy()
            for gram in clause.grams:
                self._weights(GRAMS, gram, size).restrict(held)
            if clause.reading_grams:
                read = chosen.copy()
                for gram in clause.reading_grams:
                    self._weights(GRAMS, gram, size).restrict(read)
                held |= read
            chosen &= held
        if chosen.any():
            chosen.flags.writeable = False
            plan.append(ScriptWeight(chosen))

    def _all_of(self, requirements: list[Requirement], size: int, plan=None) -> np.ndarray:
        """Mask of datasets meeting every requirement (a term in title or body, or its
        joined form, or all its parts); adds the terms' BM25 weights to `plan` unless it
        is None (a dataset holding nursing-home as written weighs it and its parts)."""
        mask = np.ones(size, dtype=bool)
        for requirement in requirements:
            found = self._weights(None, requirement.term, size)
            if plan is not None:
                plan.append(found)
            if not requirement.parts:
                found.restrict(mask)
                continue
            present = found.mask(size)
            if requirement.joined:
                found = self._weights(None, requirement.joined, size)
                if plan is not None:
                    plan.append(found)
                present |= found.mask(size)
            parts = np.ones(size, dtype=bool)
            for part in requirement.parts:
                found = self._weights(None, part, size)
                if plan is not None:
                    plan.append(found)
                found.restrict(parts)
            present |= parts
            mask &= present
        return mask

    def _weights(self, name: str | None, term: str, size: int) -> TermWeights:
        """The dataset ids < size holding the term in the field and their BM25 weights;
        with name None, in title or body, weights summed (title + body: one scatter, not
        two).

        Cached for as long as the reader and the columns stay the same (the weights
        depend on both): a frequent word's postings are gathered from every segment,
        filtered of deletions and weighted once, not on every search."""
        epoch = (self.text.key, self.columns.seq, self.columns.dropped, size)
        with self._lock:
            if self._epoch != epoch:
                self._cache.clear()
                self._cached, self._epoch = 0, epoch
            found = self._cache.get((name, term))
            if found is not None:
                self._cache.move_to_end((name, term))
                return found
        if name is None:
            # Summed in a dense array (ids < size), not by np.unique: a sort of both
            # fields' ids was tens of ms for a word in most datasets.
            summed = np.zeros(size, dtype=np.float64)
            present = np.zeros(size, dtype=bool)
            for field in FIELDS:  # title first: a word the title holds is not counted again
                ids, weights = self._field_weights(field, term, size)
                if field != FIELDS[0]:
                    ids, weights = ids[~present[ids]], weights[~present[ids]]
                summed[ids] += weights
                present[ids] = True
            found = _dense(present, summed) if _is_dense(int(present.sum()), size) else None
            if found is None:
                unique = np.flatnonzero(present)
                found = TermWeights(unique.astype(np.int32), summed[unique])
        else:
            found = _term_weights(*self._field_weights(name, term, size), size)
        with self._lock:
            if self._epoch == epoch and (name, term) not in self._cache:
                self._cache[(name, term)] = found
                self._cached += found.nbytes
                while self._cached > WEIGHTS_CACHED and len(self._cache) > 1:
                    _key, old = self._cache.popitem(last=False)
                    self._cached -= old.nbytes
        return found

    def _field_weights(self, name: str, term: str, size: int) -> tuple[np.ndarray, np.ndarray]:
        ids, tf = self.text.postings(name, term)
        if len(ids) == 0:
            return ids.astype(np.int32), np.zeros(0, dtype=np.float64)
        inside = ids < size  # indexed before the columns caught up: not yet visible
        ids, tf = ids[inside].astype(np.int32), tf[inside]  # int32: a third less memory
        live = max(self.columns.live_count, 1)
        idf = math.log(1 + (live - len(ids) + 0.5) / (len(ids) + 0.5))
        if name == "body":
            norm = K1
        else:
            lengths = self.columns.title_len[ids] / self.columns.avg_title_len
            norm = K1 * (1 - TITLE_B + TITLE_B * lengths)
        return ids, FIELD_BOOST[name] * idf * tf * (K1 + 1) / (tf + norm)

    @staticmethod
    def _id_mask(ids: np.ndarray, size: int) -> np.ndarray:
        mask = np.zeros(size, dtype=bool)
        mask[ids[ids < size]] = True
        return mask

    # --- filters --------------------------------------------------------------------
    def filter_mask(self, filters: Filters) -> np.ndarray:
        """Live datasets meeting the filters (a new bool array, capacity long), kept
        for the searches of the same filters for as long as the columns stay the same
        (a page of results and its next pages, a popular facet link: one gather of each
        column, not one per search). Kept as bits, unpacked per search (~0.1 ms against
        ~1 ms to compute): 32 masks of a byte per dataset were fewer than the bench's
        query mix has filters, so most were computed again."""
        c = self.columns
        key = (_filters_key(filters), c.seq, c.dropped, c.quality_seq, c.capacity,
               id(c.source_names))  # fmt: skip
        with self._lock:
            found = self._filter_cache.get(key)
            if found is not None and found[0] is c.source_names:
                self._filter_cache.move_to_end(key)
                return np.unpackbits(found[1], count=c.capacity).view(bool)
        mask = self._filter_mask(filters)
        with self._lock:
            self._filter_cache[key] = (c.source_names, np.packbits(mask))
            while len(self._filter_cache) > FILTERS_CACHED:
                self._filter_cache.popitem(last=False)
        return mask

    def _filter_mask(self, filters: Filters) -> np.ndarray:
        c = self.columns
        mask = c.alive.copy()
        for values, column, vocabulary in (
            (filters.publisher, c.publisher, c.publishers),
            (filters.open_type, c.open_type, c.open_types),
            (filters.frequency, c.frequency, c.frequencies),
        ):
            if values:
                wanted = [vocabulary.ordinals[v] for v in values if v in vocabulary.ordinals]
                mask &= _member_of(column, wanted, len(vocabulary))
        for values, bitset in ((filters.theme, c.themes), (filters.format, c.formats)):
            if values:
                wanted = [
                    bitset.vocabulary.ordinals[v] for v in values if v in bitset.vocabulary.ordinals
                ]
                mask &= bitset.mask_any(wanted)
        if filters.source:
            by_name = {name: sid for sid, name in c.source_names.items()}
            wanted = [
                by_name.get(v, -1 if (number := ascii_int(v)) is None else number)
                for v in filters.source
            ]
            mask &= _member_of(c.source, wanted, max(c.source_names, default=0) + 1)
        if filters.modified_from:
            mask &= c.modified >= epoch_seconds(filters.modified_from)
        if filters.modified_to:
            mask &= (c.modified <= epoch_seconds(filters.modified_to)) & (c.modified != NO_DATE)
        for axis, minimum in filters.quality_min.items():
            if axis in QUALITY_AXES and minimum is not None:
                mask &= c.quality[axis][: len(mask)] >= minimum
        return mask

    def has_filters(self, filters: Filters) -> bool:
        return any(getattr(filters, name) for name in FACETS) or bool(
            filters.modified_from or filters.modified_to or filters.quality_min
        )

    # --- facets ---------------------------------------------------------------------
    def facets(self, ids: np.ndarray) -> dict[str, list[dict]]:
        c = self.columns
        counted = {
            "publisher": (np.bincount(c.publisher[ids], minlength=len(c.publishers)), c.publishers.values),
            "theme": (c.themes.counts(ids), c.themes.vocabulary.values),
            "format": (c.formats.counts(ids), c.formats.vocabulary.values),
            "open_type": (np.bincount(c.open_type[ids], minlength=len(c.open_types)), c.open_types.values),
            "frequency": (np.bincount(c.frequency[ids], minlength=len(c.frequencies)), c.frequencies.values),
        }  # fmt: skip
        result = {name: self._top(counts, values) for name, (counts, values) in counted.items()}
        per_source = np.bincount(c.source[ids]) if len(ids) else np.zeros(0, dtype=np.int64)
        sources = np.flatnonzero(per_source)  # source ids are small: a count, not a sort
        result["source"] = sorted(
            ({"value": c.source_names.get(int(s), str(s)), "count": int(per_source[s])} for s in sources),
            key=lambda item: -item["count"],
        )  # fmt: skip
        return result

    def _top(self, counts: np.ndarray, values: list[str]) -> list[dict]:
        """The most frequent values, ties broken by value, so pages and tests are stable."""
        counts = counts.copy()
        counts[0] = 0  # the empty value is not a facet
        nonzero = np.flatnonzero(counts)
        if len(nonzero) > self.facet_limit:
            kth = np.partition(counts[nonzero], -self.facet_limit)[-self.facet_limit]
            nonzero = nonzero[counts[nonzero] >= kth]
        # Sorted as Python ints: a key reading numpy scalars was most of a search's facets.
        pairs = zip(counts[nonzero].tolist(), nonzero.tolist(), strict=True)
        order = sorted(pairs, key=lambda pair: (-pair[0], values[pair[1]]))[: self.facet_limit]
        return [{"value": values[i], "count": count} for count, i in order]

    # --- the whole search -----------------------------------------------------------
    def members(self, query: ParsedQuery, filters: Filters, include=(), exclude=(),
                pins_only: bool = False):  # fmt: skip
        """(mask, scores): what the query and filters match, plus `include`, minus
        `exclude`. The one definition of "matches" for search, scenarios and alerts.
        `pins_only` (a scenario with no words and no filters): `include` alone. Scores
        (float64 per dataset id) of the matches only, 0.0 for the others; None for a
        query without words."""
        matched = self._members(query, filters, include, exclude, pins_only)
        return matched.mask, self._dense_scores(matched)

    def _members(self, query: ParsedQuery, filters: Filters, include=(), exclude=(),
                 pins_only: bool = False) -> Matched:  # fmt: skip
        if pins_only:
            size = self.columns.capacity
            matched = Matched(np.zeros(size, dtype=bool), pending=self._visible(size)[2])
        else:
            matched = self.evaluate(query)
            # Without filters the mask is alive, which every match already is (visible).
            if self.has_filters(filters):
                wanted = self.filter_mask(filters)[: len(matched.mask)]
                matched.mask &= wanted
                if matched.met is not None:
                    matched.met *= wanted
        if not len(include) and not len(exclude):
            return matched  # nothing pinned or dropped (a search): no whole-range passes
        pinned = self._id_mask(np.asarray(include, dtype=np.int64), len(matched.mask))
        pinned &= self.columns.alive[: len(matched.mask)]
        dropped = self._id_mask(np.asarray(exclude, dtype=np.int64), len(matched.mask))
        matched.mask |= pinned
        matched.mask &= ~dropped
        if matched.met is not None:
            matched.met[dropped] = 0
            matched.met[pinned & ~dropped] = np.maximum(matched.met[pinned & ~dropped], 1)
        return matched

    def search(self, query: ParsedQuery, filters: Filters, sort: str = "relevance",
               page: int = 1, per_page: int = 20, with_facets: bool = True,
               include=(), exclude=(), partial: bool = True,
               pins_only: bool = False) -> SearchResult:  # fmt: skip
        """One page of results. With `partial`, a query of several clauses that no
        dataset meets in full answers its best partial matches (most clauses met first)
        and says so (`SearchResult.partial`)."""
        matched = self._members(query, filters, include, exclude, pins_only)
        ids = np.flatnonzero(matched.mask)
        is_partial = False
        rank = scores = None  # of each of `ids`, computed for those only
        if matched.plan is not None:
            if len(ids) == 0 and partial and matched.clauses > 1 and matched.met.any():
                is_partial = True
                ids = np.flatnonzero(matched.met != 0)  # of bools: ~9x faster than of int16
            if sort == "relevance":
                scores = self.scores_at(matched.plan, ids)
                rank = matched.by_words[ids] * TIER + scores
                if is_partial:
                    rank = rank + matched.met[ids].astype(np.float64) * TIER * 1e3
        total = len(ids)
        facets = self.facets(ids) if with_facets else {}
        page_ids = self._page(ids, rank, sort, (page - 1) * per_page, per_page)
        page_scores = {}
        if matched.plan is not None:  # ids are sorted: the page's scores found by search
            found = (self.scores_at(matched.plan, page_ids) if scores is None
                     else scores[np.searchsorted(ids, page_ids)])  # fmt: skip
            page_scores = dict(zip(page_ids.tolist(), found.tolist(), strict=True))
        return SearchResult([int(i) for i in page_ids], total, facets, page_scores,
                            is_partial, matched.pending)  # fmt: skip

    def _page(self, ids, scores, sort: str, offset: int, limit: int) -> np.ndarray:
        """`scores`: the rank of each of `ids` (None without words)."""
        if offset >= len(ids):
            return ids[:0]
        if sort == "relevance" and scores is None:
            sort = "newest"
        if sort == "relevance":
            primary = -scores  # rank, then newer, then lower id
        elif sort == "newest":
            primary = -self._modified(ids)
        elif sort == "oldest":  # undated last here too: "oldest" means oldest dated first
            modified = self.columns.modified[ids]
            primary = np.where(modified == NO_DATE, 2**62, modified)
        elif sort in QUALITY_SORTS:
            axis = "overall" if sort == "quality" else sort
            primary = -self.columns.quality[axis][ids].astype(np.int64)  # then newer, lower id
        else:
            primary = self.columns.ensure_title_rank()[ids]
        end = offset + limit
        if end < len(ids):
            # Only the first `end` rows matter: keep those at or above the cut (ties
            # included, so the tie-breaks still decide), then sort just them.
            keep = primary <= _cut(primary, end)
            ids, primary = ids[keep], primary[keep]
        if sort == "relevance" or sort in QUALITY_SORTS:
            keys = (ids, -self._modified(ids), primary)
        else:
            keys = (ids, primary)
        return ids[np.lexsort(keys)][offset:end]

    def _modified(self, ids: np.ndarray) -> np.ndarray:
        modified = self.columns.modified[ids]
        return np.where(modified == NO_DATE, -(2**62), modified)  # undated sort as oldest


SAMPLE_STEP = 16  # _cut: one value in 16 gives a first, safe cut


def _cut(primary: np.ndarray, end: int):
    """The end-th smallest value of `primary` (1-based; end < len(primary)).

    A partition of 150k values was most of a frequent word's paging. The end-th smallest
    of every SAMPLE_STEP-th value is a bound at least as large (end values of the array
    are at or under it), so the values under it hold the answer, and they are few."""
    if len(primary) >= 4 * SAMPLE_STEP * end:
        bound = np.partition(primary[::SAMPLE_STEP], end - 1)[end - 1]
        primary = primary[primary <= bound]
    return np.partition(primary, end - 1)[end - 1]


def _filters_key(filters: Filters) -> tuple:
    """A hashable form of the filters (values in the order given: same mask either way)."""
    return (
        *(tuple(getattr(filters, name)) for name in FACETS),
        filters.modified_from,
        filters.modified_to,
        tuple(sorted(filters.quality_min.items())),
    )


def _member_of(column: np.ndarray, wanted: list[int], values: int) -> np.ndarray:
    """column ∈ wanted, by a lookup table over the (small, non-negative) ordinals: one
    gather instead of np.isin's sort of the whole column."""
    table = np.zeros(max(values, int(column.max(initial=0)) + 1), dtype=bool)
    table[[w for w in wanted if 0 <= w < len(table)]] = True
    return table[column]
