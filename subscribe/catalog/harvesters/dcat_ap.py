"""DCAT-AP JSON-LD: expand keys to full IRIs, index the graph by @id, map dcat:Dataset nodes."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from subscribe.catalog.harvesters.dcat_us import (
    RecordError,
    byte_size,
    derived_identifier,
    guarded,
    resource_format,
    unique_formats,
)
from subscribe.catalog.harvesters.listed_twice import ListedTwice
from subscribe.catalog.languages import (
    UNTAGGED,
    by_language,
    normalize_tag,
    preference_key,
    preferred,
    translations,
)
from subscribe.catalog.normalize import (
    clean_text,
    normalize_date,
    normalize_frequency,
    normalize_open_type,
)
from subscribe.catalog.records import BadRecord, DatasetRecord, ResourceRecord

DCAT = "http://www.w3.org/ns/dcat#"
DCT = "http://purl.org/dc/terms/"
FOAF = "http://xmlns.com/foaf/0.1/"
SKOS = "http://www.w3.org/2004/02/skos/core#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
VCARD = "http://www.w3.org/2006/vcard/ns#"
# Used when a document's own @context is remote (never fetched) or silent about a prefix.
WELL_KNOWN_PREFIXES = {
    "dcat": DCAT, "dct": DCT, "dcterms": DCT, "foaf": FOAF, "vcard": VCARD,
    "adms": "http://www.w3.org/ns/adms#", "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": SKOS, "schema": "http://schema.org/", "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": RDFS,
}  # fmt: skip
# EU access-right authority codes, matched exactly: normalize_open_type does not see
# "NON_PUBLIC" as non-public (the underscore defeats its word match) and says unknown.
ACCESS_RIGHTS = {"PUBLIC": "unconditional", "RESTRICTED": "conditional", "NON_PUBLIC": "not_open"}
_LABELS = (FOAF + "name", SKOS + "prefLabel", DCT + "title", RDFS + "label", VCARD + "fn")
_MAX_ALIAS_DEPTH = 8  # a term defined as another term, and so on; cycles end here


def records(
    document,
    on_total: Callable[[int], None],
    carry: Callable[[set[str], Callable], dict[str, str]] | None = None,
    told_apart: Callable[[ListedTwice], None] | None = None,
) -> Iterator[DatasetRecord | BadRecord]:
    """Every dcat:Dataset node of a parsed JSON-LD document, in document order; the older
    listings of a dataset the document lists again are BadRecords (listed_twice).
    ``carry(identifiers)`` gives {identifier: stored identifier} for datasets to be
    written under a stored identifier (dcat.carried_identities: an IRI whose origin
    moved, or a scheme changed: ``entries`` gives what dcat.carried_schemes pairs by).
    Different datasets under one identifier are told apart (listed_twice; said to
    ``told_apart``)."""
    index, datasets = build_graph(document)
    on_total(len(datasets))
    listed = _listed_twice(datasets, index)
    superseded, told = listed.superseded(), listed.told
    if told_apart is not None:
        told_apart(listed)

    def entries(fresh: set[str]) -> dict[str, tuple[str, str, str]]:
        """The landing page, title and publisher of the nodes stating ``fresh``
        identifiers, as their records say (dcat.carried_schemes)."""
        found: dict[str, tuple[str, str, str]] = {}
        for position, node in enumerate(datasets):
            stated = told.get(position) or _bad_identity(node, {})
            if position in superseded or stated not in fresh or stated in found:
                continue
            record = guarded(dataset_record, node, index, reference=stated)
            if isinstance(record, DatasetRecord):
                found[stated] = (record.landing_page, record.title, record.publisher)
        return found

    moved = carry(listed.identifiers(), entries) if carry else {}
    for position, node in enumerate(datasets):
        reference = _text(node.get(DCT + "identifier")) or _named(node) or f"dataset[{position}]"
        identifier = _bad_identity(node, moved)
        if position in superseded:
            yield BadRecord(superseded[position], reference, identifier=identifier)
            continue
        if position in told:
            identifier = moved.get(told[position], told[position])
        record = guarded(dataset_record, node, index, reference=reference, identifier=identifier)
        if isinstance(record, DatasetRecord) and position in told:
            record.identifier = told[position]
        if isinstance(record, DatasetRecord) and record.identifier in moved:
            record.identifier = moved[record.identifier]
        yield record


def _listed_twice(datasets: list[dict], index: dict[str, dict]) -> ListedTwice:
    """The dataset nodes by identifier, `modified`, title and URLs (landing page, each
    distribution's download or access URL). Nodes of one @id are merged by build_graph
    already; this finds distinct nodes (blank ones, or two IRIs) under one identifier."""
    listed = ListedTwice()
    for position, node in enumerate(datasets):
        urls = [_landing_page(node)]
        for value in node.get(DCAT + "distribution", []):
            if "@value" not in value:  # a literal is no distribution (dataset_record says so)
                dist = index.get(value.get("@id", ""), value)
                urls.append(_iri_or_text(_first(dist, DCAT + "downloadURL"))
                            or _iri_or_text(_first(dist, DCAT + "accessURL")))  # fmt: skip
        listed.add(
            position,
            identifier=_stated_identifier(node),
            modified=_iri_or_text(_first(node, DCT + "modified")),
            title=_text(node.get(DCT + "title")),
            urls=[url for url in urls if url],
            landing=urls[0],
        )
    return listed


def _landing_page(node: dict) -> str:
    return _iri_or_text(_first(node, DCAT + "landingPage"))


def _bad_identity(node: dict, moved: dict[str, str]) -> str | None:
    """The identifier the node would be stored under, for a BadRecord of it (its stored
    dataset is then kept, writer.mark_unseen_deleted); None when it states none or the
    node is too broken to say."""
    try:
        stated = _stated_identifier(node)
    except Exception:  # a node odd enough to fail its record may fail this too
        return None
    return moved.get(stated, stated) if stated else None


def _stated_identifier(node: dict) -> str:
    """What the node says identifies it: dct:identifier, else its IRI, else its landing
    page ("" when none: dataset_record derives one from title and publisher)."""
    return _text(node.get(DCT + "identifier")) or _named(node) or _landing_page(node)


# --- expansion: compact keys and values to full IRIs ---------------------------------


def _merge_context(active: dict, local) -> dict:
    """The active context with an inline @context applied; remote context URLs are ignored."""
    merged = dict(active)
    for entry in local if isinstance(local, list) else [local]:
        if entry is None:
            merged = {}  # JSON-LD: a null context resets to nothing
        if not isinstance(entry, dict):
            continue  # a remote URL: no network, the well-known prefixes cover common ones
        for term, definition in entry.items():
            if term in ("@vocab", "@language"):
                merged[term] = definition
            elif term.startswith("@"):
                continue
            elif isinstance(definition, str | dict):  # "dct:title" or {"@id": …, "@type": …}
                merged[term] = {"@id": definition} if isinstance(definition, str) else definition
            elif definition is None:
                merged.pop(term, None)
    return merged


def expand_iri(value: str, context: dict, vocab: bool = True, depth: int = 0) -> str:
    """A term, compact IRI (dct:title) or full IRI as a full IRI; keywords pass through."""
    if value.startswith("@") or depth > _MAX_ALIAS_DEPTH:
        return value
    definition = context.get(value) if vocab else None
    if isinstance(definition, dict):
        target = definition.get("@id")
        if isinstance(target, str) and target != value:
            return expand_iri(target, context, True, depth + 1)
    prefix, colon, suffix = value.partition(":")
    if colon:
        if prefix == "_" or suffix.startswith("//"):  # blank node, or already absolute
            return value
        namespace = context.get(prefix, {}).get("@id") or WELL_KNOWN_PREFIXES.get(prefix)
        if isinstance(namespace, str):
            return expand_iri(namespace, context, True, depth + 1) + suffix
        return value  # urn:, mailto: …
    if vocab and isinstance(context.get("@vocab"), str):
        return context["@vocab"] + value
    return value


def _expand(value, context: dict, definition: dict) -> list:
    """A property value as a list of {"@value", "@language"} literals and expanded nodes."""
    if value is None:
        return []
    if isinstance(value, list):
        return [out for item in value for out in _expand(item, context, definition)]
    if isinstance(value, dict):
        if "@value" in value:
            return [{"@value": value["@value"], "@language": value.get("@language")}]
        for key in ("@list", "@set"):
            if key in value:
                return _expand(value[key], context, definition)
        if definition.get("@container") == "@language":  # {"en": "…", "zh": "…"}
            return [
                {"@value": text, "@language": language}
                for language, texts in value.items()
                for text in (texts if isinstance(texts, list) else [texts])
            ]
        return [expand_node(value, context)]
    if isinstance(value, str) and definition.get("@type") in ("@id", "@vocab"):
        return [{"@id": expand_iri(value, context, definition["@type"] == "@vocab")}]
    language = definition.get("@language", context.get("@language"))
    return [{"@value": value, "@language": language if isinstance(value, str) else None}]


def expand_node(node: dict, context: dict) -> dict:
    """A node object with every key a full IRI (or @id/@type/@graph) and list values."""
    if "@context" in node:
        context = _merge_context(context, node["@context"])
    out: dict = {}
    for key, value in node.items():
        iri = expand_iri(key, context)
        if iri == "@id" and isinstance(value, str):
            out["@id"] = expand_iri(value, context, vocab=False)
        elif iri == "@type":
            types = value if isinstance(value, list) else [value]
            out["@type"] = [expand_iri(t, context) for t in types if isinstance(t, str)]
        elif iri == "@graph":
            out["@graph"] = _expand(value, context, {})
        elif not iri.startswith("@"):
            definition = context.get(key)
            out.setdefault(iri, []).extend(
                _expand(value, context, definition if isinstance(definition, dict) else {})
            )
    return out


def build_graph(document) -> tuple[dict[str, dict], list[dict]]:
    """Expand the document; return nodes by @id (occurrences merged) and dataset nodes."""
    top = document if isinstance(document, list) else [document]
    roots = [expand_node(node, {}) for node in top if isinstance(node, dict)]
    index: dict[str, dict] = {}
    order: list[dict] = []

    def visit(node: dict) -> None:
        if "@id" in node and node["@id"] in index:
            target = index[node["@id"]]
            for key, values in node.items():
                if key != "@id":
                    target.setdefault(key, []).extend(v for v in values if v not in target[key])
        else:
            target = {key: list(values) if key != "@id" else values for key, values in node.items()}
            order.append(target)
            if "@id" in node:
                index[node["@id"]] = target
        for key, values in node.items():
            for value in values if key != "@id" else ():
                if isinstance(value, dict) and "@value" not in value and set(value) - {"@id"}:
                    visit(value)  # an embedded node, not a bare reference

    for root in roots:
        visit(root)
    datasets = [node for node in order if DCAT + "Dataset" in node.get("@type", ())]
    return index, datasets


# --- mapping -------------------------------------------------------------------------


def dataset_record(node: dict, index: dict[str, dict]) -> DatasetRecord:
    title = _text(node.get(DCT + "title"))
    if not title:
        raise RecordError("dataset has no dct:title")
    publisher = _label(_first(node, DCT + "publisher"), index)
    landing_page = _landing_page(node)
    frequency, frequency_raw = normalize_frequency(
        _iri_or_text(_first(node, DCT + "accrualPeriodicity"))  # EU IRIs: …/frequency/DAILY
    )
    open_type, open_raw = _open_type(_first(node, DCT + "accessRights"), index)
    resources = [r for r in (_resource(v, index) for v in node.get(DCAT + "distribution", [])) if r]
    # RDF has no order: distributions and themes are sorted so a reordered file is no change.
    resources.sort(key=lambda r: (r.identifier or "", r.url))
    themes = sorted(_label(value, index) for value in node.get(DCAT + "theme", []))
    keyword_sets = _keyword_sets(node.get(DCAT + "keyword", []))
    return DatasetRecord(
        identifier=_stated_identifier(node) or derived_identifier(title, publisher),
        title=title,
        description=_text(node.get(DCT + "description")),
        publisher=publisher,
        themes=list(dict.fromkeys(filter(None, themes))),
        keywords=_keywords(keyword_sets),
        formats=unique_formats(resources),
        open_type=open_type,
        open_type_raw=open_raw,
        frequency=frequency,
        frequency_raw=frequency_raw,
        issued=normalize_date(_iri_or_text(_first(node, DCT + "issued"))),
        modified=normalize_date(_iri_or_text(_first(node, DCT + "modified")), latest=True),
        landing_page=landing_page,
        license=_label(_first(node, DCT + "license"), index, prefer_iri=True),
        resources=resources,
        translations=_translations(node, keyword_sets),
    )


def _resource(value, index: dict[str, dict]) -> ResourceRecord | None:
    if "@value" in value:
        raise RecordError(f"dcat:distribution {value['@value']!r} is a literal, not a node")
    dist = index.get(value.get("@id", ""), value)
    url = _iri_or_text(_first(dist, DCAT + "downloadURL")) or _iri_or_text(
        _first(dist, DCAT + "accessURL")
    )
    if not url:  # a reference to a node this document does not describe, or no link at all
        return None
    return ResourceRecord(
        url=url,
        name=_text(dist.get(DCT + "title")),
        format=resource_format(
            url,
            _media_name(_iri_or_text(_first(dist, DCT + "format"))),
            _media_name(_iri_or_text(_first(dist, DCAT + "mediaType"))),
        ),
        size=byte_size(_iri_or_text(_first(dist, DCAT + "byteSize"))),
        identifier=_named(value) or None,
    )


def _open_type(value: dict | None, index: dict[str, dict]) -> tuple[str, str]:
    label = _label(value, index)  # a RightsStatement node may only have a label
    raw = _iri_or_text(value) or label
    open_type = ACCESS_RIGHTS.get(_tail(raw).upper())
    return open_type or normalize_open_type(label or raw)[0], raw


def _tagged(values) -> list[tuple[str, str]]:
    """(language tag, cleaned text) of every non-empty literal."""
    pairs = ((v.get("@language"), clean_text(v["@value"])) for v in values or () if "@value" in v)
    return [(tag, text) for tag, text in pairs if text]


def _text(values) -> str:
    """The literal to show, by languages.py's fixed preference (never document order)."""
    return preferred(_tagged(values))


def _keyword_sets(values) -> dict[str, list[str]]:
    """Keywords per language, each set sorted and without duplicates.

    RDF values are a set: sorting makes a reordered file the same record. Each literal
    is one keyword already, so it is not split on commas or slashes.
    """
    sets: dict[str, set[str]] = {}
    for tag, text in _tagged(values):
        sets.setdefault(normalize_tag(tag), set()).add(text)
    return {tag: sorted(words) for tag, words in sets.items()}


def _keywords(sets: dict[str, list[str]]) -> list[str]:
    # The shown language's set plus untagged keywords ("traffic" next to {"@language": "en"}).
    if not sets:
        return []
    best = min(sets, key=lambda tag: preference_key(tag, ""))
    return list(dict.fromkeys([*sets[best], *sets.get(UNTAGGED, [])]))


def _translations(node: dict, keyword_sets: dict[str, list[str]]) -> dict[str, dict]:
    return translations(
        title=by_language(_tagged(node.get(DCT + "title"))),
        description=by_language(_tagged(node.get(DCT + "description"))),
        keywords=keyword_sets,
    )


def _first(node: dict, iri: str) -> dict | None:
    return (node.get(iri) or [None])[0]


def _iri_or_text(value: dict | None) -> str:
    if not value:
        return ""
    if "@value" in value:
        return clean_text(value["@value"])
    return value.get("@id", "")


def _label(value: dict | None, index: dict[str, dict], prefer_iri: bool = False) -> str:
    """A name for an agent/concept/licence: its label in the graph, a literal, or the IRI."""
    if not value:
        return ""
    if "@value" in value:
        return clean_text(value["@value"])
    if prefer_iri and _named(value):
        return _named(value)
    node = index.get(value.get("@id", ""), value)
    for label in _LABELS:
        if text := _text(node.get(label)):
            return text
    return _tail(_named(value))


def _named(node: dict) -> str:
    """The node's IRI; blank node ids ("_:b0") are renumbered per export, so they are none."""
    iri = node.get("@id", "")
    return "" if iri.startswith("_:") else iri


def _tail(iri: str) -> str:
    return iri.rstrip("/#").replace("#", "/").rsplit("/", 1)[-1]


def _media_name(value: str) -> str:
    # IANA IRIs (…/media-types/text/csv) carry the MIME type after the registry path;
    # EU file-type IRIs (…/file-type/CSV) carry the name as last segment.
    if "/media-types/" in value:
        return value.split("/media-types/", 1)[1]
    return _tail(value) if "://" in value else value
