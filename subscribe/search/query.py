"""The search box's syntax: words are ANDed, "quoted phrases", -excluded words or phrases."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from subscribe.search.analysis import STOP_WORDS, fold, is_single_cjk, query_terms, sub_words

_PART = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')


@dataclass(frozen=True)
class Requirement:
    """A word that must match: the term itself, or else all of its parts (a long
    dictionary word like 公交站点 also matches text that has 公交 and 站点 apart)."""

    term: str
    parts: tuple[str, ...] = ()


@dataclass
class ParsedQuery:
    terms: list[Requirement] = field(default_factory=list)  # each must match (title or body)
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
        _add_word(query, terms)
    if not query.terms and not query.phrases and query.highlight:
        # A query of stop words only ("的"): search them rather than return everything.
        query.terms = [Requirement(t) for w in query.highlight for t in query_terms(w)]
    query.terms = list(dict.fromkeys(query.terms))
    return query


def _add_word(query: ParsedQuery, terms: list[str]) -> None:
    """One typed word: runs of single Chinese characters (a word the dictionary does not
    know, like 网约车) must stay together, as a phrase; other terms are required."""
    run: list[str] = []
    for term in [*terms, ""]:
        if term and is_single_cjk(term):
            run.append(term)
            continue
        if len(run) > 1:
            query.phrases.append(run)
        elif run and run[0] not in STOP_WORDS:
            query.terms.append(Requirement(run[0]))
        run = []
        # Stop words add nothing to a bag-of-words match; they only count inside phrases.
        if term and term not in STOP_WORDS:
            parts = sub_words(term)
            query.terms.append(Requirement(term, parts))
            query.highlight.extend(parts)  # so 公交站点 marks 公交 … 站点 when apart
