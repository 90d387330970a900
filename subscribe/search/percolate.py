"""Percolation: which scenarios does a batch of changed datasets concern?

Running every scenario's query for every change does not scale (100,000 scenarios).
Instead scenarios are indexed by something each one *requires* (a query term, else a
publisher/theme/format it filters on; pins by dataset id), so a batch of changes only
wakes the scenarios whose requirement appears in it. Those candidates are then
verified exactly, with `docmatch`'s rules evaluated for all changed documents at once
as bitsets (Python ints: one bit per document slot).
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping
from functools import reduce

from subscribe.models_base import epoch_seconds
from subscribe.search.docmatch import Document, MatchSpec, has_phrase

ALL = -1  # every bit set (Python ints are two's complement without end)


def _or(values) -> int:
    return reduce(lambda a, b: a | b, values, 0)


class ChangedDocs:
    """The documents of a batch (slot = position in the list; None = no document)."""

    def __init__(self, docs: list[Document | None]):
        self.docs = docs
        self.alive = 0
        self.terms: dict[str, int] = defaultdict(int)
        self.values: dict[str, int] = defaultdict(int)  # "publisher:…", "theme:…", "id:…"
        self.grams: dict[str, int] = defaultdict(int)
        for slot, doc in enumerate(docs):
            if doc is None:
                continue
            bit = 1 << slot
            self.alive |= bit
            for term in doc.terms:
                self.terms[term] |= bit
            for gram in doc.grams:
                self.grams[gram] |= bit
            for key in _value_keys(doc):
                self.values[key] |= bit

    def _term(self, term: str) -> int:
        return self.terms.get(term, 0)

    def _phrase(self, phrase, within: int) -> int:
        candidates = within & reduce(lambda a, t: a & self._term(t), phrase, ALL)
        found = 0
        for slot in slots(candidates):
            if has_phrase(self.docs[slot], phrase):
                found |= 1 << slot
        return found

    def _modified(self, bits: int, low: float | None, high: float | None) -> int:
        for slot in slots(bits):
            modified = self.docs[slot].modified
            seconds = epoch_seconds(modified) if modified else None
            if (
                seconds is None
                or (low is not None and seconds < low)
                or (high is not None and seconds > high)
            ):
                bits &= ~(1 << slot)
        return bits

    def _clauses(self, clauses: tuple, bits: int) -> int:
        """Slots of `bits` meeting every clause of a plan (docmatch.clause_met)."""
        for words, phrases, grams, regional in clauses:
            if not bits:
                break
            met = self._words(words, phrases, bits)
            if regional is not None:  # or by its regional reading's words
                met |= self._words(*regional, bits & ~met)
            if grams:  # or by every bigram of the clause in the title
                in_title = bits
                for gram in grams:
                    in_title &= self.grams.get(gram, 0)
                met |= in_title
            bits = met
        return bits

    def _words(self, words: tuple, phrases: tuple, bits: int) -> int:
        """Slots of `bits` meeting every requirement (the term, its joined form or all its parts)
        and holding every phrase (docmatch.clause_met_by_words)."""
        terms = self.terms
        met = bits
        for term, parts, joined in words:
            present = terms.get(term, 0)
            if joined:
                present |= terms.get(joined, 0)
            if parts:
                every = ALL
                for part in parts:
                    every &= terms.get(part, 0)
                present |= every
            met &= present
            if not met:
                break
        for phrase in phrases:
            if met:
                met = self._phrase(phrase, met)
        return met

    def evaluate(self, spec: MatchSpec | Plan) -> int:
        """Bits of the slots whose document is a member of `spec` (docmatch.matches).
        A batch evaluates thousands of specs: give their `Plan`s (Percolator.plans)."""
        plan = spec if isinstance(spec, Plan) else Plan(spec)
        values = self.values
        if plan.pins_only:
            bits = 0
        else:
            bits = self.alive
            for keys in plan.filters:  # values of one field ORed, fields ANDed
                present = 0
                for key in keys:
                    present |= values.get(key, 0)
                bits &= present
            if bits and plan.modified is not None:
                bits = self._modified(bits, *plan.modified)
        bits = self._clauses(plan.clauses, bits)
        for phrase in plan.phrases:
            if bits:
                bits = self._phrase(phrase, bits)
        for clauses, phrases in plan.exclusions:
            out = self._clauses(clauses, bits)  # those meeting all of it (docmatch.excluded_by)
            for phrase in phrases:
                if out:
                    out = self._phrase(phrase, out)
            bits &= ~out
        for key in plan.include:
            bits |= values.get(key, 0) & self.alive
        for key in plan.exclude:
            bits &= ~values.get(key, 0)
        return bits


class Plan:
    """A spec's rules as evaluate() reads them: plain tuples of the keys and terms it
    looks up, made once per scenario group. A batch evaluates every woken group, ~13,000
    for 1,000 changes against 100,000 scenarios, so what evaluate() would otherwise redo
    per call (filter keys formatted, dataclass attributes read, properties computed) was
    most of its time."""

    __slots__ = ("pins_only", "filters", "modified", "clauses", "phrases", "exclusions",
                 "include", "exclude")  # fmt: skip

    def __init__(self, spec: MatchSpec):
        f, query = spec.filters, spec.query
        self.pins_only = spec.pins_only
        self.filters = tuple(
            tuple(f"{name}:{v}" for v in values)
            for name, values in (("publisher", f.publisher), ("theme", f.theme), ("format", f.format),
                                 ("open_type", f.open_type), ("frequency", f.frequency), ("source", f.source))
            if values
        )  # fmt: skip
        self.modified = None
        if f.modified_from or f.modified_to:
            self.modified = (epoch_seconds(f.modified_from) if f.modified_from else None,
                             epoch_seconds(f.modified_to) if f.modified_to else None)  # fmt: skip
        self.clauses = _clause_plans(query.clauses)
        self.phrases = tuple(tuple(p) for p in query.phrases)
        self.exclusions = tuple(
            (_clause_plans(e.clauses), tuple(tuple(p) for p in e.phrases)) for e in query.exclusions
        )
        self.include = tuple(f"id:{dataset_id}" for dataset_id in spec.include)
        self.exclude = tuple(f"id:{dataset_id}" for dataset_id in spec.exclude)


def _clause_plans(clauses) -> tuple:
    """(words as (term, parts, joined), phrases, grams, regional reading as (words, phrases) or
    None) per clause, as ChangedDocs._clauses reads them."""
    return tuple(
        (*_words_plan(c), tuple(c.grams), None if c.regional is None else _words_plan(c.regional))
        for c in clauses
    )


def _words_plan(clause) -> tuple:
    return (tuple((r.term, tuple(r.parts), r.joined) for r in clause.words),
            tuple(tuple(p) for p in clause.phrases))  # fmt: skip


def _value_keys(doc: Document) -> list[str]:
    keys = [f"publisher:{doc.publisher}", f"open_type:{doc.open_type}", f"frequency:{doc.frequency}",
            f"source:{doc.source_name}", f"source:{doc.source}", f"id:{doc.id}"]  # fmt: skip
    keys += [f"theme:{t}" for t in doc.themes] + [f"format:{f}" for f in doc.formats]
    return keys


def slots(bits: int):
    """The positions of the set bits, lowest first."""
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def _longest(clause) -> int:
    return max([len(r.term) for r in clause.words] + [len(t) for p in clause.phrases for t in p])


def _word_anchors(clause) -> list[str]:
    """Term keys one of which every document meeting the clause by its words carries."""
    if clause.words:
        requirement = max(clause.words, key=lambda r: len(r.term))
        keys = ["t:" + requirement.term]
        if requirement.parts:
            keys.append("t:" + requirement.parts[0])
        if requirement.joined:
            keys.append("t:" + requirement.joined)
        return keys
    return ["t:" + max(clause.phrases[0], key=len)]


def anchors(spec: MatchSpec) -> list[str] | None:
    """Keys one of which every member must carry; None when nothing is required."""
    keys: list[str] = []
    query = spec.query
    if spec.pins_only:  # only its pins: woken by those alone (none: never)
        return [f"id:{dataset_id}" for dataset_id in spec.include]
    if query.clauses:
        # The clause with the longest word: in Chinese catalogs longer words are rarer,
        # so fewer wake-ups. A member meets it by words or by bigrams: both wake.
        clause = max(query.clauses, key=_longest)
        keys = _word_anchors(clause)
        if clause.grams:
            keys.append("g:" + clause.grams[0])
        if clause.regional is not None:  # a member may meet it by its regional reading only
            keys += _word_anchors(clause.regional)
    elif query.phrases:
        keys = ["t:" + max(query.phrases[0], key=len)]
    else:
        f = spec.filters
        for name, values in (("publisher", f.publisher), ("theme", f.theme), ("format", f.format),
                             ("source", f.source), ("open_type", f.open_type), ("frequency", f.frequency)):  # fmt: skip
            if values:
                keys = [f"{name}:{v}" for v in values]
                break
    if not keys:
        return None
    # Pinned datasets are members whatever the query says: they wake the scenario too.
    return keys + [f"id:{dataset_id}" for dataset_id in spec.include]


def _kind_of(anchor: str) -> tuple[int, str]:
    """(0 term | 1 gram | 2 value, its key in ChangedDocs) for an anchor of `anchors`."""
    if anchor.startswith("t:"):
        return 0, anchor[2:]
    if anchor.startswith("g:"):
        return 1, anchor[2:]
    return 2, anchor


def spec_key(spec: MatchSpec) -> tuple:
    """Equal for specs with the same rules (scenarios saved with the same query, filters
    and pins), so a batch evaluates them once."""
    return (repr(spec.query), repr(spec.filters), spec.include, spec.exclude, spec.scenario)


class Percolator:
    """Scenarios indexed by their anchors. Scenarios with equal specs form one group
    (`groups`, `members`): a batch wakes and evaluates groups, not each scenario."""

    def __init__(self, specs: Mapping[int, MatchSpec] | Iterable[tuple[int, MatchSpec]]):
        """`specs`: scenario id → spec, as a mapping or as (id, spec) pairs (streamed: a
        cache of 100,000 scenarios need not hold a dict of them besides this)."""
        self.groups: list[MatchSpec] = []  # group number → its spec
        self.plans: list[Plan] = []  # group number → its spec as ChangedDocs.evaluate reads it
        # group number → scenario ids, as 8-byte machine integers: 100,000 ids as Python
        # ints in lists were ~3.6 MB of the matching process's heap, as arrays 0.8 MB
        self.members: list[array] = []
        # Anchor → group numbers, by what the anchor names and keyed as ChangedDocs keys
        # them (a batch's terms meet these without a "t:" key made per term and batch).
        self._by_kind: tuple[dict[str, list[int]], ...] = ({}, {}, {})  # terms, grams, values
        self.broad: list[int] = []  # groups without any requirement: always candidates
        numbers: dict[tuple, int] = {}
        # id(spec) → group, for the groups' own spec objects (kept alive, so their ids
        # stay theirs): a spec shared by many scenarios is keyed once
        by_object: dict[int, int] = {}
        pairs = specs.items() if isinstance(specs, Mapping) else specs
        for scenario_id, spec in pairs:
            number = by_object.get(id(spec))
            if number is not None:
                self.members[number].append(scenario_id)
                continue
            key = spec_key(spec)
            number = numbers.get(key)
            if number is None:
                number = numbers[key] = len(self.groups)
                self.groups.append(spec)
                self.plans.append(Plan(spec))
                self.members.append(array("q"))
                keys = anchors(spec)
                if keys is None:
                    self.broad.append(number)
                else:
                    for anchor in keys:
                        kind, key = _kind_of(anchor)
                        self._by_kind[kind].setdefault(key, []).append(number)
                by_object[id(spec)] = number
            self.members[number].append(scenario_id)

    def candidate_groups(self, changed: ChangedDocs) -> set[int]:
        """Numbers of the groups the batch wakes."""
        found = set(self.broad)
        for by_key, present in zip(self._by_kind, (changed.terms, changed.grams, changed.values),
                                   strict=True):  # fmt: skip
            for key in by_key.keys() & present.keys():  # C iterates the smaller side
                found.update(by_key[key])
        return found

    def candidates(self, changed: ChangedDocs) -> set[int]:
        """Ids of the scenarios the batch wakes."""
        return {s for n in self.candidate_groups(changed) for s in self.members[n]}
