"""/api/v1/scenarios: the caller's scenarios, their members, report and timeline."""

from flask import Response, current_app, g, request

from subscribe.api import Blueprint, PageArgsSchema, current_user_from_request
from subscribe.scenarios import services
from subscribe.scenarios.feed import atom
from subscribe.scenarios.schemas import (
    EventPageSchema,
    FeedArgsSchema,
    MembersArgsSchema,
    MembersPageSchema,
    ReportSchema,
    ScenarioCreateSchema,
    ScenarioPageSchema,
    ScenarioSchema,
    ScenarioUpdateSchema,
)

blp = Blueprint(
    "scenarios",
    __name__,
    url_prefix="/api/v1/scenarios",
    description="Custom scenarios (自定义场景)",
)


@blp.post("")
@blp.auth_required()
@blp.arguments(ScenarioCreateSchema)
@blp.response(201, ScenarioSchema)
def create_scenario(body):
    """Save a scenario: a query with filters, pinned (`include`) and left-out (`exclude`) datasets."""
    return services.create_scenario(g.user, body)


@blp.get("")
@blp.auth_required()
@blp.arguments(PageArgsSchema, location="query", error_status_code=400)
@blp.response(200, ScenarioPageSchema)
def list_scenarios(args):
    """The caller's scenarios, newest first."""
    return services.list_scenarios(g.user, args["page"], args["per_page"])


@blp.get("/<int:scenario_id>")
@blp.auth_required()
@blp.response(200, ScenarioSchema)
def get_scenario(scenario_id: int):
    """One of the caller's scenarios."""
    return services.get_scenario(g.user, scenario_id)


@blp.patch("/<int:scenario_id>")
@blp.auth_required()
@blp.arguments(ScenarioUpdateSchema)
@blp.response(200, ScenarioSchema)
def update_scenario(body, scenario_id: int):
    """Change any of a scenario's fields; the others stay."""
    return services.update_scenario(services.get_scenario(g.user, scenario_id), body)


@blp.delete("/<int:scenario_id>")
@blp.auth_required()
@blp.response(204)
def delete_scenario(scenario_id: int):
    """Delete a scenario with its timeline and subscriptions."""
    services.delete_scenario(services.get_scenario(g.user, scenario_id))


@blp.get("/<int:scenario_id>/datasets")
@blp.auth_required()
@blp.arguments(MembersArgsSchema, location="query", error_status_code=400)
@blp.response(200, MembersPageSchema)
def members(args, scenario_id: int):
    """The scenario's members: search results for its query, plus pins, minus exclusions."""
    scenario = services.get_scenario(g.user, scenario_id)
    return services.members_page(scenario, args["sort"], args["page"], args["per_page"])


@blp.get("/<int:scenario_id>/report")
@blp.auth_required()
@blp.response(200, ReportSchema)
def report(scenario_id: int):
    """Counts by publisher, theme, format and open type; freshness; resource totals."""
    return services.report(services.get_scenario(g.user, scenario_id))


@blp.get("/<int:scenario_id>/events")
@blp.auth_required()
@blp.arguments(PageArgsSchema, location="query", error_status_code=400)
@blp.response(200, EventPageSchema)
def events(args, scenario_id: int):
    """The scenario's timeline of member changes, newest first."""
    scenario = services.get_scenario(g.user, scenario_id)
    return services.events_page(scenario, args["page"], args["per_page"])


@blp.get("/<int:scenario_id>/feed.atom")
@blp.arguments(FeedArgsSchema, location="query", error_status_code=400)
@blp.response(200, description="Atom feed", content_type="application/atom+xml")
def feed(args, scenario_id: int):
    """The timeline as an Atom feed: `?token=` (the scenario's `feed_url` has it) or a login."""
    user = None if args["token"] else current_user_from_request()
    scenario = services.scenario_for_feed(scenario_id, args["token"], user)
    body = atom(
        scenario,
        services.recent_events(scenario),
        current_app.config["SUBSCRIBE_BASE_URL"],
        request.url,
    )
    return Response(body, mimetype="application/atom+xml")
