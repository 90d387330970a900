"""The search page and the dataset page (public, like the API they mirror)."""

from __future__ import annotations

from urllib.parse import urlencode

import marshmallow as ma
from flask import Blueprint, flash, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from subscribe.catalog import services as catalog
from subscribe.catalog.checks import check_summary
from subscribe.notify import services as notify
from subscribe.scenarios import services as scenarios
from subscribe.search.schemas import Q_MAX, QUALITY_MIN_ARGS, DatasetQueryArgsSchema
from subscribe.search.service import FILTER_FIELDS, default_sort, search_from_args
from subscribe.web import changes, labels
from subscribe.web.access import current_user
from subscribe.web.paging import page_arg, page_count

blp = Blueprint("search", __name__)

PER_PAGE = 20
HISTORY_PER_PAGE = 10
MAX_SCENARIO_CHOICES = 100  # the "add to scenario" list: the newest ones
DATE_FIELDS = ("modified_from", "modified_to")


def search_args(values: MultiDict) -> dict:
    """The search arguments (from the URL, or a builder link or form) through the API's
    schema. A value the schema refuses is dropped rather than failing the page: URLs get
    edited by hand."""
    # NUL cannot be searched or stored (the schema refuses it): such values are dropped.
    raw: dict = {
        name: [v for v in values.getlist(name) if "\x00" not in v] for name in FILTER_FIELDS
    }
    for name in ("q", "sort", "page", *DATE_FIELDS, *QUALITY_MIN_ARGS):
        if values.get(name, "").strip() and "\x00" not in values[name]:
            raw[name] = values[name]
    raw["per_page"] = PER_PAGE
    schema = DatasetQueryArgsSchema()
    try:
        return schema.load(raw, unknown=ma.EXCLUDE)
    except ma.ValidationError as error:
        for name in error.messages:
            raw.pop(name, None)
        return schema.load(raw, unknown=ma.EXCLUDE)


class SearchLinks:
    """URLs of the current search with one thing changed (a filter, the page)."""

    def __init__(self, args: dict):
        self.args = args

    def _params(self, **changes) -> list[tuple[str, str]]:
        params = {"q": self.args["q"], "sort": self.args["sort"] or ""}
        params.update({name: list(self.args[name]) for name in FILTER_FIELDS})
        params.update({name: self.args.get(name) for name in QUALITY_MIN_ARGS})
        params.update(changes)
        pairs = []
        for name, value in params.items():
            items = value if isinstance(value, list) else [value]
            pairs.extend(
                (name, str(item))
                for item in items
                if item not in ("", None) and not (name == "page" and item == 1)
            )
        return pairs

    def url(self, **changes) -> str:
        query = urlencode(self._params(**changes))
        return url_for("web.search.index") + ("?" + query if query else "")

    def toggle(self, name: str, value: str) -> str:
        """Add the filter value, or remove it when it is already on; back to page 1."""
        values = list(self.args[name])
        values = [v for v in values if v != value] if value in values else [*values, value]
        return self.url(**{name: values})

    def page(self, number: int) -> str:
        return self.url(page=number)

    def scenario(self) -> str | None:
        """The scenario builder started from this search (query and filters carried);
        None when there is nothing to save (no words, no filters)."""
        skipped = ("page", "sort", *QUALITY_MIN_ARGS)  # scenarios keep no quality minimum
        params = [(name, value) for name, value in self._params() if name not in skipped]
        if not params:
            return None
        return url_for("web.scenarios.new") + "?" + urlencode(params)

    def quality_filters(self) -> list[tuple[str, str]]:
        """The quality minimums on, as (name, value) pairs (hidden inputs, chips)."""
        return [(name, str(self.args[name])) for name in QUALITY_MIN_ARGS
                if self.args.get(name) is not None]  # fmt: skip

    def hidden_filters(self) -> list[tuple[str, str]]:
        """The filters as (name, value) pairs for the search form's hidden inputs."""
        return [(name, value) for name in FILTER_FIELDS for value in self.args[name]]


def query_problem(values: MultiDict) -> str | None:
    """Why the typed query cannot be searched (shown on the page, answered with 400)."""
    q = values.get("q", "")
    if len(q) > Q_MAX:
        return _("Your search is too long: at most %(num)s characters.", num=Q_MAX)
    if "\x00" in q:
        return _("Your search contains characters that cannot be searched.")
    return None


@blp.get("/search")  # url_for gives the first rule applied: "/"
@blp.get("/")
def index():
    problem = query_problem(request.args)
    if problem:
        flash(problem, "error")
    args = search_args(request.args)
    result = search_from_args(args)
    status = 400 if problem else 200
    return render_template(
        "search/index.html",
        args=args,
        result=result,
        pages=page_count(result["total"], PER_PAGE),
        links=SearchLinks(args),
        facet_names=labels.FACET_NAMES,
        sort_names=labels.SORT_NAMES,
        quality_minimums=labels.QUALITY_MINIMUMS,
        quality_axis_names=labels.QUALITY_AXIS_NAMES,
        effective_sort=args["sort"] or default_sort(args["q"]),
    ), status


def _my_scenarios(dataset_id: int) -> dict:
    """For a signed-in user: their scenarios (to pin the dataset to one), the ones that
    pin it already, and their subscriptions to it."""
    user = current_user()
    if user is None:
        return {"my_scenarios": [], "pinned_in": [], "subscribed": []}
    mine = scenarios.list_scenarios(user, 1, MAX_SCENARIO_CHOICES)["items"]
    return {
        "my_scenarios": mine,
        "pinned_in": [s for s in mine if dataset_id in (s.include or [])],
        "subscribed": notify.subscriptions_to(user, dataset_id=dataset_id),
    }


@blp.get("/datasets/<int:dataset_id>")
def dataset(dataset_id: int):
    record = catalog.get_dataset(dataset_id)
    history = catalog.dataset_history(dataset_id, page_arg(), HISTORY_PER_PAGE)
    names = changes.ResourceNames.of_datasets([dataset_id])
    for version in history["items"]:
        version["sentences"] = changes.describe_version(
            version, names.add_snapshot(version["snapshot"])
        )
    return render_template(
        "search/dataset.html",
        dataset=record,
        # What the last content check saw, by resource id: a `blocked` one (the SSRF
        # guard refused its URL) says so beside the resource (the API's `check`).
        resource_checks={r.id: check_summary(r) for r in record.resources},
        history=history,
        pages=page_count(history["total"], HISTORY_PER_PAGE),
        history_page_url=lambda number: url_for(
            "web.search.dataset", dataset_id=dataset_id, page=number, _anchor="history"
        ),
        **_my_scenarios(dataset_id),
    )
