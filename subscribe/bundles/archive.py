"""Writing the bundle zip: resource files, datapackage.json and a bilingual README.

No database and no network here: `build.py` hands over fetched files and what was
skipped, this module lays them out. Files are STORED (not deflated): most open data
files are already compressed or are read back by tools that prefer plain bytes, and
deflating gigabytes on a small worker would cap the build far below disk speed.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

COPY_BUFFER = 1024 * 1024
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]+')
_LICENSE_ID = re.compile(r"^[-a-zA-Z0-9._]+$")
_NAME_UNSAFE = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class Entry:
    """One resource file that made it into the bundle."""

    dataset: dict  # id, title, publisher, license, landing_page, source
    resource: dict  # id, name, format, url
    arcname: str
    size: int
    sha256: str
    media_type: str
    retrieved_at: datetime
    # Frictionless Table Schema ({"fields": [...]}) from the file's preview, if any.
    schema: dict | None = None


@dataclass
class Manifest:
    bundle_id: int
    title: str  # the scenario's (or dataset's) name
    mode: str
    since: datetime | None
    created: datetime
    entries: list[Entry] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)  # catalog name → URL


def safe_segment(text: str, limit: int = 80) -> str:
    """A file or folder name safe on Windows, macOS and Linux; Chinese is kept."""
    cleaned = _UNSAFE.sub("_", text).strip(" ._")
    return cleaned[:limit].rstrip(" ._") or "_"


def dataset_folder(dataset_id: int, title: str) -> str:
    return f"data/{dataset_id}-{safe_segment(title, 60)}"


def file_name(resource: dict, taken: set[str]) -> str:
    """The resource's name, else the URL's last segment, with an extension; unique in its folder."""
    url_name = unquote(PurePosixPath(urlsplit(resource.get("url") or "").path).name)
    base = safe_segment(resource.get("name") or url_name or f"resource-{resource['id']}")
    suffix = PurePosixPath(url_name).suffix.lower()
    fmt = (resource.get("format") or "").strip().lower()
    if not PurePosixPath(base).suffix:
        base += suffix or (f".{safe_segment(fmt, 10)}" if fmt else "")
    name, n = base, 1
    while name.lower() in taken:
        n += 1
        stem, ext = PurePosixPath(base).stem, PurePosixPath(base).suffix
        name = f"{stem}-{n}{ext}"
    taken.add(name.lower())
    return name


class BundleWriter:
    """A zip being written on disk; `add` copies a fetched file in with 1 MB buffers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True)

    def add(self, arcname: str, source: Path, size: int, when: datetime) -> None:
        info = zipfile.ZipInfo(arcname, date_time=_zip_time(when))
        info.compress_type = zipfile.ZIP_STORED
        info.file_size = size  # lets zipfile choose zip64 headers up front for big files
        info.external_attr = 0o644 << 16
        with open(source, "rb") as src, self.zip.open(info, "w") as dst:
            shutil.copyfileobj(src, dst, COPY_BUFFER)

    def add_text(self, arcname: str, text: str, when: datetime) -> None:
        info = zipfile.ZipInfo(arcname, date_time=_zip_time(when))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        self.zip.writestr(info, text.encode("utf-8"))

    def close(self, manifest: Manifest) -> None:
        self.add_text("datapackage.json", datapackage_json(manifest), manifest.created)
        self.add_text("README.md", readme(manifest), manifest.created)
        self.zip.close()

    def abort(self) -> None:
        self.zip.close()
        self.path.unlink(missing_ok=True)


def _zip_time(when: datetime) -> tuple:
    return when.astimezone(UTC).timetuple()[:6] if when.year >= 1980 else (1980, 1, 1, 0, 0, 0)


def _iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _licenses(text: str) -> list[dict]:
    """Frictionless wants an id-like `name` or a `path`; other license text goes in `title`
    beside a `path` only when it is a URL (the spec requires one of name or path)."""
    text = (text or "").strip()
    if not text:
        return []
    if text.lower().startswith(("http://", "https://")):
        return [{"path": text, "title": text}]
    if _LICENSE_ID.fullmatch(text):
        return [{"name": text, "title": text}]
    return []


