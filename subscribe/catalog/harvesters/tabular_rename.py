"""A renamed dataset in an export identified by title and publisher (the last carry-over step).

An export with no id and no URL column identifies a row by a hash of its title and
publisher (``sha1:…``), so an edited title is a new identity: without this step the
stored dataset is deleted and a new one created (subscribers read 已下线 + 新数据集,
pins on the old dataset id are lost). tabular_carry pairs such a row with the stored
dataset no row lists by exact keys (title and publisher, landing page, download URL);
what is left of both sides comes here.

The rule, conservative on purpose (a wrong pairing turns a withdrawn dataset and a new
one into an "update" of each other; a missed one is the old delete + create):

- same publisher (normalized), and the titles folded (NFKC, case, whitespace and
  punctuation dropped, so （第二版） and (第二版) read alike);
- a period is not a rename: a title naming a year, quarter, month or half-year that
  differs from the stored one's (2023年企业名单 → 2024年企业名单), or a period dropped
  from the stored title, is a new period's dataset. A period added to an undated title
  (企业名单 → 企业名单（2024年）) is a rename;
- one folded title contains the other (the shorter at least MIN_CONTAINED characters:
  "名单" in anything is no evidence), or one title is the other with characters only
  added or only removed (a subsequence, gaps allowed) and difflib's ratio (2 × matched
  characters / both lengths) is at least MIN_RATIO. A replaced character is never a rename (小学名录 → 中学名录 is another
  dataset, however long the common part);
- descriptions, when the export has a description column and both sides have one
  (folded as titles are), are evidence too, used only to be more careful or for one
  narrow case:
  - against: a pair by title whose descriptions are clearly different (difflib ratio
    below DIFFERENT_DESCRIPTIONS) is not a candidate (企业名单 → 企业名单（第二版） whose
    text now describes a register of lawyers is another dataset: the old delete + create);
  - for: titles that fail the rule above only because characters were replaced, but are
    still similar (ratio at least WEAK_RATIO, the period rule holds, both at least
    MIN_CONTAINED characters), are a candidate when their descriptions are equal after
    folding, at least MIN_DESCRIPTION characters long (暂无 or 见附件 is no evidence), and
    that description is given by no other row left and no other stored dataset left (a
    publisher's boilerplate text names no one dataset). 全市公共厕所分布 →
    全市公厕点位分布表 with the same paragraph is the same dataset retitled;
  - one-sided or missing descriptions change nothing (an export without the column
    pairs exactly as before);
- unambiguous: the row has exactly one such stored dataset and that stored dataset
  exactly one such row; otherwise neither pairs (a candidate ruled out by its
  description no longer counts: the descriptions told the two apart). A publisher with more than
  MAX_COMPARISONS title pairs left is not tried (a wholesale retitling).

Cost (descriptions): read again only when the export maps a description column and
rows and stored datasets are left, for those; a description ratio only for a pair the
titles already make a candidate (texts cut to MAX_DESCRIPTION characters), a title ratio
only for a pair whose descriptions are equal.

Cost: called only with rows tabular_carry could not pair and stored datasets still
unlisted (never in the usual re-harvest); the caller reads their titles again. 500 rows
× 500 stored datasets of one publisher (MAX_COMPARISONS): 0.3-0.6 CPU-s at load 5.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from difflib import SequenceMatcher
from functools import lru_cache

from subscribe.catalog.harvesters.tabular_identity import normalized

ROUND = "renamed title"  # carried_over["by"] key (labels.CARRY_ROUNDS)
MIN_CONTAINED = 4  # folded characters the contained title needs: 企业名单, not 名单
# Additions or removals only: 全市公共厕所分布 → 全市公共厕所点位分布 is 0.89; a title
# that doubles (企业名单 → 企业名单及其法定代表人信息) stays below and is not taken
# unless it contains the stored title.
MIN_RATIO = 0.8
REPORTED = 20  # pairs listed in the report (the count is in "by")
# Title pairs compared within one publisher at most (rows left × stored datasets left):
# a few µs each (periods, containment, length bound, subsequence): ≤ ~1 CPU-s. More means a
# publisher retitled its list wholesale (or an identity change the exact rounds did not
# cover): one-to-one guesses among thousands are not conservative, so none are made.
MAX_COMPARISONS = 250_000

# Descriptions (module docstring). Below DIFFERENT_DESCRIPTIONS two texts share less than
# half their characters in order: another dataset's text, not an edited one (an added
# sentence or a corrected figure stays well above). WEAK_RATIO: 全市公共厕所分布 →
# 全市公厕点位分布表 is 0.71; 市级中学名录 → 市级小学名录 (0.83) is still a replaced
# character, taken only with an equal, distinctive description.
DIFFERENT_DESCRIPTIONS = 0.5
WEAK_RATIO = 0.6
MIN_DESCRIPTION = 20  # folded characters: 暂无描述 or 详见附件 is no evidence
MAX_DESCRIPTION = 2000  # folded characters compared (a ratio is quadratic at worst)

CONTAINS = "renamed: title contains the stored title"
CONTAINED = "renamed: the stored title contains the title"
ADDED = "renamed: characters added to the stored title"
REMOVED = "renamed: characters removed from the stored title"
SAME_DESCRIPTION = "renamed: a similar title with the same description"

_PUNCTUATION = re.compile(r"[\W_]+")
# Years (2024, 2024年度), quarters (第一季度, 一季度, Q1), months (3月), half-years.
_PERIOD = re.compile(r"(?:19|20)\d{2}|第?[一二三四1-4]季度|q[1-4]|\d{1,2}月|[上下]半年")


def fold(title: str) -> str:
    """The title as compared: NFKC, casefolded, without whitespace or punctuation."""
    return _PUNCTUATION.sub("", normalized(title))


@lru_cache(4096)  # each title is compared with every other of its publisher
def periods(folded: str) -> frozenset[str]:
    """The periods (years, quarters, months, half-years) a folded title names."""
    return frozenset(_PERIOD.findall(folded))


def renamed(title: str, stored: str) -> str:
    """Why ``title`` (a row's) is ``stored`` (a stored dataset's title) renamed, or ""
    when it is not (module docstring). Both are the titles as given."""
    return _renamed(fold(title), fold(stored))


def _renamed(new: str, old: str) -> str:
    """renamed() of two folded titles."""
    if not new or not old or new == old:
        return ""  # equal folded titles are the title-and-publisher round's (or twins)
    if _other_period(new, old):
        return ""  # another period's dataset, or the period dropped
    if len(old) >= MIN_CONTAINED and old in new:
        return CONTAINS
    if len(new) >= MIN_CONTAINED and new in old:
        return CONTAINED
    shorter, longer = sorted((old, new), key=len)
    # difflib's ratio (2 × matched / both lengths) when only characters were added or
    # removed: the shorter title is all matched, if it is a subsequence of the longer
    if 2 * len(shorter) < MIN_RATIO * (len(shorter) + len(longer)):
        return ""
    rest = iter(longer)
    if all(character in rest for character in shorter):  # in order, gaps allowed
        return ADDED if shorter is old else REMOVED
    return ""


def _other_period(new: str, old: str) -> bool:
    """Whether the stored title names a period the new one does not name the same."""
    return bool(before := periods(old)) and before != periods(new)


def different_descriptions(new: str, old: str) -> bool:
    """Whether two folded descriptions, both given, are clearly another dataset's
    (difflib ratio below DIFFERENT_DESCRIPTIONS); False when either is empty."""
    if not new or not old or new == old:
        return False
    matcher = SequenceMatcher(None, new[:MAX_DESCRIPTION], old[:MAX_DESCRIPTION], autojunk=False)
    if matcher.real_quick_ratio() < DIFFERENT_DESCRIPTIONS:
        return True  # the lengths alone say so
    return matcher.quick_ratio() < DIFFERENT_DESCRIPTIONS or (
        matcher.ratio() < DIFFERENT_DESCRIPTIONS
    )


def similar_titles(new: str, old: str) -> bool:
    """The weaker title rule, taken only with an equal distinctive description: folded
    titles not equal, no other period, each at least MIN_CONTAINED characters, difflib
    ratio at least WEAK_RATIO."""
    if new == old or min(len(new), len(old)) < MIN_CONTAINED or _other_period(new, old):
        return False
    return SequenceMatcher(None, new, old, autojunk=False).ratio() >= WEAK_RATIO


def pair_renamed(rows: dict[int, tuple[str, str]], stored: dict[int, tuple[str, str]],
                 row_descriptions: dict[int, str] | None = None,
                 stored_descriptions: dict[int, str] | None = None,
                 ) -> dict[int, tuple[int, str]]:  # fmt: skip
    """{row: (stored dataset id, reason)} for the rows and stored datasets that are
    each other's only rename candidate within their publisher.

    ``rows``: {row: (title, publisher)}, ``stored``: {dataset id: (title, publisher)},
    both only what earlier rounds left unpaired (a few, so every pair of one publisher's
    titles is compared). ``row_descriptions`` / ``stored_descriptions``: {row or dataset
    id: description} of the same, when the export has a description column (missing or
    "" is no evidence either way; module docstring)."""
    row_texts = {row: fold(text) for row, text in (row_descriptions or {}).items()}
    stored_texts = {key: fold(text) for key, text in (stored_descriptions or {}).items()}
    # Descriptions that may vouch for a weaker title: long enough, and one row's and
    # one stored dataset's only (boilerplate names no one dataset).
    row_counts = Counter(text for text in row_texts.values() if text)
    stored_counts = Counter(text for text in stored_texts.values() if text)
    distinctive = {text for text, count in row_counts.items()
                   if count == 1 and stored_counts.get(text) == 1
                   and len(text) >= MIN_DESCRIPTION}  # fmt: skip
    by_publisher: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for dataset_id, (title, publisher) in stored.items():
        by_publisher[normalized(publisher or "")].append((dataset_id, fold(title)))
    rows_by: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for row, (title, publisher) in rows.items():
        rows_by[normalized(publisher or "")].append((row, fold(title)))
    candidates: dict[int, list[tuple[int, str]]] = defaultdict(list)
    wanted_by: dict[int, list[int]] = defaultdict(list)
    for publisher, publisher_rows in rows_by.items():
        publisher_stored = by_publisher.get(publisher, ())
        if len(publisher_rows) * len(publisher_stored) > MAX_COMPARISONS:
            continue  # a wholesale retitling, not a rename: left as it was
        for row, new in publisher_rows:
            text = row_texts.get(row, "")
            for dataset_id, old in publisher_stored:
                stored_text = stored_texts.get(dataset_id, "")
                if reason := _renamed(new, old):
                    if different_descriptions(text, stored_text):
                        continue  # the title says rename, the text another dataset
                elif text and text == stored_text and text in distinctive:
                    reason = SAME_DESCRIPTION if similar_titles(new, old) else ""
                if reason:
                    candidates[row].append((dataset_id, reason))
                    wanted_by[dataset_id].append(row)
    return {row: found[0] for row, found in candidates.items()
            if len(found) == 1 and len(wanted_by[found[0][0]]) == 1}  # fmt: skip
