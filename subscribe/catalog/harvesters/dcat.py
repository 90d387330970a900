"""DCAT harvester: download once, detect DCAT-US data.json or DCAT-AP JSON-LD, delegate."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO

import ijson
import requests

from subscribe.catalog.harvesters import dcat_ap, dcat_us
from subscribe.catalog.harvesters.base import HarvestContext, RecordStream, fetch, json_error_line
from subscribe.catalog.harvesters.carry_over import carry_over
from subscribe.catalog.harvesters.listed_twice import ListedTwice
from subscribe.catalog.harvesters.tabular_identity import TOLD_APART, normalized
from subscribe.catalog.normalize import clean_text
from subscribe.catalog.origins import identity_moves, split_origin
from subscribe.catalog.records import DatasetRecord, HarvestError
from subscribe.catalog.urls import fold_url
from subscribe.transport_errors import transport_reason

# Where fields are read from (harvest.harvested_as; see ckan.READINGS): the first run
# after a change stores the new readings quietly (harvest.rereading).
READINGS = {"contact_point": "DCAT-US contactPoint fn <hasEmail>"}
_CHUNK = 1 << 16
_BOM = b"\xef\xbb\xbf"
_VALUE_EVENTS = {"start_map", "start_array", "string", "number", "boolean", "null"}
# An entry's scalars that tell a dataset listed twice (listed_twice.ListedTwice)
_ENTRY_KEYS = {f"dataset.item.{key}" for key in ("identifier", "landingPage", "modified", "title")}
_DOWNLOAD_URL = "dataset.item.distribution.item.downloadURL"
# Keys that tell a bare array's items apart (_pod_items): Project Open Data's, CKAN's.
_POD_KEYS = {"accessLevel", "keyword", "identifier", "distribution", "landingPage",
             "contactPoint", "bureauCode"}  # fmt: skip
_CKAN_KEYS = {"metadata_modified", "notes", "owner_org", "num_resources"}
_ITEM_MARKS = {"title"} | _POD_KEYS | _CKAN_KEYS


def harvest(ctx: HarvestContext) -> RecordStream:
    """Yield one record per dataset of the catalog at ctx.url (DCAT-US or DCAT-AP)."""
    with _download(ctx) as body:
        shape = _sniff(body, ctx.url)
        if shape.kind == "dcat-us":
            ctx.on_total(shape.datasets)
            twice = shape.listed_twice
            listed = twice.identifiers()
            items = "item" if shape.top == "array" else "dataset.item"
            superseded, told = twice.superseded(), twice.told
            report_told_apart(ctx, twice)
            moved = carried_identities(
                ctx, listed, lambda fresh: _entries(body, items, superseded, fresh, told)
            )
            try:
                records = dcat_us.records(body, superseded, items, told)
                yield from with_identities(records, moved)
            except ijson.JSONError as exc:  # the sniff pass read it fine; the file changed?
                raise HarvestError(
                    f"{ctx.url}: data.json broke off while reading: {json_error_line(exc)}"
                ) from exc
        else:
            try:
                document = json.load(body)
            except ValueError as exc:
                raise HarvestError(f"{ctx.url} is not valid JSON: {json_error_line(exc)}") from exc
            yield from dcat_ap.records(
                document, ctx.on_total,
                lambda listed, entries: carried_identities(ctx, listed, entries),
                lambda twice: report_told_apart(ctx, twice),
            )  # fmt: skip
    # Only now has every upstream dataset been seen; an error above leaves it False so
    # the service never marks datasets deleted after a partial read.
    ctx.full_listing = True


Entries = Callable[[set[str]], dict[str, tuple[str, str, str]]]
TOLD_APART_SHOWN = 50  # identifiers named in the mapping report's identity.told_apart


def report_told_apart(ctx: HarvestContext, twice: ListedTwice) -> None:
    """Say in the mapping report (``identity.told_apart``) which identifiers different
    datasets shared, each published as ``<identifier>#<10 hex>`` (listed_twice). A run's
    only: a preview's mapping is a tabular one (the preview page and CLI show columns)."""
    if not twice.shared or ctx.stored_identifiers is None:
        return
    shared = dict(sorted(twice.shared.items())[:TOLD_APART_SHOWN])
    told_apart = {
        "why": "different datasets (no title or URL in common) listed under one identifier:"
        " each published as <identifier>#<10 hex> of its landing page, else its title",
        "identifiers": len(twice.shared),
        "datasets": sum(twice.shared.values()),
        "shared": shared,
    }
    identity = {**(ctx.report or {}).get("identity", {}), "told_apart": told_apart}
    ctx.report = {**(ctx.report or {}), "identity": identity}


