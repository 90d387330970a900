"""What every harvester yields: one normalized record per upstream dataset, or a bad record.

Harvesters know formats; the harvest service knows the database. This module is the
contract between them, so a new format only has to produce these two shapes.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from operator import attrgetter

from subscribe.catalog.normalize import PartialDate, credible, date_note, normalize_date
from subscribe.catalog.text import (
    NAME_MAX,
    TITLE_MAX,
    clean_description,
    clean_line,
    shorten,
)
from subscribe.models_base import utcnow

# Update frequency enum (PRODUCT.md "Catalog ingestion"), with the steps of the Dublin
# Core / EU frequency vocabularies that catalogs commonly declare between its rungs:
# biweekly (每两周, 半月), semiannual (每半年), biennial (每两年). Without them a 每两周
# dataset was shown and filtered as monthly and counted late only after ~7 weeks.
FREQUENCIES = (
    "realtime",
    "daily",
    "weekly",
    "biweekly",
    "monthly",
    "quarterly",
    "semiannual",
    "yearly",
    "biennial",
    "irregular",
    "unknown",
)
# Open type enum: 无条件开放 / 有条件开放 / 依申请开放 / 不予开放, plus unknown.
OPEN_TYPES = ("unconditional", "conditional", "on_request", "not_open", "unknown")


@dataclass(slots=True)
class ResourceRecord:
    """One downloadable file or API of a dataset.

    ``url`` is "" for a resource the catalog lists without an address (CKAN lets a
    resource's url be empty: an upload pending, a package_update payload that omits it):
    it is kept, named and typed, shown without a download link and never fetched (no
    content check, left out of bundles as ``no_url``)."""

    url: str
    name: str = ""
    format: str = ""
    size: int | None = None
    checksum: str | None = None
    identifier: str | None = None


OPTIONAL_FIELDS = ("contact_point", "record_count", "upstream_name")
# Fields that say how the catalog names a dataset, not what it says of it: kept (and in
# the hash, so a stored dataset gets them filled in), never a change for subscribers.
IDENTITY_FIELDS = ("upstream_name", "identifier")
DISTINGUISHED_LIMIT = 200  # characters of a told-apart column's header and of its value


@dataclass(slots=True)
class DatasetRecord:
    """A dataset as the harvest service stores it; every field already normalized."""

    identifier: str  # stable id within the source (upstream id, or a derived identity)
    title: str
    description: str = ""
    publisher: str = ""
    themes: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=list)
    open_type: str = "unknown"
    open_type_raw: str = ""
    frequency: str = "unknown"
    frequency_raw: str = ""
    # issued/modified: give a PartialDate (normalize.normalize_date), or anything it reads
    # (text, datetime, date, epoch): either way the record keeps the comparable instant
    # (start of the period), its precision (normalize.PRECISIONS: year, half, quarter,
    # month, week, day or datetime) and the raw text. A placeholder ("n/a", "暂无") or a
    # date after the harvest (normalize.credible) keeps only its raw text.
    issued: datetime | None = None
    issued_precision: str = ""
    issued_raw: str = ""
    modified: datetime | None = None
    modified_precision: str = ""
    modified_raw: str = ""
    landing_page: str = ""
    license: str = ""
    resources: list[ResourceRecord] = field(default_factory=list)
    contact_point: str = ""  # phone, e-mail or contact as the catalog writes it
    record_count: int | None = None  # 数据量: rows/records the dataset holds, as stated
    # Every language the source gave, {tag: {"title", "description", "keywords"}} in
    # languages.py's preference order; {} when the source tags no language.
    translations: dict[str, dict] = field(default_factory=dict)
    # The catalog's own short name besides the identifier, "" when none: CKAN's package
    # ``name`` (its portal-unique URL slug), which identifies a package that names no id
    # (a package_update payload) when the identity scheme changes (ckan.carry_names).
    upstream_name: str = ""
    # What tells this dataset apart from its twins (rows of the same title and publisher,
    # or the same id): {column header: value} of the columns no field holds (所属区县:
    # 西山区), as tabular_identity chose them; {} for a dataset with no twins (most).
    distinguished_by: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._clean_text()
        now = None
        for name in ("issued", "modified"):
            given = getattr(self, name)
            if given is None or (
                isinstance(given, datetime) and getattr(self, f"{name}_precision")
            ):
                continue  # nothing, or an instant whose precision the harvester stated
            found = given if isinstance(given, PartialDate) else normalize_date(given)
            # A date in the future is not credible (normalize.credible): raw text only.
            found = credible(found, now or (now := utcnow()))
            setattr(self, name, found.value)
            setattr(self, f"{name}_precision", found.precision)
            setattr(self, f"{name}_raw", found.raw or getattr(self, f"{name}_raw"))

    def _clean_text(self) -> None:
        # Every harvester builds records here, so this is the one place text is cleaned
        # (control characters out, whitespace normalised; descriptions keep line breaks
        # and HTML descriptions become text).
        # Titles and names are cut here too, not only where the writer fills the columns:
        # the version snapshot and the events' before/after are this record's canonical
        # form, and messages, feeds and the events API are built from them.
        self.title = shorten(clean_line(self.title), TITLE_MAX)
        self.description = clean_description(self.description)
        for translation in self.translations.values():
            # Turned into text as the description is: HTML shown, indexed and mailed as
            # its source was (bb9 F13: <script> in an English description was searchable).
            if isinstance(translation, dict) and isinstance(translation.get("description"), str):
                translation["description"] = clean_description(translation["description"])
        self.publisher = shorten(clean_line(self.publisher), NAME_MAX)
        self.contact_point = shorten(clean_line(self.contact_point), NAME_MAX)
        self.themes = [t for t in map(clean_line, self.themes) if t]
        self.keywords = [k for k in map(clean_line, self.keywords) if k]
        for resource in self.resources:
            resource.name = clean_line(resource.name)
        if self.distinguished_by:
            self.distinguished_by = {
                clean_line(name)[:DISTINGUISHED_LIMIT]: clean_line(value)[:DISTINGUISHED_LIMIT]
                for name, value in self.distinguished_by.items()
            }

    def canonical(self) -> dict:
        """The comparable form: a version changes only when this changes.

        The same dict as ``dataclasses.asdict`` gives (containers copied), built field by
        field: a generic walk over every value was a tenth of a first harvest."""
        data = dict(zip(_DATASET_FIELDS, _dataset_values(self), strict=True))  # in C
        for name in _COPIED_FIELDS:
            data[name] = _plain(data[name])
        data["resources"] = [_resource_plain(r) for r in self.resources]
        # Fields added later are left out while empty, so records harvested before they
        # existed keep their hash (no version or change event from an upgrade alone).
        for name in OPTIONAL_FIELDS:
            if data[name] in ("", None):
                del data[name]
        # Left out while empty too (a dataset with no twins: nearly all), so no stored
        # hash changes; how its appearing and going away read is diff.QUIET_WHEN_GONE.
        if not data["distinguished_by"]:
            del data["distinguished_by"]
        data["issued"] = self.issued.isoformat() if self.issued else None
        data["modified"] = self.modified.isoformat() if self.modified else None
        return data

    def content_hash(self) -> str:
        return canonical_hash(self.canonical())


def date_notes(record: DatasetRecord) -> list[tuple[str, str]]:
    """Why the record's issued/modified has no date although the source wrote something:
    [(field, note)] with normalize.DATE_NOTES' codes ("placeholder", "schedule",
    "future", "unreadable"); [] when both dates were read or left empty (most records)."""
    notes = []
    for name, raw in (("issued", record.issued_raw), ("modified", record.modified_raw)):
        if raw and getattr(record, name) is None:
            notes.append((name, date_note(raw, None, latest=name == "modified")))
    return notes


def _resource_plain(resource) -> dict:
    if type(resource) is not ResourceRecord:
        return _plain(resource)
    return dict(zip(_RESOURCE_FIELDS, map(_plain, _resource_values(resource)), strict=True))


def _plain(value):
    """dataclasses.asdict's result (dataclasses to dicts, containers copied), several
    times faster: asdict deep-copies even immutable values, and the writer calls this
    for every harvested record."""
    kind = type(value)
    if kind in _IMMUTABLE:
        return value
    if kind is list:
        return [_plain(item) for item in value]
    if kind is dict:
        return {key: _plain(item) for key, item in value.items()}
    names = _FIELD_NAMES.get(kind)
    if names is None and is_dataclass(value):
        names = _FIELD_NAMES[kind] = tuple(f.name for f in fields(value))
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    return copy.deepcopy(value)


_IMMUTABLE = frozenset({str, int, float, bool, type(None), datetime, date})
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}
_CONTAINER_FIELDS = ("themes", "keywords", "formats", "resources", "translations",
                     "distinguished_by")  # fmt: skip
# Every other field holds a str, int, None or datetime (immutable: no copy needed).
_DATASET_FIELDS = tuple(f.name for f in fields(DatasetRecord))
_SCALAR_FIELDS = frozenset(_DATASET_FIELDS) - frozenset(_CONTAINER_FIELDS)
_RESOURCE_FIELDS = tuple(f.name for f in fields(ResourceRecord))
# Every field's value in one C call (a getattr and a test per field was most of canonical).
_dataset_values = attrgetter(*_DATASET_FIELDS)
_resource_values = attrgetter(*_RESOURCE_FIELDS)
_COPIED_FIELDS = tuple(name for name in _CONTAINER_FIELDS if name != "resources")


def canonical_hash(canonical: dict) -> str:
    """SHA-256 (hex) of a record's canonical form: equal hashes, equal records."""
    return canonical_json(canonical)[1]


