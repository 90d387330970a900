"""Source administration and harvest requests. Services own the transaction."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import String, func, literal, select, update
from sqlalchemy.exc import IntegrityError

from subscribe.audit import services as audit
from subscribe.catalog.events import changes_from_diff
from subscribe.catalog.harvesters.tabular_columns import check_mapping
from subscribe.catalog.models import (
    SOURCE_TYPES,
    Dataset,
    DatasetVersion,
    HarvestRun,
    Resource,
    Source,
    source_name_key,
)
from subscribe.catalog.records import HarvestError
from subscribe.errors import ConflictError, InvalidInputError, NotFoundError
from subscribe.extensions import db
from subscribe.notify.ssrf import BlockedURL, OutboundPolicy, UnresolvableHost, check_url
from subscribe.paging import paginate


def check_source_url(url: str) -> None:
    """Refuse (InvalidInputError on `url`, 422) a source URL that reaches a private,
    loopback, link-local or otherwise internal address, as webhook endpoints are
    (notify.services.check_endpoint_url): an operator adds sources, but the harvest
    fetches them from inside, and http://169.254.169.254/ (a cloud's metadata service)
    must not become a source by a slip or a stolen token. An intranet portal is let in
    by SUBSCRIBE_OUTBOUND_ALLOWLIST, the documented way to permit internal addresses. A
    name that does not resolve now is accepted (the harvest will say it cannot reach it).
    Called by the API and the operator pages; `flask` commands on the server are not."""
    try:
        check_url(url, OutboundPolicy(current_app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"]))
    except UnresolvableHost:
        return
    except BlockedURL as exc:
        raise InvalidInputError("The source URL is not allowed.", {"url": [str(exc)]}) from None


def get_source(source_id: int) -> Source:
    source = db.session.get(Source, source_id)
    if source is None:
        raise NotFoundError("No such source.")
    return source


def find_source(name: str) -> Source:
    """The source of this name, exact, else in any case; raises NotFoundError."""
    source = db.session.scalar(select(Source).where(Source.name == name))
    if source is None:
        source = db.session.scalar(select(Source).where(Source.name_key == source_name_key(name)))
    if source is None:
        raise NotFoundError(f"No source named {name!r}.")
    return source


def list_sources() -> list[Source]:
    return list(db.session.scalars(select(Source).order_by(Source.id)))


def sources_page(page: int, per_page: int) -> dict:
    """One page of the sources, oldest first: {items, total, page, per_page}."""
    return paginate(select(Source).order_by(Source.id), page, per_page)


def _check(values: dict, source_id: int | None = None) -> None:
    """Raises InvalidInputError (422) for an unknown type, ConflictError (409) for a name
    another source has in any case ("BOM" when "bom" exists)."""
    if "type" in values and values["type"] not in SOURCE_TYPES:
        raise InvalidInputError("Unknown source type.", {"type": [f"one of {SOURCE_TYPES}"]})
    if "name" in values:
        clash = select(Source.name).where(Source.name_key == source_name_key(values["name"]))
        if source_id is not None:
            clash = clash.where(Source.id != source_id)
        if (taken := db.session.scalar(clash)) is not None:
            raise _name_taken(taken)


def _name_taken(taken: str | None = None) -> ConflictError:
    said = f" ({taken!r}; names are compared in any case)" if taken else ""
    return ConflictError(f"A source with this name exists{said}.", {"name": ["taken"]})


def _saving_name(write) -> None:
    """write() (the session's flush or commit); a name another request took meanwhile
    (the unique indexes on name and name_key) is the same 409 as the check's, not a 500."""
    try:
        write()
    except IntegrityError as exc:
        db.session.rollback()
        if "name" not in str(exc.orig).lower():
            raise
        raise _name_taken() from None


def _check_mapping(type: str, mapping) -> None:
    """A tabular source's mapping is checked when it is saved, as preview checks it: a
    mapping the harvester would refuse is a 422 now, not a failed harvest later."""
    if type != "tabular" or not mapping:
        return
    try:
        if not isinstance(mapping, dict):
            raise HarvestError("tabular mapping must be an object")
        check_mapping(mapping)
    except HarvestError as exc:
        raise InvalidInputError("The mapping is not valid.", {"mapping": [str(exc)]}) from None


def create_source(name: str, type: str, url: str, mapping=None, schedule=None) -> Source:
    _check({"name": name, "type": type})
    _check_mapping(type, mapping)
    schedule = schedule or current_app.config["SUBSCRIBE_DEFAULT_HARVEST_INTERVAL"]
    source = Source(name=name, type=type, url=url, mapping=mapping or {}, schedule=schedule)
    db.session.add(source)
    _saving_name(db.session.flush)
    audit.record("source.create", "source", source.id,
                 {"name": name, "type": type, "url": url, "schedule": schedule})  # fmt: skip
    db.session.commit()
    return source


def update_source(source: Source, values: dict) -> Source:
    _check(values, source.id)
    if "mapping" in values or "type" in values:
        _check_mapping(values.get("type", source.type), values.get("mapping", source.mapping))
    changes = audit.changed_values(source, values)
    if changes:
        audit.record(
            "source.update", "source", source.id, {"name": source.name, "changes": changes}
        )
    for name, value in values.items():
        setattr(source, name, value)
    _saving_name(db.session.commit)
    return source


def delete_source(source: Source) -> None:
    """Delete the source and its datasets; users whose scenarios or subscriptions held
    some are told once each (an inbox item, `scenarios.source_removal`)."""
    from subscribe.scenarios.source_removal import tell_source_removed  # a layer above

    audit.record("source.delete", "source", source.id, {"name": source.name, "url": source.url})
    tell_source_removed(source)
    db.session.delete(source)
    db.session.commit()


def queue_harvest(source: Source, trigger: str = "manual") -> HarvestRun:
    """Ask the worker to harvest; a run already waiting or running is returned instead."""
    pending = db.session.scalar(
        select(HarvestRun).where(
            HarvestRun.source_id == source.id, HarvestRun.status.in_(("queued", "running"))
        )
    )
    if pending is not None:
        return pending
    run = HarvestRun(source_id=source.id, trigger=trigger, status="queued")
    db.session.add(run)
    if trigger == "manual":  # an operator's request; scheduled runs are the job's own
        db.session.flush()
        audit.record("source.harvest", "source", source.id, {"name": source.name, "run_id": run.id})
    db.session.commit()
    return run


def last_mapping_report(source: Source) -> dict | None:
    """The mapping report of the newest run that recorded one (tabular sources)."""
    return db.session.scalar(
        select(HarvestRun.mapping_report)
        .where(HarvestRun.source_id == source.id, HarvestRun.mapping_report.is_not(None))
        .order_by(HarvestRun.id.desc())
        .limit(1)
    )


def last_run(source: Source) -> HarvestRun | None:
    return db.session.scalar(
        select(HarvestRun)
        .where(HarvestRun.source_id == source.id)
        .order_by(HarvestRun.id.desc())
        .limit(1)
    )


def dataset_count(source: Source) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(Dataset)
        .where(Dataset.source_id == source.id, Dataset.deleted_at.is_(None))
    )


