"""/api/v1/datasets: search the catalog, read one dataset."""

import marshmallow as ma
from flask import jsonify

from subscribe.api import Blueprint, PageArgsSchema
from subscribe.catalog import services as catalog
from subscribe.search.schemas import (
    DatasetPageSchema,
    DatasetQueryArgsSchema,
    DatasetSchema,
    HistoryPageSchema,
    dump_dataset_page,
)
from subscribe.search.service import search_from_args

blp = Blueprint(
    "datasets", __name__, url_prefix="/api/v1/datasets", description="Search the catalog"
)


# An instance, not the class: webargs builds a class's schema anew for every request
# (marshmallow deep-copies each declared field: ~0.3 ms of a search).
_QUERY_ARGS = DatasetQueryArgsSchema()


@blp.get("")
@blp.arguments(_QUERY_ARGS, location="query", unknown=ma.RAISE, error_status_code=400)
@blp.response(200, DatasetPageSchema)
def search(args):
    """Full-text search in Chinese or English with filters, facets, sorting and highlights.

    Words are ANDed, `"quoted phrases"` match in order, `-word` excludes. Traditional and
    simplified Chinese find each other. Repeat a filter to allow several values.
    """
    # Dumped here (DatasetPageSchema's output, compiled: ~1 ms less a request); a
    # Response passes through the decorator, which still documents the schema. Hits as
    # plain dicts of the shown columns, not models (search_datasets).
    return jsonify(dump_dataset_page(search_from_args(args, summaries=True)))


@blp.get("/<int:dataset_id>")
@blp.response(200, DatasetSchema)
def get_dataset(dataset_id: int):
    """One dataset with its resources (also when deleted upstream: `deleted` says so)."""
    return catalog.get_dataset(dataset_id)


@blp.get("/<int:dataset_id>/history")
@blp.arguments(PageArgsSchema, location="query", error_status_code=400)
@blp.response(200, HistoryPageSchema)
def history(args, dataset_id: int):
    """The dataset's versions, newest first, with field-level diffs and change kinds."""
    return catalog.dataset_history(dataset_id, args["page"], args["per_page"])
