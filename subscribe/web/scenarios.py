"""Scenario pages: the list, the builder, members, report, timeline, and their bundles."""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from subscribe.api import parse_id
from subscribe.bundles import services as bundles
from subscribe.bundles.schemas import BundleCreateSchema
from subscribe.catalog import services as catalog
from subscribe.errors import InvalidInputError
from subscribe.notify import services as notify
from subscribe.scenarios import services
from subscribe.scenarios.models import Scenario
from subscribe.scenarios.schemas import ScenarioSchema
from subscribe.search.service import default_sort, search_from_args
from subscribe.web import builder, changes, labels
from subscribe.web.access import current_user, login_required
from subscribe.web.paging import page_arg, page_count
from subscribe.web.search import PER_PAGE as SEARCH_PER_PAGE

blp = Blueprint("scenarios", __name__)

PER_PAGE = 20
BUNDLES_PER_PAGE = 20


@blp.get("/scenarios")
@login_required
def index():
    listing = services.list_scenarios(current_user(), page_arg(), PER_PAGE)
    # One vectorised mask per scenario over the catalog's columns: cheap for a page.
    counts = {scenario.id: len(services.member_ids(scenario)) for scenario in listing["items"]}
    return render_template(
        "scenarios/index.html",
        listing=listing,
        counts=counts,
        pages=page_count(listing["total"], PER_PAGE),
        page_url=lambda number: url_for("web.scenarios.index", page=number),
    )


# ---- The builder ----------------------------------------------------------------------


@blp.route("/scenarios/new", methods=["GET", "POST"])
@login_required
def new():
    if request.method == "POST":
        return _save(None)
    return _builder(builder.state_from_values(request.args), None, {})


@blp.route("/scenarios/<int:scenario_id>/edit", methods=["GET", "POST"])
@login_required
def edit(scenario_id: int):
    scenario = services.get_scenario(current_user(), scenario_id)
    if request.method == "POST":
        return _save(scenario)
    if request.args.get("b"):
        state = builder.state_from_values(request.args)
    else:
        state = builder.state_from_scenario(scenario)
    return _builder(state, scenario, {})


def _save(scenario: Scenario | None):
    errors: dict[str, str] = {}
    try:
        values = builder.scenario_values(request.form)
        if scenario is None:
            scenario = services.create_scenario(current_user(), values)
            flash(_("Scenario saved."), "success")
        else:
            services.update_scenario(scenario, values)
            flash(_("Changes saved."), "success")
    except ma.ValidationError as error:
        errors = builder.form_errors(error.messages)
    except InvalidInputError as error:  # pins of datasets that do not exist
        errors = builder.form_errors(error.errors)
    if errors:
        return _builder(builder.state_from_values(request.form), scenario, errors), 422
    return redirect(url_for("web.scenarios.show", scenario_id=scenario.id))


def _builder(state: builder.BuilderState, scenario: Scenario | None, errors: dict):
    if scenario is None:
        base_url = url_for("web.scenarios.new")
    else:
        base_url = url_for("web.scenarios.edit", scenario_id=scenario.id)
    result = search_from_args(state.args, partial=False)  # the preview shows members only
    return render_template(
        "scenarios/builder.html",
        scenario=scenario,
        state=state,
        args=state.args,
        result=result,
        pages=page_count(result["total"], SEARCH_PER_PAGE),
        links=builder.BuilderLinks(state, base_url),
        member_count=len(services.member_ids(state.preview())),
        pinned=services.pinned_datasets(state.include),
        excluded=services.pinned_datasets(state.exclude),
        facet_names=labels.FACET_NAMES,
        errors=errors,
    )


@blp.post("/datasets/<int:dataset_id>/pin")
@login_required
def pin_dataset(dataset_id: int):
    """ "Add to scenario" from a dataset page: pin it to one of the user's scenarios
    (no longer excluded there), then back to the dataset page."""
    dataset = catalog.get_dataset(dataset_id)
    back = url_for("web.search.dataset", dataset_id=dataset_id)
    scenario_id = parse_id(request.form.get("scenario_id"))
    if scenario_id is None:
        flash(_("Choose one of your scenarios."), "error")
        return redirect(back)
    scenario = services.get_scenario(current_user(), scenario_id)
    if dataset.id not in scenario.include:
        services.update_scenario(scenario, {
            "include": [*scenario.include, dataset.id],
            "exclude": [i for i in scenario.exclude if i != dataset.id],
        })  # fmt: skip
    flash(_("Pinned to the scenario “%(name)s”.", name=scenario.name), "success")
    return redirect(back)


