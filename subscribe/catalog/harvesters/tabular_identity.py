"""Which value identifies a row of a tabular export, chosen on evidence from the whole file.

A re-harvest must update, not duplicate, so each row needs an identity that survives
edits and row moves. In order:

1. the column the mapping names (``id_column`` / ``fields.identifier``): the override;
2. an identifier column (编号, ID …) whose values are (nearly) unique over the file and
   are not a running number (row_number: 1, 2, 3 … in file order is a row number,
   renumbered when a row is deleted, whatever the header says);
3. else a URL column (landing page, then download) whose values are (nearly) unique;
4. else ``"sha1:"`` + a hash of the normalized title and publisher.

A column holding one value on many rows (a ``url`` column with the portal's home page
on every row) is never the identity. Rows that still share an identity but differ are
told apart, never merged: the identity gets the values of the other columns that
distinguish them (the most stable columns are tried first). Exact duplicate rows are
found before this (tabular.harvest reports each once as a bad record), and rows equal
apart from a running number (序号, or an id column found to be one) are such duplicates:
a row number never tells rows apart (_discriminators leaves it out too).

Twins to a person are rows with the same title and publisher, however the harvest
identifies them (an id column tells them apart to the harvest, not to a reader):
distinguish_twins keeps, for each, the values of the columns no field holds (or holds
only where the column before is empty: a fallback) that tell them apart (所属区县:
西山区) as the record's ``distinguished_by``. Rows without twins (most) get none.

An identity is a promise to subscribers, so rows that share one keep what is stored
(keep_stored): a row whose told-apart identity is stored keeps it; then each stored
dataset of the group that no row claimed goes to the row with the same raw content (its
fingerprint), else the same title, else the next row in file order. So a row appended
with an id already in use (A006 twice) is the only one told apart: the row that was
there keeps plain A006, and when the duplicate goes away only it is deleted. And rows
told apart only by a value that changes with every update (更新时间, the last resort of
DISCRIMINATOR_ORDER) are paired with their stored datasets when that value is edited:
an update, not a deletion and a creation.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from subscribe.catalog.harvesters.tabular_headers import (
    RUNNING_NUMBER,
    classify,
    fold_header,
)

NEARLY_UNIQUE = 0.95  # share of distinct values among the non-empty ones
MIN_FILLED = 0.5  # an identity column has a value on at least half of the rows
MAX_REPEAT_SHARE = 0.01  # a value on more rows than this share (and > 2) is not an identity
REPORT_GROUPS = 20
TOLD_APART = re.compile(r".#[0-9a-f]{10}$")  # an id or URL told apart: A006#0123456789
# Columns tried, in this order, to tell apart rows that share an identity: stable
# fields first (what the dataset is: title, publisher, its pages and files, the columns
# no field took such as 区县 or 年份); values that change with every update (数据量,
# 更新时间) last, used only when nothing else differs. Such an identity would change
# with the next edit of that value, so keep_stored pairs the rows with their stored
# datasets by fingerprint, title and order: an edited date is an update.
DISCRIMINATOR_ORDER = (
    "title", "publisher", "identifier", "landing_page", "download_url", None, "issued",
    "themes", "keywords", "description", "formats", "license", "open_type", "frequency",
    "contact_point", "record_count", "modified",
)  # fmt: skip


@dataclass
class Row:
    reference: str
    texts: list[str]  # every cell as clean text, padded to the header's width
    record: Identity  # what tell_groups_apart reads and sets: .identifier
    title: str = ""
    publisher: str = ""
    fingerprint: str = ""  # of the raw row ("" when unknown); see told_fingerprint
    # {header: value} of the columns no field holds that tell this row from its twins
    # (所属区县: 西山区): distinguish_twins, kept on the record (distinguished_by)
    distinguished: dict[str, str] | None = None
    # A row alone again: its texts of the columns its stored twins are shown by
    # ({label: text}, shown_values), matched with their distinguished_by (keep_stored)
    shown: dict[str, str] | None = None


def normalized(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


DISTINGUISHED_LIMIT = 200  # characters kept of a told-apart column's header and value


def told_fingerprint(fingerprint: str, distinguished: dict[str, str] | None) -> str:
    """The fingerprint the writer stores for a row: the raw row's, and for a row with
    twins also the values that tell it apart (so that a twin appearing or going away
    builds the unchanged row again and stores or drops them)."""
    if not distinguished or not fingerprint:
        return fingerprint
    values = json.dumps(distinguished, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(f"{fingerprint}\x1e{values}".encode()).hexdigest()


# Usage counts and ratings (访问量, 下载次数, 浏览次数, 评分, views, downloads): they change
# with use, not with the dataset, so a twin told apart by one would "update" on every
# harvest. Read on the folded header (tabular_headers.fold_header).
_USAGE = re.compile(r"访问|浏览|下载次数|下载量|下载数|点击|查看|收藏|评分|评价|热度|次数|"
                    r"view|download|click|hits|rating|score|popularity")  # fmt: skip


def is_running_number_header(name: str) -> bool:
    """Whether a header names a running number (序号, 行号, No.): its rule's verdict."""
    claim = classify(name) if name else None
    return bool(claim and claim.field is None and claim.reason == RUNNING_NUMBER)