def carried_identities(ctx: HarvestContext, listed: set[str],
                       entries: Entries | None = None) -> dict[str, str]:  # fmt: skip
    """{listed identifier: stored identifier} of datasets identified by a URL whose
    origin moved, or that moved by one base mapping (a portal moved under a path
    prefix: origins.identity_moves; without it a portal moving to https or to /portal
    deleted and created every dataset identified by its IRI or landing page); {}
    outside a harvest into the database (a preview). Those carried by a base mapping go
    to ``ctx.carried_bases`` with their bases. The stored identifiers go to
    ``ctx.carried_identifiers``, and the writer reports only those whose URLs moved in
    this run (``origin_moved_identifiers``: a move is reported once, in the run it
    happened); each with its listed identifier to ``ctx.carried_listed``: the writer
    stores that one at the end of the run (bb9 F2: a dataset published later at the old
    URL is a new dataset, not the moved one's identity)."""
    if ctx.stored_identifiers is None:
        return {}
    tally = _Tally(listed, ctx.stored_identifiers())
    moved, bases = identity_moves(listed, tally.identifiers())
    tally.drain()
    ctx.stored_counts = (tally.known, tally.unlisted)
    if moved and ctx.carried_identifiers is not None:
        ctx.carried_identifiers.update(moved.values())
    if bases and ctx.carried_bases is not None:
        ctx.carried_bases.update(bases)
    if moved and ctx.carried_listed is not None:
        ctx.carried_listed.update((stored, listed) for listed, stored in moved.items())
    if entries is not None:
        moved.update(carried_schemes(ctx, listed, moved, entries))
    return moved


class _Tally:
    """The source's stored identifiers, streamed once: how many the listing names, and
    whether one it does not (carried_schemes asks, after identity_moves read them)."""

    def __init__(self, listed: set[str], rows) -> None:
        self.listed, self.rows = listed, rows
        self.known = 0
        self.unlisted = 0

    def identifiers(self):
        for row in self.rows:
            identifier = row[0]
            if identifier in self.listed:
                self.known += 1
            else:
                self.unlisted += 1
            yield identifier

    def drain(self) -> None:
        for _identifier in self.identifiers():  # what identity_moves did not read
            pass


def carried_schemes(ctx: HarvestContext, listed: set[str], moved: dict[str, str],
                    entries_of: Entries) -> dict[str, str]:  # fmt: skip
    """{listed identifier: stored identifier} of entries (data.json items, DCAT-AP
    dataset nodes) whose identifier is
    not stored, each taking the stored dataset the listing no longer names that it
    matches one to one: by landing page, else by title and publisher (carry_over; bb8
    F21: a catalog switching from NCES_2017002 to https://data.ed.gov/dataset/NCES_2017002,
    nothing else changed, deleted and created all 51 datasets). Said in the mapping
    report (``identity.carried_over``), no events; the writer stores the listed
    identifiers at the end of the run (``ctx.carried_listed``). Only when the listing
    names an identifier not stored while a stored one goes unlisted (counted as
    carried_identities streamed them): then one more read of the stored datasets and one
    more look at those entries (``entries_of``: their landing page, title and publisher
    as their records say, older listings set aside skipped)."""
    if ctx.stored_counts is None or ctx.stored_identities is None:
        return {}
    known, unlisted = ctx.stored_counts
    if known + len(moved) >= len(listed) or unlisted <= len(moved):
        return {}
    carried = set(moved.values())
    stored: set[str] = set()
    orphans: dict[int, tuple[str, str, str, str]] = {}
    for dataset_id, identifier, title, publisher, landing in ctx.stored_identities():
        stored.add(identifier)
        if identifier not in listed and identifier not in carried:
            orphans[dataset_id] = (identifier, title, publisher, landing)
    fresh = {identifier for identifier in listed - stored if identifier not in moved}
    if not fresh or not orphans:
        return {}
    entries = entries_of(fresh)  # identifier -> landing page, title, publisher
    rows = dict(enumerate(sorted(entries)))

    def page(value: str) -> int:
        return hash(fold_url(value)) if value else 0

    def named(title: str, publisher: str) -> int:
        return hash((normalized(title), normalized(publisher))) if title else 0

    rounds = [
        ("landing page", lambda left: {i: page(entries[rows[i]][0]) for i in left},
         lambda left: {s: page(orphans[s][3]) for s in left}),
        ("title + publisher", lambda left: {i: named(*entries[rows[i]][1:]) for i in left},
         lambda left: {s: named(*orphans[s][1:3]) for s in left}),
    ]  # fmt: skip
    # A URL identifier replaced by another URL is identity_moves' (a move, or news):
    # URL entries pair with stored datasets identified otherwise, then the others.
    urls = {i for i, identifier in rows.items() if split_origin(identifier)}
    # ... except a URL shared by different datasets (listed_twice): its told-apart
    # identifiers (URL#0123456789) and it are one family, carried either way.
    families = {_family(identifier) for identifier in rows.values()}
    plain = {s for s, (identifier, *_rest) in orphans.items()
             if not split_origin(identifier) or _family(identifier) in families}  # fmt: skip
    paired, found = carry_over(rounds, urls, plain)
    more, also = carry_over(rounds, set(rows) - urls, set(orphans) - set(paired.values()))
    paired.update(more)
    found["by"] = {name: found["by"].get(name, 0) + also["by"].get(name, 0)
                   for name in {*found["by"], *also["by"]}}  # fmt: skip
    found["datasets"] = len(paired)
    found["ambiguous"] += also["ambiguous"]
    found["unpaired_rows"] = len(rows) - len(paired)
    found["unpaired_stored"] = len(orphans) - len(paired)
    if not paired:
        return {}
    schemes = {rows[i]: orphans[s][0] for i, s in paired.items()}
    if ctx.carried_listed is not None:
        ctx.carried_listed.update((stored, listed) for listed, stored in schemes.items())
    why = "identifiers not stored took over stored datasets the catalog no longer lists"
    identity = {**(ctx.report or {}).get("identity", {}), "carried_over": {"why": why, **found}}
    ctx.report = {**(ctx.report or {}), "identity": identity}
    return schemes


