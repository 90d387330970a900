"""DCAT-US 1.1 (Project Open Data data.json): stream the `dataset` array into records."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

import ijson

from subscribe.catalog.normalize import (
    clean_text,
    contact_text,
    is_schedule,
    normalize_date,
    normalize_format,
    normalize_frequency,
    normalize_open_type,
    split_list,
    url_suffix_format,
)
from subscribe.catalog.records import BadRecord, DatasetRecord, ResourceRecord

# Values portals put in `format`/`mediaType` that say nothing about the file.
_PLACEHOLDER_FORMATS = {
    "", "UNKNOWN", "OTHER", "DATA", "FILE", "APPLICATION/UNKNOWN", "APPLICATION/OCTET-STREAM",
    "BINARY/OCTET-STREAM",
}  # fmt: skip
# URL suffixes of server-side pages: the resource is a web page, whatever the script is.


class RecordError(ValueError):
    """One record cannot be mapped; the message is the BadRecord reason."""


def records(
    stream: BinaryIO,
    superseded: dict[int, str] | None = None,
    items: str = "dataset.item",
    told: dict[int, str] | None = None,
) -> Iterator[DatasetRecord | BadRecord]:
    """Map every item of the top-level `dataset` array (``items="item"``: of a top-level
    array, Project Open Data 1.0's bare list of datasets), reading the stream incrementally.

    ijson builds one dataset object at a time, so memory follows the largest record,
    not the catalog. JSON syntax errors propagate (the caller decides what they mean).
    ``superseded`` ({item index: why}, from listed_twice.ListedTwice) names items that
    become BadRecords unread: older listings of a dataset the file lists again; ``told``
    ({item index: identifier}) those published under a told-apart identifier (different
    datasets sharing one).
    """
    superseded, told = superseded or {}, told or {}
    for index, item in enumerate(ijson.items(stream, items, use_float=True)):
        reference, identifier = f"dataset[{index}]", None
        if isinstance(item, dict):  # the stated identifier: the record's, when it has one
            identifier = clean_text(_scalar(item.get("identifier"))) or None
            reference = identifier or reference
        if index in superseded:
            yield BadRecord(superseded[index], reference, identifier=identifier)
        elif index in told:
            record = guarded(dataset_record, item, reference=reference, identifier=told[index])
            if isinstance(record, DatasetRecord):
                record.identifier = told[index]
            yield record
        else:
            yield guarded(dataset_record, item, reference=reference, identifier=identifier)


def guarded(
    build: Callable[..., DatasetRecord], *args, reference: str, identifier: str | None = None
) -> DatasetRecord | BadRecord:
    """build(*args), or the BadRecord that says why not (with ``identifier``: the one the
    record states, so that its stored dataset is kept, writer.mark_unseen_deleted)."""
    try:
        return build(*args)
    except RecordError as exc:
        return BadRecord(str(exc), reference, identifier=identifier)
    except Exception as exc:  # one odd record must never stop the harvest
        return BadRecord(f"unreadable record: {exc!r}", reference, identifier=identifier)


def dataset_record(item) -> DatasetRecord:
    """One DCAT-US dataset object as a DatasetRecord; RecordError when it cannot be one."""
    if not isinstance(item, dict):
        raise RecordError(f"dataset entry is a JSON {_json_type(item)}, not an object")
    title = clean_text(_scalar(item.get("title")))
    if not title:
        raise RecordError("dataset has no title")
    publisher = _publisher_name(item.get("publisher"))
    landing_page = clean_text(_scalar(item.get("landingPage")))
    identifier = clean_text(_scalar(item.get("identifier"))) or landing_page
    open_type, open_raw = normalize_open_type(_scalar(item.get("accessLevel")))
    modified = normalize_date(_scalar(item.get("modified")), latest=True)
    frequency, frequency_raw = normalize_frequency(_scalar(item.get("accrualPeriodicity")))
    if frequency == "unknown" and is_schedule(modified.raw):
        # DKAN-style `modified: "R/P1D"`: the update rhythm, written in the date field.
        frequency, frequency_raw = normalize_frequency(modified.raw)
    resources = _resources(item.get("distribution"))
    return DatasetRecord(
        identifier=identifier or derived_identifier(title, publisher),
        title=title,
        description=clean_text(_scalar(item.get("description"))),
        publisher=publisher,
        themes=text_list(item.get("theme")),
        keywords=text_list(item.get("keyword")),
        formats=unique_formats(resources),
        open_type=open_type,
        open_type_raw=open_raw,
        frequency=frequency,
        frequency_raw=frequency_raw,
        issued=normalize_date(_scalar(item.get("issued"))),
        modified=modified,
        landing_page=landing_page,
        license=clean_text(_scalar(item.get("license"))),
        resources=resources,
        contact_point=contact_point(item.get("contactPoint")),
    )


def contact_point(value) -> str:
    """A DCAT-US ``contactPoint`` (vcard:Contact ``{fn, hasEmail: "mailto:…"}``) as the
    project writes a contact point (normalize.contact_text: "Name <e-mail>", either
    alone when only one is given); a plain text as given; "" for none."""
    if isinstance(value, list):
        return next((found for item in value if (found := contact_point(item))), "")
    if not isinstance(value, dict):
        return clean_text(_scalar(value)) if isinstance(_scalar(value), str) else ""
    return contact_text(clean_text(_scalar(value.get("fn"))),
                        clean_text(_scalar(value.get("hasEmail"))))  # fmt: skip


def _publisher_name(publisher) -> str:
    # The dataset's own publisher, not the top of its subOrganizationOf chain: that is
    # the office a subscriber recognises ("NCES", not "U.S. Government").
    if isinstance(publisher, dict):
        return clean_text(_scalar(publisher.get("name")))
    return clean_text(_scalar(publisher))


def _resources(distribution) -> list[ResourceRecord]:
    if distribution is None:
        return []
    if isinstance(distribution, dict):  # a lone object instead of a one-item array
        distribution = [distribution]
    if not isinstance(distribution, list):
        raise RecordError(f"distribution is a JSON {_json_type(distribution)}, not an array")
    resources = []
    for position, dist in enumerate(distribution):
        if not isinstance(dist, dict):
            raise RecordError(
                f"distribution[{position}] is a JSON {_json_type(dist)}, not an object"
            )
        url = clean_text(_scalar(dist.get("downloadURL"))) or clean_text(
            _scalar(dist.get("accessURL"))
        )
        if not url:  # described but not reachable (restricted files): nothing to link to
            continue
        resources.append(
            ResourceRecord(
                url=url,
                name=clean_text(_scalar(dist.get("title"))),
                format=resource_format(url, dist.get("format"), dist.get("mediaType")),
                size=byte_size(dist.get("byteSize")),
            )
        )
    return resources


# --- helpers shared with the DCAT-AP mapper ------------------------------------------


def derived_identifier(title: str, publisher: str) -> str:
    """A stable identity for a dataset that has neither identifier nor landing page."""
    digest = hashlib.sha256(f"{title}\x1f{publisher}".encode()).hexdigest()
    return f"sha256:{digest[:32]}"


def text_list(value) -> list[str]:
    """Keywords/themes: an array is taken item by item, a single string is split."""
    if isinstance(value, list):
        # Array items are already separate: re-splitting would cut "TIGER/Line" or
        # "Efficient, effective, and accountable government" into pieces.
        items = (clean_text(_scalar(v)) for v in value)
        return list(dict.fromkeys(item for item in items if item))
    return split_list(_scalar(value))


def resource_format(url: str, declared, media_type) -> str:
    """The declared format, else the media type, else the URL's file suffix."""
    names = [normalize_format(_scalar(v)) for v in (declared, media_type)]
    names = [name for name in names if name not in _PLACEHOLDER_FORMATS]
    known = [name for name in names if "/" not in name]  # "/" left: an unmapped MIME type
    # DCAT-US `format` is free text ("Microsoft Excel Document", "Web Page"); a phrase
    # yields to a media type that names a format, so the facet reads XLS, not three spellings.
    if len(known) == 2 and " " in known[0]:
        return known[1]
    if known:
        return known[0]
    return url_suffix_format(url) or next(map(_mime_subtype, names), "")


def _mime_subtype(mime: str) -> str:
    # APPLICATION/VND.GOOGLE-EARTH.KML+XML -> KML, TEXT/JSON -> JSON
    subtype = mime.split(";")[0].split("/", 1)[1].split("+")[0]
    return normalize_format(subtype.rsplit(".", 1)[-1].removeprefix("X-"))


def unique_formats(resources: Iterable[ResourceRecord]) -> list[str]:
    return list(dict.fromkeys(r.format for r in resources if r.format))


def byte_size(value) -> int | None:
    value = _scalar(value)
    if isinstance(value, bool) or value is None:
        return None
    try:
        size = int(float(value))
    except (TypeError, ValueError, OverflowError):
        return None
    return size if size >= 0 else None


def _scalar(value):
    """JSON-LD-ish {"@value": …} wrappers and one-item lists unwrapped to the plain value."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict) and "@value" in value:
        value = value["@value"]
    return None if isinstance(value, dict | list) else value


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", str: "string", int: "number", float: "number", list: "array"}.get(
        type(value), type(value).__name__
    )
