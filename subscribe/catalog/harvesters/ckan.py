"""CKAN Action API harvester: package_search paged by id, incremental by metadata_modified."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from datetime import datetime
from urllib.parse import urljoin, urlsplit

import requests

from subscribe.catalog.harvesters.base import HarvestContext, RecordStream, fetch, json_error_line
from subscribe.catalog.harvesters.carry_over import carry_over
from subscribe.catalog.harvesters.json_lines import is_json_lines, read_lines
from subscribe.catalog.harvesters.tabular_identity import normalized
from subscribe.catalog.languages import UNTAGGED, by_language, preferred, translations
from subscribe.catalog.normalize import (
    PartialDate,
    clean_text,
    contact_text,
    normalize_date,
    normalize_format,
    normalize_frequency,
    normalize_open_type,
    split_list,
)
from subscribe.catalog.records import BadRecord, DatasetRecord, HarvestError, ResourceRecord
from subscribe.digits import ascii_int

# Where CKAN instances keep these in `extras` (or as top-level schema fields).
FREQUENCY_KEYS = ("frequency", "update_frequency", "accrualPeriodicity", "accrual_periodicity",
                  "data_update_frequency", "更新频率", "更新周期")  # fmt: skip
OPEN_TYPE_KEYS = ("open_type", "accessLevel", "access_level", "开放类型", "开放属性", "开放条件")
THEME_KEYS = ("theme", "themes", "category", "所属领域", "数据领域")
ISSUED_KEYS = ("issued", "发布时间")
# Where fields are read from (harvest.harvested_as): changed when a field is read from
# elsewhere, so the first run after an upgrade lists everything and stores the new
# readings quietly (harvest.rereading) instead of telling subscribers of every dataset.
READINGS = {
    "modified": "modified extra (dct:modified), else metadata_modified",
    "contact_point": "contact_point_name/contact_point_email extras, else maintainer, author",
}
MAX_PAGE_SIZE = 1000  # CKAN's default ckan.search.rows_max
# A value that names a record instead of a publisher: a UUID (CKAN's ids of users,
# organizations, packages; HDX puts the maintainer's user id in `maintainer`), a long
# hex id, an e-mail address (a contact) or a URL (publisher_uri, an organization's page).
ID_LIKE = re.compile(
    r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}|[0-9a-f]{16,}"
    r"|[^@\s]+@[^@\s]+\.[^@\s]+|[a-z][a-z0-9+.-]*://\S*",
    re.IGNORECASE,
)


def action_url(base: str, action: str) -> str:
    """Accept a portal root or any API prefix (…/api, …/api/3/action/…) and build the URL."""
    base = base.rstrip("/")
    marker = base.find("/api/")
    if marker >= 0:
        base = base[:marker]
    elif base.endswith("/api"):
        base = base[: -len("/api")]
    return f"{base}/api/3/action/{action}"


def _call(ctx: HarvestContext, action: str, params: dict) -> dict:
    response = fetch(ctx, action_url(ctx.url, action), params=params)
    try:
        body = response.json()
    except (ValueError, requests.JSONDecodeError) as exc:
        raise HarvestError(f"{action} did not answer JSON (is {ctx.url} a CKAN site?)") from exc
    if not isinstance(body, dict) or not body.get("success", False):
        error = body.get("error") if isinstance(body, dict) else None
        raise HarvestError(f"CKAN {action} failed: {error or 'success is false'}")
    return body["result"]


def _fq(since: datetime | None) -> str:
    if since is None:
        return ""
    return f"metadata_modified:[{since.strftime('%Y-%m-%dT%H:%M:%S')}Z TO *]"


def is_dump(url: str) -> bool:
    """A file of CKAN packages (a saved package_search / package_show answer, a list of
    package dicts, `ckanapi dump` JSON lines) rather than a portal: a .json/.jsonl path
    outside /api/."""
    path = urlsplit(url).path.lower()
    return path.endswith((".json", ".jsonl", ".ndjson")) and "/api/" not in path


@dataclasses.dataclass
class DumpFile:
    """A file of packages: each with its reference for people, and the lines of a JSON
    Lines file that are no JSON (bad records, counted: the other lines are read)."""

    packages: list = dataclasses.field(default_factory=list)
    references: list[str] = dataclasses.field(default_factory=list)
    bad: list[BadRecord] = dataclasses.field(default_factory=list)


def _dump_packages(ctx: HarvestContext) -> DumpFile:
    """The packages of a dump file, read whole (such files hold thousands, not millions).
    JSON Lines or one JSON document by json_lines' rule; a broken document fails."""
    text = fetch(ctx, ctx.url).text
    lines, sniffed = is_json_lines(io.StringIO(text), urlsplit(ctx.url).path.lower()
                                   .endswith((".jsonl", ".ndjson")))  # fmt: skip
    dump = DumpFile()
    if lines:
        for number, value in read_lines(io.StringIO(text)):
            if isinstance(value, ValueError):
                read = getattr(value, "members_read", {})  # its id, if read before the break
                identifier = _package_key(read) or None
                dump.bad.append(BadRecord(str(value), f"line {number} of {ctx.url}",
                                          identifier=identifier))  # fmt: skip
            else:
                dump.packages.append(value)
                dump.references.append(f"line {number} of {ctx.url}")
        body = dump.packages
    else:
        try:
            body = json.loads(text.removeprefix("\ufeff"))
        except ValueError as exc:
            raise HarvestError(
                f"{ctx.url} is not valid JSON: {json_error_line(exc)}{sniffed.hint()}"
            ) from exc
        except RecursionError as exc:
            raise HarvestError(f"{ctx.url} is not readable JSON: nested too deep") from exc
    if isinstance(body, dict) and "result" in body:  # a saved Action API answer
        body = body["result"]
    if isinstance(body, dict) and isinstance(body.get("results"), list):  # package_search
        body = body["results"]
    if isinstance(body, dict):  # package_show: one package
        body = [body]
    if not isinstance(body, list) or (
        body and not any(isinstance(p, dict) and (p.get("id") or p.get("name")) for p in body)
    ):
        # Not one package among them (a DCAT data.json added as type ckan, say): a
        # failed run that says so, not a "succeeded" run of 0 datasets and 1 bad record.
        raise HarvestError(f"{ctx.url} holds no CKAN packages (no object with an id or "
                           f"a name){_other_format(body)}")  # fmt: skip
    if not lines:
        dump.packages = body
        dump.references = [f"package {n} of {ctx.url}" for n in range(1, len(body) + 1)]
    return dump


