"""Marking the query's words in titles and description snippets (HTML-escaped).

A mark shows why a hit matched, on the text as written, through every reading the index
used (analysis.py, regional.py):

- Chinese words are marked wherever the folded text holds them (a substring: Chinese
  has no spaces to find words by), and wherever a traditional text's regional reading
  holds them, on the text whose reading they are: 文件 marks 檔案 (read 文件), 摩托车
  marks 機車. The reading is aligned with the text by `_places` (equal characters one
  to one, a changed phrase as a whole).
- A long word's parts (公交站点: 公交, 站点; query.ParsedQuery.highlight_parts) are
  marked only in a text without the word itself: there they are what matched; beside
  the word they marked more than it (馆 of 档案馆 marked 檔案館館 in 檔案館館藏目錄).
- Letter/digit words are marked as the index matched them: whole words of the text
  whose term (analysis.latin_term: lower case, Porter stem) is a query word's, so
  "quality" marks Quality and qualities, "students" marks Student, and "air" marks no
  part of "repair". A joined token (covid-19, pm2.5) is marked whole when typed whole,
  or the piece typed (covid of covid-19); a word typed with a hyphen inside also marks
  its parts and its joined form, as the query meets them (nursing-home marks Nursing
  Home, smoke-free Smokefree).
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterator, Mapping
from functools import lru_cache

from markupsafe import escape

from subscribe.catalog.normalize import to_simplified
from subscribe.search.analysis import (
    LETTER,
    fold_and_reading,
    fold_and_script,
    has_han,
    hyphen_forms,
    latin_term,
    phrase_reading,
    pieces,
)

SNIPPET = 160
_WORD = LETTER  # one letter or digit of a letter/digit token (not Chinese)
_LETTER = re.compile(LETTER)
# How far `_places` looks for where the text and its reading agree again after a
# changed phrase (OpenCC's phrases and the supplement's words are a few characters).
_RESYNC = 6
# How much of a description `snippet` reads regionally to place its window when the
# folded text holds no query word (a reading-only hit further in starts at the start).
_READING_SCAN = 4 * SNIPPET
_NO_PARTS: Mapping[str, tuple[str, ...]] = {}


def _spans_and_script(text: str, words: list[str], parts: Mapping[str, tuple[str, ...]],
                      reading: bool) -> tuple[list[tuple[int, int]], bool]:  # fmt: skip
    """(the text's (start, end) offsets to mark, merged, in order, whether the text holds
    traditional characters); with `reading` False the folded text's offsets only (no
    regional reading: `snippet` looks there first)."""
    chinese = sorted({w for w in words if w and has_han(w)}, key=len, reverse=True)
    folded, read, traditional = _aligned_fold(text, reading and bool(chinese or parts))
    if folded is None:
        return [], traditional
    spans = []
    for word in chinese:
        spans.extend(_found(word, folded, read))
    for word, its_parts in parts.items():
        if not _found(word, folded, read):
            for part in its_parts:
                spans.extend(_found(part, folded, read))
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
    return merged, traditional


def _found(word: str, folded: str, read: _Reading | None) -> list[tuple[int, int]]:
    """Where `word` is in the folded text, and in its reading (as the text's offsets)."""
    spans = [m.span() for m in re.finditer(re.escape(word), folded)]
    if read is not None:
        spans.extend(read.spans(word))
    return spans


class _Reading:
    """A traditional text's regional reading (the one the index holds), aligned with the
    text as far as a query word found in it needs (`_blocks`, on demand): most readings
    hold no query word the folded text lacks, and a snippet needs its first only."""

    def __init__(self, text: str, folded: str, reading: str) -> None:
        self.reading = reading
        self._pending = _blocks(text, folded, reading)
        self._starts: list[int] = []
        self._blocks: list[tuple[int, int, int, int, bool]] = []

    def spans(self, word: str) -> list[tuple[int, int]]:
        """The (start, end) of the text whose reading holds `word`, each time it does."""
        spans = []
        for m in re.finditer(re.escape(word), self.reading):
            start, end = self.place(m.start())[0], self.place(m.end() - 1)[1]
            if start < end:
                spans.append((start, end))
        return spans

    def place(self, position: int) -> tuple[int, int]:
        """The (start, end) of the text that the reading's character at `position` reads:
        an equal character itself, a character of a changed phrase the whole phrase."""
        while not self._blocks or self._blocks[-1][1] <= position:
            block = next(self._pending)
            self._blocks.append(block)
            self._starts.append(block[0])
        r_start, _r_end, f_start, f_end, equal = self._blocks[
            bisect_right(self._starts, position) - 1
        ]
        if equal:
            return f_start + position - r_start, f_start + position - r_start + 1
        return f_start, f_end


def _aligned_fold(
    text: str, with_reading: bool = False
) -> tuple[str | None, _Reading | None, bool]:
    """(fold(text) with one character for each of the text's, so the offsets found in it
    are the text's own, or None when no such form exists; with `with_reading`, the
    text's regional reading (`_Reading`), or None when it has none;
    whether the text holds traditional characters).
    A character whose NFKC form is longer (… is ..., ½ is 1⁄2, ﬁ is fi) is kept as
    written: one of them in a description once left every word of it unmarked."""
    if with_reading:
        folded, reading = fold_and_reading(text)  # the reading the index holds
        traditional = bool(reading)
    else:
        (folded, traditional), reading = fold_and_script(text), ""
    if len(folded) != len(text):
        chars = []
        for char in text:
            normal = unicodedata.normalize("NFKC", char).lower()
            chars.append(normal if len(normal) == 1 else char)
        folded = to_simplified("".join(chars))
        if len(folded) != len(text):
            return None, None, traditional
    if not reading:
        return folded, None, traditional
    return folded, _Reading(text, folded, reading), traditional


def _blocks(text: str, folded: str, reading: str) -> Iterator[tuple[int, int, int, int, bool]]:
    """The reading cut into blocks, in order (reading start, reading end, text start,
    text end, equal): runs of equal characters, and changed phrases (檔案 read 文件,
    機車 read 摩托车), `folded` being the text folded, one character for each. Linear:
    after a difference, the nearest point (within _RESYNC characters) where the two
    agree again; a changed stretch is then cut by `_split`."""
    i = j = 0
    m = len(reading)
    while j < m:
        run = _equal_run(folded, i, reading, j)
        if run:
            yield j, j + run, i, i + run, True
            i += run
            j += run
            continue
        a, b = _resync(folded, reading, i, j)
        for start, end, length in _split(text, reading, i, i + a, j, j + b):
            yield j, j + length, start, end, False
            j += length
        i += a


def _equal_run(folded: str, i: int, reading: str, j: int) -> int:
    """How many characters folded[i:] and reading[j:] agree on (slices compared a
    doubling step at a time: most of a reading is the text's own characters)."""
    if folded[i : i + 1] != reading[j : j + 1]:
        return 0
    run, step = 1, 8
    while step:
        here = folded[i + run : i + run + step]
        if here and here == reading[j + run : j + run + step]:
            run += len(here)
            if len(here) < step:
                break
            step *= 2
        else:
            step //= 2
    return run


def _split(text: str, reading: str, i: int, end: int, j: int, stop: int) -> list:
    """[(start, end, length of its reading)] of the changed text[i:end], read
    reading[j:stop]. Of the same length, character by character: OpenCC's phrases and
    the supplement's words that keep their length read each character as one (檔案資料
    文件数据, 程式介面 程序接口, where 程 agreed and left 式介面 to 序接口). Else in two
    where each part read alone gives its part of the reading (each in turn split so:
    機車資料 摩托车数据), else whole (機車 摩托车)."""
    if end - i == stop - j:
        return [(k, k + 1, 1) for k in range(i, end)]
    for k in range(end - 1, i, -1):
        head = phrase_reading(text[i:k])
        if (
            reading.startswith(head, j)
            and phrase_reading(text[k:end]) == reading[j + len(head) : stop]
        ):
            return [
                *_split(text, reading, i, k, j, j + len(head)),
                *_split(text, reading, k, end, j + len(head), stop),
            ]
    return [(i, end, stop - j)]


def _resync(folded: str, reading: str, i: int, j: int) -> tuple[int, int]:
    """(a, b): folded[i:i+a] is read reading[j:j+b], the shortest such pair after which
    both agree again (or both end); when none is within _RESYNC characters, as many as
    that of each (a block stays short: `_split` reads its pieces)."""
    n, m = len(folded), len(reading)
    for total in range(2, 2 * _RESYNC + 1):
        for a in range(max(1, total - _RESYNC), min(_RESYNC, total - 1) + 1):
            b = total - a
            if (
                i + a <= n
                and j + b <= m
                and folded[i + a : i + a + 1] == reading[j + b : j + b + 1]
            ):
                return a, b
    return min(_RESYNC, n - i), min(_RESYNC, m - j)


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
            joined, parts = hyphen_forms(piece)
            if parts:  # "nursing-home" also its parts and joined form, as the query
                terms.update((joined, *parts))
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


def mark(text: str, words: list[str], parts: Mapping[str, tuple[str, ...]] = _NO_PARTS) -> str:
    """The whole text, escaped, with <mark> around each query word (`words`: folded, as
    query.ParsedQuery.highlight; `parts`: its highlight_parts)."""
    return _marked(text, _spans_and_script(text, words, parts, reading=True)[0])


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


def snippet(text: str, words: list[str], parts: Mapping[str, tuple[str, ...]] = _NO_PARTS,
            size: int = SNIPPET) -> str:  # fmt: skip
    """A window of `size` characters of the text around the first match (or its start),
    marked. The window is found in the folded text; only when that holds no query word
    is the regional reading looked at, in the first _READING_SCAN characters (a whole
    description's reading and its alignment cost ~2 ms a 4,000 characters, on every
    Taiwan hit its title alone explains); the window shown is marked with its own
    reading."""
    if len(text) <= size:
        return mark(text, words, parts)
    spans, traditional = _spans_and_script(text, words, parts, reading=False)
    first = spans[0][0] if spans else None
    if first is None and traditional:
        first = _first_in_reading(text, words, parts)
    start = max(0, first - size // 3) if first is not None else 0
    window = text[start : start + size]
    prefix = "…" if start > 0 else ""
    suffix = "…" if start + size < len(text) else ""
    return prefix + mark(window, words, parts) + suffix


def _first_in_reading(
    text: str, words: list[str], parts: Mapping[str, tuple[str, ...]]
) -> int | None:
    """Where in the text the first Chinese query word (or part) its regional reading
    holds is read from, looking at the first _READING_SCAN characters; None when none."""
    chinese = [
        word for word in [*words, *(p for ps in parts.values() for p in ps)] if has_han(word)
    ]
    if not chinese:
        return None
    head = text[:_READING_SCAN]
    folded, read, _traditional = _aligned_fold(head, True)
    if folded is None or read is None:
        return None
    found = [read.reading.find(word) for word in chinese]
    first = min((at for at in found if at >= 0), default=None)
    return None if first is None else read.place(first)[0]
