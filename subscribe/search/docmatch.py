"""Does one dataset match a scenario? The search's definition, applied to a single document.

The engine answers "which datasets match this query" over the whole index; change
matching asks the reverse for a few changed datasets (before and after a change), often
for datasets no longer in the index. This module evaluates the same parsed query, the
same analysis and the same filters on a snapshot; tests hold it to the engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from subscribe.models_base import epoch_seconds
from subscribe.search.analysis import fold, index_terms, title_grams
from subscribe.search.engine import Filters
from subscribe.search.indexer import body_text, other_languages_text
from subscribe.search.query import Clause, Exclusion, ParsedQuery, Requirement

FIELDS = ("title", "body")


@dataclass
class MatchSpec:
    """A scenario (or a bare search) in the form matching needs."""

    query: ParsedQuery
    filters: Filters
    include: frozenset[int] = frozenset()
    exclude: frozenset[int] = frozenset()
    # A saved scenario without words and filters holds only its pinned datasets (a bare
    # search without them lists the whole catalog): see `pins_only()`.
    scenario: bool = True

    @property
    def pins_only(self) -> bool:
        return self.scenario and pins_only(self.query, self.filters)

    @cached_property
    def because(self) -> dict:
        """The part of matched_because every member shares: the query and the filters."""
        reason: dict = {}
        # The words as typed: a part the highlight also marks (停车 and 场 of
        # 公共停车场信息) says nothing more to a reader, and a lone 场 reads as noise.
        words: list[str] = []
        for word in self.query.highlight:
            if word and not any(word in shown for shown in words):
                words.append(word)
        if words:
            reason["words"] = words
        if self.query.phrases:  # as typed: the terms are stems ("school locat")
            reason["phrases"] = list(self.query.phrase_texts)
        active = {k: v for k, v in vars(self.filters).items() if v}
        if active:
            reason["filters"] = {
                k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in active.items()
            }
        return reason


def pins_only(query: ParsedQuery, filters: Filters) -> bool:
    """A scenario with no query words or phrases and no filters has no rule that picks
    datasets: its members are its pinned datasets only, never the whole catalog."""
    return query.is_empty and not any(vars(filters).values())


@dataclass
class Document:
    """A dataset snapshot analysed once: terms and their positions per field."""

    id: int
    source: int
    source_name: str
    publisher: str
    themes: frozenset[str]
    formats: frozenset[str]
    open_type: str
    frequency: str
    modified: datetime | None
    positions: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # ascending
    grams: frozenset[str] = frozenset()  # the title's character bigrams

    @property
    def terms(self) -> set[str]:
        return set(self.positions["title"]) | set(self.positions["body"])


def analyse(dataset_id: int, source_id: int, source_name: str, snapshot: dict,
            memo: dict | None = None) -> Document:  # fmt: skip
    """The snapshot analysed. `memo` (a dict the caller keeps for a batch) holds each text's
    analysis, shared read-only between documents: a change's before and after snapshots
    differ in a field or two, and each text was analysed twice (matching's largest cost
    after the insert)."""
    texts = {
        "title": snapshot.get("title") or "",
        "body": body_text(snapshot.get("description"), snapshot.get("keywords"),
                          snapshot.get("publisher"), snapshot.get("themes"),
                          other_languages_text(snapshot.get("translations"), snapshot.get("title"),
                                               snapshot.get("description")),
                          snapshot.get("distinguished_by")),
    }  # fmt: skip
    positions: dict[str, dict[str, list[int]]] = {}
    for name, text in texts.items():
        if memo is not None and (known := memo.get(text)) is not None:
            positions[name] = known
            continue
        # Lists as term_positions makes them, not sets: a phrase check (rare) reads a
        # term's few positions, while a set of each was a third of the analysis's time.
        positions[name] = index_terms(text)
        if memo is not None:
            memo[text] = positions[name]
    grams = None if memo is None else memo.get(("grams", texts["title"]))
    if grams is None:
        grams = frozenset(title_grams(fold(texts["title"])))
        if memo is not None:
            memo["grams", texts["title"]] = grams
    modified = snapshot.get("modified")
    return Document(
        id=dataset_id, source=source_id, source_name=source_name,
        publisher=snapshot.get("publisher") or "", themes=frozenset(snapshot.get("themes") or ()),
        formats=frozenset(snapshot.get("formats") or ()), open_type=snapshot.get("open_type") or "unknown",
        frequency=snapshot.get("frequency") or "unknown",
        modified=datetime.fromisoformat(modified) if isinstance(modified, str) else modified,
        positions=positions, grams=grams,
    )  # fmt: skip


def _has(doc: Document, term: str) -> bool:
    return term in doc.positions["title"] or term in doc.positions["body"]


def _requirement(doc: Document, requirement: Requirement) -> bool:
    if _has(doc, requirement.term) or (requirement.joined and _has(doc, requirement.joined)):
        return True
    return bool(requirement.parts) and all(_has(doc, part) for part in requirement.parts)


def clause_met_by_words(doc: Document, clause: Clause) -> bool:
    """Every requirement met, and the single-character runs adjacent; or so for the
    words of the clause's regional reading."""
    if all(_requirement(doc, r) for r in clause.words) and all(
        all(_has(doc, t) for t in phrase) and has_phrase(doc, list(phrase))
        for phrase in clause.phrases
    ):
        return True
    return clause.regional is not None and clause_met_by_words(doc, clause.regional)