def _other_format(body) -> str:
    """A hint when the file is another catalog format the product reads."""
    if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
        keys = body[0]
        if isinstance(keys.get("dataset"), list) or "@context" in keys or "conformsTo" in keys:
            return "; it looks like DCAT: add it with type dcat"
    return ""


def upstream_count(ctx: HarvestContext) -> int:
    """How many datasets the portal lists in total (one cheap rows=0 call)."""
    if is_dump(ctx.url):
        return len(_dump_packages(ctx).packages)
    result = _call(ctx, "package_search", {"q": "*:*", "rows": 0})
    return int(result.get("count") or 0)


def unpublished(package) -> str:
    """Why CKAN does not publish this package: its ``state`` (``deleted``, ``draft``: a
    package being created, or anything else not ``active``) or ``private``; "" when
    it is published (no state given counts as active: a write payload has none)."""
    if not isinstance(package, dict):
        return ""
    state = (
        clean_text(package.get("state")).lower() if isinstance(package.get("state"), str) else ""
    )
    if state and state != "active":
        return state
    private = package.get("private")
    if private is True or (isinstance(private, str) and private.strip().lower() == "true"):
        return "private"
    return ""


def _skip_unpublished(ctx: HarvestContext, package, skipped: dict[str, int]) -> bool:
    """True (and counted, its identifier in ``ctx.withdrawn``) for a package CKAN does
    not publish: it is no dataset, and one stored under it is deleted."""
    why = unpublished(package)
    if not why:
        return False
    skipped[why] = skipped.get(why, 0) + 1
    if key := _package_key(package):
        ctx.withdrawn.add(key)
    return True


