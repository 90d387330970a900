"""Cleaning free text from catalogs: control characters out, whitespace normalised.

Catalog text is copied from Word and Excel and carries C0/C1 control characters
(\\x0b soft returns, \\x10, \\x1f unit separators, \\x07 bells). XML 1.0 forbids them, so
one of them in a title made the Atom feed unparseable (field case 17); browsers and
JSON consumers show them as garbage. Every harvested record passes through
`clean_record` (DatasetRecord.__post_init__), and output formats that cannot carry them
(Atom) pass stored text through `xml_safe` as well, for rows stored before this rule.
"""

from __future__ import annotations

import re
import unicodedata

# Line-like separators: Word's soft return (\x0b), form feed, Unicode line/paragraph separators.
_LINE_BREAKS = re.compile(r"\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# Every other C0/C1 control character (tab and newline handled apart), DEL, the
# non-characters XML forbids, and unpaired surrogates.
_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\ufffe\uffff\ud800-\udfff]")
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_ALL_WHITESPACE = re.compile(r"\s+")


def clean_line(text: str | None) -> str:
    """A one-line text (title, name): control characters become spaces, whitespace runs
    (line breaks included) one space, trimmed. '企业名单\\x10' → '企业名单'."""
    if not text:
        return ""
    if text.isprintable() and "  " not in text:
        # The usual text: no control, line-break or non-ASCII space character (all are
        # "non-printable"), so only single ASCII spaces: trimming is all. Same result.
        return text.strip(" ")
    text = _CONTROLS.sub(" ", _LINE_BREAKS.sub(" ", text))
    return _ALL_WHITESPACE.sub(" ", text).strip()


def clean_paragraphs(text: str | None) -> str:
    """A multi-line text (description): line breaks kept (soft returns and \\r\\n become
    \\n, at most one blank line in a row), other control characters become spaces, runs of
    spaces one space, every line trimmed."""
    if not text:
        return ""
    if text.isprintable() and "  " not in text:  # one line of single spaces (as clean_line)
        return text.strip(" ")
    text = _CONTROLS.sub(" ", _LINE_BREAKS.sub("\n", text))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


# Characters that show nothing: controls, format characters (zero-width space and
# joiners, BOM, bidi marks: category Cf), separators and other whitespace.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def visible_length(text: str | None) -> int:
    """How many characters of `text` a reader can see: '\u200b\u200b' → 0, '数据 错误' → 4.
    User-written text (reports, reasons, comments) is judged "empty" by this, so a text
    of zero-width or other invisible characters is refused as empty."""
    if not text:
        return 0
    return sum(1 for c in text if unicodedata.category(c) not in _INVISIBLE_CATEGORIES)


def xml_safe(text: str | None) -> str:
    """Text an XML 1.0 document can hold: forbidden characters replaced by a space."""
    if not text:
        return ""
    return _XML_FORBIDDEN.sub(" ", text)
