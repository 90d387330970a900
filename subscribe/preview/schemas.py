"""Preview and join-key answers (documented in OpenAPI)."""

import marshmallow as ma

from subscribe.api import Schema

STATUS_TEXT = (
    "`ok`: rows and profile; `failed`: `reason` says why (`html`, `binary`, `bad_encoding`, "
    "`parse_error`, `too_large`, `timeout`, `connection`, `http_error`, `blocked`, `empty`, "
    "`unsupported`, `no_table`); `not_open`: the dataset is not unconditionally open, its "
    "files are never fetched; `not_tabular`: not CSV, XLSX, XLS or JSON; `pending`: not made yet"
)


class PreviewColumnProfileSchema(Schema):
    name = ma.fields.String()
    type = ma.fields.String(metadata={"description": "integer | number | boolean | date | string"})
    format = ma.fields.String(
        allow_none=True,
        metadata={"description": "Detected format: cn_id_card, cn_uscc, cn_admin_code, "
                  "cn_mobile, cn_phone, cn_date, cn_amount"},
    )  # fmt: skip
    format_label = ma.fields.String(allow_none=True)
    format_share = ma.fields.Float(allow_none=True, metadata={"description": "Share of sampled "
                                   "distinct values that passed the format's test"})  # fmt: skip
    personal = ma.fields.Boolean(metadata={"description": "Values shown masked"})
    empty_share = ma.fields.Float()
    distinct = ma.fields.Integer(metadata={"description": "Distinct values in the rows read"})
    distinct_exact = ma.fields.Boolean(metadata={"description": "False: a lower bound"})
    min = ma.fields.Raw(allow_none=True)
    max = ma.fields.Raw(allow_none=True)
    examples = ma.fields.List(ma.fields.String())


class ResourcePreviewSchema(Schema):
    resource_id = ma.fields.Integer()
    dataset_id = ma.fields.Integer()
    name = ma.fields.String()
    format = ma.fields.String()
    url = ma.fields.String()
    status = ma.fields.String(metadata={"description": STATUS_TEXT})
    reason = ma.fields.String(allow_none=True)
    message = ma.fields.String(metadata={"description": "The reason in words"})
    detail = ma.fields.String(allow_none=True)
    kind = ma.fields.String(allow_none=True, metadata={"description": "csv | xlsx | xls | json"})
    encoding = ma.fields.String(
        allow_none=True, metadata={"description": "utf-8 | gbk | gb18030 …"}
    )
    bytes_read = ma.fields.Integer()
    truncated = ma.fields.Boolean(metadata={"description": "Only the file's head was read"})
    rows_read = ma.fields.Integer(metadata={"description": "Rows profiled"})
    complete = ma.fields.Boolean(metadata={"description": "Every row of the file was read"})
    row_estimate = ma.fields.Integer(allow_none=True, metadata={"description": "CSV lines"})
    columns = ma.fields.List(ma.fields.String())
    rows = ma.fields.List(ma.fields.List(ma.fields.String()),
                          metadata={"description": "First 50 rows; personal identifiers masked"})  # fmt: skip
    profile = ma.fields.List(ma.fields.Nested(PreviewColumnProfileSchema))
    key_formats = ma.fields.List(ma.fields.String())
    notes = ma.fields.List(ma.fields.String())
    content_sha256 = ma.fields.String(allow_none=True)
    computed_at = ma.fields.DateTime(allow_none=True)
    seconds = ma.fields.Float(allow_none=True)


class JoinKeyDatasetSchema(Schema):
    id = ma.fields.Integer()
    title = ma.fields.String()
    columns = ma.fields.List(ma.fields.String())
    values_shared = ma.fields.Float(
        allow_none=True,
        metadata={"description": "Share of its sampled key values found in another member"},
    )


class JoinKeySchema(Schema):
    format = ma.fields.String()
    label_zh = ma.fields.String()
    label_en = ma.fields.String()
    count = ma.fields.Integer(metadata={"description": "Members with such a column"})
    datasets = ma.fields.List(ma.fields.Nested(JoinKeyDatasetSchema))


class JoinKeysSchema(Schema):
    scenario_id = ma.fields.Integer()
    members = ma.fields.Integer()
    previewed = ma.fields.Integer(metadata={"description": "Members with a readable preview"})
    keys = ma.fields.List(ma.fields.Nested(JoinKeySchema))