def _report_skipped(ctx: HarvestContext, skipped: dict[str, int]) -> None:
    if skipped:
        ctx.report = {**(ctx.report or {}), "skipped_states": dict(sorted(skipped.items()))}


def harvest(ctx: HarvestContext) -> RecordStream:
    skipped: dict[str, int] = {}  # packages not published, by why (unpublished)
    if is_dump(ctx.url):  # the whole file each time: a file has no incremental query
        dump = _dump_packages(ctx)
        kept = [(package, reference) for package, reference
                in zip(dump.packages, dump.references, strict=True)
                if not _skip_unpublished(ctx, package, skipped)]  # fmt: skip
        dump.packages = [package for package, _reference in kept]
        dump.references = [reference for _package, reference in kept]
        packages = dump.packages
        ctx.on_total(len(packages) + len(dump.bad))
        organizations = _file_organizations(packages)
        records = [read_package(package, "", reference, organizations)
                   for package, reference in zip(packages, dump.references, strict=True)]  # fmt: skip
        carry_names(ctx, packages, records)
        keep_stored(ctx, packages, records, organizations)
        _report_skipped(ctx, skipped)
        yield from records
        yield from dump.bad
        ctx.full_listing = True
        return
    page_size = max(1, min(ctx.page_size, MAX_PAGE_SIZE))
    params = {"q": "*:*", "rows": page_size, "sort": "id asc", "include_private": "false"}
    if ctx.since is not None:
        params["fq"] = _fq(ctx.since)
    start, reported_total, last_total = 0, None, None
    received: set[str] = set()  # the distinct packages this listing gave
    short = ""  # why the listing stopped short of the count it announced
    while True:
        result = _call(ctx, "package_search", {**params, "start": start})
        packages = result.get("results")
        if not isinstance(packages, list):
            raise HarvestError("CKAN package_search result has no results list")
        if reported_total is None:
            reported_total = int(result.get("count") or 0)
            ctx.on_total(reported_total)
        if packages:  # the count as the last page gave it: packages withdrawn while a
            last_total = int(result.get("count") or 0)  # long listing pages are not owed
        fresh = 0
        for offset, package in enumerate(packages):
            key = _package_key(package) or f"#{start + offset}"  # junk counts once too
            if key in received:
                continue  # a page repeating packages: the writer keeps the first anyway
            received.add(key)
            fresh += 1
            if _skip_unpublished(ctx, package, skipped):
                continue
            yield read_package(package, ctx.url, f"package_search start={start + offset}")
        if packages and not fresh:
            short = f"page start={start} repeated packages already received"
            break  # a portal that ignores start answers page 1 again and again
        start += len(packages)
        if not packages or start >= reported_total:
            if not packages and start < reported_total:
                short = f"page start={start} came back empty"
            break
    _report_skipped(ctx, skipped)
    ctx.full_listing = ctx.since is None
    if ctx.full_listing and len(received) < min(reported_total, last_total or reported_total):
        # A lagging search replica (an empty page before the count), a portal ignoring
        # ``start`` (page 1 again): the packages not received are not gone upstream.
        ctx.full_listing = False
        ctx.listing_incomplete = (
            f"listing incomplete: {len(received)} of {reported_total} packages received"
            f" ({short or 'pages repeated or skipped packages'}); no deletions this run"
        )


def _package_key(package) -> str:
    """What tells one listed package from another: its id, else its name ("" for junk)."""
    if not isinstance(package, dict):
        return ""
    return clean_text(package.get("id")) or clean_text(package.get("name"))


