"""Changes over time: a clock-driven cycle of edits kept as small overlays on the lazy catalog."""

from __future__ import annotations

import bisect
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from subscribe.demo.catalog import BASE_END_US, DemoCatalog, DemoDataset, ResourceSpec, from_us, mix
from subscribe.demo.vocab import DEPARTMENTS, FREQUENCY_TEXTS

# One change per tick, in this order; every kind shows up within len(KINDS) ticks.
KINDS = (
    "created",  # a new dataset is published
    "metadata",  # title + one of description/keywords/frequency edited, metadata_modified bumped
    "content",  # a file's bytes change, metadata_modified bumped
    "content_silent",  # a file's bytes change, metadata untouched (only content checks see it)
    "schema",  # a CSV gains or renames columns
    "resource_added",
    "deleted",  # gone from package_search; package_show answers 404
    "resource_removed",
    "resource_unavailable",  # the file URL starts answering 404; metadata untouched
)
_BUMPING = frozenset({"metadata", "content", "schema", "resource_added", "resource_removed"})
_MOVING = _BUMPING | {"created", "deleted"}
_EXTRA_KEYWORDS = ("动态更新", "民生服务", "开放数据", "高频数据", "统计分析", "便民查询")
_MAX_CATCH_UP = 500  # after a long suspend, skip ticks rather than stall a request


@dataclass(frozen=True, slots=True)
class ResourceState:
    content_rev: int = 0
    schema_rev: int = 0
    modified_us: int | None = None  # resource last_modified shown in metadata
    served_us: int | None = None  # HTTP Last-Modified of the file (changes even silently)
    removed: bool = False
    broken: bool = False
    # (content_rev, schema_rev) the metadata describes (its size); silent changes leave it behind.
    listed: tuple[int, int] = (0, 0)


@dataclass(frozen=True, slots=True)
class Overlay:
    """What changed in one dataset; replaced, never mutated, so readers need no lock."""

    serial: int  # the change that produced it: a cache key for rendered output
    title: str | None = None
    notes: str | None = None
    keywords: tuple[str, ...] | None = None
    frequency: str | None = None
    modified_us: int | None = None
    published_us: int | None = None  # set for datasets created by a change
    resources: dict[int, ResourceState] = field(default_factory=dict)
    added: tuple[ResourceSpec, ...] = ()
    edits: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The portal's state after `version` changes; swapped atomically after each change."""

    version: int
    total: int  # indices below this exist (base size + created datasets)
    overlays: dict[int, Overlay]
    removed: frozenset[int]
    # (metadata_modified_us, index) of datasets a change bumped, in time order
    moved: tuple[tuple[int, int], ...]
    holes: tuple[int, ...]  # sorted base indices not in base order: removed or moved


@dataclass(frozen=True, slots=True)
class LiveResource:
    spec: ResourceSpec
    state: ResourceState

    @property
    def last_modified_us(self) -> int:
        return self.state.modified_us or self.spec.modified_us

    @property
    def served_us(self) -> int:
        return self.state.served_us or self.last_modified_us


@dataclass(frozen=True, slots=True)
class LiveDataset:
    """A dataset as the portal shows it now: base record with its overlay applied."""

    base: DemoDataset
    serial: int
    title: str
    notes: str
    keywords: tuple[str, ...]
    frequency: str
    issued_us: int
    created_us: int
    modified_us: int
    resources: tuple[LiveResource, ...]


def resolve(catalog: DemoCatalog, snap: Snapshot, index: int) -> LiveDataset | None:
    """The live view of dataset `index`, or None when it does not exist (now)."""
    if index >= snap.total or index in snap.removed:
        return None
    base = catalog.dataset(index)
    ov = snap.overlays.get(index)
    if ov is None:
        resources = tuple(LiveResource(spec, ResourceState()) for spec in base.resources)
        return LiveDataset(
            base,
            0,
            base.title,
            base.notes,
            base.keywords,
            base.frequency,
            base.issued_us,
            base.created_us,
            base.modified_us,
            resources,
        )
    published = ov.published_us
    specs = (
        tuple(replace(s, created_us=published, modified_us=published) for s in base.resources)
        if published
        else base.resources
    )
    resources = tuple(
        LiveResource(spec, ov.resources.get(spec.slot, ResourceState()))
        for spec in (*specs, *ov.added)
        if not ov.resources.get(spec.slot, ResourceState()).removed
    )
    return LiveDataset(
        base,
        ov.serial,
        ov.title if ov.title is not None else base.title,
        ov.notes if ov.notes is not None else base.notes,
        ov.keywords if ov.keywords is not None else base.keywords,
        ov.frequency if ov.frequency is not None else base.frequency,
        published or base.issued_us,
        published or base.created_us,
        ov.modified_us or base.modified_us,
        resources,
    )


