"""A dataset a catalog file lists more than once: keep its later-modified listing.

Shared by the DCAT harvesters (dcat_us: data.json, dcat_ap: JSON-LD): the writer keeps
the first entry of an identifier, so the older listings are set aside before it, each a
BadRecord that says which date was kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from subscribe.catalog.normalize import clean_text, normalize_date


def superseded_reason(kept: str, modified: str) -> str:
    """The BadRecord reason of an older listing: the kept entry's and this one's raw
    `modified`."""
    return (
        f"listed again with a later modified date ({kept}); that entry was "
        f"kept, this one (modified {modified or 'not given'}) set aside"
    )


class ListedTwice:
    """Of the entries of one catalog file that share an identifier, the older listings of
    one dataset: entries with the same title, landing page or download URL as an entry
    of the same identifier modified later. Used by DCAT-US (data.json) and DCAT-AP.

    Real catalogs list one dataset more than once: healthdata.gov's 2019 data.json has
    106 identifiers listed twice, each pair sharing a title or download URL; in 102 the
    later-``modified`` entry comes second, and 54 of those changed the title ("…, 2012,
    Region 1 - Boston" became "…, 2012 & 2014, Region 1 - Boston"). The later
    ``modified`` is the dataset as it stands; the writer keeps the first entry it is
    given, so the older listings are set aside before it. Entries that share nothing are
    different datasets under one identifier (small-education's NCES_2016999: two
    surveys), of which one can be kept: the later-modified one, then (equal or no dates)
    the one whose title and URLs' digests sort last, so the choice never depends on the
    order of the file (a reordered file kept the other survey: an update of nothing).

    Fed one entry at a time (``add``: by the streaming pass that sniffs a data.json; by
    dcat_ap over the graph's dataset nodes); holds a few 8-byte digests per entry.
    """

    def __init__(self) -> None:
        self._first: dict[str, _Listing] = {}  # identifier -> its first entry
        self._repeated: dict[str, list[_Listing]] = {}

    def add(self, index: int, identifier: str, modified: str, title: str, urls: list[str]) -> None:
        """One entry: its position in the `dataset` array and its raw scalars."""
        identifier = clean_text(identifier)
        if not identifier:
            return
        keys = {_digest("t", clean_text(title).casefold())} if clean_text(title) else set()
        keys.update(_digest("u", _url_key(url)) for url in urls if _url_key(url))
        listing = _Listing(index, modified, b"".join(sorted(keys)))
        if identifier in self._repeated:
            self._repeated[identifier].append(listing)
        elif identifier in self._first:
            self._repeated[identifier] = [self._first.pop(identifier), listing]
        else:
            self._first[identifier] = listing

    def identifiers(self) -> set[str]:
        """Every identifier the entries named (cleaned as ``add`` cleans them)."""
        return {*self._first, *self._repeated}

    def superseded(self) -> dict[int, str]:
        """{item index: the BadRecord reason} for every older listing."""
        older: dict[int, str] = {}
        for listings in self._repeated.values():
            dated = [(normalize_date(item.modified, latest=True), item) for item in listings]
            for date, item in dated:
                later = [
                    (other_date, other)
                    for other_date, other in dated
                    if other_date.value is not None
                    and (date.value is None or other_date.value > date.value)
                    and item.shares_a_key(other)
                ]
                if later:
                    kept = max(later, key=lambda pair: pair[0].value)[0].raw
                    older[item.index] = superseded_reason(kept, date.raw)
            others = [(date, item) for date, item in dated if item.index not in older]
            if len(others) > 1:  # different datasets under one identifier: keep one
                kept_date, kept = max(others, key=_rank)
                for date, item in others:
                    if item is not kept:
                        older[item.index] = shared_identifier_reason(kept_date.raw, date.raw)
        return older


def shared_identifier_reason(kept: str, modified: str) -> str:
    """The BadRecord reason of an entry that shares its identifier with a different one."""
    return (
        f"another entry with this identifier has different content (modified "
        f"{kept or 'not given'}); one is kept whatever the file's order: the later "
        f"modified, else by content. This one (modified {modified or 'not given'}) set aside"
    )


def _rank(pair) -> tuple:
    date, item = pair
    return (date.value is not None, date.value or datetime.min, item.keys, -item.index)


@dataclass(frozen=True, slots=True)
class _Listing:
    index: int
    modified: str
    keys: bytes  # 8-byte digests of the title and URLs, concatenated

    def shares_a_key(self, other: _Listing) -> bool:
        mine = {self.keys[i : i + 8] for i in range(0, len(self.keys), 8)}
        return any(other.keys[i : i + 8] in mine for i in range(0, len(other.keys), 8))


def _digest(kind: str, text: str) -> bytes:
    return hashlib.blake2b(f"{kind}:{text}".encode(), digest_size=8).digest()


def _url_key(url: str) -> str:
    """A URL as compared between listings: no scheme, no trailing slash, lower case."""
    return clean_text(url).split("://", 1)[-1].rstrip("/").lower()
