"""Marking the query's words in titles and description snippets (HTML-escaped).

Chinese words are marked wherever the folded text holds them (a substring: Chinese has
no spaces to find words by). Letter/digit words are marked as the index matched them:
whole words of the text whose term (analysis.latin_term: lower case, Porter stem) is a
query word's, so "quality" marks Quality and qualities, "students" marks Student, and
"air" marks no part of "repair". A joined token (covid-19, pm2.5) is marked whole when
typed whole, or the piece typed (covid of covid-19).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from markupsafe import escape

from subscribe.catalog.normalize import to_simplified
from subscribe.search.analysis import LETTER, fold, has_han, latin_term, pieces

SNIPPET = 160
_WORD = LETTER  # one letter or digit of a letter/digit token (not Chinese)
_LETTER = re.compile(LETTER)


def _spans(text: str, words: list[str]) -> list[tuple[int, int]]:
    folded = _aligned_fold(text)
    if folded is None:
        return []
    spans = []
    chinese = sorted({w for w in words if w and has_han(w)}, key=len, reverse=True)
    for word in chinese:
        spans.extend((m.start(), m.end()) for m in re.finditer(re.escape(word), folded))
    latin = _latin_terms(tuple(words))
    if latin:
        spans.extend(_latin_spans(folded, latin))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _aligned_fold(text: str) -> str | None:
    """fold(text) with one character for each of the text's, so the offsets found in it
    are the text's own; None when no such form exists. A character whose NFKC form is
    longer (… is ..., ½ is 1⁄2, ﬁ is fi) is kept as written: one of them in a
    description once left every word of it unmarked."""
    folded = fold(text)
    if len(folded) == len(text):
        return folded
    chars = []
    for char in text:
        normal = unicodedata.normalize("NFKC", char).lower()
        chars.append(normal if len(normal) == 1 else char)
    folded = to_simplified("".join(chars))
    return folded if len(folded) == len(text) else None


@lru_cache(maxsize=256)
def _latin_terms(words: tuple[str, ...]) -> frozenset[str]:
    """The terms of the query words' letter/digit pieces (a typed "Java/C++" also its
    parts, as the query matches them apart)."""
    terms = set()
    for word in words:
        for piece in pieces(word):
            if has_han(piece):
                continue
            terms.add(latin_term(piece))
            if "/" in piece:
                terms.update(latin_term(part) for part in piece.split("/") if part)
    return frozenset(terms)


def _latin_spans(folded: str, terms: frozenset[str]) -> list[tuple[int, int]]:
    """Spans of the letter/digit runs of `folded` (whole tokens, or a joined token's
    pieces) whose term is one of `terms`. Only the runs that could be are stemmed:
    those starting with a plain term's first letters (a Porter stem keeps the word's
    start but for its last letters: qualiti of quality), or a term written out (covid-19,
    n95); stemming every word of 20 descriptions was ~1 ms a hit."""
    spans = []
    for match in _candidates(terms).finditer(folded):
        start = match.start()
        if start and _LETTER.match(folded, start - 1):
            continue  # inside a word (air of repair): the regex starts with its letters,
            # which lets it skip ahead faster than a look-behind at every character would
        run = match.group()
        if run in terms or latin_term(run) in terms:
            spans.append(match.span())
    return spans


@lru_cache(maxsize=256)
def _candidates(terms: frozenset[str]) -> re.Pattern:
    """A regex of the runs `_latin_spans` checks: a maximal letter/digit run starting
    with a stemmed term's first letters, or a term as written between non-letters."""
    stems, written = set(), set()
    for term in terms:
        if term.isascii() and term.isalpha():
            stems.add(term[: max(len(term) - 2, 2)])
        else:
            written.add(term)
    alternatives = [re.escape(t) + rf"(?!{_WORD})" for t in sorted(written, key=len, reverse=True)]
    alternatives += [re.escape(p) + rf"{_WORD}*" for p in sorted(stems, key=len, reverse=True)]
    return re.compile("|".join(alternatives))


def mark(text: str, words: list[str]) -> str:
    """The whole text, escaped, with <mark> around each query word."""
    return _marked(text, _spans(text, words))


def _marked(text: str, spans: list[tuple[int, int]]) -> str:
    # Plain str joins of escaped pieces: the same text as Markup concatenation, without
    # a Markup object per piece (20 hits × title and snippet on every search page).
    if not spans:
        return str(escape(text))
    out, last = [], 0
    for start, end in spans:
        out += (escape(text[last:start]), "<mark>", escape(text[start:end]), "</mark>")
        last = end
    out.append(escape(text[last:]))
    return "".join(out)


def snippet(text: str, words: list[str], size: int = SNIPPET) -> str:
    """A window of the text around the first match (or its start), marked."""
    spans = _spans(text, words)
    start = max(0, spans[0][0] - size // 3) if spans else 0
    window = text[start : start + size]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + size < len(text) else ""
    # A window that is the whole text has the spans already found.
    marked = _marked(window, spans) if window == text else mark(window, words)
    return prefix + marked + suffix