def carry_names(ctx: HarvestContext, packages: list, records: list) -> None:
    """Packages of a file that name no ``id`` are identified by ``name`` (a
    package_create/package_update payload has none): one stored under its id from an
    earlier file would be deleted and created again. Such a package whose name is not
    stored takes the identifier of a stored dataset this file does not list, 1:1
    (carry_over): by its name (CKAN's portal-unique URL slug: the stored dataset's
    ``upstream_name``, which every file shape gives, else the …/dataset/<name> of a
    landing page read from a portal), then title and publisher, landing page, download
    URL, and last the title alone (a payload names its organization by owner_org's id,
    not its title, so the publisher differs by form, not by content).

    The other way round, when the previous run identified packages by name: a package
    that shows its id again, not stored, takes the identifier of the stored dataset
    identified by its name (the name round only: a stored dataset under another id is
    another package). Says what it did, by which round, in ``ctx.report["identity"]``
    (the run's mapping report; ``by_name``: how many packages named no id)."""
    pairs = list(enumerate(zip(packages, records, strict=True)))
    by_name = [i for i, (package, record) in pairs
               if isinstance(record, DatasetRecord) and not clean_text(package.get("id"))]  # fmt: skip
    named_before = bool((ctx.previous_identity or {}).get("by_name"))
    if ctx.stored_identities is None:
        return
    listed = {r.identifier for r in records if isinstance(r, DatasetRecord)}
    if not (by_name or named_before) and not _renewed_ids(ctx, listed):
        return
    stored: set[str] = set()
    orphans: dict[int, tuple[str, str, str, str]] = {}  # id -> identifier, title, publisher, page
    for dataset_id, identifier, title, publisher, landing in ctx.stored_identities():
        stored.add(identifier)
        if identifier not in listed:
            orphans[dataset_id] = (identifier, title, publisher, landing)
    rows = {index for index in by_name if records[index].identifier not in stored}

    def pair(title: str, publisher: str) -> int:
        return hash((normalized(title), normalized(publisher)))

    def slug(page: str) -> str:
        before, found, name = page.rstrip("/").rpartition("/dataset/")
        return name if found and before and "/" not in name else ""

    def row_keys(key):
        return lambda left: {i: hash(value) if (value := key(records[i])) else 0 for i in left}

    def stored_keys(key):
        return lambda left: {s: hash(value) if (value := key(orphans[s])) else 0 for s in left}

    def stored_name(left: set[int]) -> dict[int, int]:
        names = ctx.stored_names(sorted(left)) if ctx.stored_names else {}
        return {s: hash(name) if (name := names.get(s) or slug(orphans[s][3])) else 0
                for s in left}  # fmt: skip

    def stored_download(left: set[int]) -> dict[int, int]:
        urls = ctx.stored_download_urls(sorted(left)) if ctx.stored_download_urls else {}
        return {s: hash(url) for s, url in urls.items() if url}

    rounds = [
        ("name", row_keys(lambda r: r.upstream_name or r.identifier), stored_name),
        ("title and publisher", lambda left: {i: pair(records[i].title, records[i].publisher)
                                              for i in left},
         lambda left: {s: pair(orphans[s][1], orphans[s][2]) for s in left}),
        ("landing page", row_keys(lambda r: r.landing_page), stored_keys(lambda s: s[3])),
        ("download URL", row_keys(lambda r: next((x.url for x in r.resources if x.url), "")),
         stored_download),
        ("title", row_keys(lambda r: normalized(r.title)),
         stored_keys(lambda s: normalized(s[1]))),
    ]  # fmt: skip
    paired, found = carry_over(rounds, rows, set(orphans))
    shown = {i for i, (package, record) in pairs
             if isinstance(record, DatasetRecord) and clean_text(package.get("id"))
             and record.identifier not in stored}  # fmt: skip
    # Stored under a package's name (not an id): the stored identifier is that name.
    by_own_name = {s for s in set(orphans) - set(paired.values())
                   if not ID_LIKE.fullmatch(orphans[s][0])}  # fmt: skip
    if shown and by_own_name:
        own_name = ("name", row_keys(lambda r: r.upstream_name), stored_keys(lambda s: s[0]))
        more, also = carry_over([own_name], shown, by_own_name)
        paired.update(more)
        found["datasets"] += also["datasets"]
        found["ambiguous"] += also["ambiguous"]
        for name, count in also["by"].items():
            found["by"][name] = found["by"].get(name, 0) + count
        found["unpaired_stored"] = len(orphans) - len(paired)
    else:
        more = {}
    # Packages under ids not stored that keep a stored dataset's name (a portal
    # re-created on another CKAN: new ids, the same packages; bb8 F21): the name is
    # portal-unique, so the stored dataset of that name (upstream_name, else the
    # …/dataset/<name> of its landing page) this file no longer lists is the package.
    renewed = shown - set(paired) - set(more)
    left = set(orphans) - set(paired.values())
    if renewed and left:
        named, also = carry_over(
            [("name", row_keys(lambda r: r.upstream_name), stored_name)], renewed, left
        )
        if named:
            paired.update(named)
            found["datasets"] += also["datasets"]
            found["ambiguous"] += also["ambiguous"]
            for name, count in also["by"].items():
                found["by"][name] = found["by"].get(name, 0) + count
            found["unpaired_rows"] += also["unpaired_rows"]
            found["unpaired_stored"] = len(orphans) - len(paired)
    else:
        named = {}
    if named and ctx.carried_listed is not None:
        # Stored under the new ids at the end of the run (writer._rename_carried): the
        # next file is then as stored, nothing carried again nor reported.
        ctx.carried_listed.update((orphans[s][0], records[i].identifier) for i, s in named.items())
    for index, dataset_id in paired.items():
        records[index].identifier = orphans[dataset_id][0]
    if not (by_name or named_before or paired):
        return  # ids renewed only where a package came and another went: no report
    # Packages identified by name this run (their stored dataset keeps its name as its
    # identifier even once the package shows its id): the next run looks again.
    identity: dict = {"method": "id, else name", "by_name": len(by_name) + len(more)}
    if by_name or paired:
        why = (f"{len(by_name)} packages name no id (identified by name)" if by_name
               else f"{len(named)} packages under new ids keep their names" if named
               and not more else "packages identified by name last time show their id")  # fmt: skip
        identity["carried_over"] = {"why": why, **found}
    ctx.report = {"identity": identity}


