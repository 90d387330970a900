"""Previews stored and served: on request (time-capped) and by the background job.

A preview is made from the first SUBSCRIBE_PREVIEW_MAX_BYTES of a resource, read within
SUBSCRIBE_PREVIEW_SECONDS; its profile from at most SUBSCRIBE_PREVIEW_PROFILE_ROWS rows;
PREVIEW_ROWS rows are kept to show. Files of datasets that are not unconditionally open
(有条件开放, 依申请开放, 不予开放) are never fetched.

Why both a job and on-demand: the `preview-resources` job previews open datasets' files
in the background (so dataset pages and scenario join keys have them), and a request for
a preview that does not exist yet makes it on the spot, bounded by the time cap, so the
API answers within about SUBSCRIBE_PREVIEW_SECONDS + a few seconds, never hangs.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError

from subscribe.catalog.models import Dataset, Resource
from subscribe.errors import NotFoundError
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify.ssrf import OutboundPolicy, refused_without_dns
from subscribe.preview import formats
from subscribe.preview.fetch import fetch_head
from subscribe.preview.models import ResourcePreview
from subscribe.preview.profile import mask_rows, profile_table, redact_column, redact_preview
from subscribe.preview.read import PreviewProblem, count_lines, read_table

log = logging.getLogger(__name__)

PREVIEW_ROWS = 50
TABULAR_FORMATS = frozenset({"CSV", "XLSX", "XLS", "JSON", "API", "TSV", "TXT"})
TABULAR_SUFFIXES = (".csv", ".xlsx", ".xls", ".json", ".tsv")
CLOSED_OPEN_TYPES = frozenset({"conditional", "on_request", "not_open"})
RETRY_FAILED = timedelta(hours=6)  # a failed fetch is tried again after this

# reason → (中文, English): what the page and the API say.
REASONS = {
    "not_open": ("该数据集不是无条件开放（有条件开放、依申请开放或不予开放），不会下载文件生成预览。",
                 "This dataset is not openly available (conditional, on request or not open): its files are never fetched for a preview."),
    "not_tabular": ("该文件格式不是表格（CSV、XLSX、XLS、JSON），不生成预览。",
                    "This file is not in a tabular format (CSV, XLSX, XLS, JSON): no preview."),
    "unsupported_url": ("链接不是 http(s) 地址，无法获取。", "The link is not an http(s) address."),
    "blocked": ("地址被安全策略拒绝（内网或保留地址）。", "The address is refused by the outbound policy (internal or reserved)."),
    "connection": ("无法连接到文件所在的服务器。", "The file's server could not be reached."),
    "timeout": ("在时间上限内没有收到文件。", "The file did not arrive within the time limit."),
    "http_error": ("服务器返回错误，没有给出文件。", "The server answered with an error instead of the file."),
    "empty": ("文件是空的，没有数据行。", "The file is empty: no rows."),
    "html": ("该地址返回的是网页（HTML），不是数据文件。", "The address returns a web page (HTML), not the data file."),
    "binary": ("文件是二进制内容（如压缩包、图片、PDF），不是表格。", "The file is binary (an archive, an image, a PDF), not a table."),
    "unsupported": ("文件格式无法预览（如旧版 Excel .xls）。", "This file type cannot be previewed (e.g. legacy Excel .xls)."),
    "bad_encoding": ("无法识别文件的文字编码。", "The file's text encoding could not be recognised."),
    "parse_error": ("文件已损坏或格式不正确，无法读取表格。", "The file is broken or malformed: no table could be read."),
    "no_table": ("JSON 中没有记录数组。", "The JSON holds no array of records."),
    "too_large": ("文件超过预览大小上限，且该格式必须完整读取。", "The file is over the preview size cap and this format must be read whole."),
    "internal": ("生成预览时出错。", "The preview could not be made."),
}  # fmt: skip


def reason_text(reason: str | None, language: str = "zh") -> str:
    zh, en = REASONS.get(reason or "", (reason or "", reason or ""))
    return zh if language == "zh" else en


def is_tabular(resource: Resource) -> bool:
    fmt = (resource.format or "").strip().upper()
    path = (resource.url or "").split("?")[0].lower()
    return fmt in TABULAR_FORMATS or (not fmt and path.endswith(TABULAR_SUFFIXES))


def may_fetch(dataset: Dataset) -> bool:
    return dataset.open_type not in CLOSED_OPEN_TYPES


def _settings() -> dict:
    c = current_app.config
    return {
        "max_bytes": c["SUBSCRIBE_PREVIEW_MAX_BYTES"],
        "seconds": c["SUBSCRIBE_PREVIEW_SECONDS"],
        "profile_rows": c["SUBSCRIBE_PREVIEW_PROFILE_ROWS"],
        "policy": OutboundPolicy(c["SUBSCRIBE_OUTBOUND_ALLOWLIST"]),
    }


def make_preview(url: str, declared_format: str, *, policy: OutboundPolicy, max_bytes: int,
                 seconds: float, profile_rows: int) -> dict:  # fmt: skip
    """Fetch, read and profile one file: the column values of a ResourcePreview row.

    Never raises for bad input: a file that is no table gives status "failed" with a
    reason code (REASONS) and a detail.
    """
    started = time.monotonic()
    values: dict = {"url": url, "status": "failed", "notes": []}
    head = None
    try:
        head = fetch_head(url, policy, max_bytes, seconds)
        values.update(content_sha256=head.sha256, bytes_read=head.size, truncated=head.truncated)
        table = read_table(
            head.path, declared=declared_format, media_type=head.media_type,
            max_rows=profile_rows, truncated=head.truncated,
        )  # fmt: skip
        profile = profile_table(table.columns, table.rows, table.complete)
        estimate = None
        if not table.complete and table.kind == "csv":
            estimate = max(count_lines(head.path) - 1, len(table.rows))
        notes = list(table.notes)
        if head.truncated:
            notes.insert(0, f"only the first {head.size:,} bytes were read (preview cap)")
        values.update(
            status="ok", reason=None, detail=None, kind=table.kind, encoding=table.encoding,
            rows_read=len(table.rows), complete=table.complete, row_estimate=estimate,
            columns=table.columns, rows=mask_rows(table.rows[:PREVIEW_ROWS], profile),
            profile=profile, notes=notes,
            key_formats=sorted({c["format"] for c in profile if c["format"] in formats.KEYS}),
        )  # fmt: skip
    except PreviewProblem as problem:
        values.update(reason=problem.reason, detail=problem.detail[:1000])
    except Exception:  # a reader's bug must not become a 500 or stop the job
        log.exception("preview of %s failed", url)
        values.update(reason="internal", detail="unexpected error while reading the file")
    finally:
        if head is not None:
            head.path.unlink(missing_ok=True)
    values["seconds"] = round(time.monotonic() - started, 3)
    return _without_nul(redact_preview(values))


def _without_nul(value):
    """PostgreSQL text and JSONB cannot hold NUL: a NUL past the sniffed head of a file
    (or in a JSON string) must not turn into a 500 when the preview is stored."""
    if isinstance(value, str):
        return value.replace("\x00", "") if "\x00" in value else value
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_nul(v) for k, v in value.items()}
    return value


def _is_fresh(preview: ResourcePreview, resource: Resource) -> bool:
    if preview.url != resource.url:
        return False
    if preview.status == "failed" and preview.reason in (
        "connection", "timeout", "http_error", "internal"
    ):  # fmt: skip
        return utcnow() - preview.computed_at < RETRY_FAILED
    if resource.sha256 is None:
        return True
    return resource.sha256 in (preview.resource_sha256, preview.content_sha256)


def store(resource: Resource, values: dict) -> ResourcePreview:
    """Replace the resource's preview (one row per resource; a concurrent writer wins)."""
    preview = db.session.scalar(
        select(ResourcePreview).where(ResourcePreview.resource_id == resource.id)
    )
    if preview is None:
        preview = ResourcePreview(resource_id=resource.id)
        db.session.add(preview)
    defaults = {"reason": None, "detail": None, "kind": None, "encoding": None, "bytes_read": 0,
                "truncated": False, "rows_read": 0, "complete": False, "row_estimate": None,
                "columns": [], "rows": [], "profile": [], "key_formats": [], "notes": [],
                "content_sha256": None}  # fmt: skip
    # Masked again: values copied from another stored preview (same_content) may be older.
    for name, value in redact_preview({**defaults, **values}).items():
        setattr(preview, name, value)
    preview.resource_sha256 = resource.sha256
    preview.computed_at = utcnow()
    try:
        db.session.commit()
    except IntegrityError:  # another request stored it meanwhile: theirs is as good
        db.session.rollback()
        preview = db.session.scalar(
            select(ResourcePreview).where(ResourcePreview.resource_id == resource.id)
        )
    return preview


