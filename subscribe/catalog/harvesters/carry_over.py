"""Stored identities carried over when a catalog changes how it identifies datasets.

A catalog that drops its id column (or gains one, or empties it), or a CKAN file whose
packages lose their ``id`` (so ``name`` identifies them), gives every dataset a new
identifier: the writer would delete each stored dataset and create it again, so every
subscriber gets a ``dataset.deleted`` and a ``dataset.created`` per dataset, versions
restart and scenarios' pins (by dataset id) lose their datasets. The promise is the
other way round: an unchanged dataset makes no event, an edit is an update.

The rule: a row (or package) whose identifier is not stored takes the identifier of a
stored dataset of the same source that this harvest does not list under its own
identifier, when the two match one to one on a key, tried in order (the caller's
rounds: the same normalized title and publisher, then the same landing page, then the
same download URL …). A key held by two rows or two stored datasets matches nothing in
that round; what no round pairs is new or deleted, as before. Except, after every round,
rows that still share their title and publisher with exactly as many stored datasets
(rows an export told apart by a column no dataset field holds, e.g. 所属区县): those
pair in order, file order with creation order, which is how the stored ones were
created from the same file; a reordered file at most turns them into updates of each
other, never into a deletion and a creation (keep_stored's last resort, too). Keys are ints (Python hashes of the normalized texts; 0: none), so a national
export's 345,853 rows are a few dicts of ints, not their texts.
"""

from __future__ import annotations

from collections import defaultdict


def _shared_keys(rows: dict[int, int], stored: dict[int, int]) -> dict[int, tuple[list, list]]:
    """{key: (rows holding it, stored datasets holding it)} for the keys both sides hold
    (the dicts' values; 0 is no key)."""
    row_keys: dict[int, list[int]] = defaultdict(list)
    for row, key in rows.items():
        if key:
            row_keys[key].append(row)
    stored_keys: dict[int, list[int]] = defaultdict(list)
    for item, key in stored.items():
        if key and key in row_keys:
            stored_keys[key].append(item)
    return {key: (row_keys[key], items) for key, items in stored_keys.items()}


def one_to_one(rows: dict[int, int], stored: dict[int, int]) -> tuple[dict[int, int], int]:
    """Pairs {row: stored} whose key is held by exactly one row and exactly one stored
    dataset, and how many keys both sides held but not one to one (ambiguous: left
    unpaired)."""
    pairs: dict[int, int] = {}
    ambiguous = 0
    for holders, items in _shared_keys(rows, stored).values():
        if len(items) == 1 and len(holders) == 1:
            pairs[holders[0]] = items[0]
        else:
            ambiguous += 1
    return pairs, ambiguous


def in_order(rows: dict[int, int], stored: dict[int, int]) -> dict[int, int]:
    """Pairs {row: stored} of the keys held by as many rows as stored datasets (two or
    more), in order: the lowest row (file order) with the lowest stored id (creation)."""
    pairs: dict[int, int] = {}
    for holders, items in _shared_keys(rows, stored).values():
        if len(items) == len(holders) >= 2:
            pairs.update(zip(sorted(holders), sorted(items), strict=True))
    return pairs


IN_ORDER_ROUND = "title and publisher"  # the round whose shared keys pair in order


def carry_over(rounds, rows: set[int], stored: set[int]) -> tuple[dict[int, int], dict]:
    """Pair rows with stored datasets round by round, then in order (module docstring).

    ``rounds``: [(name, row_key, stored_key)], where ``row_key(rows_left)`` and
    ``stored_key(stored_left)`` give {row: key} and {stored: key} for what is still
    unpaired (a callable, so a round's keys are loaded only when something is left to
    pair). Returns {row: stored} and the report part: {"datasets": n, "by": {name: n},
    "ambiguous": keys left unpaired, "unpaired_rows", "unpaired_stored"}."""
    paired: dict[int, int] = {}
    by: dict[str, int] = {}
    ambiguous = 0
    rows, stored = set(rows), set(stored)
    for name, row_key, stored_key in rounds:
        if not rows or not stored:
            break
        pairs, unclear = one_to_one(row_key(rows), stored_key(stored))
        ambiguous += unclear
        if pairs:
            by[name] = len(pairs)
            paired.update(pairs)
            rows.difference_update(pairs)
            stored.difference_update(pairs.values())
    for name, row_key, stored_key in rounds:
        if name == IN_ORDER_ROUND and rows and stored:
            pairs = in_order(row_key(rows), stored_key(stored))
            if pairs:
                by[f"{name}, in file order"] = len(pairs)
                paired.update(pairs)
                rows.difference_update(pairs)
                stored.difference_update(pairs.values())
    report = {"datasets": len(paired), "by": by, "ambiguous": ambiguous,
              "unpaired_rows": len(rows), "unpaired_stored": len(stored)}  # fmt: skip
    return paired, report
