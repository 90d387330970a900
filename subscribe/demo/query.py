"""package_search over the lazy catalog: CKAN parameter validation, Solr range fq, sorted paging."""

from __future__ import annotations

import bisect
import heapq
import itertools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime

from subscribe.demo.catalog import DemoCatalog, from_us, to_us
from subscribe.demo.changes import Snapshot, bisect_moved

DEFAULT_SORT = "score desc, metadata_modified desc"  # CKAN's default
ROWS_MAX = 1000  # ckan.search.rows_max: larger values are capped, not refused
# fmt: off
_ALLOWED = frozenset((
    "q", "fq", "rows", "start", "sort", "facet", "facet.field", "facet.limit",
    "facet.mincount", "include_private", "include_drafts", "include_deleted", "callback", "_",
))
# fmt: on
_FQ = re.compile(r"^\+?metadata_modified:([\[{])\s*(\S+)\s+TO\s+(\S+)\s*([\]}])$")
_NOW = re.compile(r"^NOW(?:([+-])(\d+)(SECOND|MINUTE|HOUR|DAY)S?)?(?:/DAY)?$")
_UNITS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
_SORT_FIELDS = {"id": "index", "name": "index", "metadata_modified": "modified"}
_EVERYTHING = {"", "*:*", '""', "''"}


class ValidationError(ValueError):
    """Bad parameters; `errors` is CKAN's {field: [message]} dict."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(str(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Query:
    q: str
    lo_us: int  # inclusive bounds on metadata_modified (exclusive ones already shifted)
    hi_us: int
    order: str  # "index" (id, name) or "modified"
    descending: bool
    rows: int
    start: int
    sort: str


def parse_query(params: Mapping[str, str], now_us: int) -> Query:
    """Validate package_search parameters the way CKAN answers them."""
    unknown = sorted(set(params) - _ALLOWED)
    if unknown:
        raise ValidationError({"query": [f"Invalid search parameters: {unknown}"]})
    rows = min(natural(params, "rows", 10), ROWS_MAX)
    start = natural(params, "start", 0)
    sort = str(params.get("sort") or DEFAULT_SORT).strip()
    order, descending = _parse_sort(sort)
    lo_us, hi_us = _parse_fq(str(params.get("fq") or ""), now_us)
    q = str(params.get("q") or "").strip()
    return Query("" if q in _EVERYTHING else q, lo_us, hi_us, order, descending, rows, start, sort)


def natural(params: Mapping[str, str], name: str, default: int | None) -> int | None:
    """A non-negative integer parameter, with CKAN's validation messages."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValidationError({name: ["Invalid integer"]}) from None
    if value < 0:
        raise ValidationError({name: ["Must be a natural number"]})
    return value


def _parse_sort(sort: str) -> tuple[str, bool]:
    """The first clause that is not `score` decides; ids and times are unique, so it is total."""
    for clause in sort.split(","):
        parts = clause.split()
        if len(parts) != 2 or parts[1].lower() not in {"asc", "desc"}:
            raise ValidationError({"sort": [f"Invalid sort clause: {clause.strip()!r}"]})
        field, direction = parts[0], parts[1].lower()
        if field == "score":
            continue
        if field not in _SORT_FIELDS:
            raise ValidationError(
                {"sort": [f"Cannot sort by {field!r} (id, name, metadata_modified)"]}
            )
        return _SORT_FIELDS[field], direction == "desc"
    return "modified", True


def _parse_fq(fq: str, now_us: int) -> tuple[int, int]:
    fq = fq.strip()
    if not fq:
        return 0, 2**62
    match = _FQ.match(fq)
    if not match:
        raise ValidationError(
            {"fq": [f"Unsupported filter query {fq!r}: use metadata_modified:[FROM TO TO]"]}
        )
    left, low, high, right = match.groups()
    lo_us = 0 if low == "*" else _solr_time(low, now_us) + (left == "{")
    hi_us = 2**62 if high == "*" else _solr_time(high, now_us) - (right == "}")
    return lo_us, hi_us