_COPIED = ("status", "reason", "detail", "content_sha256", "kind", "encoding", "bytes_read",
           "truncated", "rows_read", "complete", "row_estimate", "columns", "rows", "profile",
           "key_formats", "notes")  # fmt: skip


def same_content(resource: Resource) -> dict | None:
    """The values of a readable preview made from the very bytes the resource's check saw
    (the same file linked from two datasets, or a mirror): reused without a fetch."""
    if resource.sha256 is None:
        return None
    twin = db.session.scalar(
        select(ResourcePreview)
        .where(ResourcePreview.content_sha256 == resource.sha256)
        .where(ResourcePreview.status == "ok", ResourcePreview.truncated.is_(False))
        .where(ResourcePreview.resource_id != resource.id)
        .limit(1)
    )
    if twin is None:
        return None
    return {"url": resource.url, "seconds": 0.0, **{n: getattr(twin, n) for n in _COPIED}}


def _make(resource_id: int, settings: dict) -> dict | None:
    """Preview values for the resource: reused by content hash, else fetched (outside any
    transaction). None when the resource went away meanwhile."""
    resource = db.session.get(Resource, resource_id)
    if resource is None:
        return None
    if (values := same_content(resource)) is not None:
        return values
    url, fmt = resource.url, resource.format or ""
    db.session.commit()  # no transaction stays open while the file is fetched
    return make_preview(url, fmt, **settings)


