"""A tabular export whose identity scheme changed keeps its stored identities (carry_over).

When the run's identity differs from the previous run's (the id column dropped, a new
one, the id column emptied so the landing page or the title-and-publisher hash takes
over), every row would get a new identifier and every stored dataset would be deleted
and created again. Here a row whose identifier is not stored takes the identifier of a
stored dataset that this file does not list under its own identifier, when the two
match one to one: by normalized title and publisher, then (twins told apart by a column
no dataset field holds, 所属区县) title, publisher and those values, then landing page,
then download URL (carry_over.carry_over).

The same pairing serves an identity derived from content (no id column: a URL column,
or title and publisher): an edited title changes a row's hash, an edited URL its URL
identity, so such a row, not found by its identity, is paired the same way with the
stored dataset no row lists (by landing page or download URL), an update. Last, what is
left of both pairs by a renamed title within one publisher (tabular_rename: 企业信用修复名单 →
企业信用修复名单（第二版）, never 2023年… → 2024年…), each the other's only candidate.

Cost: only when needed, i.e. when the previous run's mapping report (its ``identity``
section) names another identity, carried identities over itself (the next run must
carry them again, or they would be deleted then), or had fewer rows falling back from
the first identity column; or, with a derived identity, every run, but the pairing
(and its report) only when some row is not found by its identity and some stored
dataset is unlisted. Then one query streams the source's active datasets
(id, identifier, title, publisher, landing page) into sets and dicts of ints, and once
more for the identifiers of those paired; download URLs are read only for the stored
datasets still unpaired. The usual re-harvest
compares two small dicts and reads nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from subscribe.catalog.harvesters.carry_over import carry_over
from subscribe.catalog.harvesters.tabular_identity import (
    normalized,
    shown_values,
    title_publisher_identity,
)
from subscribe.catalog.harvesters.tabular_rename import REPORTED, pair_renamed
from subscribe.catalog.harvesters.tabular_rename import ROUND as RENAME_ROUND

HASH_LEVEL = "title and publisher"  # report["rows_by"]: rows identified by the hash
TOLD_ROUND = "title, publisher and what told twins apart"  # distinguished_by: 所属区县
_normalized = lru_cache(4096)(normalized)  # publishers repeat a few hundred names


def scheme(identity: dict) -> tuple:
    """What a mapping report's identity section says identifies rows."""
    return (identity.get("method"), identity.get("field"), identity.get("column"),
            tuple(identity.get("then") or ()))  # fmt: skip


def describe(identity: dict) -> str:
    if identity.get("column"):
        return f"column {identity['column']}"
    return "a hash of title and publisher"


def derived_identity(identity: dict) -> bool:
    """Whether rows are identified by their content (a URL column, or title and publisher)
    rather than an id column: an edit of that content changes the identity."""
    return identity.get("field") != "identifier"


def fallback_rows(identity: dict) -> int | None:
    """Rows not identified by the first identity column (None: not recorded)."""
    counts = identity.get("rows_by")
    if not isinstance(counts, dict) or not counts:
        return None
    return sum(counts.values()) - next(iter(counts.values()))