def _solr_time(text: str, now_us: int) -> int:
    if match := _NOW.match(text):
        sign, amount, unit = match.groups()
        offset = int(amount) * _UNITS[unit] * 1_000_000 if amount else 0
        moment = now_us + (offset if sign == "+" else -offset)
        if text.endswith("/DAY"):
            moment = to_us(from_us(moment).replace(hour=0, minute=0, second=0, microsecond=0))
        return moment
    try:
        return to_us(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        raise ValidationError({"fq": [f"Invalid date in filter query: {text!r}"]}) from None


@dataclass(frozen=True, slots=True)
class Selection:
    """The ordered result set, paged in O(log n + rows) without listing it."""

    lo: int  # base indices lo..hi-1 minus holes, in base (time and index) order
    hi: int
    holes: tuple[int, ...]
    extras: tuple[tuple[int, int], ...]  # (time, index) of moved datasets in range, time order
    order: str

    @property
    def count(self) -> int:
        return self.hi - self.lo - len(self.holes) + len(self.extras)

    def iter_from(self, position: int, descending: bool) -> Iterator[int]:
        if self.order == "modified":
            return self._by_time(position, descending)
        return self._by_index(position, descending)

    def _base_at(self, position: int) -> int:
        index = self.lo + position
        for hole in self.holes:  # holes are few: the overlays of recent changes
            if hole > index:
                break
            index += 1
        return index

    def _base_from(self, position: int, descending: bool) -> Iterator[int]:
        base_count = self.hi - self.lo - len(self.holes)
        if position >= base_count:
            return iter(())
        holes = set(self.holes)
        if descending:
            first = self._base_at(base_count - 1 - position)
            return (i for i in range(first, self.lo - 1, -1) if i not in holes)
        first = self._base_at(position)
        return (i for i in range(first, self.hi) if i not in holes)

    def _by_time(self, position: int, descending: bool) -> Iterator[int]:
        base_count = self.hi - self.lo - len(self.holes)
        extras = [i for _, i in self.extras]
        if not descending:
            tail = extras[max(position - base_count, 0) :]
            return itertools.chain(self._base_from(position, False), tail)
        extras.reverse()
        head = extras[position:]
        return itertools.chain(head, self._base_from(max(position - len(extras), 0), True))

    def _count_upto(self, index: int, extras: list[int]) -> int:
        base = max(0, min(index, self.hi - 1) - self.lo + 1)
        return base - bisect.bisect_right(self.holes, index) + bisect.bisect_right(extras, index)

    def _by_index(self, position: int, descending: bool) -> Iterator[int]:
        extras = sorted(i for _, i in self.extras)
        ascending_position = self.count - 1 - position if descending else position
        if ascending_position < 0 or ascending_position >= self.count:
            return iter(())
        low, high = 0, max(self.hi, extras[-1] + 1 if extras else 0)
        while low < high:  # the smallest index with ascending_position + 1 members up to it
            mid = (low + high) // 2
            if self._count_upto(mid, extras) > ascending_position:
                high = mid
            else:
                low = mid + 1
        holes = set(self.holes)
        if descending:
            base = (i for i in range(min(low, self.hi - 1), self.lo - 1, -1) if i not in holes)
            rest = reversed(extras[: bisect.bisect_right(extras, low)])
            return heapq.merge(base, rest, reverse=True)
        base = (i for i in range(max(low, self.lo), self.hi) if i not in holes)
        return heapq.merge(base, extras[bisect.bisect_left(extras, low) :])


def select(catalog: DemoCatalog, snap: Snapshot, query: Query) -> Selection:
    """Datasets whose metadata_modified is in the query's range, before any `q` filter."""
    lo = bisect.bisect_left(range(catalog.size), query.lo_us, key=catalog.base_modified_us)
    hi = bisect.bisect_right(range(catalog.size), query.hi_us, key=catalog.base_modified_us)
    start, stop = bisect.bisect_left(snap.holes, lo), bisect.bisect_left(snap.holes, hi)
    extras = bisect_moved(snap.moved, query.lo_us, query.hi_us)
    return Selection(lo, hi, snap.holes[start:stop], tuple(extras), query.order)


def page(
    selection: Selection, query: Query, matches: Callable[[int], bool] | None = None
) -> tuple[int, list[int]]:
    """(count, indices of the requested page); `matches` filters for `q` (a full scan)."""
    if matches is None:
        found = selection.iter_from(query.start, query.descending)
        return selection.count, list(itertools.islice(found, query.rows))
    hits = [i for i in selection.iter_from(0, query.descending) if matches(i)]
    return len(hits), hits[query.start : query.start + query.rows]


def everything(catalog: DemoCatalog, snap: Snapshot, order: str = "index") -> Selection:
    """Every live dataset, for listings and exports (iterate with iter_from(0, False))."""
    extras = tuple(snap.moved)
    return Selection(0, catalog.size, snap.holes, extras, order)