def preview_for(resource_id: int, compute: bool = True) -> dict:
    """The preview answer for a resource (ResourcePreviewSchema): stored if fresh, else made now
    when `compute` (within the time cap). NotFoundError for an unknown resource."""
    resource = db.session.get(Resource, resource_id)
    if resource is None:
        raise NotFoundError("No such resource.")
    dataset = resource.dataset
    answer = {"resource_id": resource.id, "dataset_id": dataset.id, "name": resource.name,
              "format": resource.format, "url": resource.url}  # fmt: skip
    if not may_fetch(dataset):
        return {**answer, "status": "not_open", "reason": "not_open"}
    # The guard before the format: a file the guard refuses says so whatever its format
    # (bb6: one with no format said not_tabular, one declared CSV blocked).
    if not is_tabular(resource) and (refused := _refused(resource.url)):
        return {**answer, "status": "failed", "reason": "blocked", "detail": refused[:1000]}
    if not is_tabular(resource):
        return {**answer, "status": "not_tabular", "reason": "not_tabular"}
    preview = db.session.scalar(
        select(ResourcePreview).where(ResourcePreview.resource_id == resource.id)
    )
    if preview is None or not _is_fresh(preview, resource):
        if not compute:
            return {**answer, "status": "pending", "reason": None}
        values = _make(resource_id, _settings())
        resource = db.session.get(Resource, resource_id)
        if values is None or resource is None:
            raise NotFoundError("No such resource.")
        preview = store(resource, values)
    return {**answer, **_preview_fields(preview)}


