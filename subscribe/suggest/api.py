"""/api/v1/scenarios/{id}/suggestions: datasets the scenario is missing, and 👍 / 👎."""

from flask import g

from subscribe.api import Blueprint
from subscribe.scenarios import services as scenarios
from subscribe.suggest import services
from subscribe.suggest.schemas import (
    FeedbackResultSchema,
    FeedbackSchema,
    SuggestionArgsSchema,
    SuggestionPageSchema,
)

blp = Blueprint(
    "suggestions",
    __name__,
    url_prefix="/api/v1/scenarios",
    description="Suggestions per scenario (智能推荐), with reasons and feedback",
)


@blp.get("/<int:scenario_id>/suggestions")
@blp.auth_required()
@blp.arguments(SuggestionArgsSchema, location="query", error_status_code=400)
@blp.response(200, SuggestionPageSchema)
def suggestions(args, scenario_id: int):
    """Datasets not in the scenario that resemble its members, best first, each with its
    reasons (same publisher or theme, shared title words, join keys) in Chinese and
    English. At most 100 in all; excluded and voted-down datasets never appear."""
    scenario = scenarios.get_scenario(g.user, scenario_id)
    page, per_page = args["page"], args["per_page"]
    found = services.suggestions(scenario, min(page * per_page, services.MAX_SUGGESTIONS))
    items = found[(page - 1) * per_page : page * per_page]
    return {"items": items, "total": len(found), "page": page, "per_page": per_page}


@blp.post("/<int:scenario_id>/suggestions/<int:dataset_id>/feedback")
@blp.auth_required()
@blp.arguments(FeedbackSchema)
@blp.response(200, FeedbackResultSchema)
def feedback(body, scenario_id: int, dataset_id: int):
    """👍 (`up`) pins the dataset to the scenario; 👎 (`down`) excludes it and remembers
    it as a negative, so similar datasets rank lower and it is never suggested or pushed
    again. The latest vote wins. 404 for a scenario or dataset that does not exist."""
    scenario = scenarios.get_scenario(g.user, scenario_id)
    return services.give_feedback(g.user, scenario, dataset_id, body["vote"])
