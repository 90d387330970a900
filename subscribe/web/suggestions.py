"""Suggestions on the scenario page: the partial's data and the 👍 / 👎 form handler."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _

from subscribe.scenarios import services as scenarios
from subscribe.suggest import services
from subscribe.suggest.models import VOTES
from subscribe.web.access import current_user, login_required

blp = Blueprint("suggestions", __name__)

ON_PAGE = 5


@blp.app_context_processor
def _context() -> dict:
    return {"scenario_suggestions": scenario_suggestions}


def scenario_suggestions(scenario, limit: int = ON_PAGE) -> list[dict]:
    """For scenarios/_suggestions.html: the scenario's best suggestions (services.suggestions)."""
    return services.suggestions(scenario, limit)


@blp.post("/scenarios/<int:scenario_id>/suggestions/<int:dataset_id>/feedback")
@login_required
def feedback(scenario_id: int, dataset_id: int):
    """👍 pins the dataset, 👎 leaves it out (and fewer like it); back to the scenario."""
    scenario = scenarios.get_scenario(current_user(), scenario_id)
    vote = request.form.get("vote", "")
    back = url_for("web.scenarios.show", scenario_id=scenario.id) + "#suggestions"
    if vote not in VOTES:
        flash(_("Choose 👍 or 👎."), "error")
        return redirect(back, 303)
    services.give_feedback(current_user(), scenario, dataset_id, vote)
    if vote == "up":
        flash(_("Pinned to the scenario."), "success")
    else:
        flash(_("Left out of the scenario; similar datasets will be suggested less."), "success")
    return redirect(back, 303)