def _family(identifier: str) -> str:
    """An identifier without its told-apart suffix (listed_twice: URL#0123456789)."""
    return identifier[:-11] if TOLD_APART.search(identifier) else identifier


def _entries(
    body: BinaryIO, items: str, superseded: dict[int, str], fresh: set[str],
    told: dict[int, str] | None = None,
) -> dict[str, tuple[str, str, str]]:  # fmt: skip
    """carried_schemes' entries of a data.json: one more streaming pass over the file,
    the records of the entries named ``fresh`` built (the older listings set aside
    skipped; ``told``: entries told apart, listed_twice), their landing page, title and
    publisher."""
    told = told or {}
    found: dict[str, tuple[str, str, str]] = {}
    start = body.tell()
    try:
        for index, item in enumerate(ijson.items(body, items, use_float=True)):
            if not isinstance(item, dict) or index in superseded:
                continue
            landing = clean_text(dcat_us._scalar(item.get("landingPage")))
            identifier = clean_text(dcat_us._scalar(item.get("identifier"))) or landing
            identifier = told.get(index, identifier)
            if identifier in fresh and identifier not in found:
                record = dcat_us.guarded(dcat_us.dataset_record, item, reference=identifier)
                if isinstance(record, DatasetRecord):
                    found[identifier] = (record.landing_page, record.title, record.publisher)
    finally:
        body.seek(start)
    return found


def with_identities(records: RecordStream, moved: dict[str, str]) -> RecordStream:
    """The records, those named in ``moved`` under their stored identifier."""
    for record in records:
        if moved and isinstance(record, DatasetRecord) and record.identifier in moved:
            record.identifier = moved[record.identifier]
        yield record


@contextmanager
def _download(ctx: HarvestContext) -> Iterator[BinaryIO]:
    """The response body in an anonymous temp file, positioned at the first JSON byte.

    Spooling to disk keeps memory flat whatever the catalog size, lets detection read the
    file twice, and frees the HTTP connection before the (slow) consumer starts writing.
    """
    response = fetch(ctx, ctx.url, stream=True, hooks={"response": _close_if_error})
    with response, tempfile.TemporaryFile() as body:
        try:
            for chunk in response.iter_content(_CHUNK):  # undoes gzip/deflate encoding
                body.write(chunk)
        except requests.RequestException as exc:
            reason = transport_reason(exc, ctx.timeout)
            raise HarvestError(f"download of {ctx.url} broke off: {reason}") from exc
        response.close()
        body.seek(0)
        if body.read(len(_BOM)) != _BOM:
            body.seek(0)
        yield body


def _close_if_error(response: requests.Response, *args, **kwargs) -> None:
    # fetch() raises on HTTP errors without closing; a streamed body left unread would
    # keep its socket open until garbage collection.
    if response.status_code >= 400:
        response.close()