def clause_met(doc: Document, clause: Clause) -> bool:
    """By words, or by every bigram of the clause in the title."""
    if clause_met_by_words(doc, clause):
        return True
    return bool(clause.grams) and all(g in doc.grams for g in clause.grams)


def has_phrase(doc: Document, phrase: list[str]) -> bool:
    """The terms at consecutive positions within one field (as Whoosh's Phrase)."""
    for name in FIELDS:
        where = doc.positions[name]
        if all(term in where for term in phrase) and any(
            all(start + i in where[term] for i, term in enumerate(phrase))
            for start in where[phrase[0]]
        ):
            return True
    return False


def text_matches(query: ParsedQuery, doc: Document) -> bool:
    if not all(clause_met(doc, c) for c in query.clauses):
        return False
    if not all(
        all(_has(doc, t) for t in phrase) and has_phrase(doc, phrase) for phrase in query.phrases
    ):
        return False
    return not any(excluded_by(doc, exclusion) for exclusion in query.exclusions)


def excluded_by(doc: Document, exclusion: Exclusion) -> bool:
    """Does the document meet all of a -word or -"phrase" (what the text alone finds)?"""
    return all(clause_met(doc, c) for c in exclusion.clauses) and all(
        all(_has(doc, t) for t in phrase) and has_phrase(doc, list(phrase))
        for phrase in exclusion.phrases
    )


def filters_match(filters: Filters, doc: Document) -> bool:
    if filters.publisher and doc.publisher not in filters.publisher:
        return False
    if filters.theme and not doc.themes.intersection(filters.theme):
        return False
    if filters.format and not doc.formats.intersection(filters.format):
        return False
    if filters.open_type and doc.open_type not in filters.open_type:
        return False
    if filters.frequency and doc.frequency not in filters.frequency:
        return False
    if (
        filters.source
        and doc.source_name not in filters.source
        and str(doc.source) not in filters.source
    ):
        return False
    modified = epoch_seconds(doc.modified) if doc.modified else None
    if filters.modified_from and (
        modified is None or modified < epoch_seconds(filters.modified_from)
    ):
        return False
    return not (
        filters.modified_to and (modified is None or modified > epoch_seconds(filters.modified_to))
    )


def matches(spec: MatchSpec, doc: Document | None) -> bool:
    """Is the document (None = gone) a member: (query and filters) or pinned, not excluded."""
    if doc is None or doc.id in spec.exclude:
        return False
    if doc.id in spec.include:
        return True
    if spec.pins_only:
        return False
    return filters_match(spec.filters, doc) and text_matches(spec.query, doc)


def matched_because(spec: MatchSpec, doc: Document) -> dict:
    """Why a member is a member: its pin, or the scenario's query words and filters (every
    non-pinned member meets all of them, so the answer is shared, not rebuilt per event)."""
    return PINNED if doc.id in spec.include else spec.because


PINNED = {"pinned": True}