# ---- One scenario: members, report, timeline, bundles -----------------------------------


def _render_tab(template: str, scenario: Scenario, **context):
    return render_template(
        template,
        scenario=scenario,
        feed_url=ScenarioSchema(only=("feed_url",)).dump(scenario)["feed_url"],
        subscribed=notify.subscriptions_to(current_user(), scenario_id=scenario.id),
        facet_names=labels.FACET_NAMES,
        **context,
    )


@blp.get("/scenarios/<int:scenario_id>")
@login_required
def show(scenario_id: int):
    scenario = services.get_scenario(current_user(), scenario_id)
    members = services.members_page(scenario, default_sort(scenario.q), page_arg(), PER_PAGE)
    return _render_tab(
        "scenarios/members.html",
        scenario,
        members=members,
        pages=page_count(members["total"], PER_PAGE),
        page_url=lambda number: url_for("web.scenarios.show", scenario_id=scenario_id, page=number),
    )


@blp.get("/scenarios/<int:scenario_id>/report")
@login_required
def report(scenario_id: int):
    scenario = services.get_scenario(current_user(), scenario_id)
    numbers = services.report(scenario)
    freshness = [{"value": key, "count": count} for key, count in numbers["freshness"].items()]
    return _render_tab("scenarios/report.html", scenario, report=numbers, freshness_rows=freshness)


@blp.get("/scenarios/<int:scenario_id>/timeline")
@login_required
def timeline(scenario_id: int):
    scenario = services.get_scenario(current_user(), scenario_id)
    events = services.events_page(scenario, page_arg(), PER_PAGE)
    names = changes.ResourceNames.of_datasets(event.dataset_id for event in events["items"])
    for event in events["items"]:
        if event.catalog_event is not None:
            names.add_snapshot(event.catalog_event.after or event.catalog_event.before)
    return _render_tab(
        "scenarios/timeline.html",
        scenario,
        events=events,
        sentences=lambda event: changes.describe_all(event.changes, names),
        describe_event=changes.describe_event,
        pages=page_count(events["total"], PER_PAGE),
        page_url=lambda number: url_for(
            "web.scenarios.timeline", scenario_id=scenario_id, page=number
        ),
    )


@blp.route("/scenarios/<int:scenario_id>/bundles", methods=["GET", "POST"])
@login_required
def scenario_bundles(scenario_id: int):
    scenario = services.get_scenario(current_user(), scenario_id)
    error = None
    if request.method == "POST":
        try:
            body = BundleCreateSchema().load({"mode": request.form.get("mode", "all")})
        except ma.ValidationError:
            error = _("Choose what the bundle should hold.")
        else:
            bundle = bundles.request_bundle(current_user(), scenario, body["mode"], None)
            flash(_("Bundle #%(id)s is queued; it is built in the background.", id=bundle.id),
                  "success")  # fmt: skip
            return redirect(url_for("web.scenarios.scenario_bundles", scenario_id=scenario_id))
    listing = bundles.list_bundles(current_user(), scenario, page_arg(), BUNDLES_PER_PAGE)
    page = _render_tab(
        "scenarios/bundles.html",
        scenario,
        listing=listing,
        error=error,
        pages=page_count(listing["total"], BUNDLES_PER_PAGE),
        page_url=lambda number: url_for(
            "web.scenarios.scenario_bundles", scenario_id=scenario_id, page=number
        ),
    )
    return (page, 422) if error else page


@blp.route("/scenarios/<int:scenario_id>/delete", methods=["GET", "POST"])
@login_required
def delete(scenario_id: int):
    """GET asks to confirm (no JavaScript needed); POST deletes."""
    scenario = services.get_scenario(current_user(), scenario_id)
    if request.method == "GET":
        return render_template("scenarios/delete.html", scenario=scenario)
    name = scenario.name
    services.delete_scenario(scenario)
    flash(_("Scenario “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("web.scenarios.index"))


@blp.get("/bundles/<int:bundle_id>")
@login_required
def bundle(bundle_id: int):
    record = bundles.get_bundle(current_user(), bundle_id)
    scenario = (
        services.get_scenario(current_user(), record.scenario_id) if record.scenario_id else None
    )
    return render_template("scenarios/bundle.html", bundle=record, scenario=scenario)
