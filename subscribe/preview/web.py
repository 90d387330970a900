"""Preview pages: one resource's preview (made on request, time-capped), and the template
helpers the dataset page and the scenario report include (`search/_preview.html`,
`scenarios/_join_keys.html`)."""

from __future__ import annotations

from flask import Blueprint, render_template

from subscribe.preview import formats, services
from subscribe.scenarios import services as scenarios
from subscribe.web.i18n import select_language

blp = Blueprint("previews", __name__)


def reason_text(reason: str | None) -> str:
    return services.reason_text(reason, select_language())


def format_label(name: str | None) -> str:
    if not name:
        return ""
    fmt = formats.BY_NAME[name]
    return fmt.zh if select_language() == "zh" else fmt.en


def scenario_join_keys(scenario) -> dict:
    return services.join_keys(int(i) for i in scenarios.member_ids(scenario))


@blp.record_once
def _template_helpers(state) -> None:
    state.app.jinja_env.globals.update(
        dataset_previews=services.dataset_previews,
        preview_reason=reason_text,
        preview_format_label=format_label,
        scenario_join_keys=scenario_join_keys,
    )


@blp.get("/resources/<int:resource_id>/preview")
@services.preview_limit()
def resource(resource_id: int):
    """The preview page; made now (within SUBSCRIBE_PREVIEW_SECONDS) when there is none."""
    preview = services.preview_for(resource_id)
    dataset = services.db.session.get(services.Dataset, preview["dataset_id"])
    return render_template("preview/resource.html", preview=preview, dataset=dataset)
