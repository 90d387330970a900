"""Cleaning free text from catalogs: control characters out, whitespace normalised.

Catalog text is copied from Word and Excel and carries C0/C1 control characters
(\\x0b soft returns, \\x10, \\x1f unit separators, \\x07 bells). XML 1.0 forbids them, so
one of them in a title made the Atom feed unparseable (field case 17); browsers and
JSON consumers show them as garbage. Every harvested record passes through
`clean_record` (DatasetRecord.__post_init__), and output formats that cannot carry them
(Atom) pass stored text through `xml_safe` as well, for rows stored before this rule.

Descriptions written as HTML (every Socrata dataset in a DCAT-US data.json, ArcGIS Hub
pages pasted from Word) become text with their paragraphs, lists and links kept as
lines (`clean_description`): shown, indexed, mailed and fed as HTML source they were
tag soup, and a search for "span" or "Calibri" found them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache

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


# A tag of the HTML that catalogs put in descriptions: a named tag, bare (<p>, </li>,
# <br />) or with name=value attributes. Markdown's autolink <https://…>, "PM2.5 <35" and
# "a<b and b>c" are not HTML.
_HTML_TAG = re.compile(
    r"</?(?:p|br|div|span|a|ul|ol|li|b|i|u|em|strong|h[1-6]|table|tr|td|th|font|code|pre"
    r"|blockquote|hr|img|sup|sub|dl|dt|dd)"
    r"(?:\s*/?|(?:\s+[\w:-]+\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'<>]+))+\s*/?)>",
    re.IGNORECASE,
)
_AUTOLINK = re.compile(r"<(https?://[^\s<>]+)>")


@lru_cache(maxsize=1)
def _html_layout():
    """Block elements as lines, inline ones as text, no CSS pixel indentation beyond lists."""
    from inscriptis.css_profiles import CSS_PROFILES
    from inscriptis.model.config import ParserConfig

    return ParserConfig(css=CSS_PROFILES["strict"])


def looks_like_html(text: str | None) -> bool:
    """True when `text` holds at least one HTML tag a catalog writes (p, br, a, li, …)."""
    return bool(text) and "<" in text and _HTML_TAG.search(text) is not None


def html_to_text(html: str) -> str:
    """HTML as plain text: paragraphs and <br> as line breaks, list items as "* " or
    "1. " lines, a link's address after its text in parentheses when the text is not the
    address already. Markdown autolinks (<https://…>) inside are kept as addresses.
    Unparseable input comes back unchanged."""
    # lxml and inscriptis (~6 MB) are imported by the harvests that meet HTML, not by
    # every process that imports this module (web workers, `flask bundles build`).
    import lxml.html
    from inscriptis import Inscriptis

    html = _AUTOLINK.sub(r"\1", html)
    try:
        tree = lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):  # empty document, or only a comment
        return html
    for link in tree.iter("a"):
        href = (link.get("href") or "").strip()
        if href.startswith(("http://", "https://", "mailto:")) and href not in link.text_content():
            link.tail = f" ({href}){link.tail or ''}"
    return Inscriptis(tree, _html_layout()).get_text()


# An unrendered template placeholder standing for the whole text: ArcGIS Hub's
# "{{default.description}}", ${description}, %(description)s (one or more, nothing else).
_PLACEHOLDER = r"(?:\{\{[^{}]*\}\}|\$\{[^{}]*\}|%\([^()]*\)s)"
_TEMPLATE_ONLY = re.compile(rf"{_PLACEHOLDER}(?:\s*{_PLACEHOLDER})*")


def is_template_placeholder(text: str | None) -> bool:
    """True when `text` is only unrendered template placeholders: no description."""
    if not text or ("{" not in text and "%(" not in text):
        return False  # the usual text, at the cost of two scans
    return _TEMPLATE_ONLY.fullmatch(text.strip()) is not None


# Markdown's unmistakable markup (CKAN's notes are Markdown): a link [text](http…),
# bold **text**, or a heading line "# Title". Plain text with a "*" or "_" is not.
_MARKDOWN = re.compile(
    r"\[[^\]\n]+\]\((?:https?://|mailto:|/)[^)\s]*\)|\*\*[^*\n]+\*\*|^#{1,6} \S", re.M
)


def looks_like_markdown(text: str | None) -> bool:
    """True when `text` holds Markdown markup a catalog writes (links, bold, headings)."""
    return bool(text) and _MARKDOWN.search(text) is not None


def markdown_to_text(text: str) -> str:
    """Markdown as plain text, as html_to_text gives HTML (a link's address after its
    text): rendered by markdown-it (CommonMark; raw HTML in it is escaped, not run)."""
    from markdown_it import MarkdownIt  # imported by the harvests that meet Markdown

    return html_to_text(MarkdownIt("commonmark", {"html": False}).render(text))


def clean_description(text: str | None) -> str:
    """A description as stored: HTML turned into text (html_to_text), Markdown markup too
    (markdown_to_text: CKAN's notes showed "[data service](http://…)" raw), then cleaned
    as paragraphs (clean_paragraphs); plain text passes through as paragraphs. A template
    placeholder left unrendered ("{{default.description}}") is no text: ""."""
    if looks_like_html(text):
        text = html_to_text(text)
    elif looks_like_markdown(text):
        text = markdown_to_text(text)
    text = clean_paragraphs(text)
    return "" if is_template_placeholder(text) else text


def same_text(old: str | None, new: str | None) -> bool:
    """True when two descriptions read the same: equal once HTML is turned into text and
    every whitespace run is one space. An upstream that only reflowed lines, or our own
    reading of its HTML, is no change to tell subscribers about; nor is a template
    placeholder ("{{default.description}}", stored before it was read as none) gone."""
    if old == new:
        return True
    if not old or not new:  # a placeholder stored before it was read as none is none
        return not clean_description(old) and not clean_description(new)
    return _ALL_WHITESPACE.sub(" ", clean_description(old)).strip() == (
        _ALL_WHITESPACE.sub(" ", clean_description(new)).strip()
    )


# Longest free text kept from a catalog, in characters (the datasets table's title and
# publisher columns, the version snapshots and the events): a 200,000-character title
# is cut on harvest, so messages and pages built from the snapshots never see more.
TITLE_MAX = 10_000
NAME_MAX = 500  # publisher, contact point
TITLE_SHOWN = 1_000  # a title in a message, a feed entry or an events item (pages: whole)


def shorten(text: str, limit: int) -> str:
    """``text`` if at most ``limit`` characters, else its first ``limit - 1`` and "…"."""
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


# --- twins: what tells a dataset from the others of its title and publisher ----------

TWIN_SEPARATOR = " · "
TWIN_VALUE_SHOWN = 40  # characters of a value beside a title (the dataset page has it all)


def told_apart(values) -> str:
    """A twin's ``distinguished_by`` values to show beside its title: "西山区", "五华区 ·
    2023" for two columns, each cut to TWIN_VALUE_SHOWN characters; "" for a dataset
    without twins (``values`` empty or not a mapping) or a value left empty."""
    if not isinstance(values, Mapping):
        return ""
    return TWIN_SEPARATOR.join(_cut(str(value)) for value in values.values() if value)


def twin_title(title, values):
    """ "公交站点 · 西山区": a twin's title as pages and messages show it (told_apart);
    ``title`` as given for a dataset without twins."""
    suffix = told_apart(values)
    return f"{title}{TWIN_SEPARATOR}{suffix}" if title and suffix else title


def _cut(text: str) -> str:
    return shorten(text, TWIN_VALUE_SHOWN)
