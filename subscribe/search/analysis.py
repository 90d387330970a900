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

import opencc
import rjieba
from whoosh.analysis import Token, Tokenizer
from whoosh.lang.porter import stem

_t2s = opencc.OpenCC("t2s")
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
    return _t2s.convert(text).lower() if text else ""


@lru_cache(maxsize=200_000)
def _sub_words(word: str) -> tuple[str, ...]:
    """Dictionary words inside a long Chinese word (jieba's search mode), itself excluded."""
    return tuple(w for w in rjieba.cut_for_search(word) if w != word)


def _normalize(word: str) -> str:
    if word.isascii() and word.isalpha():
        return stem(word)
    return word


def tokens(text: str, sub_words: bool = True) -> Iterator[tuple[str, int, int, int]]:
    """(term, position, start, end) for folded text; sub-words share their word's position."""
    position = 0
    for word, start, end in rjieba.tokenize(text):
        if not _WORD.search(word):  # spaces and punctuation are not tokens
            continue
        yield _normalize(word), position, start, end
        if sub_words and len(word) > 2 and _CJK.match(word):
            for sub in _sub_words(word):
                yield sub, position, start, end
        position += 1


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
