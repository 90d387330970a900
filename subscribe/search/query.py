"""The search box's syntax: words are ANDed, "quoted phrases", -excluded words or phrases.

A `-` starts an exclusion only at a word's start; inside a word (nursing-home, 2011-12)
it joins, and the word is met by itself, its joined form (smokefree) or all its parts
(analysis.hyphen_forms), as text writes it hyphenated, spaced, with a dash or joined.

Every other character is literal text: colons, brackets, AND/OR/NOT, wildcards and
slashes carry no syntax, so no query string can fail to parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from subscribe.catalog.normalize import INVISIBLE
from subscribe.search.analysis import (
    STOP_WORDS,
    bigrams,
    compact,
    fold,
    fold_and_reading,
    hyphen_forms,
    is_han,
    is_single_cjk,
    pieces,
    query_terms,
    script,
    split_at_breaks,
    sub_words,
    title_grams,
)

_PART = re.compile(r'(-?)"([^"]*)"?|(-?)(\S+)')


@dataclass(frozen=True)
class Requirement:
    """A word that must match: the term itself, or its `joined` form, or else all of its
    parts (a long dictionary word like 公交站点 also matches text that has 公交 and 站点
    apart; nursing-home text that has nursing and home, smoke-free text writing smokefree)."""

    term: str
    parts: tuple[str, ...] = ()
    joined: str = ""


@dataclass(frozen=True)
class Clause:
    """One piece of what was typed (a Chinese run, or a letter/digit token).

    Met by its words (every requirement in title or body, and single characters
    adjacent), or — for a Chinese run of two or more characters — by every one of its
    bigrams in the title's `grams` (a substring of the title, whatever the segmenter
    made of it). Word matches rank above bigram-only ones (engine.py).

    A piece typed in traditional characters is also met by the words of its mainland
    reading (`regional`, a clause without grams: search/regional.py), so 空氣品質 finds 空气质量.
    """

    words: tuple[Requirement, ...]
    phrases: tuple[tuple[str, ...], ...] = ()
    grams: tuple[str, ...] = ()
    regional: Clause | None = None
    # The bigrams of the regional reading (compact), for ranking only: a title holding
    # them holds the clause as the other region writes it (engine.py, SCRIPT_WEIGHT).
    reading_grams: tuple[str, ...] = ()


@dataclass(frozen=True)
class Exclusion:
    """A -word or -"quoted phrase": a dataset is left out when it meets everything the
    same text would require without the minus (built by the same code: each part of a
    phrase between punctuation, Chinese runs also by their bigrams in the title), so
    -"甲，乙" drops exactly what "甲，乙" finds and -线路站 what 线路站 finds."""

    clauses: tuple[Clause, ...] = ()
    phrases: tuple[tuple[str, ...], ...] = ()


@dataclass
class ParsedQuery:
    clauses: list[Clause] = field(default_factory=list)  # each must be met
    phrases: list[list[str]] = field(default_factory=list)  # consecutive terms
    phrase_texts: list[str] = field(default_factory=list)  # each of `phrases` as typed
    exclusions: list[Exclusion] = field(default_factory=list)  # meeting one = out
    highlight: list[str] = field(default_factory=list)  # folded surface words to mark
    # A long word's parts (公交站点: 公交, 站点), marked only in a text without the word
    # itself, where they are what matched (highlight.mark).
    highlight_parts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    text: str = ""  # compact form of the positive words and phrases (title bonuses)
    # The bigrams of `text` as a title's are made (analysis.title_grams): none across the
    # clause punctuation typed, which titles' grams never span (the phrase-in-title bonus).
    grams: tuple[str, ...] = ()
    script: int = 0  # analysis.script of the positive words and phrases as typed
    ignored: list[str] = field(default_factory=list)  # typed words with nothing to search

    @property
    def is_empty(self) -> bool:
        return not (self.clauses or self.phrases)

    @property
    def terms(self) -> list[Requirement]:
        """Every requirement of every clause (anchors and term statistics use them)."""
        return [r for clause in self.clauses for r in clause.words]


# Characters a reader does not see, pasted with copied text: 公交\u200b站 is 公交站. The
# ones stored text loses at harvest (normalize.INVISIBLE), and the soft hyphen.
_INVISIBLE = {**INVISIBLE, ord("\u00ad"): None}


def parse(text: str) -> ParsedQuery:
    text = (text or "").translate(_INVISIBLE)
    query = ParsedQuery()
    surface: list[str] = []
    for negated_phrase, phrase, negated_word, word in _PART.findall(text):
        if phrase or (negated_phrase and not word):
            # Punctuation inside the quotes splits the phrase: the text has a gap there
            # too (analysis.tokens), and each part must appear in order on its own.
            texts = [(part, query_terms(part)) for part in split_at_breaks(phrase, False)]
            parts = [terms for _part, terms in texts if terms]
            if not parts:
                if phrase.strip():
                    query.ignored.append(phrase.strip())
                continue
            # A negated phrase is built as the positive one, then kept apart.
            target = ParsedQuery() if negated_phrase else query
            for part, terms in texts:
                if terms:
                    _add_phrase(target, part, terms)
            if negated_phrase:
                query.exclusions.append(
                    Exclusion(tuple(target.clauses), tuple(tuple(p) for p in target.phrases))
                )
            if not negated_phrase:
                query.highlight.append(fold(phrase.strip()))
                surface.append(phrase)
            continue
        if word.startswith("-") and negated_word == "" and len(word) > 1:
            negated_word, word = "-", word[1:]
        terms = query_terms(word)
        if not terms:
            # Punctuation only ("%", "!!", "*"): no syntax and no words. Said back to the
            # user (`ignored`) rather than silently answered with the whole catalog.
            query.ignored.append(word)
            continue
        if negated_word:
            target = ParsedQuery()  # built as the positive word, then kept apart
            target.clauses.extend(_word_clauses(word, target))
            # Stop words only ("-的"): those words themselves, as a positive query does.
            clauses = target.clauses or [Clause((Requirement(t),)) for t in terms]
            query.exclusions.append(Exclusion(tuple(dict.fromkeys(clauses))))
            continue
        query.highlight.append(fold(word))
        surface.append(word)
        query.clauses.extend(_word_clauses(word, query))
    if not query.clauses and not query.phrases and query.highlight:
        # A query of stop words only ("的"): search them rather than return everything.
        terms = [t for w in query.highlight for t in query_terms(w)]
        query.clauses = [Clause((Requirement(t),)) for t in terms]
    query.clauses = list(dict.fromkeys(query.clauses))
    query.text = compact(" ".join(surface))
    query.grams = tuple(dict.fromkeys(title_grams(fold(" ".join(surface)))))
    query.script = script(" ".join(surface))
    return query


def _add_phrase(query: ParsedQuery, text: str, terms: list[str]) -> None:
    """A quoted phrase (one part between punctuation). Chinese only: a clause met by the
    terms in order or, as a typed word, by all its bigrams in the title, so '"市统计局"'
    finds 北京市统计局 however the segmenter cut the title; typed in traditional
    characters, also by its regional reading's terms in order, as a typed word is
    ('"空氣品質"' finds 空气质量: a quoted 空气质量 finds 空氣品質 by that title's reading
    already). Else terms in order."""
    joined = compact(text)
    if len(joined) < 2 or not all(is_han(char) for char in joined):
        query.phrases.append(terms)
        query.phrase_texts.append(" ".join(fold(text).split()))  # not the stems: "locations"
        return
    grams = tuple(dict.fromkeys(bigrams(joined)))
    clause = _phrase_clause(terms, grams)
    _folded, reading = fold_and_reading(text)
    read = compact(reading)
    if read and read != joined and all(is_han(char) for char in read):
        other = _phrase_clause(query_terms(read), ())
        if (other.words, other.phrases) != (clause.words, clause.phrases):
            clause = replace(clause, regional=other,
                             reading_grams=tuple(dict.fromkeys(bigrams(read))))  # fmt: skip
            query.highlight.append(read)
    query.clauses.append(clause)


def _phrase_clause(terms: list[str], grams: tuple[str, ...]) -> Clause:
    if len(terms) == 1:
        return Clause((Requirement(terms[0]),), (), grams)
    return Clause((), (tuple(terms),), grams)


def _word_clauses(word: str, query: ParsedQuery) -> list[Clause]:
    """The clauses of a typed word, one per piece; a Chinese piece written in
    traditional characters with its mainland reading's words as `regional`."""
    folded, reading = fold_and_reading(word)
    own = pieces(folded)
    readings = pieces(reading) if reading else []
    if len(readings) != len(own):  # tw2sp changes Chinese only: the pieces pair up
        readings = [""] * len(own)
    clauses = []
    for piece, read in zip(own, readings, strict=True):
        clause = _clause(piece, query)
        if clause is None:
            continue
        if read and read != piece and is_han(piece):
            other = _clause(read, ParsedQuery())
            if other is not None and (other.words, other.phrases) != (clause.words, clause.phrases):
                clause = replace(
                    clause,
                    regional=Clause(other.words, other.phrases),
                    reading_grams=tuple(dict.fromkeys(bigrams(compact(read)))),
                )
                query.highlight.append(read)  # its words are marked in the other region's titles
        clauses.append(clause)
    return clauses


