"""Text analysis shared by indexing and querying: one function decides what a token is.

- Traditional Chinese is folded to simplified (OpenCC t2s), so 公共數據 and 公共数据 are
  the same tokens; English is lower-cased and Porter-stemmed.
- Chinese is segmented with rjieba (jieba's dictionary, in Rust). Each word of the
  precise segmentation gets one position; its shorter dictionary sub-words (search
  mode) are emitted at the same position. A query, segmented precisely, then finds
  both whole words and parts (质量 finds 空气质量), and phrases match by position
  ("质量日报" finds 空气质量日报).
- Stop words are indexed (phrases need them) and dropped from queries' scoring terms.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

import rjieba
from whoosh.analysis import Token, Tokenizer
from whoosh.lang.porter import stem

from subscribe.catalog.normalize import to_simplified

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"\w", re.UNICODE)

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


def fold(text: str) -> str:
    """Traditional → simplified, lower case: the form every comparison uses."""
    return to_simplified(text).lower()


@lru_cache(maxsize=200_000)
def _sub_words(word: str) -> tuple[str, ...]:
    """Dictionary words inside a long Chinese word (jieba's search mode), itself excluded."""
    return tuple(w for w in rjieba.cut_for_search(word, hmm=False) if w != word)


@lru_cache(maxsize=200_000)
def _is_word(text: str) -> bool:
    return rjieba.cut(text, hmm=False) == [text]  # dictionary words only, no HMM guesses


def _normalize(word: str) -> str:
    if word.isascii() and word.isalpha():
        return stem(word)
    return word


def tokens(text: str, sub_words: bool = True) -> Iterator[tuple[str, int, int, int]]:
    """(term, position, start, end) for folded text; sub-words share their word's position.

    With sub_words, a two-character dictionary word that straddles a segmentation
    boundary is emitted too (监测站|点 also yields 站点), because segmentation depends on
    context and a query word must not be missed for that.
    """
    position = 0
    previous = ""
    for word, start, end in rjieba.tokenize(text, hmm=False):
        if not _WORD.search(word):  # spaces and punctuation are not tokens
            previous = ""
            continue
        yield _normalize(word), position, start, end
        if sub_words and _CJK.match(word):
            if len(word) > 2:
                for sub in _sub_words(word):
                    yield sub, position, start, end
            if previous and _is_word(previous[-1] + word[0]):
                yield previous[-1] + word[0], position, start - 1, start + 1
        previous = word if _CJK.match(word) else ""
        position += 1


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


def query_terms(text: str) -> list[str]:
    """A query's words as index terms, in order: the precise segmentation, no sub-words,
    because the index holds every word's sub-words already."""
    return [term for term, _pos, _start, _end in tokens(fold(text), sub_words=False)]


class ChineseTokenizer(Tokenizer):
    """Whoosh tokenizer over `tokens()`; the text is folded first."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, mode="", **kwargs):  # fmt: skip
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for term, position, start, end in tokens(fold(value)):
            token.text = term
            token.boost = 1.0
            token.stopped = False
            if positions:
                token.pos = start_pos + position
            if chars:
                token.startchar, token.endchar = start_char + start, start_char + end
            yield token


def analyzer() -> ChineseTokenizer:
    return ChineseTokenizer()
