"""Text analysis shared by indexing and querying: one function decides what a token is.

- Text is NFKC-folded (full-width ＰＭ２．５ is PM2.5), traditional Chinese is folded to
  simplified (OpenCC t2s), so 公共數據 and 公共数据 are the same tokens, and lower-cased.
- Letters and digits joined by '.', '-' or '/' stay one token (pm2.5, covid-19, n95,
  gb/t, 2260-2007, c++, c#), with its pieces at the same position (covid, 19) so a
  piece still finds it; plain English words are Porter-stemmed. A query word with a
  hyphen inside also asks for its parts or its joined form (`hyphen_forms`, query.py).
- Chinese is segmented with rjieba (jieba's dictionary, in Rust). Each word of the
  precise segmentation gets one position; its shorter dictionary sub-words (search
  mode) are emitted at the same position. A query, segmented precisely, then finds
  both whole words and parts (质量 finds 空气质量), and phrases match by position
  ("质量日报" finds 空气质量日报).
- Stop words are indexed (phrases need them) and dropped from queries' scoring terms.
- Titles are also indexed as character bigrams of their compact form (`grams`), so
  any run of two or more characters typed finds the titles that contain it, whatever
  the segmenter made of the title (公交站 finds 公交站点).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from whoosh.analysis import Token, Tokenizer
from whoosh.lang.porter import stem

from subscribe.catalog.normalize import to_simplified
from subscribe.search import regional

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3007"
_CJK = re.compile(f"[{_HAN}]")
LETTER = rf"[^\W{_HAN}]"  # a letter, digit (any script but Chinese) or underscore
_LETTERS = f"{LETTER}+"
# A Chinese run, or letters/digits joined by . - / (pm2.5, covid-19, gb/t), with C++/C#.
_PIECE = re.compile(rf"(?P<han>[{_HAN}]+)|(?P<latin>{_LETTERS}(?:[./-]{_LETTERS})*(?:\+\+|#)?)")
# What `tokens` reads: a Chinese run may hold spaces ("北京市 统计局", or "北京 市" typed in
# quotes) and is segmented as one, so text and phrases with or without those spaces agree.
_TOKEN_PIECE = re.compile(
    rf"(?P<han>[{_HAN}]+(?:[ \t]+[{_HAN}]+)*)|(?P<latin>{_LETTERS}(?:[./-]{_LETTERS})*(?:\+\+|#)?)"
)
_JOINERS = re.compile(r"[./-]")
# Punctuation that separates clauses (as folded: ，；：！？｜／ are , ; : ! ? | /): between
# two words it leaves an empty position, so a quoted phrase never runs across it
# ("质量日报" does not match 空气质量，日报). Quotes, brackets and apostrophes do not.
_BREAK_CHARS = r",.;:!?、。…|/\\\-—–\n\r"
_BREAK = re.compile(f"[{_BREAK_CHARS}]")
# One pass over a text for `tokens`: its pieces, and its clause punctuation as matches
# of neither group. No piece starts with such punctuation (it is not a letter, digit or
# Chinese), so the pieces found are `_TOKEN_PIECE`'s, and punctuation inside a piece
# (pm2.5) is consumed by the piece, not seen as a break.
_SCAN = re.compile(f"{_TOKEN_PIECE.pattern}|[{_BREAK_CHARS}]")
_NOT_COMPACT = re.compile(r"[\W_]+")  # what `compact` drops: all but letters, digits, Chinese
# Bumped when the terms or positions made from a text change: an index built by an
# older analysis is rebuilt (store.is_current_schema).
# 5: regional readings (regional.py); 6: Hong Kong variants (_HK); 7: every term of a
# reading at its positions (a quoted phrase meets the reading), 指標 read 指标; 8: a
# term only the reading holds weighs READING_WEIGHT an occurrence (counted)
ANALYSIS_VERSION = 8

# Hong Kong's variant characters that OpenCC's t2s leaves alone (so 衞生署 never met
# 卫生署 or 衛生署): each mapped to the form t2s knows, as OpenCC's hk2s does (these six
# are every character of the CJK blocks whose hk2s and t2s differ, but 潀). Checked by
# one regex search first: a translate of every 4,000-character body would cost more.
_HK_VARIANTS = {"敍": "敘", "枱": "檯", "粧": "妝", "糭": "糉", "衞": "衛", "衹": "只"}
_HK = re.compile(f"[{''.join(_HK_VARIANTS)}]")
_HK_TABLE = str.maketrans(_HK_VARIANTS)

# Scripts (`script`): a text holding characters only traditional writing uses, or else
# characters only simplified writing uses; 0 for neither (公共, 人口, English).
TRADITIONAL, SIMPLIFIED = 1, 2

STOP_WORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "或",
        "等",
        "在",
        "是",
        "对",
        "为",
        "之",
        "其",
        "中",
        "由",
        "以",
        "并",
        "于",
        "个",
        "各",
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "with",
    ]
)


def _rjieba():
    """rjieba, imported on first use: its dictionary is ~33 MB of memory, which processes
    that never segment text (`flask bundles build`, most CLI commands) need not pay."""
    import rjieba

    return rjieba


def fold(text: str) -> str:
    """NFKC (full-width → ASCII), traditional → simplified, lower case: the form every
    comparison uses. Lengths are kept for CJK and full-width text (highlights rely on it)."""
    return to_simplified(_normal(text))


def fold_and_script(text: str) -> tuple[str, bool]:
    """(fold(text), True when t2s changed it: the text holds traditional characters and
    so has a regional reading to look at, `fold_and_reading`) at the cost of `fold`."""
    normal = _normal(text)
    folded = to_simplified(normal)
    return folded, folded != normal


def _normal(text: str) -> str:
    """NFKC, lower case, Hong Kong variants as t2s knows them: the text before t2s."""
    normal = unicodedata.normalize("NFKC", text).lower()
    return normal.translate(_HK_TABLE) if _HK.search(normal) else normal


def script(text: str) -> int:
    """TRADITIONAL when the text holds a character only traditional writing uses (t2s,
    phrase-aware, changes it: the test `fold_and_reading` makes), else SIMPLIFIED when it
    holds one only simplified writing uses (`_simplified_only`), else 0."""
    normal = _normal(text)
    return script_of(normal, to_simplified(normal))


def script_of(normal: str, folded: str) -> int:
    """`script` of a text already NFKC-folded and lower-cased (`normal`) and its t2s."""
    if folded != normal:
        return TRADITIONAL
    return SIMPLIFIED if _simplified_only().search(normal) else 0


# The characters `_simplified_only` matches, derived from OpenCC by
# `derive_simplified_only` and kept in a file: deriving them at run time loaded OpenCC's
# s2t dictionaries, ~26 MB that stayed resident in every process whose search columns
# load a title (web workers, `flask bundles build`, the matcher). A test checks the file
# against the installed OpenCC; after an OpenCC upgrade that changes it, rewrite it with
# `python -m subscribe.search.analysis`.
SIMPLIFIED_ONLY_FILE = Path(__file__).with_name("simplified_only.txt")


@lru_cache(maxsize=1)
def _simplified_only() -> re.Pattern:
    """Characters OpenCC's s2t changes that Big5 (Taiwan's traditional character set)
    lacks: 车 数 资 统 计 … but not 台 后 里 干 着, which s2t changes yet traditional
    text also writes (台北, 皇后, 村里). Read from SIMPLIFIED_ONLY_FILE on first use."""
    return re.compile(f"[{SIMPLIFIED_ONLY_FILE.read_text(encoding='utf-8').strip()}]")


def derive_simplified_only() -> str:
    """`_simplified_only`'s characters as OpenCC's s2t and Big5 give them (~50 ms and
    ~26 MB of dictionaries: for the test and to rewrite SIMPLIFIED_ONLY_FILE only)."""
    import opencc

    chars = [chr(c) for c in (*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000))]
    converted = opencc.OpenCC("s2t").convert("\n".join(chars)).split("\n")
    only = []
    for char, traditional in zip(chars, converted, strict=True):
        if traditional != char:
            try:
                char.encode("big5")
            except UnicodeEncodeError:
                only.append(char)
    return "".join(only)


def fold_and_reading(text: str) -> tuple[str, str]:
    """(fold(text), its regional reading or ""): a text holding traditional characters
    (t2s changed it) is also read as the mainland writes it (regional.py). Simplified
    text costs one comparison more than `fold`."""
    normal = _normal(text)
    folded = to_simplified(normal)
    return folded, ("" if folded == normal else regional.reading(normal, folded))


@lru_cache(maxsize=20_000)
def phrase_reading(text: str) -> str:
    """A piece of traditional text as its regional reading reads it, whether or not the
    piece itself holds a traditional character (物件 is read 对象 inside 物件資料):
    the highlight's alignment of a reading with its text (highlight._split: pieces of a
    few characters, cached)."""
    normal = _normal(text)
    folded = to_simplified(normal)
    return regional.reading(normal, folded) or folded


def compact(text: str) -> str:
    """The folded text's letters, digits and Chinese only: what whole-title and
    phrase-in-title comparisons see ('空气质量：实时监测' and '空气质量 实时监测' agree)."""
    return _NOT_COMPACT.sub("", fold(text))


def title_key(text: str) -> int:
    """A 63-bit hash of `compact(text)`: equal titles (as a query sees them) have equal keys."""
    return compact_key(compact(text))


def fold_key(text: str) -> tuple[str, int, int]:
    """(compact(text), title_key(text), script(text)) with one fold: what the search
    columns keep of a title."""
    normal = _normal(text)
    folded = to_simplified(normal)
    joined = _NOT_COMPACT.sub("", folded)
    return joined, compact_key(joined), script_of(normal, folded)


def compact_key(compact_text: str) -> int:
    """`title_key` of a text already compact."""
    digest = hashlib.blake2b(compact_text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def title_grams(folded: str) -> list[str]:
    """The `grams` field of a folded title: the bigrams of each part's compact form
    between clause punctuation, so none spans a comma ('空气质量，日报' has no 量日)."""
    return [gram for part in _BREAK.split(folded) for gram in bigrams(_NOT_COMPACT.sub("", part))]


def bigrams(text: str) -> list[str]:
    """Overlapping two-character pieces of an already compact text ('公交站' → 公交, 交站)."""
    return [text[i : i + 2] for i in range(len(text) - 1)]


@lru_cache(maxsize=200_000)
def _sub_words(word: str) -> tuple[str, ...]:
    """Dictionary words inside a long Chinese word (jieba's search mode), itself excluded."""
    return tuple(w for w in _rjieba().cut_for_search(word, hmm=False) if w != word)


@lru_cache(maxsize=200_000)
def _is_word(text: str) -> bool:
    return _rjieba().cut(text, hmm=False) == [text]  # dictionary words only, no HMM guesses


def _normalize(word: str) -> str:
    if word.isascii() and word.isalpha():
        return stem(word)
    return word


@lru_cache(maxsize=100_000)
def latin_term(word: str) -> str:
    """The index term of one folded letter/digit token: a plain English word stemmed
    (qualities and quality are qualiti), any other as it is (covid-19, pm2.5). Cached: the highlight asks it of every word of 20 descriptions."""
    return _normalize(word)


def joined_parts(token: str) -> tuple[str, ...]:
    """The pieces of a joined token (covid-19 → covid, 19), or () for a simple one."""
    parts = [p for p in _JOINERS.split(token) if p]
    return tuple(parts) if len(parts) > 1 else ()


def hyphen_forms(word: str) -> tuple[str, tuple[str, ...]]:
    """A folded letter/digit token with hyphens inside (nursing-home, smoke-free, 2011-12)
    as a query looks for it: (its joined form's term, its parts' terms), so
    ('smokefre', ('smoke', 'free')), or ('', ()) for a word without one. Catalogs write
    such a word hyphenated (its pieces are indexed with it), spaced, with a dash (–, a
    break) or joined (Smokefree); a typed hyphen must not ask for the one form only."""
    if "-" not in word:
        return "", ()
    parts = tuple(latin_term(part) for part in word.split("-") if part)
    if len(parts) < 2:
        return "", ()
    return latin_term(word.replace("-", "")), parts


def tokens(
    text: str, sub_words: bool = True, reading: str = ""
) -> Iterator[tuple[str, int, int, int]]:
    """(term, position, start, end) for folded text; sub-words share their word's position.

    With sub_words, a two-character dictionary word that straddles a segmentation
    boundary is emitted too (监测站|点 also yields 站点), because segmentation depends on
    context and a query word must not be missed for that; a joined token's pieces too.
    `term_positions` gives the same terms and positions without the offsets, and so
    does a `reading` (every term of it after the text's, offsets at the text's end;
    `reading_start` tells which positions are the reading's).
    """
    if reading:
        yield from tokens(text, sub_words)
        position = _add_positions(text, {}) + 1  # as term_positions places them
        for term, place, _start, _end in tokens(reading, sub_words):
            yield term, position + place, len(text), len(text)
        return
    position = 0
    gap = False  # clause punctuation since the last piece
    for piece in _SCAN.finditer(text):
        kind = piece.lastgroup
        if kind is None:
            gap = True
            continue
        if gap and position:
            position += 1  # a gap: phrases do not run across punctuation
        gap = False
        offset, end = piece.span()
        if kind == "latin":
            for term in _latin_terms(piece.group(), sub_words):
                yield term, position, offset, end
            position += 1
            continue
        run = piece.group()
        solid = _without_spaces(run)
        words, terms = _han_run(solid, sub_words)
        if solid is not run:
            kept = [i for i, char in enumerate(run) if char not in " \t"]
            for term, step, start, stop in terms:  # offsets back in the text, spaces included
                yield term, position + step, offset + kept[start], offset + kept[stop - 1] + 1
        else:
            for term, step, start, stop in terms:
                yield term, position + step, offset + start, offset + stop
        position += words


def term_positions(text: str, reading: str = "") -> dict[str, list[int]]:
    """term → its positions in order, for folded text: `tokens(text)` without the
    offsets, grouped by term (what an index posting holds). The indexer's and the
    document matcher's hot loop, so the same scan with less per token.

    With a `reading` (regional.reading: the mainland words of a Taiwan text), every
    term of that reading follows the text's own, after a gap, at the reading's own
    positions (words both share too): 空氣品質監測 also holds 空气质量 监测 in order, so
    a quoted "空气质量监测" finds it. A term of the text is weighed by its own
    occurrences only (`counted`), not twice."""
    return reading_positions(text, reading)[0]


def reading_positions(text: str, reading: str = "") -> tuple[dict[str, list[int]], int]:
    """(`term_positions(text, reading)`, the reading's first position: positions at or
    after it are the reading's; a very large number when there is no reading)."""
    found: dict[str, list[int]] = {}
    position = _add_positions(text, found)
    if not reading:
        return found, NO_READING
    start = position + 1
    extra: dict[str, list[int]] = {}
    _add_positions(reading, extra)
    for term, places in extra.items():
        moved = [start + place for place in places]
        known = found.get(term)
        if known is None:
            found[term] = moved
        else:
            known.extend(moved)
    return found, start


NO_READING = 2**62  # reading_positions' start for a text without a reading


def counted(positions: list[int], start: int) -> int | float:
    """A term's frequency as weighed (its posting's weight): its occurrences in the text
    itself (an int), or for a term only the reading holds its occurrences there ×
    regional.READING_WEIGHT (a float: the phrase reading is OpenCC's guess at the
    mainland's word, 檔案 read 文件 where a catalog means archives). `positions` in
    order, `start` the reading's first position (reading_positions)."""
    if positions[-1] < start:
        return len(positions)
    if positions[0] >= start:
        return len(positions) * regional.READING_WEIGHT
    return bisect_left(positions, start)


def index_terms(text: str) -> dict[str, list[int]]:
    """`term_positions` of an unfolded text with its regional reading: what the index
    and the document matcher hold for a field's value."""
    return term_positions(*fold_and_reading(text))


def _add_positions(text: str, found: dict) -> int:
    """Adds `text`'s terms and positions to `found`; returns the position after its
    last word."""
    position = 0
    gap = False
    for han, latin in _SCAN.findall(text):
        if not (han or latin):
            gap = True
            continue
        if gap and position:
            position += 1
        gap = False
        if latin:
            for term in _latin_terms(latin, True):
                places = found.get(term)
                if places is None:
                    found[term] = [position]
                else:
                    places.append(position)
            position += 1
            continue
        words, terms = _han_run(_without_spaces(han), True)
        for term, step, _start, _end in terms:
            places = found.get(term)
            if places is None:
                found[term] = [position + step]
            else:
                places.append(position + step)
        position += words
    return position


def _without_spaces(run: str) -> str:
    return run.replace(" ", "").replace("\t", "") if " " in run or "\t" in run else run


@lru_cache(maxsize=100_000)
def _latin_terms(word: str, sub_words: bool) -> tuple[str, ...]:
    """A letter/digit token's terms at one position: itself (stemmed when a plain English
    word), then with sub_words its joined pieces (covid-19 → covid-19, covid, 19)."""
    terms = [_normalize(word)]
    if sub_words:
        terms.extend(_normalize(part) for part in joined_parts(word))
    return tuple(terms)


@lru_cache(maxsize=100_000)
def _han_run(run: str, sub_words: bool) -> tuple[int, tuple[tuple[str, int, int, int], ...]]:
    """(words, ((term, position, start, end), …)) of one Chinese run, relative to it.
    Cached: publishers, themes, keywords and title patterns repeat across a catalog."""
    terms = []
    previous = ""
    position = 0
    for word, start, end in _rjieba().tokenize(run, hmm=False):
        terms.append((word, position, start, end))
        if sub_words:
            if len(word) > 2:
                for sub in _sub_words(word):
                    terms.append((sub, position, start, end))
            if previous and _is_word(previous[-1] + word[0]):
                terms.append((previous[-1] + word[0], position, start - 1, start + 1))
        previous = word
        position += 1
    return position, tuple(terms)


def sub_words(term: str) -> tuple[str, ...]:
    """Shorter dictionary words that tile a long Chinese word (公交站点 → 公交, 站点), or ()."""
    if len(term) <= 2 or not _CJK.match(term):
        return ()
    known = set(_sub_words(term))
    parts, start = [], 0
    while start < len(term):
        # The shortest word of two or more characters starting here, else one character.
        end = next(
            (e for e in range(start + 2, len(term) + 1) if term[start:e] in known), start + 1
        )
        parts.append(term[start:end])
        start = end
    return tuple(parts) if len(parts) > 1 else ()


def is_single_cjk(term: str) -> bool:
    return len(term) == 1 and bool(_CJK.match(term))


def is_han(text: str) -> bool:
    return bool(_CJK.match(text))


def has_han(text: str) -> bool:
    """True when any character of the text is Chinese."""
    return bool(_CJK.search(text))


def pieces(text: str) -> list[str]:
    """A folded typed word's pieces: Chinese runs and joined letter/digit tokens, in order."""
    return [m.group() for m in _PIECE.finditer(text)]


def query_terms(text: str) -> list[str]:
    """A query's words as index terms, in order: the precise segmentation, no sub-words,
    because the index holds every word's sub-words already."""
    return [term for term, _pos, _start, _end in tokens(fold(text), sub_words=False)]


class ChineseTokenizer(Tokenizer):
    """Whoosh tokenizer over `tokens()`; the text is folded first."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, mode="", **kwargs):  # fmt: skip
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        folded, reading = fold_and_reading(value)
        own: set[str] = set()
        first = _add_positions(folded, {}) + 1 if reading else NO_READING
        for term, position, start, end in tokens(folded, reading=reading):
            token.text = term
            # A term of the text is weighed by its own occurrences (`counted`): at the
            # reading's positions it weighs nothing (Whoosh's weight is the boosts' sum),
            # a term only the reading holds READING_WEIGHT an occurrence.
            if position < first:
                own.add(term)
                token.boost = 1.0
            else:
                token.boost = 0.0 if term in own else regional.READING_WEIGHT
            token.stopped = False
            if positions:
                token.pos = start_pos + position
            if chars:
                token.startchar, token.endchar = start_char + start, start_char + end
            yield token


def analyzer() -> ChineseTokenizer:
    tokenizer = ChineseTokenizer()
    tokenizer.version = ANALYSIS_VERSION  # pickled with the index's schema
    return tokenizer


def split_at_breaks(text: str, folded: bool = True) -> list[str]:
    """A typed phrase cut where the text would leave a gap (its punctuation): each part
    is a phrase of its own, so '"空气质量：实时监测"' still finds that title. The parts
    are folded, or with `folded` False only NFKC-folded and lower-cased (still in the
    script typed, for its regional reading)."""
    return _BREAK.split(fold(text) if folded else _normal(text))


class GramTokenizer(Tokenizer):
    """Whoosh tokenizer for the `grams` field: bigrams of the compact title."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, mode="", **kwargs):  # fmt: skip
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for position, gram in enumerate(title_grams(fold(value))):
            token.text = gram
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + position
            yield token


def gram_analyzer() -> GramTokenizer:
    return GramTokenizer()


if __name__ == "__main__":  # rewrite SIMPLIFIED_ONLY_FILE from the installed OpenCC
    SIMPLIFIED_ONLY_FILE.write_text(derive_simplified_only() + "\n", encoding="utf-8")
