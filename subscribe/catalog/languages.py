"""Language-tagged catalog text (DCAT-AP literals, CKAN fluent fields): which one to show,
and every translation kept.

The shown title and description follow one fixed preference, so the same graph always
shows the same text however its values are ordered (BCP 47 tags, matched case-blind,
"_" read as "-"):

  0  Chinese, simplified or unmarked: zh, zh-Hans, zh-CN, zh-SG, zh-Hans-CN, zh_CN
  1  Chinese, traditional: zh-Hant, zh-TW, zh-HK, zh-MO, zh-Hant-TW
  2  English: en, en-GB, en-US …
  3  untagged (or "und", BCP 47 for undetermined)
  4  any other language
Ties break on the tag, then on the text itself, never on document order.
"""

from __future__ import annotations

from collections.abc import Iterable

UNTAGGED = "und"  # the key of untagged text in `translations`
_TRADITIONAL_REGIONS = {"tw", "hk", "mo"}


def normalize_tag(tag) -> str:
    """A BCP 47 tag in its usual case: zh_cn → zh-CN, ZH-HANT-tw → zh-Hant-TW; none → und."""
    text = str(tag or "").strip().replace("_", "-")
    if not text:
        return UNTAGGED
    parts = [p for p in text.split("-") if p]
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())  # script: Hans, Hant, Latn
        elif len(part) == 2 and part.isalpha() or len(part) == 3 and part.isdigit():
            out.append(part.upper())  # region: CN, TW, 419
        else:
            out.append(part.lower())
    return "-".join(out)


def language_rank(tag) -> int:
    """The preference rank of a tag (lower is shown first); see the module docstring."""
    subtags = normalize_tag(tag).lower().split("-")
    primary = subtags[0]
    if primary == UNTAGGED:
        return 3
    if primary == "zh":
        traditional = "hant" in subtags[1:] or _TRADITIONAL_REGIONS & set(subtags[1:])
        return 1 if traditional else 0
    if primary == "en":
        return 2
    return 4


def preference_key(tag, text: str) -> tuple[int, str, str]:
    """Sort key for (tag, text) pairs: the first is the one to show."""
    return language_rank(tag), normalize_tag(tag), text


def preferred(values: Iterable[tuple[object, str]]) -> str:
    """The text to show among (tag, text) pairs with non-empty text; '' when none."""
    best = min(((t, v) for t, v in values if v), key=lambda p: preference_key(*p), default=None)
    return best[1] if best else ""


def by_language(values: Iterable[tuple[object, str]]) -> dict[str, str]:
    """One text per normalized tag (the preferred one when a tag has several)."""
    chosen: dict[str, str] = {}
    for tag, text in sorted(
        ((normalize_tag(t), v) for t, v in values if v), key=lambda p: preference_key(*p)
    ):
        chosen.setdefault(tag, text)
    return chosen


def translations(**fields: dict[str, object]) -> dict[str, dict[str, object]]:
    """{field: {tag: value}} → {tag: {field: value}}, languages in preference order.

    Empty when the values carry no language at all (only untagged text): there is
    nothing to translate, and most catalogs then store no `translations`.
    """
    tags = {tag for per_tag in fields.values() for tag in per_tag}
    if not tags or tags == {UNTAGGED}:
        return {}
    out: dict[str, dict[str, object]] = {}
    for tag in sorted(tags, key=lambda t: preference_key(t, "")):
        entry = {name: per_tag[tag] for name, per_tag in fields.items() if per_tag.get(tag)}
        if entry:
            out[tag] = entry
    return out