def _renewed_ids(ctx: HarvestContext, listed: set[str]) -> bool:
    """Whether this file lists an identifier not stored while a stored one goes unlisted
    (then a package may have been re-created under a new id, carry_names); one streamed
    read of the source's identifiers."""
    if ctx.stored_identifiers is None:
        return False
    stored = {row[0] for row in ctx.stored_identifiers()}
    return bool(listed - stored) and not stored <= listed


def _extras(package: dict) -> dict:
    extras = {}
    for item in package.get("extras") or []:
        if isinstance(item, dict) and "key" in item:
            extras[item["key"]] = item.get("value")
    return extras


def _first(package: dict, extras: dict, keys) -> object:
    for key in keys:
        for holder in (package, extras):
            value = holder.get(key)
            if value not in (None, "", []):
                return value
    return None


# HDX's data_update_frequency codes that are no count of days: -2 "as needed",
# -1 "never", 0 "live". A positive number is a count of days, read by normalize's rule
# for every bare number in a frequency field.
_HDX_CODES = {"-2": "irregular", "-1": "irregular", "0": "realtime"}


def _frequency(raw) -> tuple[str, str]:
    text = clean_text(raw)
    if text in _HDX_CODES:
        return _HDX_CODES[text], text
    return normalize_frequency(raw)


