"""Marking the query's words in titles and description snippets (HTML-escaped)."""

from __future__ import annotations

import re

from markupsafe import escape

from subscribe.search.analysis import fold

SNIPPET = 160


def _spans(text: str, words: list[str]) -> list[tuple[int, int]]:
    folded = fold(text)
    if len(folded) != len(text):  # a conversion changed lengths: offsets would not line up
        return []
    spans = []
    for word in sorted({w for w in words if w}, key=len, reverse=True):
        spans.extend((m.start(), m.end()) for m in re.finditer(re.escape(word), folded))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


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
