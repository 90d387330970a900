"""Bundle request and status schemas."""

import marshmallow as ma
from flask import current_app

from subscribe.api import Schema, page_schema
from subscribe.bundles.models import BUNDLE_MODES


class BundleCreateSchema(Schema):
    mode = ma.fields.String(
        load_default=None,
        validate=ma.validate.OneOf(BUNDLE_MODES),
        metadata={"description": "`all` members' files, or only those `changed` since `since` "
                  "(default: since this scenario's last bundle). Default: `changed` when "
                  "`since` is given, else `all`."},
    )  # fmt: skip
    since = ma.fields.AwareDateTime(
        load_default=None, metadata={"description": "Changes after this time (ISO 8601 with zone)"}
    )

    @ma.post_load
    def _mode(self, data, **_kwargs):
        if data["mode"] is None:
            data["mode"] = "changed" if data["since"] else "all"
        elif data["mode"] == "all" and data["since"]:
            raise ma.ValidationError("`since` needs mode `changed`.", "since")
        return data


class SkippedSchema(Schema):
    dataset_id = ma.fields.Integer()
    dataset_title = ma.fields.String()
    resource_id = ma.fields.Integer(allow_none=True)
    name = ma.fields.String()
    url = ma.fields.String()
    reason = ma.fields.String(
        metadata={"description": "conditional_access | too_large | bundle_size_cap | http_error "
                  "| connection | blocked | unsupported_url | no_resources | no_url"}
    )  # fmt: skip
    detail = ma.fields.String()


def _progress(bundle) -> dict:
    total = bundle.files_total or 0
    done = min(bundle.files_done or 0, total)
    return {"files_done": done, "files_total": total,
            "percent": 100 if bundle.status == "ready" else int(100 * done / total) if total else 0}  # fmt: skip


def _download_url(bundle) -> str | None:
    if bundle.status != "ready":
        return None
    return f"{current_app.config['SUBSCRIBE_BASE_URL']}/api/v1/bundles/{bundle.id}/download"


class ProgressSchema(Schema):
    files_done = ma.fields.Integer()
    files_total = ma.fields.Integer()
    percent = ma.fields.Integer()


class BundleSchema(Schema):
    id = ma.fields.Integer()
    scenario_id = ma.fields.Integer(allow_none=True)
    dataset_id = ma.fields.Integer(allow_none=True)
    subscription_id = ma.fields.Integer(allow_none=True)
    mode = ma.fields.String()
    since = ma.fields.DateTime(allow_none=True)
    status = ma.fields.String(
        metadata={
            "description": "queued | building | ready | failed | expired | empty (an incremental bundle with nothing changed: not built, not announced)"
        }
    )
    progress = ma.fields.Function(_progress, metadata={"description": "files fetched so far"})
    file_count = ma.fields.Integer(metadata={"description": "resource files in the zip"})
    size_bytes = ma.fields.Integer(metadata={"description": "size of the zip"})
    sha256 = ma.fields.String(allow_none=True, metadata={"description": "of the zip; its ETag"})
    skipped = ma.fields.List(ma.fields.Nested(SkippedSchema))
    error = ma.fields.String(allow_none=True)
    created_at = ma.fields.DateTime()
    started_at = ma.fields.DateTime(allow_none=True)
    finished_at = ma.fields.DateTime(allow_none=True)
    expires_at = ma.fields.DateTime(allow_none=True)
    download_url = ma.fields.Function(_download_url, allow_none=True)


BundlePageSchema = page_schema(BundleSchema, "BundlePage")
