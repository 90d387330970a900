"""CKAN 2.10-shaped JSON for the demo catalog: package, resource, organization and group dicts."""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections import OrderedDict

from subscribe.demo.catalog import DemoCatalog, from_us
from subscribe.demo.changes import LiveDataset, LiveResource
from subscribe.demo.content import EXTENSIONS, MIMETYPES
from subscribe.demo.vocab import DEPARTMENTS, PORTAL_TITLE, THEME_SLUGS

# Cached JSON is host-independent: this stands for the portal's URL until a response is sent.
BASE = "http://demo-portal.invalid"
_NS = uuid.UUID("0f1d5c3e-2b7a-4c55-8e0b-6a3f9d2c7b41")
_CREATOR = str(uuid.uuid5(_NS, "admin"))
_OPEN_LICENSES = {"CC-BY-4.0"}


def iso(us: int) -> str:
    """CKAN's timestamp format: naive UTC, microseconds, no zone."""
    return from_us(us).isoformat()


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


@functools.cache
def organization(code: str) -> dict:
    dept = next(d for d in DEPARTMENTS if d.code == code)
    return {
        "id": str(uuid.uuid5(_NS, f"org/{code}")),
        "name": code,
        "title": dept.name,
        "type": "organization",
        "description": f"{dept.name}在{PORTAL_TITLE}开放的数据。",
        "image_url": "",
        "created": "2018-06-01T08:00:00",
        "is_organization": True,
        "approval_status": "approved",
        "state": "active",
    }


@functools.cache
def group(theme: str) -> dict:
    return {
        "id": str(uuid.uuid5(_NS, f"group/{theme}")),
        "name": THEME_SLUGS[theme],
        "title": theme,
        "display_name": theme,
        "description": "",
        "image_display_url": "",
    }


@functools.cache
def tag(name: str) -> dict:
    return {
        "id": str(uuid.uuid5(_NS, f"tag/{name}")),
        "name": name,
        "display_name": name,
        "state": "active",
        "vocabulary_id": None,
    }


def resource_url(dataset_id: str, res: LiveResource) -> str:
    return f"{BASE}/files/{dataset_id}/{res.spec.id}.{EXTENSIONS[res.spec.format]}"


class PackageEncoder:
    """Builds package dicts and keeps their JSON, keyed by (index, overlay serial)."""

    def __init__(self, catalog: DemoCatalog, cache_size: int = 8192):
        self.catalog = catalog
        self._cache: OrderedDict[tuple[int, int], str] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def encoded(self, live: LiveDataset) -> str:
        key = (live.base.index, live.serial)
        with self._lock:
            text = self._cache.get(key)
            if text is not None:
                self._cache.move_to_end(key)
                return text
        text = dumps(self.package(live))
        with self._lock:
            self._cache[key] = text
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return text

    def package(self, live: LiveDataset) -> dict:
        ds = live.base
        org = organization(ds.department.code)
        license_id, license_title, license_url = ds.license
        return {
            "author": None,
            "author_email": None,
            "creator_user_id": _CREATOR,
            "extras": [
                {"key": "issued", "value": from_us(live.issued_us).date().isoformat()},
                {"key": "open_type", "value": ds.open_type},
                {"key": "spatial_region", "value": ds.region},
                {"key": "update_frequency", "value": live.frequency},
            ],
            "groups": [group(theme) for theme in ds.themes],
            "id": ds.id,
            "isopen": license_id in _OPEN_LICENSES,
            "license_id": license_id,
            "license_title": license_title,
            "license_url": license_url if license_url.startswith("http") else BASE + license_url,
            "maintainer": ds.department.name,
            "maintainer_email": f"opendata@{ds.department.code}.shilishi.example",
            "metadata_created": iso(live.created_us),
            "metadata_modified": iso(live.modified_us),
            "name": ds.name,
            "notes": live.notes,
            "num_resources": len(live.resources),
            "num_tags": len(live.keywords),
            "organization": org,
            "owner_org": org["id"],
            "private": False,
            "relationships_as_object": [],
            "relationships_as_subject": [],
            "resources": [self.resource(live, res, n) for n, res in enumerate(live.resources)],
            "state": "active",
            "tags": [tag(keyword) for keyword in live.keywords],
            "title": live.title,
            "type": "dataset",
            "url": f"{BASE}/dataset/{ds.name}",
            "version": None,
        }

    def resource(self, live: LiveDataset, res: LiveResource, position: int) -> dict:
        spec, state = res.spec, res.state
        size = None
        if self.catalog.exact_sizes:
            size = self.catalog.file_size(live.base.index, spec.slot, spec.format, *state.listed)
        return {
            "cache_last_updated": None,
            "cache_url": None,
            "created": iso(spec.created_us),
            "datastore_active": False,
            "description": f"{live.base.department.name}发布的{spec.name}",
            "format": spec.format,
            "hash": "",
            "id": spec.id,
            "last_modified": iso(res.last_modified_us),
            "metadata_modified": iso(res.last_modified_us),
            "mimetype": MIMETYPES[spec.format],
            "mimetype_inner": None,
            "name": spec.name,
            "package_id": live.base.id,
            "position": position,
            "resource_type": "api" if spec.format == "API" else None,
            "size": size,
            "state": "active",
            "url": resource_url(live.base.id, res),
            "url_type": None,
        }


def envelope(action: str, result_json: str) -> str:
    """The Action API's success wrapper around an already encoded result."""
    help_url = dumps(f"{BASE}/api/3/action/help_show?name={action}")
    return f'{{"help": {help_url}, "success": true, "result": {result_json}}}'


def search_result(count: int, packages: list[str], sort: str) -> str:
    return (
        f'{{"count": {count}, "facets": {{}}, "results": [{", ".join(packages)}], '
        f'"sort": {dumps(sort)}, "search_facets": {{}}}}'
    )


def error_envelope(action: str, error: dict) -> str:
    help_url = f"{BASE}/api/3/action/help_show?name={action}"
    return dumps({"help": help_url, "success": False, "error": error})
