"""/api/v1/datasets: search the catalog, read one dataset."""

import marshmallow as ma

from subscribe.api import Blueprint, PageArgsSchema
from subscribe.catalog.models import Dataset
from subscribe.catalog.services import dataset_history
from subscribe.errors import NotFoundError
from subscribe.extensions import db
from subscribe.search.engine import Filters
from subscribe.search.schemas import (
    DatasetPageSchema,
    DatasetQueryArgsSchema,
    DatasetSchema,
    HistoryPageSchema,
)
from subscribe.search.service import search_datasets

blp = Blueprint(
    "datasets", __name__, url_prefix="/api/v1/datasets", description="Search the catalog"
)

_FILTERS = ("publisher", "theme", "format", "open_type", "frequency", "source")


@blp.get("")
@blp.arguments(DatasetQueryArgsSchema, location="query", unknown=ma.RAISE, error_status_code=400)
@blp.response(200, DatasetPageSchema)
def search(args):
    """Full-text search in Chinese or English with filters, facets, sorting and highlights.

    Words are ANDed, `"quoted phrases"` match in order, `-word` excludes. Traditional and
    simplified Chinese find each other. Repeat a filter to allow several values.
    """
    filters = Filters(
        **{name: args[name] for name in _FILTERS},
        modified_from=args["modified_from"],
        modified_to=args["modified_to"],
    )
    sort = args["sort"] or ("relevance" if args["q"].strip() else "newest")
    return search_datasets(args["q"], filters, sort, args["page"], args["per_page"])


@blp.get("/<int:dataset_id>")
@blp.response(200, DatasetSchema)
def get_dataset(dataset_id: int):
    """One dataset with its resources (also when deleted upstream: `deleted` says so)."""
    dataset = db.session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFoundError("No such dataset.")
    return dataset


@blp.get("/<int:dataset_id>/history")
@blp.arguments(PageArgsSchema, location="query", error_status_code=400)
@blp.response(200, HistoryPageSchema)
def history(args, dataset_id: int):
    """The dataset's versions, newest first, with field-level diffs and change kinds."""
    return dataset_history(dataset_id, args["page"], args["per_page"])