def describing_columns(header: list[str], columns: dict[str, list[int]]) -> list[int]:
    """Indexes of the columns that may tell twins apart to a person: those no field holds
    (所属区县, 年份), in file order, then a field's fallback columns (a second 提供单位 or
    摘要 behind the one that won, in file order): a field takes its first column with a
    value, so on the rows where the winner has one a fallback's value is stored nowhere,
    and twins told apart by it alone were shown the same (distinguished_by {}). An
    identifier's fallbacks are left out (an id tells rows apart to the harvest, not to a
    person), as are the columns known to say nothing about a dataset (a running number
    序号, a text encoding): a row number shown as "公交站点 · 17" would help nobody, and
    change whenever a row is inserted above; nor usage counts (_USAGE)."""
    placed = {i for indexes in columns.values() for i in indexes}
    fallbacks = sorted(i for target, indexes in columns.items() if target != "identifier"
                       for i in indexes[1:])  # fmt: skip
    unplaced = [index for index in range(len(header)) if index not in placed]
    found = []
    for index in [*unplaced, *fallbacks]:
        name = header[index]
        claim = classify(name) if name else None
        if index in unplaced and claim and claim.level == "ignore":
            continue
        if name and _USAGE.search(fold_header(name)):
            continue
        found.append(index)
    return found


def differing_twins(pairs: np.ndarray, describing: np.ndarray | None) -> np.ndarray:
    """Indexes of the rows that share their title and publisher (``pairs``: one hash a
    row) with another row whose describing columns differ (``describing``: a hash of
    their texts a row; None: the file has none): the rows distinguish_twins reads. A
    group whose describing texts are all equal has nothing to show and is not read."""
    if describing is None or not len(pairs):
        return np.zeros(0, dtype=np.int64)
    twins = shared(pairs)
    if not twins.size:
        return twins
    group, inverse = np.unique(pairs[twins], return_inverse=True)
    combos = np.unique(np.stack([pairs[twins], describing[twins]], axis=1), axis=0)
    kinds = np.bincount(np.searchsorted(group, combos[:, 0]), minlength=len(group))
    return twins[kinds[inverse.reshape(-1)] > 1]


