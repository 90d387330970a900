"""/api/v1: a resource's preview and profile; a scenario's join keys."""

from flask import g

from subscribe.api import Blueprint
from subscribe.preview import services
from subscribe.preview.schemas import JoinKeysSchema, ResourcePreviewSchema
from subscribe.scenarios import services as scenarios

blp = Blueprint(
    "previews", __name__, url_prefix="/api/v1", description="Resource previews and join keys"
)


@blp.get("/resources/<int:resource_id>/preview")
@services.preview_limit()
@blp.response(200, ResourcePreviewSchema)
def preview(resource_id: int):
    """The first 50 rows and a profile per column of a tabular file (CSV in UTF-8, GBK or
    GB18030; XLSX; XLS; JSON arrays). Made on the first request when the background job has
    not yet, within SUBSCRIBE_PREVIEW_SECONDS; a file that is no table answers 200 with
    `status: failed` and the `reason`. Files of datasets that are not unconditionally
    open are never fetched (`status: not_open`). Personal identifiers are masked."""
    answer = services.preview_for(resource_id)
    answer["message"] = (
        services.reason_text(answer.get("reason"), "en") if answer.get("reason") else ""
    )
    return answer


@blp.get("/scenarios/<int:scenario_id>/join-keys")
@blp.auth_required()
@blp.response(200, JoinKeysSchema)
def join_keys(scenario_id: int):
    """Which members share a key column format (行政区划代码, 统一社会信用代码), their
    columns and how much their sampled values overlap; `previewed` of `members` is the
    coverage (only stored previews are read)."""
    scenario = scenarios.get_scenario(g.user, scenario_id)
    ids = [int(i) for i in scenarios.member_ids(scenario)]
    return {"scenario_id": scenario.id, **services.join_keys(ids)}