def list_runs(source: Source, page: int, per_page: int) -> dict:
    query = (
        select(HarvestRun).where(HarvestRun.source_id == source.id).order_by(HarvestRun.id.desc())
    )
    return paginate(query, page, per_page)


def get_dataset(dataset_id: int) -> Dataset:
    """One dataset, also when deleted upstream (its `deleted_at` says so)."""
    dataset = db.session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFoundError("No such dataset.")
    return dataset


def dataset_history(dataset_id: int, page: int, per_page: int) -> dict:
    """A dataset's versions, newest first, each with what changed."""
    if db.session.get(Dataset, dataset_id) is None:
        raise NotFoundError("No such dataset.")
    query = (
        select(DatasetVersion)
        .where(DatasetVersion.dataset_id == dataset_id)
        .order_by(DatasetVersion.number.desc())
    )
    result = paginate(query, page, per_page)
    result["items"] = [
        {"number": v.number, "kind": v.kind, "created_at": v.created_at, "diff": v.diff,
         "changes": changes_of_version(v), "snapshot": v.snapshot, "harvest_run_id": v.harvest_run_id}
        for v in result["items"]
    ]  # fmt: skip
    return result


def changes_of_version(version: DatasetVersion) -> list[dict]:
    if "content" in (version.diff or {}):
        return version.diff["content"]
    return changes_from_diff(version.diff or {})


def move_stored_urls(source: Source, old_origin: str, new_origin: str) -> int:
    """Rewrite the source's stored landing pages and file URLs on ``old_origin`` (lower
    case scheme://host[:port]) to ``new_origin``, path and query kept; how many rows.

    For a portal known to have moved (the demo portal started on another port: every
    URL it writes is on its own origin), so files stay reachable before the next full
    listing: resource checks meanwhile fetched the dead port and told subscribers each
    file was unavailable. Versions and hashes are left as they were: the next harvest
    sees the datasets with their URLs moved and settles them as an origin move
    (origins.py: no versions, no events, reported once). Commits."""
    size = len(old_origin)
    # A URL is on the origin when, with "/" appended, it starts with it and "/", "?", "#".
    starts = [old_origin + mark for mark in "/?#"]

    def moved(column):
        return literal(new_origin, String) + func.substr(column, size + 1, type_=String)

    def on_old(column):
        return func.lower(func.substr(column + "/", 1, size + 1)).in_(starts)

    datasets = db.session.execute(
        update(Dataset)
        .where(Dataset.source_id == source.id, on_old(Dataset.landing_page))
        .values(landing_page=moved(Dataset.landing_page))
        .execution_options(synchronize_session=False)
    ).rowcount
    of_source = select(Dataset.id).where(Dataset.source_id == source.id).scalar_subquery()
    resources = db.session.execute(
        update(Resource)
        .where(Resource.dataset_id.in_(of_source), on_old(Resource.url))
        .values(url=moved(Resource.url))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return datasets + resources