def resource_descriptor(entry: Entry) -> dict:
    dataset, resource = entry.dataset, entry.resource
    descriptor = {
        "name": _NAME_UNSAFE.sub("-", f"dataset-{dataset['id']}-resource-{resource['id']}"),
        "path": entry.arcname,
        "title": resource.get("name") or PurePosixPath(entry.arcname).name,
        "format": (resource.get("format") or PurePosixPath(entry.arcname).suffix[1:]).lower(),
        "mediatype": entry.media_type or "application/octet-stream",
        "bytes": entry.size,
        "hash": f"sha256:{entry.sha256}",
        "sources": [
            {"title": dataset.get("publisher") or dataset["title"], "path": resource["url"]}
        ],
        "licenses": _licenses(dataset.get("license", "")),
        # Not in the Frictionless spec, which allows extra properties: what users asked for.
        "source_url": resource["url"],
        "publisher": dataset.get("publisher", ""),
        "license": dataset.get("license", ""),
        "retrieved_at": _iso(entry.retrieved_at),
        "dataset": {
            "id": dataset["id"],
            "title": dataset["title"],
            "landing_page": dataset.get("landing_page", ""),
        },
    }
    if not descriptor["licenses"]:
        del descriptor["licenses"]
    if entry.schema and entry.schema.get("fields"):
        # Columns as the preview found them; detected formats (统一社会信用代码 …) are in
        # each field's `detected_format` and description (see preview.services.schema_field).
        descriptor["profile"] = "tabular-data-resource"
        descriptor["schema"] = entry.schema
    return descriptor


def datapackage_json(manifest: Manifest) -> str:
    package = {
        "profile": "data-package",
        "name": f"subscribe-bundle-{manifest.bundle_id}",
        "id": f"subscribe-bundle-{manifest.bundle_id}",
        "title": manifest.title,
        "created": _iso(manifest.created),
        "description": (
            f"{len(manifest.entries)} files; {len(manifest.skipped)} left out (see `skipped`)."
        ),
        "sources": [{"title": name, "path": url} for name, url in sorted(manifest.sources.items())],
        "resources": [resource_descriptor(e) for e in manifest.entries],
        "bundle": {
            "id": manifest.bundle_id,
            "mode": manifest.mode,
            "since": _iso(manifest.since),
        },
        "skipped": manifest.skipped,
    }
    return json.dumps(package, ensure_ascii=False, indent=2)


REASONS = {  # reason → (中文, English)
    "conditional_access": ("有条件开放，需向发布方申请，未下载", "conditionally open: ask the publisher; not fetched"),
    "too_large": ("超过单个文件大小上限", "over the per-file size cap"),
    "bundle_size_cap": ("数据包已达总大小上限", "the bundle reached its total size cap"),
    "http_error": ("下载失败（HTTP 错误）", "download failed (HTTP error)"),
    "connection": ("下载失败（连接错误或超时）", "download failed (connection error or timeout)"),
    "blocked": ("地址被安全策略拒绝", "address refused by the outbound policy"),
    "unsupported_url": ("不支持的链接类型", "unsupported link type"),
    "no_resources": ("数据集没有资源文件", "the dataset lists no files"),
    "no_url": ("资源没有下载地址，未下载", "the resource has no download URL; not fetched"),
}  # fmt: skip


def readme(manifest: Manifest) -> str:
    total = sum(e.size for e in manifest.entries)
    since = _iso(manifest.since)
    scope_zh = (
        f"自 {since} 以来有变化的数据" if manifest.mode == "changed" and since else "全部成员数据"
    )
    scope_en = (
        f"data changed since {since}"
        if manifest.mode == "changed" and since
        else "all members' data"
    )
    lines = [
        f"# {manifest.title}",
        "",
        f"数据包 #{manifest.bundle_id}，生成于 {_iso(manifest.created)}：{scope_zh}。",
        f"共 {len(manifest.entries)} 个文件，{total:,} 字节；未包含 {len(manifest.skipped)} 项（见下文）。",
        "每个数据集一个文件夹（data/编号-名称/）。datapackage.json 按 Frictionless Data Package",
        "规范列出每个文件的来源链接、发布方、许可、大小、SHA-256 和获取时间。",
        "",
        f"Bundle #{manifest.bundle_id}, made {_iso(manifest.created)}: {scope_en}.",
        f"{len(manifest.entries)} files, {total:,} bytes; {len(manifest.skipped)} left out (below).",
        "One folder per dataset (data/ID-title/). datapackage.json (Frictionless Data Package)",
        "lists every file's source URL, publisher, license, size, SHA-256 and retrieval time.",
        "",
        "## 文件 / Files",
        "",
    ]
    lines += [f"- `{e.arcname}` — {e.size:,} B — {e.resource['url']}" for e in manifest.entries]
    lines += ["", "## 未包含 / Left out", ""]
    if not manifest.skipped:
        lines.append("无 / None.")
    for item in manifest.skipped:
        zh, en = REASONS.get(item["reason"], (item["reason"], item["reason"]))
        what = item.get("dataset_title", "")
        url = item.get("url") or ""
        detail = f" ({item['detail']})" if item.get("detail") else ""
        lines.append(f"- {what} {url} — {zh} / {en}{detail}")
    return "\n".join(lines) + "\n"