def _translated(package: dict, extras: dict, key: str) -> dict[str, str]:
    """ckanext-fluent/scheming `<key>_translated`: {"en": "…", "zh_CN": "…"}, as a dict
    or (in extras) as JSON text; {} when absent or unreadable."""
    value = _first(package, extras, (f"{key}_translated",))
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    if not isinstance(value, dict):
        return {}
    return by_language(
        (tag, clean_text(text)) for tag, text in value.items() if isinstance(text, str)
    )


def _issued(package: dict, extras: dict) -> PartialDate:
    declared = normalize_date(_first(package, extras, ISSUED_KEYS))
    return declared if declared.value else normalize_date(package.get("metadata_created"))


def _modified(package: dict, extras: dict) -> PartialDate:
    """The dataset's own modified date, as ckanext-dcat maps dct:modified: the
    ``modified`` field or extra (catalog.data.gov's harvested packages keep the source's
    date there), else CKAN's ``metadata_modified`` (when the record last changed in
    CKAN: a nightly re-harvest upstream moves it for every package)."""
    declared = _first(package, extras, ("modified",))
    if isinstance(declared, str) and clean_text(declared):
        return normalize_date(declared, latest=True)
    return normalize_date(package.get("metadata_modified"), latest=True)


def _contact_point(package: dict, extras: dict) -> str:
    """The contact as "Name <e-mail>" (either alone when only one is given) of, in ckanext-dcat's order
    for dcat:contactPoint, the ``contact_point_name``/``contact_point_email`` extras
    (data.json harvests), else ``maintainer``/``maintainer_email``, else
    ``author``/``author_email``; ``mailto:`` dropped. An id is no name (HDX's maintainer
    is a user id)."""
    for name_key, email_key in (("contact_point_name", "contact_point_email"),
                                ("contact_name", "contact_email"),
                                ("maintainer", "maintainer_email"), ("author", "author_email")):  # fmt: skip
        name = _first(package, extras, (name_key,))
        email = _first(package, extras, (email_key,))
        name = clean_text(name) if isinstance(name, str) else ""
        if ID_LIKE.fullmatch(name) and "@" not in name:
            name = ""
        email = clean_text(email) if isinstance(email, str) else ""
        if found := contact_text(name, email):
            return found
    return ""


def _resources(package: dict) -> list[ResourceRecord]:
    """The package's resources, those without a URL too (CKAN allows an empty url: an
    upload pending, a package_update payload that omits it): kept with their name,
    format and id, url "" (shown without a link, never fetched). A resource naming
    nothing at all (no url, id or name) is skipped."""
    resources = []
    for item in package.get("resources") or []:
        if not isinstance(item, dict):
            continue
        url, name = clean_text(item.get("url")), clean_text(item.get("name"))
        identifier = clean_text(item.get("id"))
        if not (url or name or identifier):
            continue
        size = item.get("size")
        resources.append(
            ResourceRecord(
                url=url,
                name=name,
                format=normalize_format(item.get("format") or item.get("mimetype")),
                size=int(size) if isinstance(size, int | float) else ascii_int(str(size)),
                checksum=clean_text(item.get("hash")) or None,
                identifier=identifier or None,
            )
        )
    return resources


def _readable(value) -> str:
    """A publisher's name from a field's value: text, or the name/title of a dict (a
    scheming ``publisher`` field, an organization), or the first of a list of them; ""
    for an id, e-mail or URL (ID_LIKE), which names a record, not a publisher."""
    if isinstance(value, list):
        return next((found for item in value if (found := _readable(item))), "")
    if isinstance(value, dict):
        return _readable(value.get("title")) or _readable(value.get("name"))
    text = clean_text(value) if isinstance(value, str) else ""
    return "" if not text or ID_LIKE.fullmatch(text) else text


def _file_organizations(packages: list) -> dict[str, str]:
    """{organization id: its title (else name)} of the organizations the packages of a
    file show, so a package naming its organization by ``owner_org`` alone (a
    package_update payload) is read with the same publisher as its neighbours."""
    found: dict[str, str] = {}
    for package in packages:
        organization = package.get("organization") if isinstance(package, dict) else None
        if isinstance(organization, dict) and clean_text(organization.get("id")):
            name = _readable(organization)
            if name:
                found.setdefault(clean_text(organization["id"]), name)
    return found