def distinguish_twins(groups: list[list[tuple[int, list[str]]]], header: list[str],
                      describing: list[int], report: dict) -> dict[int, dict[str, str]]:  # fmt: skip
    """What tells each twin from the others, for rows sharing title and publisher (their
    identities told apart or not: an id column tells rows apart to the harvest, not to a
    person). ``groups``: per twin group, (position, texts of the ``describing`` columns,
    in their order, then of the cells past the header, if any) of its rows.

    Per group, the describing columns (describing_columns), then the cells past the
    header, are tried in that order and kept when they separate more rows, until every
    row differs; each row gets its values of those ({header: value}, "" for an empty
    cell; a column without a header is named by its position, "(5)"). Returns
    {position: values}; a group no such column separates gets nothing. The identity
    report records how many rows got values and by which columns (``distinguished``)."""
    found: dict[int, dict[str, str]] = {}
    by: Counter = Counter()
    for members in groups:
        tried = max(len(texts) for _, texts in members)
        members = [(position, texts + [""] * (tried - len(texts))) for position, texts in members]
        used: list[int] = []  # indexes into a member's texts
        distinct = 1
        for k in range(tried):
            if distinct == len(members):
                break
            count = len({tuple(texts[j] for j in (*used, k)) for _, texts in members})
            if count > distinct:
                used.append(k)
                distinct = count
        if not used:
            continue
        names = [_column_name(header, describing, k)[:DISTINGUISHED_LIMIT] for k in used]
        by[tuple(names)] += len(members)
        for position, texts in members:
            found[position] = {name: texts[i][:DISTINGUISHED_LIMIT]
                               for name, i in zip(names, used, strict=True)}  # fmt: skip
    if found:
        report["distinguished"] = {
            "rows": len(found),
            "by": [{"columns": list(names), "rows": rows} for names, rows in by.most_common(5)],
        }
    return found


def _column_name(header: list[str], describing: list[int], k: int) -> str:
    """The name of a twin's k-th tried text (distinguish_twins): column_label."""
    index = describing[k] if k < len(describing) else len(header) + k - len(describing)
    return column_label(header, index)


def label_index(header: list[str], label: str) -> int | None:
    """The column a column_label names: a header, or "(5)" for a column without one."""
    if label in header:
        return header.index(label)
    if (match := re.fullmatch(r"\(([1-9][0-9]{0,5})\)", label)) and (
        (index := int(match[1]) - 1) >= len(header) or not header[index]
    ):
        return index
    return None


def shown_values(header: list[str], labels, text_of) -> dict[str, str] | None:
    """A row's texts of the columns ``labels`` (column_label names, as distinguished_by
    keeps them), cut as distinguish_twins cuts them; ``text_of(index)``: the text of a
    cell, None when it was not read (a bad row's cells past its break). None when one of
    them was not read."""
    found = {}
    for label in labels:
        index = label_index(header, label)
        text = None if index is None else text_of(index)
        if text is None:
            return None
        found[label] = text[:DISTINGUISHED_LIMIT]
    return found


def named_twin(family: list[tuple[str, str, dict]], shown: dict[str, str] | None,
               title: str | None) -> str | None:  # fmt: skip
    """The one stored twin of ``family`` [(identifier, title, distinguished_by)] a row
    is by its readable cells: the values it is shown by (``shown``: the row's texts of
    every column the family's distinguished_by names), else its title when that tells
    the family apart; None when no one or more than one is."""
    if shown is not None:
        hits = [i for i, _, values in family
                if values and all(shown.get(k) == v for k, v in values.items())]  # fmt: skip
        if len(hits) == 1:
            return hits[0]
        if hits:
            return None
    if title:
        hits = [i for i, stored_title, _ in family if normalized(stored_title) == normalized(title)]
        if len(hits) == 1:
            return hits[0]
    return None


def column_label(header: list[str], index: int) -> str:
    """A column as a report names it: its header, or for a column without one (an empty
    header cell, a cell past the header) its position in brackets, "(4)" for the 4th.
    Every name a mapping report gives a column (the identity column, rejected ones,
    what tells rows apart, what twins are shown by, the ignored columns) is this one, so
    a header-less column is never reported as "" (an empty name nobody can find)."""
    return (header[index] if index < len(header) else "") or f"({index + 1})"


# A row number's cell: digits, maybe zero-padded (001) or with a list mark (1. 1、 (1)),
# at most 9 digits. Anything else (A006, 3301-0001, 2024001) is no row number.
_ROW_NUMBER = re.compile(r"\(?0*([1-9][0-9]{0,8})[.、)]?")
DENSE_SHARE = 0.5  # distinct numbers / the largest one, above which numbers are dense


def row_number_value(text: str) -> int:
    """A cell's value as a row number: its positive integer, 0 when empty, -1 when the
    text is not a row number (not digits, zero, too long)."""
    if not text:
        return 0
    if text.isdigit() and text.isascii():  # the usual cell (1, 17, 001): no regex
        value = int(text) if len(text) <= 9 else 0
        return value or -1
    match = _ROW_NUMBER.fullmatch(text)
    return int(match[1]) if match else -1