def _refused(url: str | None) -> str | None:
    """The guard's reason for refusing url, or None. No DNS lookup: this runs for every
    file a dataset page lists; a name that resolves to an internal address is refused
    when it would be fetched (a tabular file's preview, checks, bundles)."""
    policy = OutboundPolicy(current_app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"])
    return refused_without_dns(url, policy) if url else None


def would_fetch(resource_id: int) -> bool:
    """Whether a request for this preview fetches the file now (what the rate limit counts)."""
    resource = db.session.get(Resource, resource_id)
    if resource is None or not may_fetch(resource.dataset) or not is_tabular(resource):
        return False
    preview = db.session.scalar(
        select(ResourcePreview).where(ResourcePreview.resource_id == resource.id)
    )
    return preview is None or not _is_fresh(preview, resource)


def preview_limit():
    """The rate limit of previews made on request (SUBSCRIBE_LIMIT_PREVIEW, per address);
    requests answered from a stored preview are exempt."""
    from flask import request

    from subscribe.extensions import limiter

    return limiter.shared_limit(  # one count for the page and the API
        lambda: current_app.config["SUBSCRIBE_LIMIT_PREVIEW"],
        scope="preview",
        exempt_when=lambda: not would_fetch(request.view_args.get("resource_id", 0)),
    )


def _preview_fields(preview: ResourcePreview) -> dict:
    """What is shown of a stored preview, masked by today's rule whatever stored it."""
    return redact_preview({
        name: getattr(preview, name)
        for name in ("status", "reason", "detail", "kind", "encoding", "bytes_read", "truncated",
                     "rows_read", "complete", "row_estimate", "columns", "rows", "profile",
                     "key_formats", "notes", "content_sha256", "computed_at", "seconds")
    })  # fmt: skip


def dataset_previews(dataset: Dataset) -> list[dict]:
    """Stored previews of a dataset's resources for its page (nothing is fetched here)."""
    return [preview_for(r.id, compute=False) for r in dataset.resources]


# --- the background job -------------------------------------------------------------------


def _due_query(limit: int):
    p = ResourcePreview
    stale = or_(
        p.id.is_(None),
        p.url != Resource.url,
        and_(p.status == "failed", p.computed_at < utcnow() - RETRY_FAILED),
        and_(
            Resource.sha256.is_not(None),
            or_(p.resource_sha256.is_(None), p.resource_sha256 != Resource.sha256),
            or_(p.content_sha256.is_(None), p.content_sha256 != Resource.sha256),
        ),
    )
    return (
        select(Resource.id)
        .join(Dataset, Dataset.id == Resource.dataset_id)
        .outerjoin(p, p.resource_id == Resource.id)
        .where(Dataset.deleted_at.is_(None), Dataset.open_type.not_in(CLOSED_OPEN_TYPES))
        .where(
            or_(
                Resource.format.in_(TABULAR_FORMATS | {f.lower() for f in TABULAR_FORMATS}),
                *(Resource.url.like(f"%{suffix}") for suffix in TABULAR_SUFFIXES),
            )
        )
        .where(stale)
        .order_by(p.id.is_not(None), Resource.id)  # never-previewed first
        .limit(limit)
    )


def run_previews(limit: int | None = None, seconds: float | None = None) -> dict:
    """Preview up to `limit` resources that have none or a stale one, for at most about
    `seconds`; returns counts for the log."""
    config = current_app.config
    limit = limit or config["SUBSCRIBE_PREVIEW_BATCH"]
    budget = seconds or config["SUBSCRIBE_PREVIEW_JOB_SECONDS"]
    started = time.monotonic()
    ids = db.session.scalars(_due_query(limit)).all()
    db.session.commit()
    counts: dict[str, int] = defaultdict(int)
    settings = _settings()
    for resource_id in ids:
        if time.monotonic() - started > budget:
            break
        values = _make(resource_id, settings)
        resource = db.session.get(Resource, resource_id)
        if values is not None and resource is not None and resource.url == values["url"]:
            store(resource, values)
            counts[values["status"]] += 1
    summary = {"previewed": sum(counts.values()), **counts,
               "seconds": round(time.monotonic() - started, 3)}  # fmt: skip
    log.info("resource previews: %s", summary)
    return summary


# --- join keys ----------------------------------------------------------------------------


def detected_key_formats(dataset_ids: Iterable[int]) -> dict[int, set[str]]:
    """Dataset id → key formats found in its previewed files, e.g. {12: {"cn_admin_code"}}.

    Key formats: formats.KEYS ("cn_admin_code" 行政区划代码, "cn_uscc" 统一社会信用代码).
    Only datasets with at least one are in the answer (use .get(id, set())). Reads stored
    previews only: nothing is fetched.
    """
    ids = list(dict.fromkeys(int(i) for i in dataset_ids))
    found: dict[int, set[str]] = {}
    for start in range(0, len(ids), 5000):
        rows = db.session.execute(
            select(Resource.dataset_id, ResourcePreview.key_formats)
            .join(ResourcePreview, ResourcePreview.resource_id == Resource.id)
            .where(Resource.dataset_id.in_(ids[start : start + 5000]))
            .where(ResourcePreview.status == "ok")
        ).all()
        for dataset_id, keys in rows:
            if keys:
                found.setdefault(dataset_id, set()).update(keys)
    return found


def join_keys(dataset_ids: Iterable[int]) -> dict:
    """Which datasets share a key column format, and how much their values overlap.

    {"members", "previewed", "keys": [{"format", "label_zh", "label_en", "count",
    "datasets": [{"id", "title", "columns", "values_shared"}]}]}: `previewed` is how
    many members have at least one readable preview (the coverage of this answer);
    `values_shared` is the share of a dataset's sampled key values found in another
    member's sample (None when it is the only one).
    """
    ids = list(dict.fromkeys(int(i) for i in dataset_ids))
    previewed: set[int] = set()
    columns: dict[str, dict[int, dict]] = defaultdict(dict)
    titles: dict[int, str] = {}
    for start in range(0, len(ids), 5000):
        rows = db.session.execute(
            select(Resource.dataset_id, Dataset.title, ResourcePreview.profile)
            .join(ResourcePreview, ResourcePreview.resource_id == Resource.id)
            .join(Dataset, Dataset.id == Resource.dataset_id)
            .where(Resource.dataset_id.in_(ids[start : start + 5000]))
            .where(ResourcePreview.status == "ok")
        ).all()
        for dataset_id, title, profile in rows:
            previewed.add(dataset_id)
            titles[dataset_id] = title
            for column in map(redact_column, profile or []):
                if column.get("format") in formats.KEYS:
                    entry = columns[column["format"]].setdefault(
                        dataset_id, {"columns": [], "values": set()}
                    )
                    if column["name"] not in entry["columns"]:
                        entry["columns"].append(column["name"])
                    entry["values"].update(column.get("key_values") or [])
    keys = []
    for name, by_dataset in columns.items():
        fmt = formats.BY_NAME[name]
        datasets = []
        for dataset_id, entry in sorted(by_dataset.items(), key=lambda kv: titles[kv[0]]):
            others = set().union(*(e["values"] for d, e in by_dataset.items() if d != dataset_id))
            shared = (
                round(len(entry["values"] & others) / len(entry["values"]), 4)
                if entry["values"] and len(by_dataset) > 1
                else None
            )
            datasets.append({"id": dataset_id, "title": titles[dataset_id],
                             "columns": entry["columns"], "values_shared": shared})  # fmt: skip
        keys.append({"format": name, "label_zh": fmt.zh, "label_en": fmt.en,
                     "count": len(datasets), "datasets": datasets})  # fmt: skip
    keys.sort(key=lambda k: (-k["count"], k["format"]))
    return {"members": len(ids), "previewed": len(previewed), "keys": keys}


# --- Table Schema for bundles -------------------------------------------------------------


def table_schemas(resource_ids: Iterable[int]) -> dict[int, dict]:
    """Resource id → a Frictionless Table Schema from its stored preview:
    {"fields": [{"name", "type", "description", "detected_format"?, "constraints"?}]};
    none for a file whose column names hold personal data (see below)."""
    ids = list(dict.fromkeys(int(i) for i in resource_ids))
    schemas: dict[int, dict] = {}
    for start in range(0, len(ids), 5000):
        rows = db.session.execute(
            select(ResourcePreview.resource_id, ResourcePreview.profile)
            .where(ResourcePreview.resource_id.in_(ids[start : start + 5000]))
            .where(ResourcePreview.status == "ok")
        ).all()
        for resource_id, profile in rows:
            shown = [redact_column(c) for c in profile or []]
            if any(
                c.get("name") != s.get("name") for c, s in zip(profile or [], shown, strict=True)
            ):
                # Column names holding an ID or phone number: a file without a header
                # row, whose first row of data became the names. Its schema would name
                # masked values the file does not hold (a Frictionless validator reads a
                # header mismatch), so the resource is described without one.
                continue
            schemas[resource_id] = {"fields": [schema_field(c) for c in shown]}
    return schemas


_TABLE_SCHEMA_TYPES = {"integer", "number", "boolean", "date", "string"}


def schema_field(column: dict) -> dict:
    """One Table Schema field. Detected Chinese formats are not Table Schema `format`
    values (those are fixed per type: email, uri…), so they go in `detected_format`
    (extra properties are allowed) and in the description, in both languages."""
    kind = column.get("type") if column.get("type") in _TABLE_SCHEMA_TYPES else "string"
    field = {"name": column["name"], "type": kind}
    fmt = column.get("format")
    if kind == "date":
        # Chinese date forms (2023年5月1日) are not ISO: "any" lets readers parse them.
        field["format"] = "any"
    if fmt:
        info = formats.BY_NAME[fmt]
        share = column.get("format_share")
        field["detected_format"] = fmt
        field["description"] = (
            f"{info.zh} / {info.en}"
            + (f" — {share:.0%} of sampled values valid" if share is not None else "")
            + (" — personal data, masked in previews" if info.personal else "")
        )
    return field
