"""/api/v1/sources: catalog sources and their harvests (operators only)."""

from subscribe.api import Blueprint, PageArgsSchema
from subscribe.catalog import services
from subscribe.catalog.preview import preview_source
from subscribe.catalog.schemas import (
    HarvestQueuedSchema,
    PreviewArgsSchema,
    PreviewSchema,
    RunsPageSchema,
    SourceCreateSchema,
    SourcePageSchema,
    SourceSchema,
    SourceUpdateSchema,
)

blp = Blueprint(
    "sources", __name__, url_prefix="/api/v1/sources", description="Catalog sources (operators)"
)


def _present(source) -> dict:
    return {
        **{c: getattr(source, c) for c in SourceSchema().fields if hasattr(source, c)},
        "datasets": services.dataset_count(source),
        "last_harvest": services.last_run(source),
        "mapping_report": services.last_mapping_report(source),
    }


NAME_TAKEN = "Another source has this name in some case (`bom`, `BOM`): `errors.name`"


@blp.post("")
@blp.auth_required("operator")
@blp.arguments(SourceCreateSchema)
@blp.response(201, SourceSchema)
@blp.alt_response(409, description=NAME_TAKEN)
def create_source(body):
    """Add a catalog source (`ckan`, `dcat` or `tabular`); names are unique in any case
    (409 on `name`). A URL reaching a private, loopback, link-local or other internal
    address answers 422 on `url` unless SUBSCRIBE_OUTBOUND_ALLOWLIST allows it (as
    webhook endpoints)."""
    services.check_source_url(body["url"])
    return _present(services.create_source(**body))


@blp.get("")
@blp.auth_required("operator")
@blp.arguments(PageArgsSchema, location="query", error_status_code=400)
@blp.response(200, SourcePageSchema)
def list_sources(args):
    """The sources, oldest first, each with its last harvest: one page
    ({items, total, page, per_page}, like every list)."""
    page = services.sources_page(args["page"], args["per_page"])
    return {**page, "items": [_present(source) for source in page["items"]]}


@blp.get("/<int:source_id>")
@blp.auth_required("operator")
@blp.response(200, SourceSchema)
def get_source(source_id: int):
    """One source, including the last harvest's status and counts."""
    return _present(services.get_source(source_id))


@blp.patch("/<int:source_id>")
@blp.auth_required("operator")
@blp.arguments(SourceUpdateSchema)
@blp.response(200, SourceSchema)
@blp.alt_response(409, description=NAME_TAKEN)
def update_source(body, source_id: int):
    """Change a source's name, URL, mapping, schedule or enabled flag (a new URL is
    vetted as on creation: 422 on `url` if it reaches an internal address)."""
    source = services.get_source(source_id)
    if "url" in body and body["url"] != source.url:
        services.check_source_url(body["url"])
    return _present(services.update_source(source, body))


@blp.delete("/<int:source_id>")
@blp.auth_required("operator")
@blp.response(204)
def delete_source(source_id: int):
    """Remove a source and its datasets."""
    services.delete_source(services.get_source(source_id))


@blp.post("/<int:source_id>/harvest")
@blp.auth_required("operator")
@blp.response(202, HarvestQueuedSchema)
def harvest_source(source_id: int):
    """Queue a harvest; the worker runs it within seconds."""
    return {"run": services.queue_harvest(services.get_source(source_id))}


@blp.get("/<int:source_id>/runs")
@blp.auth_required("operator")
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, RunsPageSchema)
def list_runs(args, source_id: int):
    """The source's harvest history, newest first."""
    return services.list_runs(services.get_source(source_id), **args)


@blp.post("/<int:source_id>/preview")
@blp.auth_required("operator")
@blp.arguments(PreviewArgsSchema, required=False)
@blp.response(200, PreviewSchema)
def preview(body, source_id: int):
    """Dry run: read the source now and show the first datasets as they would be mapped.

    Nothing is written. For a tabular export `mapping` is the report a harvest would
    record (column → field with reason and score, ignored columns, identity); pass
    `mapping` in the body to try another mapping before saving it. A source that cannot
    be read answers 422 with the reason.
    """
    return preview_source(services.get_source(source_id), **(body or {}))