def _publisher(package: dict, extras: dict, organizations: dict[str, str]) -> tuple[str, bool]:
    """(publisher, known): the first readable of, in ckanext-dcat's order for
    dct:publisher, the ``publisher`` field (ckanext-scheming; data.json harvests keep it
    as an extra), the ``publisher_name`` extra, the package's organization (title, else
    name; or ``owner_org``'s, from the organizations the same file shows); then, as
    CKAN's free-text people fields, ``author`` and ``maintainer``. Ids, e-mails and URLs
    are never a publisher (HDX's ``maintainer`` is a user id). ``known`` is False when
    the package names its organization only by an id no field resolves: the caller may
    keep the publisher stored for it (keep_stored)."""
    for value in (package.get("publisher"), extras.get("publisher"),
                  extras.get("publisher_name"), package.get("organization")):  # fmt: skip
        if found := _readable(value):
            return found, True
    owner = clean_text(package.get("owner_org"))
    if found := organizations.get(owner, "") or (_readable(owner) if owner else ""):
        return found, True  # an owner_org given by name (package_create accepts it)
    people = _readable(package.get("author")) or _readable(package.get("maintainer"))
    return people, not owner


# CKAN's default license register (ckan/model/license.py) and HDX's cc-by-igo: the title
# a portal shows for a license_id, for packages that give the id alone (a payload).
LICENSE_TITLES = {
    "cc-by": "Creative Commons Attribution",
    "cc-by-sa": "Creative Commons Attribution Share-Alike",
    "cc-zero": "Creative Commons CCZero",
    "cc-nc": "Creative Commons Non-Commercial (Any)",
    "gfdl": "GNU Free Documentation License",
    "notspecified": "License not specified",
    "odc-by": "Open Data Commons Attribution License",
    "odc-odbl": "Open Data Commons Open Database License (ODbL)",
    "odc-pddl": "Open Data Commons Public Domain Dedication and License (PDDL)",
    "other-at": "Other (Attribution)",
    "other-closed": "Other (Not Open)",
    "other-nc": "Other (Non-Commercial)",
    "other-open": "Other (Open)",
    "other-pd": "Other (Public Domain)",
    "uk-ogl": "UK Open Government Licence (OGL)",
    "cc-by-igo": "Creative Commons Attribution for Intergovernmental Organisations",
}


def _license(package: dict) -> str:
    title = clean_text(package.get("license_title"))
    license_id = clean_text(package.get("license_id"))
    return title or LICENSE_TITLES.get(license_id, license_id)


def _kept_fields(package: dict, organizations: dict[str, str]) -> tuple[str, ...]:
    """The fields of a package that its stored dataset should keep: those a write
    payload (package_create/package_update: no ``metadata_modified``, which every
    package_show/package_search result has) gives only by reference or not at all —
    the publisher when the organization is an id alone (_publisher), the themes when
    its groups carry no title, the dates CKAN sets itself (metadata_created/modified)."""
    kept = []
    if not _publisher(package, _extras(package), organizations)[1]:
        kept.append("publisher")
    if not clean_text(package.get("metadata_modified")):
        groups = package.get("groups")
        if (
            isinstance(groups, list)
            and groups
            and not any(
                isinstance(g, dict) and (g.get("display_name") or g.get("title")) for g in groups
            )
        ):
            kept.append("themes")
        if not _first(package, _extras(package), ISSUED_KEYS) and not package.get(
            "metadata_created"
        ):
            kept.append("issued")
        if not _first(package, _extras(package), ("modified",)):
            kept.append("modified")  # the dataset's own modified extra is read (_modified)
    return tuple(kept)


