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
    given, so the older listings are set aside before it (of listings of one dataset
    with equal or no dates, the one whose title and URLs' digests sort last is kept).

    Entries that share no title and no URL are different datasets under one identifier
    (small-education's NCES_2016999: two surveys): all are published, each told apart
    as ``<identifier>#<10 hex>`` (tabular_identity.TOLD_APART's form) from the identifier
    and its landing page, else its title (``told``): never from the file's order or the
    modified dates, so a reordered file or a new date changes nothing. One of them left
    alone later is the plain identifier again; dcat.carried_schemes carries the stored
    datasets across both changes by landing page, then title + publisher. ``shared``
    says which identifiers were told apart (the mapping report's identity.told_apart).

    Fed one entry at a time (``add``: by the streaming pass that sniffs a data.json; by
    dcat_ap over the graph's dataset nodes); holds a few 8-byte digests per entry.
    """

    def __init__(self) -> None:
        self._first: dict[str, _Listing] = {}  # identifier -> its first entry
        self._repeated: dict[str, list[_Listing]] = {}
        self._older: dict[int, str] | None = None  # superseded(), once settled
        self.told: dict[int, str] = {}  # item index -> its told-apart identifier
        self.shared: dict[str, int] = {}  # identifier -> how many datasets share it

    def add(self, index: int, identifier: str, modified: str, title: str, urls: list[str],
            landing: str = "") -> None:  # fmt: skip
        """One entry: its position in the `dataset` array and its raw scalars (``landing``:
        its landing page, also among ``urls``)."""
        identifier = clean_text(identifier)
        if not identifier:
            return
        keys = {_digest("t", clean_text(title).casefold())} if clean_text(title) else set()
        keys.update(_digest("u", _url_key(url)) for url in urls if _url_key(url))
        # What tells it from different datasets of its identifier: landing page, else title
        tell = (
            f"u:{_url_key(landing)}" if _url_key(landing) else f"t:{clean_text(title).casefold()}"
        )
        told = hashlib.sha1(f"{identifier}\x1f{tell}".encode()).digest()[:5]
        listing = _Listing(index, modified, b"".join(sorted(keys)), told)
        if identifier in self._repeated:
            self._repeated[identifier].append(listing)
        elif identifier in self._first:
            self._repeated[identifier] = [self._first.pop(identifier), listing]
        else:
            self._first[identifier] = listing

    def identifiers(self) -> set[str]:
        """Every identifier the entries are published under (cleaned as ``add`` cleans
        them): those shared by different datasets as told apart (``told``)."""
        self.superseded()
        return {*self._first, *(i for i in self._repeated if i not in self.shared),
                *self.told.values()}  # fmt: skip

    def superseded(self) -> dict[int, str]:
        """{item index: the BadRecord reason} for every older listing; sets ``told`` and
        ``shared`` (different datasets under one identifier)."""
        if self._older is None:
            self._older = self._settle()
        return self._older

    def _settle(self) -> dict[int, str]:
        older: dict[int, str] = {}
        for identifier, listings in self._repeated.items():
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
            datasets = []  # one entry per dataset: listings sharing a key are one
            for group in _sharing(others):
                kept_date, kept = max(group, key=_rank)
                datasets.append(kept)
                for date, item in group:  # one dataset, equal or no dates: keep one
                    if item is not kept:
                        older[item.index] = shared_identifier_reason(kept_date.raw, date.raw)
            if len(datasets) > 1:  # different datasets under one identifier: tell apart
                self.shared[identifier] = len(datasets)
                for item in datasets:
                    self.told[item.index] = f"{identifier}#{item.told.hex()}"
        return older


def _sharing(dated: list[tuple]) -> list[list[tuple]]:
    """(date, listing) pairs grouped by shared keys (a title or URL, transitively)."""
    groups: list[list[tuple]] = []
    for pair in dated:
        joined = [group for group in groups if any(pair[1].shares_a_key(o) for _d, o in group)]
        merged = [pair, *(other for group in joined for other in group)]
        groups = [group for group in groups if group not in joined] + [merged]
    return groups


def shared_identifier_reason(kept: str, modified: str) -> str:
    """The BadRecord reason of a listing of one dataset set aside for another of equal or
    no modified date (they share a title or URL)."""
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
    told: bytes = b""  # 5 bytes of sha1(identifier, landing page else title)

    def shares_a_key(self, other: _Listing) -> bool:
        mine = {self.keys[i : i + 8] for i in range(0, len(self.keys), 8)}
        return any(other.keys[i : i + 8] in mine for i in range(0, len(other.keys), 8))


def _digest(kind: str, text: str) -> bytes:
    return hashlib.blake2b(f"{kind}:{text}".encode(), digest_size=8).digest()


def _url_key(url: str) -> str:
    """A URL as compared between listings: no scheme, no trailing slash, lower case."""
    return clean_text(url).split("://", 1)[-1].rstrip("/").lower()
