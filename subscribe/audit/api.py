"""/api/v1/audit: the audit trail (行为记录) — operators search and export; users read
their own. There is no write, update or delete endpoint."""

from datetime import datetime

from flask import Response, g, stream_with_context

from subscribe.api import Blueprint
from subscribe.audit import services
from subscribe.audit.schemas import (
    AuditExportSchema,
    AuditMineSchema,
    AuditPageSchema,
    AuditSearchSchema,
)

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="Audit trail (行为记录)")


@blp.get("")
@blp.auth_required("operator")
@blp.arguments(AuditSearchSchema, location="query", error_status_code=400)
@blp.response(200, AuditPageSchema)
def search(args):
    """Entries newest first, filtered by actor, action, target and time range."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return services.search(args, page, per_page)


@blp.get("/export")
@blp.auth_required("operator")
@blp.arguments(AuditExportSchema, location="query", error_status_code=400)
@blp.response(200, description="Every matching entry: CSV (header row; details as JSON "
              "text) or a JSON array", content_type="text/csv")  # fmt: skip
def export(args):
    """Download the matching entries (same filters as the search, no paging), streamed.
    The export itself is recorded (`audit.export`)."""
    fmt = args.pop("format")
    services.record_now("audit.export", "audit", "", {"format": fmt, "filters": args},
                        actor=g.user)  # fmt: skip
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    mimetype = "text/csv" if fmt == "csv" else "application/json"
    return Response(
        stream_with_context(services.export(args, fmt)),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.{fmt}"'},
    )


@blp.get("/mine")
@blp.auth_required()
@blp.arguments(AuditMineSchema, location="query", error_status_code=400)
@blp.response(200, AuditPageSchema)
def mine(args):
    """What the caller did (their own entries), newest first; filtered by action, target
    and time range as the operators' search (`since=abc` is a 400)."""
    page, per_page = args.pop("page"), args.pop("per_page")
    return services.for_user(g.user, page, per_page, args)