@dataclass
class _Shape:
    """What one streaming pass over the file learnt about its top level."""

    top: str = ""  # "map", "array" or "" (a bare scalar)
    keys: set[str] = field(default_factory=set)
    conforms_to: list[str] = field(default_factory=list)
    dataset_array: bool = False
    datasets: int = 0
    inline_context: bool = False
    jsonld_items: bool = False  # a top-level array of nodes (expanded/flattened JSON-LD)
    # A top-level array of Project Open Data datasets (POD 1.0's bare list, no catalog
    # object): its items' keys of _ITEM_MARKS (_pod_items), no "@context"/"@id" on any.
    item_keys: set[str] = field(default_factory=set)  # of _ITEM_MARKS, on any item
    array_at_keys: bool = False  # a top-level array's items with "@…" keys
    kind: str = ""
    # data.json's entries by identifier and modified date: older listings of a dataset
    listed_twice: ListedTwice = field(default_factory=ListedTwice)
    entry: dict = field(default_factory=dict)  # the scalars of the entry being read


def _sniff(body: BinaryIO, url: str) -> _Shape:
    """Classify the document in one streaming pass; HarvestError if it is neither format.

    The pass also validates the whole JSON up front, so a truncated data.json fails
    before any record is yielded instead of after a partial harvest.
    """
    start = body.tell()
    head = body.read(512).lstrip()
    body.seek(start)
    if head[:1] == b"<":
        kind = "an HTML page" if b"html" in head[:512].lower() else "XML"
        raise HarvestError(f"{url} returned {kind}, not a DCAT JSON catalog")
    shape = _Shape()
    try:
        for prefix, event, value in ijson.parse(body, use_float=True):
            _observe(shape, prefix, event, value)
    except ijson.JSONError as exc:
        raise HarvestError(f"{url} is not valid JSON: {json_error_line(exc)}") from exc
    finally:
        body.seek(start)
    shape.kind = _classify(shape, url)
    return shape


def _observe(shape: _Shape, prefix: str, event: str, value) -> None:
    if shape.top == "array" and prefix:
        # A bare array's items are observed as a data.json's "dataset" items.
        if prefix == "item" and event == "map_key":
            if value in ("@context", "@id", "@graph"):
                shape.jsonld_items = True
            elif value in _ITEM_MARKS:
                shape.item_keys.add(value)
        prefix = f"dataset.{prefix}"
    if prefix == "":
        if event == "map_key":
            shape.keys.add(value)
        elif not shape.top:
            shape.top = {"start_map": "map", "start_array": "array"}.get(event, "scalar")
    elif prefix == "dataset.item" and event in _VALUE_EVENTS:
        shape.datasets += 1
        shape.entry = {"urls": []}
    elif prefix in _ENTRY_KEYS and event in ("string", "number"):
        shape.entry[prefix] = str(value)
    elif prefix == _DOWNLOAD_URL and event == "string":
        shape.entry["urls"].append(value)
    elif prefix == "dataset.item" and event == "end_map":
        entry = shape.entry
        landing = entry.get("dataset.item.landingPage", "")
        shape.listed_twice.add(
            shape.datasets - 1,
            identifier=entry.get("dataset.item.identifier") or landing,
            modified=entry.get("dataset.item.modified", ""),
            title=entry.get("dataset.item.title", ""),
            urls=[landing, *entry["urls"]],
            landing=landing,
        )
    elif prefix == "dataset" and event == "start_array":
        shape.dataset_array = True
    elif prefix in ("conformsTo", "conformsTo.item") and event == "string":
        shape.conforms_to.append(value)
    elif prefix == "@context" and event == "start_map":
        shape.inline_context = True
    elif prefix == "dataset.item" and event == "map_key" and value.startswith("@"):
        shape.array_at_keys = True


def _pod_items(keys: set[str]) -> bool:
    """A top-level array's items are Project Open Data datasets: a plain ``title`` and a
    POD field, and none of CKAN's package fields (a CKAN package list has a title too)."""
    return "title" in keys and bool(keys & _POD_KEYS) and not keys & _CKAN_KEYS


def _classify(shape: _Shape, url: str) -> str:
    if shape.top == "map":
        declares_pod = any("project-open-data" in c for c in shape.conforms_to)
        # A "dataset" term can also come from an inline JSON-LD context; without the POD
        # declaration, a dataset array next to an inline @context is read as JSON-LD.
        if declares_pod or (shape.dataset_array and not shape.inline_context):
            if not shape.dataset_array:
                raise HarvestError(f"{url} declares Project Open Data but has no 'dataset' array")
            return "dcat-us"
        if shape.keys & {"@graph", "@context"}:
            return "dcat-ap"
    elif shape.top == "array" and _pod_items(shape.item_keys) and not shape.jsonld_items:
        shape.dataset_array = True
        return "dcat-us"  # Project Open Data 1.0: a bare array of dataset objects
    elif shape.top == "array" and (shape.jsonld_items or shape.array_at_keys):
        return "dcat-ap"
    raise HarvestError(
        f"{url} is JSON but neither a DCAT-US data.json (no 'dataset' array or "
        "project-open-data conformsTo) nor DCAT-AP JSON-LD (no '@graph' or '@context')"
    )
