"""Query execution: match, filter, score, facet, sort and page, all over dense arrays.

Every step is a vectorized operation over arrays indexed by dataset id (numpy), fed by
Whoosh postings (reader.py) and the filter columns (columns.py). Scoring is BM25's
term-frequency saturation with an IDF per field and title matches boosted above
descriptions; length normalisation is left out (b = 0) because catalog titles are short
and similar in length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from subscribe.models_base import epoch_seconds
from subscribe.search.columns import NO_DATE, CatalogColumns
from subscribe.search.query import ParsedQuery, Requirement
from subscribe.search.reader import FIELDS, TextIndex

K1 = 1.2
FIELD_BOOST = {"title": 3.0, "body": 1.0}
FACETS = ("publisher", "theme", "format", "open_type", "frequency", "source")
SORTS = ("relevance", "newest", "oldest", "title")


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


@dataclass
class SearchResult:
    ids: list[int]
    total: int
    facets: dict[str, list[dict]]
    scores: dict[int, float]


class SearchEngine:
    def __init__(self, text: TextIndex, columns: CatalogColumns, facet_limit: int = 20):
        self.text = text
        self.columns = columns
        self.facet_limit = facet_limit

    # --- matching -------------------------------------------------------------------
    def match(self, query: ParsedQuery) -> tuple[np.ndarray, np.ndarray | None]:
        """(mask over dataset ids of live matches, scores or None for an empty query)."""
        columns = self.columns
        size = columns.capacity
        if query.is_empty:
            mask = columns.alive.copy()
            scores = None
        else:
            phrase_terms = [Requirement(t) for p in query.phrases for t in p]
            mask, scores = self._all_of(list(dict.fromkeys(query.terms + phrase_terms)), size)
            for phrase in query.phrases:
                if len(phrase) > 1 and mask.any():
                    mask &= self._id_mask(self.text.phrase_ids(phrase), size)
            mask &= columns.alive[:size]
        for group in query.excluded:
            mask &= ~self._all_of([Requirement(t) for t in group], size)[0]
        for phrase in query.excluded_phrases:
            mask &= ~self._id_mask(self.text.phrase_ids(phrase), size)
        return mask, scores

    def _all_of(self, requirements: list[Requirement], size: int):
        """(mask of datasets meeting every requirement, summed scores)."""
        scores = np.zeros(size, dtype=np.float32)
        mask = np.ones(size, dtype=bool)
        for requirement in requirements:
            present = self._term(requirement.term, size, scores)
            if requirement.parts:
                parts = np.ones(size, dtype=bool)
                for part in requirement.parts:
                    parts &= self._term(part, size, scores)
                present |= parts
            mask &= present
        return mask, scores

    def _term(self, term: str, size: int, scores: np.ndarray) -> np.ndarray:
        """Datasets holding the term in title or body; adds its BM25 weight to scores."""
        live = max(self.columns.live_count, 1)
        present = np.zeros(size, dtype=bool)
        for name in FIELDS:
            ids, tf = self.text.postings(name, term)
            if len(ids) == 0:
                continue
            inside = ids < size  # indexed before the columns caught up: not yet visible
            ids, tf = ids[inside], tf[inside]
            idf = math.log(1 + (live - len(ids) + 0.5) / (len(ids) + 0.5))
            np.add.at(scores, ids, FIELD_BOOST[name] * idf * tf * (K1 + 1) / (tf + K1))
            present[ids] = True
        return present

    @staticmethod
    def _id_mask(ids: np.ndarray, size: int) -> np.ndarray:
        mask = np.zeros(size, dtype=bool)
        mask[ids[ids < size]] = True
        return mask

    # --- filters --------------------------------------------------------------------
    def filter_mask(self, filters: Filters) -> np.ndarray:
        c = self.columns
        mask = c.alive.copy()
        for values, column, vocabulary in (
            (filters.publisher, c.publisher, c.publishers),
            (filters.open_type, c.open_type, c.open_types),
            (filters.frequency, c.frequency, c.frequencies),
        ):
            if values:
                wanted = [vocabulary.ordinals[v] for v in values if v in vocabulary.ordinals]
                mask &= np.isin(column, wanted)
        for values, bitset in ((filters.theme, c.themes), (filters.format, c.formats)):
            if values:
                wanted = [
                    bitset.vocabulary.ordinals[v] for v in values if v in bitset.vocabulary.ordinals
                ]
                mask &= bitset.mask_any(wanted)
        if filters.source:
            by_name = {name: sid for sid, name in c.source_names.items()}
            wanted = [by_name.get(v, int(v) if v.isdigit() else -1) for v in filters.source]
            mask &= np.isin(c.source, wanted)
        if filters.modified_from:
            mask &= c.modified >= epoch_seconds(filters.modified_from)
        if filters.modified_to:
            mask &= (c.modified <= epoch_seconds(filters.modified_to)) & (c.modified != NO_DATE)
        return mask

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
        sources, counts = np.unique(c.source[ids], return_counts=True)
        result["source"] = sorted(
            ({"value": c.source_names.get(int(s), str(s)), "count": int(n)} for s, n in zip(sources, counts, strict=True)),
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
        order = sorted(nonzero, key=lambda i: (-counts[i], values[i]))[: self.facet_limit]
        return [{"value": values[i], "count": int(counts[i])} for i in order]

    # --- the whole search -----------------------------------------------------------
    def members(self, query: ParsedQuery, filters: Filters, include=(), exclude=()):
        """(mask, scores): what the query and filters match, plus `include`, minus
        `exclude`. The one definition of "matches" for search, scenarios and alerts."""
        mask, scores = self.match(query)
        mask &= self.filter_mask(filters)[: len(mask)]
        if len(include):
            mask |= (
                self._id_mask(np.asarray(include, dtype=np.int64), len(mask))
                & self.columns.alive[: len(mask)]
            )
        if len(exclude):
            mask &= ~self._id_mask(np.asarray(exclude, dtype=np.int64), len(mask))
        return mask, scores

    def search(self, query: ParsedQuery, filters: Filters, sort: str = "relevance",
               page: int = 1, per_page: int = 20, with_facets: bool = True,
               include=(), exclude=()) -> SearchResult:  # fmt: skip
        mask, scores = self.members(query, filters, include, exclude)
        ids = np.flatnonzero(mask)
        total = len(ids)
        facets = self.facets(ids) if with_facets else {}
        page_ids = self._page(ids, scores, sort, (page - 1) * per_page, per_page)
        page_scores = {} if scores is None else {int(i): float(scores[i]) for i in page_ids}
        return SearchResult([int(i) for i in page_ids], total, facets, page_scores)

    def _page(self, ids, scores, sort: str, offset: int, limit: int) -> np.ndarray:
        if offset >= len(ids):
            return ids[:0]
        if sort == "relevance" and scores is None:
            sort = "newest"
        modified = self.columns.modified[ids]
        modified = np.where(modified == NO_DATE, -(2**62), modified)  # undated sort as oldest
        if sort == "relevance":
            keys = (ids, -modified, -scores[ids])  # score, then newer, then lower id
        elif sort == "newest":
            keys = (ids, -modified)
        elif sort == "oldest":
            keys = (ids, modified)
        else:
            keys = (ids, self.columns.ensure_title_rank()[ids])
        end = offset + limit
        if end < len(ids):
            # Only the first `end` rows matter: keep those at or above the cut (ties
            # included, so the tie-breaks still decide), then sort just them.
            primary = keys[-1]
            keep = primary <= np.partition(primary, end - 1)[end - 1]
            ids, keys = ids[keep], tuple(k[keep] for k in keys)
        return ids[np.lexsort(keys)][offset:end]
