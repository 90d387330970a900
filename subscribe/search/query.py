"""The search box's syntax: words are ANDed, "quoted phrases", -excluded words or phrases."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from subscribe.search.analysis import STOP_WORDS, fold, query_terms

_PART = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')


@dataclass
class ParsedQuery:
    terms: list[str] = field(default_factory=list)  # each must match (title or body)
    phrases: list[list[str]] = field(default_factory=list)  # consecutive terms
    excluded: list[list[str]] = field(default_factory=list)  # groups; all of a group = out
    excluded_phrases: list[list[str]] = field(default_factory=list)
    highlight: list[str] = field(default_factory=list)  # folded surface words to mark

    @property
    def is_empty(self) -> bool:
        return not (self.terms or self.phrases)


def parse(text: str) -> ParsedQuery:
    query = ParsedQuery()
    for negated_phrase, phrase, negated_word, word in _PART.findall(text or ""):
        if phrase or (negated_phrase and not word):
            terms = query_terms(phrase)
            if not terms:
                continue
            target = query.excluded_phrases if negated_phrase else query.phrases
            target.append(terms)
            if not negated_phrase:
                query.highlight.append(fold(phrase.strip()))
            continue
        if word.startswith("-") and negated_word == "" and len(word) > 1:
            negated_word, word = "-", word[1:]
        terms = query_terms(word)
        if not terms:
            continue
        if negated_word:
            query.excluded.append(terms)
            continue
        query.highlight.append(fold(word))
        # Stop words add nothing to a bag-of-words match; they only count inside phrases.
        query.terms.extend(t for t in terms if t not in STOP_WORDS)
    if not query.terms and not query.phrases and query.highlight:
        # A query of stop words only ("的"): search them rather than return everything.
        query.terms = [t for w in query.highlight for t in query_terms(w)]
    query.terms = list(dict.fromkeys(query.terms))
    return query