def row_number(numbers: np.ndarray) -> str:
    """Why a candidate id column is a running number and so no identity ("" when it is
    not one). ``numbers``: row_number_value of its cells, one a row in file order.

    Row numbers, as exports write them: every filled cell a positive integer (1, 001,
    1.), in file order (never decreasing: a duplicated row repeats its number), dense
    (more distinct numbers than half the largest: 1…N, gaps where rows were deleted,
    "1, 4, 5 … 10" too). An export renumbers them when a row is inserted or deleted, so
    as an identity they would move every dataset below onto its neighbour's content.
    Real short ids are not in file order (7, 3, 12) or are sparse (1001, 2005 …):
    they stay identities. A numeric id that happens to be 1…N in file order reads as a
    row number: identity then falls back to URLs or title and publisher, which an
    edit or a reorder does not scramble."""
    present = numbers[numbers != 0]
    if not present.size or (present < 0).any():
        return ""
    if present.size > 1 and (np.diff(present) < 0).any():
        return ""
    distinct = int(np.unique(present).size)
    largest = int(present[-1])
    if distinct <= DENSE_SHARE * largest:
        return ""
    return (f"a running number ({int(present[0])} … {largest} in file order, {distinct} "
            "numbers): a row number, renumbered when rows move, not an identity")  # fmt: skip


def title_publisher_identity(title: str, publisher: str) -> str:
    digest = hashlib.sha1(f"{normalized(title)}\x1f{normalized(publisher)}".encode())
    return "sha1:" + digest.hexdigest()[:20]


def _verdict(present: int, distinct: int, top: int, top_value: str, rows: int):
    """(unique?, why, share distinct) of a column with ``present`` non-empty values."""
    if not present:
        return False, "empty on every row", 0.0
    share = distinct / present
    if present < MIN_FILLED * rows:
        return False, f"empty on {rows - present} of {rows} rows", share
    if top > max(2, MAX_REPEAT_SHARE * rows):
        return False, f"one value ({top_value[:80]}) on {top} of {rows} rows", share
    repeats = present - distinct
    if share < NEARLY_UNIQUE and repeats > 1:  # one repeat in a small file is "nearly"
        return False, f"only {share:.0%} of its values are distinct", share
    return True, f"{share:.0%} of its {present} values are distinct", share


TOP_VALUE = "\x00top\x00"  # stands for the most repeated value's text until it is read


def hashed_uniqueness(hashes: np.ndarray, rows: int) -> tuple[bool, str, float, int | None]:
    """_verdict of a column given as one 64-bit hash per row (0: empty), plus the row
    (index into ``hashes``) holding the most repeated value first, when ``why`` names
    it (as TOP_VALUE, for the caller to fill in). Equal values have equal hashes; two
    different values sharing one (p ~ 1e-9 in a national file) would count as one."""
    where = np.flatnonzero(hashes)
    if not where.size:
        return (*_verdict(0, 0, 0, "", rows), None)
    _, first, counts = np.unique(hashes[where], return_index=True, return_counts=True)
    top = int(counts.max())
    unique, why, share = _verdict(int(where.size), int(counts.size), top, TOP_VALUE, rows)
    # Counter.most_common's choice among equals: the value seen first.
    top_at = int(where[first[counts == top].min()]) if TOP_VALUE in why else None
    return unique, why, share, top_at