KEPT_COLUMNS = {  # a kept field and the stored columns that hold it
    "publisher": ("publisher",),
    "themes": ("themes",),
    "issued": ("issued", "issued_precision", "issued_raw"),
    "modified": ("modified", "modified_precision", "modified_raw"),
}


def keep_stored(ctx: HarvestContext, packages: list, records: list,
                organizations: dict[str, str]) -> None:  # fmt: skip
    """A package of a file given as a write payload (_kept_fields) keeps, for the
    fields it names only by reference or not at all, what is stored for its dataset,
    read when the package was shown whole: an organization's or group's id is no
    publisher or theme, and a payload's missing timestamps are no change upstream
    (before, the publisher became HDX's maintainer user id and the update said the
    dates were removed). Without a stored dataset the record keeps what it read."""
    wanted = {}
    for package, record in zip(packages, records, strict=True):
        if isinstance(record, DatasetRecord) and (kept := _kept_fields(package, organizations)):
            wanted[record.identifier] = (record, kept)
    if not wanted or ctx.stored_values is None:
        return
    columns = tuple(dict.fromkeys(c for _r, kept in wanted.values() for f in kept
                                  for c in KEPT_COLUMNS[f]))  # fmt: skip
    for identifier, values in ctx.stored_values(sorted(wanted), columns).items():
        record, kept = wanted[identifier]
        for field in kept:
            if values.get(field) not in (None, "", []):
                for column in KEPT_COLUMNS[field]:
                    setattr(record, column, values[column])


def read_package(package, portal_url: str, reference: str,
                 organizations: dict[str, str] | None = None) -> DatasetRecord | BadRecord:  # fmt: skip
    """Map one CKAN package dict; anything unreadable becomes a BadRecord.
    ``organizations``: {id: title} known from the same file (_file_organizations)."""
    if not isinstance(package, dict):
        return BadRecord("package is not an object", reference)
    identifier = _package_key(package)
    reference = identifier or reference
    title = clean_text(package.get("title")) or clean_text(package.get("name"))
    if not identifier:
        return BadRecord("package has no id or name", reference)
    if not title:
        return BadRecord("package has no title", reference, identifier=identifier)
    try:
        extras = _extras(package)
        frequency, frequency_raw = _frequency(_first(package, extras, FREQUENCY_KEYS))
        open_raw = _first(package, extras, OPEN_TYPE_KEYS)
        if open_raw is None and package.get("isopen") is True:
            open_raw = "public"
        open_type, open_type_raw = normalize_open_type(open_raw)
        resources = _resources(package)
        themes = split_list(package.get("groups")) or split_list(_first({}, extras, THEME_KEYS))
        name = clean_text(package.get("name"))
        titles = _translated(package, extras, "title")
        notes = _translated(package, extras, "notes")
        return DatasetRecord(
            identifier=identifier,
            # A multilingual portal: the same language preference as DCAT-AP, the plain
            # field counting as untagged.
            title=preferred([*titles.items(), (UNTAGGED, title)]),
            description=preferred([*notes.items(), (UNTAGGED, clean_text(package.get("notes")))]),
            publisher=_publisher(package, extras, organizations or {})[0],
            themes=themes,
            keywords=split_list(package.get("tags")),
            formats=list(dict.fromkeys(r.format for r in resources if r.format)),
            open_type=open_type,
            open_type_raw=open_type_raw,
            frequency=frequency,
            frequency_raw=frequency_raw,
            issued=_issued(package, extras),
            modified=_modified(package, extras),
            contact_point=_contact_point(package, extras),
            landing_page=urljoin(portal_url.split("/api/")[0] + "/", f"dataset/{name}")
            if name and portal_url  # a dump file names no portal
            else clean_text(package.get("url")),
            license=_license(package),
            resources=resources,
            translations=translations(title=titles, description=notes),
            upstream_name=name,
        )
    except (TypeError, ValueError, AttributeError) as exc:
        return BadRecord(f"unreadable package: {exc}", reference, identifier=identifier)