class ChangeFeed:
    """Applies one change per `tick_seconds` of `clock` (and one per `tick()` call)."""

    def __init__(
        self,
        catalog: DemoCatalog,
        clock: Callable[[], float] = time.time,
        tick_seconds: float = 5.0,
        history: int = 200,
    ):
        self.catalog = catalog
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.started = clock()
        self.snapshot = Snapshot(0, catalog.size, {}, frozenset(), (), ())
        self.recent: deque[dict] = deque(maxlen=history)
        self._clock_ticks = 0
        self._last_us = 0
        self._lock = threading.Lock()

    @property
    def ticks(self) -> int:
        return self.snapshot.version

    def history(self) -> list[dict]:
        """The most recent changes, newest first (copied: other threads append)."""
        with self._lock:
            return list(self.recent)

    def next_kind(self) -> str:
        return KINDS[self.snapshot.version % len(KINDS)]

    def sync(self) -> Snapshot:
        """Apply the changes the clock says are due; cheap when none are."""
        if self.tick_seconds <= 0:
            return self.snapshot
        due = int((self.clock() - self.started) // self.tick_seconds)
        if due > self._clock_ticks:
            with self._lock:
                self._clock_ticks = max(self._clock_ticks, due - _MAX_CATCH_UP)
                while self._clock_ticks < due:
                    self._clock_ticks += 1
                    self._apply(self.started + self._clock_ticks * self.tick_seconds)
        return self.snapshot

    def tick(self) -> dict:
        """Apply the next change immediately (demo_tick); returns its log entry."""
        self.sync()
        with self._lock:
            return self._apply(self.clock())

    # --- applying one change ----------------------------------------------------------

    def _apply(self, at: float) -> dict:
        snap = self.snapshot
        k = snap.version
        # Changes are timestamped after every base record, in strictly increasing order.
        at_us = max(int(at * 1_000_000), self._last_us + 1000, BASE_END_US + 1000)
        self._last_us = at_us
        kind = KINDS[k % len(KINDS)]
        index = snap.total if kind == "created" else self._pick(snap, k, kind)
        entry = {"tick": k + 1, "kind": kind, "at": from_us(at_us).isoformat()}
        if index is None:  # nothing suitable (a tiny catalog); the tick still passes
            self.snapshot = replace(snap, version=k + 1)
            entry["kind"] = "none"
        else:
            overlays, total, removed = dict(snap.overlays), snap.total, set(snap.removed)
            if kind == "created":
                overlays[index] = Overlay(serial=k + 1, modified_us=at_us, published_us=at_us)
                total += 1
            elif kind == "deleted":
                removed.add(index)
            else:
                overlays[index], detail = self._edit(snap, index, kind, k + 1, at_us)
                entry.update(detail)
            self.snapshot = self._next(snap, overlays, total, removed, index, kind, at_us)
            entry.update(self._describe(index))
        self.recent.appendleft(entry)
        return entry

    def _next(self, snap, overlays, total, removed, index, kind, at_us) -> Snapshot:
        moved, holes = snap.moved, snap.holes
        if kind in _MOVING:  # the dataset leaves its place in base (time) order
            moved = tuple(entry for entry in moved if entry[1] != index)
            if kind != "deleted":
                moved += ((at_us, index),)
            position = bisect.bisect_left(holes, index)
            if index < self.catalog.size and holes[position : position + 1] != (index,):
                holes = (*holes[:position], index, *holes[position:])
        return Snapshot(snap.version + 1, total, overlays, frozenset(removed), moved, holes)

    def _describe(self, index: int) -> dict:
        live = resolve(self.catalog, replace(self.snapshot, removed=frozenset()), index)
        return {
            "dataset_id": live.base.id,
            "dataset_name": live.base.name,
            "title": live.title,
            "organization": live.base.department.name,
            "theme": live.base.themes[0],
        }

    def _pick(self, snap: Snapshot, k: int, kind: str) -> int | None:
        """A live dataset fit for `kind`, rotating through departments to spread changes."""
        rng = random.Random(mix(self.catalog.seed, k, 7))
        wanted = (k * 5) % len(DEPARTMENTS)
        for attempt in range(800):
            index = rng.randrange(snap.total)
            if index in snap.removed:
                continue
            if attempt < 500 and self.catalog.department_index(index) != wanted:
                continue
            if _fits(resolve(self.catalog, snap, index), kind):
                return index
        return None

    def _edit(self, snap, index, kind, serial, at_us) -> tuple[Overlay, dict]:
        live = resolve(self.catalog, snap, index)
        ov = snap.overlays.get(index) or Overlay(serial=serial)
        ov = replace(ov, serial=serial, resources=dict(ov.resources))
        if kind in _BUMPING:
            ov = replace(ov, modified_us=at_us)
        if kind == "metadata":
            return _edit_metadata(ov, live, serial, at_us)
        if kind == "resource_added":
            slot = 3 + len(ov.added)
            spec = self.catalog.extra_resource(index, slot, at_us)
            return replace(ov, added=(*ov.added, spec)), {"resource_id": spec.id}
        res = _choose_resource(live, kind, serial)
        state = res.state
        if kind in {"content", "content_silent"}:
            state = replace(state, content_rev=state.content_rev + 1, served_us=at_us)
        elif kind == "schema":
            state = replace(state, schema_rev=state.schema_rev + 1, served_us=at_us)
        elif kind == "resource_removed":
            state = replace(state, removed=True)
        elif kind == "resource_unavailable":
            state = replace(state, broken=True)
        if kind in _BUMPING:
            listed = (state.content_rev, state.schema_rev)
            state = replace(state, modified_us=at_us, listed=listed)
        ov.resources[res.spec.slot] = state
        return ov, {"resource_id": res.spec.id}


def _usable(live: LiveDataset) -> list[LiveResource]:
    return [r for r in live.resources if not r.state.broken]


def _fits(live: LiveDataset | None, kind: str) -> bool:
    if live is None:
        return False
    usable = _usable(live)
    if kind == "schema":
        return any(r.spec.format == "CSV" for r in usable)
    if kind == "resource_removed":
        return len(usable) >= 2
    if kind in {"content", "content_silent", "resource_unavailable"}:
        return bool(usable)
    return True


def _choose_resource(live: LiveDataset, kind: str, serial: int) -> LiveResource:
    usable = _usable(live)
    if kind == "schema":
        usable = [r for r in usable if r.spec.format == "CSV"]
    if kind == "resource_removed":
        usable = usable[1:]  # keep the primary file; portals rarely drop it
    return usable[serial % len(usable)]


def _edit_metadata(ov: Overlay, live: LiveDataset, serial: int, at_us: int) -> tuple[Overlay, dict]:
    """Edit the title and one more field, as a data steward would."""
    edits = ov.edits + 1
    base = live.base
    ov = replace(ov, edits=edits, title=f"{base.title}（第{edits + 1}版）")
    which = ("notes", "keywords", "frequency")[serial // len(KINDS) % 3]
    if which == "notes":
        day = from_us(at_us).strftime("%Y年%m月%d日")
        ov = replace(ov, notes=f"{base.notes}{day}更新：补充字段说明，修正部分记录。")
    elif which == "keywords":
        extra = _EXTRA_KEYWORDS[edits % len(_EXTRA_KEYWORDS)]
        ov = replace(ov, keywords=tuple(dict.fromkeys((*live.keywords, extra))))
    else:
        texts = [t for group in FREQUENCY_TEXTS.values() for t in group if t != live.frequency]
        ov = replace(ov, frequency=texts[mix(serial, base.index) % len(texts)])
    return ov, {"fields": ["title", which]}


def bisect_moved(
    moved: tuple[tuple[int, int], ...], lo_us: int, hi_us: int
) -> list[tuple[int, int]]:
    """Entries of `moved` with lo_us <= time <= hi_us (moved is in time order)."""
    start = bisect.bisect_left(moved, (lo_us, -1))
    stop = bisect.bisect_right(moved, (hi_us, float("inf")))
    return list(moved[start:stop])