def choose_chain(
    hashes: dict[tuple[str, int], np.ndarray], columns: dict[str, list[int]],
    header: list[str], explicit: bool, rows: int, running: dict[int, str] | None = None,
) -> tuple[list[tuple[str, int]], dict, dict[int, list[tuple[str, int]]]]:  # fmt: skip
    """Which columns identify rows, in order (per row, the first with a value is the id).

    ``hashes[(field, index)]``: that candidate column's values, one hash per row (0 when
    empty); ``explicit``: the mapping names the id column; ``running``: {index: why} of
    the id columns whose values are a running number (row_number), never the identity.
    Returns the chain, the identity
    part of the mapping report (rejections may name TOP_VALUE) and, for those, the row to
    read the value from: {row: [(field, index), …]}.
    """
    report: dict = {"rejected": []}
    chain: list[tuple[str, int]] = []
    # Several columns may repeat their top value first on one row (row 1 of a file):
    # each is named, so no rejection keeps TOP_VALUE (a NUL byte) in the report.
    tops: dict[int, list[tuple[str, int]]] = {}
    candidates = [(f, i) for f in ("identifier", "landing_page", "download_url")
                  for i in columns.get(f, ())]  # fmt: skip
    if explicit and columns.get("identifier"):
        chain.append(("identifier", columns["identifier"][0]))
        report.update(method="column", reason="named in the source's mapping")
        candidates = [c for c in candidates if c[0] != "identifier"]
    for target, index in candidates:
        if running and index in running:
            report["rejected"].append({"column": column_label(header, index), "field": target,
                                       "reason": running[index]})  # fmt: skip
            continue
        unique, why, share, top_at = hashed_uniqueness(hashes[(target, index)], rows)
        if top_at is not None:
            tops.setdefault(top_at, []).append((target, index))
        if not unique:
            report["rejected"].append({"column": column_label(header, index), "field": target,
                                       "reason": why})  # fmt: skip
        elif not chain:
            chain.append((target, index))
            report.update(method="column", reason=why, unique_share=round(share, 3))
        elif len(chain) == 1 and chain[0][0] == "identifier" and target == "landing_page":
            chain.append((target, index))  # where the id is empty (目录编号 ""): the page
    if chain:
        report.update(column=column_label(header, chain[0][1]), field=chain[0][0])
        report["then"] = [column_label(header, i) for _, i in chain[1:]]
    else:
        report.update(method="hash", reason="no unique id or URL column: a hash of title and "
                      "publisher (and, where they repeat, the columns that tell rows apart)")  # fmt: skip
    return chain, report, tops


def shared(identities: np.ndarray) -> np.ndarray:
    """Indexes of the rows whose identity hash another row has too (in row order)."""
    _, inverse, counts = np.unique(identities, return_inverse=True, return_counts=True)
    return np.flatnonzero(counts[inverse.reshape(-1)] > 1)


class Identity:
    """The one attribute of a record _tell_apart sets."""

    __slots__ = ("identifier",)

    def __init__(self, identifier: str):
        self.identifier = identifier


def tell_groups_apart(rows: list[Row], columns: dict[str, list[int]], header: list[str],
                      ids: set[int], report: dict, stored=None) -> None:  # fmt: skip
    """Rows that share an identity (in row order) get distinct ones; report how.
    ``ids``: columns never used to tell rows apart (the identity's own, running numbers);
    ``stored``: HarvestContext.stored_datasets, to keep stored identities (keep_stored)."""
    groups: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        groups[row.record.identifier].append(row)
    told_apart = []
    order = _discriminators(columns, header, ids)
    for base, members in groups.items():
        if len(members) < 2:
            continue
        used = _tell_apart(members, order, header, base)
        if len(told_apart) < REPORT_GROUPS:
            told_apart.append({"rows": [m.reference for m in members],
                               "by": [column_label(header, i) for i in used] or ["row order"]})  # fmt: skip
    report["told_apart"] = told_apart
    report["shared_identities"] = sum(1 for m in groups.values() if len(m) > 1)
    shared_groups = {base: members for base, members in groups.items() if len(members) > 1}
    if stored is None or not shared_groups:
        return
    titles = {m.title for base, members in shared_groups.items() if base.startswith("sha1:")
              for m in members}  # fmt: skip
    found = stored(list(shared_groups), sorted(titles))
    kept = 0
    for base, members in shared_groups.items():
        kept += keep_stored(members, group_of(base, members, found))
    report["kept_stored"] = kept


def group_of(base: str, members: list[Row], found: list[tuple]) -> list[tuple]:
    """The stored datasets (identifier, title, publisher, fingerprint) of a group: with
    an id or URL identity, the identity itself or one told apart from it (base#…); with
    the title-and-publisher hash, a hash identity of the same title and publisher."""
    if not base.startswith("sha1:"):
        return [s for s in found if s[0] == base or s[0].startswith(base + "#")]
    pair = (normalized(members[0].title), normalized(members[0].publisher))
    return [s for s in found if s[0].startswith("sha1:")
            and (normalized(s[1]), normalized(s[2])) == pair]  # fmt: skip


