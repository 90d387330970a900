"""Percolation: which scenarios does a batch of changed datasets concern?

Running every scenario's query for every change does not scale (100,000 scenarios).
Instead scenarios are indexed by something each one *requires* (a query term, else a
publisher/theme/format it filters on; pins by dataset id), so a batch of changes only
wakes the scenarios whose requirement appears in it. Those candidates are then
verified exactly, with `docmatch`'s rules evaluated for all changed documents at once
as bitsets (Python ints: one bit per document slot).
"""

from __future__ import annotations

from collections import defaultdict
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

    def anchor_keys(self) -> set[str]:
        """Everything a percolator anchor can name."""
        return (
            {"t:" + term for term in self.terms}
            | {"g:" + gram for gram in self.grams}
            | set(self.values)
        )

    def _term(self, term: str) -> int:
        return self.terms.get(term, 0)

    def _clause(self, clause, within: int) -> int:
        """Slots meeting the clause (docmatch.clause_met)."""
        words = within
        for requirement in clause.words:
            present = self._term(requirement.term)
            if requirement.parts:
                present |= reduce(lambda a, p: a & self._term(p), requirement.parts, ALL)
            words &= present
        for phrase in clause.phrases:
            if words:
                words = self._phrase(list(phrase), words)
        grams = 0
        if clause.grams:
            grams = within & reduce(lambda a, g: a & self.grams.get(g, 0), clause.grams, ALL)
        return words | grams

    def _phrase(self, phrase: list[str], within: int) -> int:
        candidates = within & reduce(lambda a, t: a & self._term(t), phrase, ALL)
        found = 0
        for slot in slots(candidates):
            if has_phrase(self.docs[slot], phrase):
                found |= 1 << slot
        return found

    def _filters(self, spec: MatchSpec) -> int:
        bits, f = self.alive, spec.filters
        for name, values in (("publisher", f.publisher), ("theme", f.theme), ("format", f.format),
                             ("open_type", f.open_type), ("frequency", f.frequency), ("source", f.source)):  # fmt: skip
            if values:
                bits &= _or(self.values.get(f"{name}:{v}", 0) for v in values)
        if f.modified_from or f.modified_to:
            low = epoch_seconds(f.modified_from) if f.modified_from else None
            high = epoch_seconds(f.modified_to) if f.modified_to else None
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

    def evaluate(self, spec: MatchSpec) -> int:
        """Bits of the slots whose document is a member of `spec` (docmatch.matches)."""
        bits = 0 if spec.pins_only else self._filters(spec)
        query = spec.query
        for clause in query.clauses:
            if not bits:
                break
            bits = self._clause(clause, bits)
        for phrase in query.phrases:
            if bits:
                bits = self._phrase(phrase, bits)
        for exclusion in query.exclusions:
            out = bits  # those meeting all of it (docmatch.excluded_by)
            for clause in exclusion.clauses:
                if out:
                    out = self._clause(clause, out)
            for phrase in exclusion.phrases:
                if out:
                    out = self._phrase(list(phrase), out)
            bits &= ~out
        for dataset_id in spec.include:
            bits |= self.values.get(f"id:{dataset_id}", 0) & self.alive
        for dataset_id in spec.exclude:
            bits &= ~self.values.get(f"id:{dataset_id}", 0)
        return bits


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
        if clause.words:
            requirement = max(clause.words, key=lambda r: len(r.term))
            keys = ["t:" + requirement.term]
            if requirement.parts:
                keys.append("t:" + requirement.parts[0])
        else:
            keys = ["t:" + max(clause.phrases[0], key=len)]
        if clause.grams:
            keys.append("g:" + clause.grams[0])
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


def spec_key(spec: MatchSpec) -> tuple:
    """Equal for specs with the same rules (scenarios saved with the same query, filters
    and pins), so a batch evaluates them once."""
    return (repr(spec.query), repr(spec.filters), spec.include, spec.exclude, spec.scenario)


class Percolator:
    """Scenarios indexed by their anchors. Scenarios with equal specs form one group
    (`groups`, `members`): a batch wakes and evaluates groups, not each scenario."""

    def __init__(self, specs: dict[int, MatchSpec]):
        self.specs = specs
        self.groups: list[MatchSpec] = []  # group number → its spec
        self.members: list[list[int]] = []  # group number → scenario ids
        self.by_key: dict[str, list[int]] = defaultdict(list)  # anchor → group numbers
        self.broad: list[int] = []  # groups without any requirement: always candidates
        numbers: dict[tuple, int] = {}
        by_object: dict[int, int] = {}  # id(spec) → group: shared specs keyed once
        for scenario_id, spec in specs.items():
            number = by_object.get(id(spec))
            if number is not None:
                self.members[number].append(scenario_id)
                continue
            key = spec_key(spec)
            number = numbers.get(key)
            if number is None:
                number = numbers[key] = len(self.groups)
                self.groups.append(spec)
                self.members.append([])
                keys = anchors(spec)
                if keys is None:
                    self.broad.append(number)
                else:
                    for anchor in keys:
                        self.by_key[anchor].append(number)
            by_object[id(spec)] = number
            self.members[number].append(scenario_id)

    def candidate_groups(self, changed: ChangedDocs) -> set[int]:
        """Numbers of the groups the batch wakes."""
        found = set(self.broad)
        for key in changed.anchor_keys():
            numbers = self.by_key.get(key)
            if numbers:
                found.update(numbers)
        return found

    def candidates(self, changed: ChangedDocs) -> set[int]:
        """Ids of the scenarios the batch wakes."""
        return {s for n in self.candidate_groups(changed) for s in self.members[n]}