def _clause(piece: str, query: ParsedQuery) -> Clause | None:
    """The clause of one folded piece; None when it holds only stop words."""
    terms = query_terms(piece)
    if not is_han(piece):
        term = terms[0]
        joined, parts = hyphen_forms(piece)
        if parts:
            # A hyphen inside a word (nursing-home, smoke-free, 2011-12): its parts
            # anywhere, as typed with spaces (text writing it hyphenated holds its
            # parts too, at its position), or it written joined (Smokefree).
            return Clause((Requirement(term, parts, joined),))
        # "Java/C++" also matches text holding java and c++ apart.
        parts = tuple(query_terms(p)[0] for p in term.split("/") if p) if "/" in term else ()
        return Clause((Requirement(term, parts if len(parts) > 1 else ()),))
    words: list[Requirement] = []
    phrases: list[tuple[str, ...]] = []
    run: list[str] = []
    for term in [*terms, ""]:
        # Runs of single characters (a word the dictionary does not know, like 网约车)
        # must stay together, as a phrase; stop words only count inside phrases.
        if term and is_single_cjk(term):
            run.append(term)
            continue
        if len(run) > 1:
            phrases.append(tuple(run))
        elif run and run[0] not in STOP_WORDS:
            words.append(Requirement(run[0]))
        run = []
        if term and term not in STOP_WORDS:
            parts = sub_words(term)
            words.append(Requirement(term, parts))
            if parts:  # so 公交站点 marks 公交 … 站点 when apart
                query.highlight_parts[term] = parts
    grams = tuple(dict.fromkeys(bigrams(piece)))
    if not words and not phrases:
        return None
    return Clause(tuple(dict.fromkeys(words)), tuple(phrases), grams)