def keep_stored(members: list[Row], stored: list[tuple], base: str = "") -> int:
    """Give the group's stored identities back to its rows; how many were kept.

    In order: a row whose told-apart identity is stored keeps it; then each stored
    dataset (in creation order) no row claimed goes to the first row left with the same
    fingerprint (the unchanged row), else the values it was shown by (distinguished_by:
    所属区县 西山区, for a row alone again: Row.shown), else the same title, else the
    first row left. Rows
    left keep their told-apart identities (new datasets). Every identity given is the
    group's own (base or base#…, or a hash of the same title and publisher), so none can
    be another row's. A row alone again (``members`` one row holding ``base`` itself)
    claims nothing by its identity: the plain base may be the other row's dataset."""
    free = {s[0]: s for s in stored}
    given: dict[int, str] = {}
    for i, member in enumerate(members):
        if member.record.identifier in free and member.record.identifier != base:
            given[i] = member.record.identifier
            del free[member.record.identifier]
    for same in (
        _same_raw_row,
        _same_shown_values,
        lambda m, s: normalized(m.title) == normalized(s[1]),
        lambda m, s: True,
    ):
        for identifier, row in list(free.items()):
            for i, member in enumerate(members):
                if i not in given and same(member, row):
                    given[i] = identifier
                    del free[identifier]
                    break
    for i, identifier in given.items():
        members[i].record.identifier = identifier
    return len(given)


def _same_raw_row(member: Row, stored: tuple) -> bool:
    """Whether a stored dataset was built from this raw row, stored when it had twins
    (told_fingerprint) or when it had none (its own fingerprint)."""
    if not member.fingerprint:
        return False
    return stored[3] in (member.fingerprint,
                         told_fingerprint(member.fingerprint, member.distinguished))  # fmt: skip


def _same_shown_values(member: Row, stored: tuple) -> bool:
    """Whether a row alone again has the values its stored twin was shown by (所属区县:
    西山区): that twin, whichever of them was created first."""
    values = stored[4] if len(stored) > 4 else None
    if not values or member.shown is None:
        return False
    return all(member.shown.get(k) == v for k, v in values.items())


def _discriminators(columns: dict[str, list[int]], header: list[str], ids: set[int]) -> list[int]:
    """Column indexes to tell rows apart with, most stable first: never the id itself,
    nor a running number (in ``ids`` when found by its values; 序号 by its header)."""
    placed = {i for indexes in columns.values() for i in indexes}
    order: list[int] = []
    for target in DISCRIMINATOR_ORDER:
        indexes = (
            columns.get(target, ())
            if target
            else [
                i
                for i in range(len(header))
                if i not in placed  # unmapped: 区县, 年份 …
                and not is_running_number_header(header[i])
            ]
        )
        order += [i for i in indexes if i not in order and i not in ids]
    return order


def _tell_apart(members: list[Row], order: list[int], header: list[str], base: str) -> list[int]:
    """Give rows that share an identity distinct ones, adding columns until they differ."""
    used: list[int] = []

    def key(row: Row) -> tuple:
        return tuple(row.texts[i] for i in used)

    for index in order:
        if len({key(m) for m in members}) == len(members):
            break
        before = len({key(m) for m in members})
        used.append(index)
        if len({key(m) for m in members}) == before:
            used.pop()  # this column does not separate any of them
    seen: Counter = Counter()
    for row in members:
        parts = [f"{header[i]}={normalized(row.texts[i])}" for i in used]
        seen[tuple(parts)] += 1
        if seen[tuple(parts)] > 1:  # differ only beyond the header: fall back to order
            parts.append(f"#{seen[tuple(parts)]}")
        digest = hashlib.sha1("\x1f".join([base, *parts]).encode()).hexdigest()
        if base.startswith("sha1:"):
            row.record.identifier = "sha1:" + digest[:20]
        else:
            row.record.identifier = f"{base}#{digest[:10]}"
    return used
