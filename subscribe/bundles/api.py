"""/api/v1 bundles: ask for a scenario's bundle, follow its progress, download it."""

from flask import g, request, send_file
from werkzeug.http import parse_range_header

from subscribe.api import Blueprint, PageArgsSchema
from subscribe.audit import services as audit
from subscribe.bundles import services
from subscribe.bundles.schemas import BundleCreateSchema, BundlePageSchema, BundleSchema
from subscribe.scenarios.services import get_scenario

blp = Blueprint("bundles", __name__, url_prefix="/api/v1", description="Bulk download bundles")


@blp.post("/scenarios/<int:scenario_id>/bundles")
@blp.auth_required()
@blp.arguments(BundleCreateSchema)
@blp.response(202, BundleSchema)
def request_bundle(body, scenario_id: int):
    """Queue a zip of the scenario's data: every member's files (`all`), or only files
    changed since a time or since the last bundle (`changed`). Follow it at
    `/api/v1/bundles/{id}`."""
    scenario = get_scenario(g.user, scenario_id)
    bundle = services.request_bundle(g.user, scenario, body["mode"], body["since"])
    return bundle, 202, {"Location": f"/api/v1/bundles/{bundle.id}"}


@blp.get("/scenarios/<int:scenario_id>/bundles")
@blp.auth_required()
@blp.arguments(PageArgsSchema, location="query", error_status_code=400)
@blp.response(200, BundlePageSchema)
def list_bundles(args, scenario_id: int):
    """The scenario's bundles, newest first."""
    scenario = get_scenario(g.user, scenario_id)
    return services.list_bundles(g.user, scenario, args["page"], args["per_page"])


@blp.get("/bundles/<int:bundle_id>")
@blp.auth_required()
@blp.response(200, BundleSchema)
def get_bundle(bundle_id: int):
    """Status, progress, size, file count, and what was left out and why."""
    return services.get_bundle(g.user, bundle_id)


@blp.get("/bundles/<int:bundle_id>/download")
@blp.auth_required()
@blp.response(200, description="The zip (Range requests resume it; ETag is its SHA-256)",
              content_type="application/zip")  # fmt: skip
@blp.alt_response(206, description="Part of the zip (HTTP Range)")
@blp.alt_response(404, description="No file: the bundle is `empty` (nothing changed) or `failed`")
@blp.alt_response(409, description="Not built yet (queued or building)")
@blp.alt_response(410, description="Expired and deleted")
def download_bundle(bundle_id: int):
    """Download the zip, streamed from disk; resumable with HTTP Range."""
    bundle = services.get_bundle(g.user, bundle_id)
    path = services.download_path(bundle)
    audit.record_now("bundle.download", "bundle", bundle.id,
                     {"range": request.headers.get("Range")}, actor=g.user)  # fmt: skip
    _ignore_unserved_range()
    return send_file(
        path, mimetype="application/zip", as_attachment=True,
        download_name=f"subscribe-bundle-{bundle.id}.zip", conditional=True, etag=bundle.sha256,
        max_age=0,
    )  # fmt: skip


def _ignore_unserved_range() -> None:
    """Drop a Range header this download does not serve, so the whole file is sent (200):
    one it cannot parse (bytes=abc), another unit, or several ranges (bytes=0-1,5-6; no
    multipart/byteranges here). RFC 9110 §14.2: a server MAY ignore Range and ignores an
    invalid one; werkzeug answered all three 416. One satisfiable-looking range past the
    end (bytes=999999999-) stays werkzeug's 416."""
    header = request.environ.get("HTTP_RANGE")
    if header is None:
        return
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        del request.environ["HTTP_RANGE"]