def canonical_json(canonical: dict) -> tuple[str, str]:
    """(JSON text, SHA-256 hex of it) of a record's canonical form. The text (sorted keys,
    UTF-8) is what the hash covers; the writer stores it as is as the version's snapshot
    and the event's ``after`` instead of serialising the same dict twice more."""
    payload = _encode(canonical)
    return payload, hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _canonical_encoder() -> Callable[[dict], str]:
    """``json.dumps(value, sort_keys=True, ensure_ascii=False)``, the same text. dumps
    builds a JSONEncoder and its C encoder at every call (a third of its time for a
    record); this C encoder is made once. Without a circular-reference check: a record's
    canonical form is a tree."""
    make = json.encoder.c_make_encoder
    if make is None:  # an interpreter without the C accelerator
        return lambda value: json.dumps(value, sort_keys=True, ensure_ascii=False)
    default = json.JSONEncoder().default  # the same TypeError for a value JSON cannot hold
    encode = make(None, default, json.encoder.encode_basestring, None, ": ", ", ", True, False,
                  True)  # fmt: skip
    return lambda value: "".join(encode(value, 0))


_encode = _canonical_encoder()


@dataclass(slots=True)
class BadRecord:
    """A record that could not be read: counted and reported, never fatal to the harvest."""

    reason: str
    reference: str = ""  # what identifies the record to a person: row number, id, title
    # The identifier of the dataset it most likely is, when that could be read (an id
    # cell before a row's break, a package's id): the writer keeps that stored dataset
    # as it is this run (not deleted, not changed). None: unknown (writer.py, deletions).
    identifier: str | None = None


@dataclass(slots=True)
class RawRecord:
    """A source row not yet parsed: its identity, a fingerprint of the raw row (and of
    everything else its record is built from), and how to build the record.

    The writer builds it only when the stored dataset's ``source_fingerprint`` differs
    (new, edited, deleted before, or built by other code), so an unchanged row costs a
    hash, not a parse. ``build`` returns the DatasetRecord (with this identifier); an
    exception from it makes the row a BadRecord "unreadable row: …" with ``reference``.
    """

    identifier: str
    fingerprint: str  # hex, at most 40 characters
    build: Callable[[], DatasetRecord]
    reference: str = ""


class HarvestError(Exception):
    """The source as a whole failed (unreachable, not the format, `success: false`)."""


class MappingError(HarvestError):
    """The source's mapping cannot be applied: an unknown key or field, a value of the
    wrong type, a column it names that the file lacks. The operator's to fix, so API
    answers key it ``errors.mapping`` (the field the request set), not ``errors.source``."""