@dataclass
class TabularCarryOver:
    """What a harvest run knows of the source's stored identities (HarvestContext)."""

    previous: dict | None  # the previous successful run's report["identity"]
    # (dataset id, identifier, title, publisher, landing page) of every active dataset
    stored: Callable[[], Iterable[tuple[int, str, str, str, str]]]
    download_urls: Callable[[list[int]], dict[int, str]]  # dataset id -> first file URL
    # (identifier, title, publisher) of every active dataset, title and publisher None
    # unless the identifier is a title-and-publisher hash (sha1:…): the light query of a
    # derived identity's usual re-harvest (None: the full one is used)
    identifiers: Callable[[], Iterable[tuple[str, str | None, str | None]]] | None = None
    # dataset id -> description, of those that have one (None: descriptions not used)
    descriptions: Callable[[list[int]], dict[int, str]] | None = None

    @classmethod
    def of(cls, ctx) -> TabularCarryOver | None:
        if ctx.stored_identities is None:  # a preview or a direct call: nothing stored
            return None
        return cls(ctx.previous_identity, ctx.stored_identities, ctx.stored_download_urls,
                   ctx.stored_identifiers, ctx.stored_descriptions)  # fmt: skip

    def why(self, identity: dict) -> str:
        """Why this run must look for identities to carry over ("" when it need not)."""
        previous = self.previous
        if not previous:  # a first harvest (or one from before mapping reports)
            return ""
        if scheme(previous) != scheme(identity):
            return f"the identity changed from {describe(previous)} to {describe(identity)}"
        if (previous.get("carried_over") or {}).get("datasets"):
            return "the previous run carried identities over"
        before, now = fallback_rows(previous), fallback_rows(identity)
        if before is not None and now is not None and now > before:
            return f"{now - before} more rows lack a value in column {identity.get('column')}"
        return ""

    def run(self, mapper, positions: np.ndarray, identities: np.ndarray, hashed: np.ndarray,
            pairs: np.ndarray, values: dict, report: dict) -> None:  # fmt: skip
        """Give rows whose identifier is not stored the identifiers of stored datasets
        this file does not list, 1:1 (mapper.told_apart); report in report["carried_over"].

        ``identities``: per row the hash of its identity column's value, or (``hashed``
        rows) its title-and-publisher hash, which ``pairs`` holds for every row;
        ``values``: per identity candidate column, the hash of each row's value.

        An identity derived from content (no id column: a URL, or title and publisher)
        changes with an edit of that content, so such a run looks every time (``why``
        says it need not): an edited title, not found by its new hash, is paired by its
        landing page or download URL with the stored dataset no row lists (an update,
        not a deletion and a creation). When every row is found by its identity (the
        usual re-harvest) nothing is reported."""
        why = self.why(report)
        derived = not why and self.previous is not None and derived_identity(report)
        if not why and not derived:
            return
        told = mapper.told_apart
        index_of_told = {}
        if told:
            told_positions = np.array(sorted(told), dtype=np.int64)
            index_of_told = dict(zip(told_positions.tolist(),
                                     np.searchsorted(positions, told_positions).tolist(),
                                     strict=True))  # fmt: skip
        plain = np.ones(len(positions), dtype=bool)
        plain[list(index_of_told.values())] = False
        by_column, by_hash = plain & ~hashed, plain & hashed
        listed = set(identities[by_column].tolist())
        listed.update(hash(identifier) for identifier in told.values())
        hashed_pairs = set(pairs[by_hash].tolist())
        if derived and self.identifiers is not None:
            # The usual re-harvest: one light query (identifiers; title and publisher of
            # hash identities only) shows every row found, or no stored dataset unlisted.
            stored_keys, plain_pairs, unlisted = self._light(listed, hashed_pairs)
            if not unlisted:
                return
            new = self._new(positions, identities, pairs, by_column, by_hash, told,
                            index_of_told, stored_keys, plain_pairs)  # fmt: skip
            if not new.any():
                return

        stored_keys: set[int] = set()
        plain_pairs: set[int] = set()  # title-and-publisher pairs stored as their plain hash
        # id -> (pair, landing): ints only (a whole catalog may be unlisted); the paired
        # ones' identifiers are read again afterwards
        orphans: dict[int, tuple[int, int]] = {}
        for dataset_id, identifier, title, publisher, landing in self.stored():
            key = hash(identifier)
            stored_keys.add(key)
            pair = 0
            if identifier.startswith("sha1:"):
                pair = hash((_normalized(title), _normalized(publisher or "")))
                if identifier == title_publisher_identity(title, publisher or ""):
                    plain_pairs.add(pair)
                    if pair in hashed_pairs:
                        continue  # a row lists it
            if key in listed:
                continue
            pair = pair or hash((_normalized(title), _normalized(publisher or "")))
            orphans[dataset_id] = (pair, hash(landing) if landing else 0)

        new = self._new(positions, identities, pairs, by_column, by_hash, told, index_of_told,
                        stored_keys, plain_pairs)  # fmt: skip
        rows = set(np.flatnonzero(new).tolist())
        if derived and not (rows and orphans):  # each row found, or nothing to pair with
            return
        if derived:
            why = f"identity derived from content ({describe(report)}): {len(rows)} rows not found"

        rounds = [("title and publisher", lambda left: {i: int(pairs[i]) for i in left},
                   lambda left: {s: orphans[s][0] for s in left})]  # fmt: skip
        if mapper.stored_told_apart is not None:
            rounds.append((TOLD_ROUND, *self._told_round(mapper, positions, pairs)))
        columns = mapper.columns
        if columns.get("landing_page"):
            landing = _first_value(values, "landing_page", columns)
            rounds.append(("landing page", lambda left: {i: int(landing[i]) for i in left},
                           lambda left: {s: orphans[s][1] for s in left}))  # fmt: skip
        if columns.get("download_url"):
            download = _first_value(values, "download_url", columns)

            def stored_download(left: set[int]) -> dict[int, int]:
                urls = self.download_urls(sorted(left))
                return {s: hash(url) for s, url in urls.items() if url}

            rounds.append(("download URL", lambda left: {i: int(download[i]) for i in left},
                           stored_download))  # fmt: skip
        paired, found = carry_over(rounds, rows, set(orphans))
        rows_left = rows - set(paired)
        stored_left = set(orphans) - set(paired.values())
        renames = []
        if rows_left and stored_left:  # the last, conservative round (tabular_rename)
            renames = self._renamed(mapper, positions, rows_left, stored_left, paired, found)
        if paired:
            row_of = {dataset_id: index for index, dataset_id in paired.items()}
            for dataset_id, identifier, *_ in self.stored():
                if dataset_id in row_of:
                    told[int(positions[row_of[dataset_id]])] = identifier
        report["carried_over"] = {"why": why, **found}
        if renames:
            report["carried_over"]["renamed"] = renames

    def _told_round(self, mapper, positions: np.ndarray, pairs: np.ndarray) -> tuple:
        """The keys of twins: rows of one title and publisher that a column no dataset
        field holds told apart (所属区县), stored with it (distinguished_by). The first
        round leaves such a family unpaired when its rows are not as many as its stored
        datasets (a third A006 公交站点 row, 官渡区, beside 西山区 and 五华区); here each
        row and stored twin is keyed by its title and publisher and those values.
        One query of the stored twins (stored_told_apart) and one read of the rows left
        whose title and publisher such a twin has, only when rows are left to pair."""
        stored_twins: dict[str, tuple[int, dict]] = {}

        def row_keys(left: set[int]) -> dict[int, int]:
            labels: dict[int, set[str]] = defaultdict(set)
            for identifier, title, publisher, shown in mapper.stored_told_apart():
                if shown:
                    pair = hash((_normalized(title), _normalized(publisher or "")))
                    stored_twins[identifier] = (pair, shown)
                    labels[pair].update(shown)
            ordered = sorted(i for i in left if int(pairs[i]) in labels)
            keys = {}
            for i, (_, texts, _) in zip(ordered, mapper._read_again(positions[ordered]),
                                        strict=True):  # fmt: skip
                pair = int(pairs[i])
                shown = shown_values(mapper.header, labels[pair],
                                     lambda j, t=texts: t[j] if j < len(t) else "")  # fmt: skip
                if shown:
                    keys[i] = hash((pair, frozenset(shown.items())))
            return keys

        def stored_keys(left: set[int]) -> dict[int, int]:
            if not stored_twins:
                return {}
            return {dataset_id: hash((stored_twins[identifier][0],
                                      frozenset(stored_twins[identifier][1].items())))
                    for dataset_id, identifier, *_ in self.stored()
                    if dataset_id in left and identifier in stored_twins}  # fmt: skip

        return row_keys, stored_keys

    def _renamed(self, mapper, positions: np.ndarray, rows: set[int], stored: set[int],
                 paired: dict[int, int], found: dict) -> list[dict]:  # fmt: skip
        """Pair rows left unpaired with stored datasets left unlisted whose titles are
        the same dataset renamed (tabular_rename); adds them to ``paired`` and ``found``
        (carry_over's report part) and returns what the report lists of them."""
        stored_titles = {dataset_id: (title, publisher or "")
                         for dataset_id, _, title, publisher, _ in self.stored()
                         if dataset_id in stored}  # fmt: skip
        publishers = {normalized(publisher) for _, publisher in stored_titles.values()}
        ordered = sorted(rows)
        # A description column is evidence for or against a pair (tabular_rename): read
        # in the same pass as the titles, for the rows and stored datasets left.
        described = bool(mapper.columns.get("description")) and self.descriptions is not None
        row_titles: dict[int, tuple[str, str]] = {}
        row_descriptions: dict[int, str] = {}
        for index, (title, publisher, *text) in zip(
            ordered, mapper.titles(positions[ordered], described), strict=True
        ):
            if normalized(publisher) in publishers:
                row_titles[index] = (title, publisher)
                if text:
                    row_descriptions[index] = text[0]
        stored_descriptions: dict[int, str] = {}
        if row_descriptions:
            stored_descriptions = self.descriptions(sorted(stored_titles))
        renames = pair_renamed(row_titles, stored_titles, row_descriptions, stored_descriptions)
        if not renames:
            return []
        for index, (dataset_id, _) in renames.items():
            paired[index] = dataset_id
        found["datasets"] += len(renames)
        found["by"][RENAME_ROUND] = len(renames)
        found["unpaired_rows"] -= len(renames)
        found["unpaired_stored"] -= len(renames)
        return [{"title": row_titles[index][0], "stored_title": stored_titles[dataset_id][0],
                 "reason": reason}
                for index, (dataset_id, reason) in sorted(renames.items())[:REPORTED]]  # fmt: skip

    def _light(self, listed: set[int], hashed_pairs: set[int]) -> tuple[set, set, int]:
        """(hashes of the stored identifiers, the title-and-publisher pairs stored as their
        plain hash, how many stored datasets no row lists) from the light query."""
        stored_keys: set[int] = set()
        plain_pairs: set[int] = set()
        unlisted = 0
        for identifier, title, publisher in self.identifiers():
            key = hash(identifier)
            stored_keys.add(key)
            if title is not None and identifier == title_publisher_identity(title, publisher or ""):
                pair = hash((_normalized(title), _normalized(publisher or "")))
                plain_pairs.add(pair)
                if pair in hashed_pairs:
                    continue
            if key not in listed:
                unlisted += 1
        return stored_keys, plain_pairs, unlisted

    @staticmethod
    def _new(positions, identities, pairs, by_column, by_hash, told, index_of_told,
             stored_keys: set[int], plain_pairs: set[int]) -> np.ndarray:  # fmt: skip
        """Per row, whether its identity is not stored (a row identified by title and
        publisher: its pair not stored as a plain hash)."""
        new = np.zeros(len(positions), dtype=bool)
        new[by_column] = ~np.isin(identities[by_column],
                                  np.fromiter(stored_keys, np.int64, len(stored_keys)))  # fmt: skip
        new[by_hash] = ~np.isin(
            pairs[by_hash], np.fromiter(plain_pairs, np.int64, len(plain_pairs))
        )
        for position, identifier in told.items():
            new[index_of_told[position]] = hash(identifier) not in stored_keys
        return new


def _first_value(values: dict, target: str, columns: dict) -> np.ndarray:
    """Per row the hash of the first of a field's columns with a value (as the record
    reads it: the first column with a value wins), 0 when none has one."""
    found = None
    for index in reversed(columns[target]):
        column = values[(target, index)]
        found = column if found is None else np.where(column != 0, column, found)
    return found
