"""A CKAN-compatible demo portal (Flask) serving the demo catalog and publishing its changes."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.serving import make_server

from subscribe.demo import exports
from subscribe.demo.catalog import DemoCatalog, from_us
from subscribe.demo.changes import ChangeFeed, LiveDataset, resolve
from subscribe.demo.ckan import (
    BASE,
    PackageEncoder,
    dumps,
    envelope,
    error_envelope,
    group,
    organization,
    search_result,
)
from subscribe.demo.content import EXTENSIONS, MIMETYPES
from subscribe.demo.query import ValidationError, everything, natural, page, parse_query, select
from subscribe.demo.vocab import DEPARTMENTS, PORTAL_TITLE, THEMES

_TEXT_TYPES = {"text/csv", "application/xml"}
bp = Blueprint("demo_portal", __name__)


class Portal:
    """The catalog, its change feed and the package JSON cache one app serves."""

    def __init__(self, catalog: DemoCatalog, feed: ChangeFeed):
        self.catalog = catalog
        self.feed = feed
        self.encoder = PackageEncoder(catalog)
        self._org_counts: Counter | None = None

    def find(self, ref: str) -> LiveDataset | None:
        index = self.catalog.index_of(ref or "")
        return None if index is None else resolve(self.catalog, self.feed.snapshot, index)

    def organization_counts(self) -> Counter:
        """Datasets per department; the base count is one cheap pass, cached."""
        if self._org_counts is None:
            size = self.catalog.size
            self._org_counts = Counter(self.catalog.department_index(i) for i in range(size))
        snap = self.feed.snapshot
        counts = Counter(self._org_counts)
        counts.subtract(
            self.catalog.department_index(i) for i in snap.removed if i < self.catalog.size
        )
        counts.update(
            self.catalog.department_index(i)
            for i in range(self.catalog.size, snap.total)
            if i not in snap.removed
        )
        return counts


def create_portal(
    catalog: DemoCatalog | None = None,
    clock: Callable[[], float] = time.time,
    tick_seconds: float = 5.0,
) -> Flask:
    """The portal app. `clock` drives the changes (one per `tick_seconds`; 0 turns them off)."""
    app = Flask(__name__)
    app.json.ensure_ascii = False
    catalog = catalog if catalog is not None else DemoCatalog()
    app.extensions["demo_portal"] = Portal(catalog, ChangeFeed(catalog, clock, tick_seconds))
    app.register_blueprint(bp)
    return app


def _portal() -> Portal:
    return current_app.extensions["demo_portal"]


def _base_url() -> str:
    return request.url_root.rstrip("/")


def _send(text: str, status: int = 200, mimetype: str = "application/json") -> Response:
    body = text.replace(BASE, _base_url()).encode("utf-8")
    return Response(body, status, content_type=f"{mimetype};charset=utf-8")


def _stream(chunks: Iterable[str], mimetype: str, filename: str) -> Response:
    base = _base_url()
    body = (chunk.replace(BASE, base).encode("utf-8") for chunk in chunks)
    headers = {"Content-Disposition": f"inline; filename={filename}"}
    return Response(body, content_type=f"{mimetype}; charset=utf-8", headers=headers)


@bp.before_app_request
def _advance_clock() -> None:
    _portal().feed.sync()


# --- Action API ---------------------------------------------------------------------------


def _error(action: str, status: int, error: dict) -> Response:
    return _send(error_envelope(action, error), status)


def _ok(action: str, result) -> Response:
    return _send(envelope(action, dumps(result)))


def _params() -> dict:
    if request.method == "POST" and request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    return request.args.to_dict()


@bp.route("/api/3/action/<action>", methods=["GET", "POST"])
@bp.route("/api/action/<action>", methods=["GET", "POST"])
def action(action: str) -> Response:
    handler = _ACTIONS.get(action)
    if handler is None:
        return _error(
            action, 400, {"__type": "Bad Request", "message": f"Action name not known: {action}"}
        )
    try:
        return handler(_params())
    except ValidationError as exc:
        return _error(action, 400, {"__type": "Validation Error", **exc.errors})


def package_search(params: dict) -> Response:
    portal = _portal()
    snap = portal.feed.snapshot
    query = parse_query(params, int(portal.feed.clock() * 1_000_000))
    selection = select(portal.catalog, snap, query)
    matches = None
    if query.q:
        needle = query.q.casefold()

        def matches(index: int) -> bool:
            live = resolve(portal.catalog, snap, index)
            return needle in f"{live.title}\n{live.notes}\n{' '.join(live.keywords)}".casefold()

    count, indices = page(selection, query, matches)
    packages = [portal.encoder.encoded(resolve(portal.catalog, snap, i)) for i in indices]
    return _send(envelope("package_search", search_result(count, packages, query.sort)))


def package_show(params: dict) -> Response:
    ref = str(params.get("id") or params.get("name_or_id") or "")
    if not ref:
        raise ValidationError({"id": ["Missing value"]})
    live = _portal().find(ref)
    if live is None:
        return _error("package_show", 404, {"__type": "Not Found Error", "message": "Not found"})
    return _send(envelope("package_show", _portal().encoder.encoded(live)))


def package_list(params: dict) -> Response:
    portal = _portal()
    limit = natural(params, "limit", None)
    offset = natural(params, "offset", 0)
    found = everything(portal.catalog, portal.feed.snapshot).iter_from(offset, False)
    indices = (
        list(found) if limit is None else [i for _, i in zip(range(limit), found, strict=False)]
    )
    return _ok("package_list", [portal.catalog.dataset_name(i) for i in indices])


def organization_list(params: dict) -> Response:
    all_fields = str(params.get("all_fields", "")).lower() in {"true", "1", "yes"}
    counts = _portal().organization_counts()
    orgs = sorted(
        ({**organization(d.code), "package_count": counts[n]} for n, d in enumerate(DEPARTMENTS)),
        key=lambda org: org["name"],
    )
    return _ok("organization_list", orgs if all_fields else [org["name"] for org in orgs])


def group_list(params: dict) -> Response:
    all_fields = str(params.get("all_fields", "")).lower() in {"true", "1", "yes"}
    groups = sorted((group(theme) for theme, _ in THEMES), key=lambda g: g["name"])
    return _ok("group_list", groups if all_fields else [g["name"] for g in groups])


def status_show(params: dict) -> Response:
    return _ok(
        "status_show",
        {
            "site_title": PORTAL_TITLE,
            "site_description": "示例市公共数据开放平台（演示，CKAN 兼容接口）",
            "site_url": BASE,
            "ckan_version": "2.10.4",
            "error_emails_to": None,
            "locale_default": "zh_Hans_CN",
            "extensions": ["activity", "datastore", "scheming_datasets", "dcat"],
        },
    )


def demo_tick(params: dict) -> Response:
    if request.method != "POST":
        return _error(
            "demo_tick", 400, {"__type": "Bad Request", "message": "demo_tick needs POST"}
        )
    return _ok("demo_tick", _portal().feed.tick())


_ACTIONS: dict[str, Callable[[dict], Response]] = {
    "package_search": package_search,
    "package_show": package_show,
    "package_list": package_list,
    "organization_list": organization_list,
    "group_list": group_list,
    "status_show": status_show,
    "demo_tick": demo_tick,
}


# --- files, exports, pages ----------------------------------------------------------------


@bp.get("/files/<dataset_id>/<filename>")
def resource_file(dataset_id: str, filename: str) -> Response:
    portal = _portal()
    live = portal.find(dataset_id)
    resource_id, _, ext = filename.rpartition(".")
    res = next((r for r in live.resources if r.spec.id == resource_id), None) if live else None
    if res is None or res.state.broken or EXTENSIONS[res.spec.format] != ext:
        return Response("Not Found", 404, content_type="text/plain; charset=utf-8")
    state = res.state
    body = portal.catalog.file(
        live.base.index, res.spec.slot, res.spec.format, state.content_rev, state.schema_rev
    )
    mimetype = MIMETYPES[res.spec.format]
    if mimetype in _TEXT_TYPES:
        charset = (
            "utf-8" if res.spec.format != "CSV" else portal.catalog.csv_encoding(live.base.index)
        )
        mimetype += f"; charset={charset}"
    response = Response(body, content_type=mimetype)
    response.set_etag(hashlib.sha256(body).hexdigest()[:40])
    response.last_modified = from_us(res.served_us).replace(tzinfo=UTC)
    return response.make_conditional(request, accept_ranges=True, complete_length=len(body))


@bp.get("/catalog.csv")
def catalog_csv() -> Response:
    portal = _portal()
    return _stream(exports.catalog_csv(portal.catalog, portal.feed), "text/csv", "catalog.csv")


@bp.get("/data.json")
def data_json() -> Response:
    portal = _portal()
    return _stream(exports.data_json(portal.catalog, portal.feed), "application/json", "data.json")


@bp.get("/")
def index() -> Response:
    portal = _portal()
    return _send(exports.index_html(portal.catalog, portal.feed), mimetype="text/html")


@bp.get("/dataset/<ref>")
def dataset_page(ref: str) -> Response:
    live = _portal().find(ref)
    if live is None:
        return _send("<!doctype html><h1>404 数据集不存在或已下线</h1>", 404, "text/html")
    return _send(exports.dataset_html(live), mimetype="text/html")


@bp.get("/license")
def license_page() -> Response:
    text = f"<!doctype html><meta charset='utf-8'><h1>示例市公共数据开放协议</h1><p>{PORTAL_TITLE}演示用协议：可免费获取、使用和传播，须注明数据来源。</p>"
    return _send(text, mimetype="text/html")


@bp.post("/_demo/tick")
def tick() -> Response:
    entry = _portal().feed.tick()
    if "text/html" in request.headers.get("Accept", ""):  # the button on the index page
        return Response(status=303, headers={"Location": f"{_base_url()}/"})
    return _send(dumps(entry))


@bp.get("/_demo/changes")
def changes() -> Response:
    feed = _portal().feed
    state = {"ticks": feed.ticks, "tick_seconds": feed.tick_seconds, "next_kind": feed.next_kind()}
    return _send(dumps({**state, "changes": feed.history()}))


# --- serving ---------------------------------------------------------------------------------


class PortalServer:
    """A running (or ready) portal: `url`, `app`, `start()` in a thread, `stop()`."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        self.app = app
        self.server = make_server(host, port, app, threaded=True)
        self.url = f"http://{host}:{self.server.server_port}"
        self._thread: threading.Thread | None = None

    @property
    def portal(self):
        return self.app.extensions["demo_portal"]

    def start(self) -> PortalServer:
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="demo-portal", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def start_portal(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    size: int | None = 600,
    seed: int = 20240601,
    tick_seconds: float = 5.0,
    clock: Callable[[], float] = time.time,
) -> PortalServer:
    """Start the portal in a background thread (port 0 picks a free port); see `.url`."""
    catalog = DemoCatalog(size=size or 600, seed=seed)
    return PortalServer(create_portal(catalog, clock, tick_seconds), host, port).start()


def run_portal(
    host: str = "127.0.0.1",
    port: int = 5001,
    tick_seconds: float = 5.0,
    size: int | None = 600,
    seed: int = 20240601,
) -> None:
    """Serve in the foreground until interrupted, printing the URL first."""
    size = size or 600
    server = PortalServer(
        create_portal(DemoCatalog(size, seed), tick_seconds=tick_seconds), host, port
    )
    every = f"one change every {tick_seconds:g} s" if tick_seconds > 0 else "no automatic changes"
    print(f"示例市公共数据开放平台 demo CKAN portal: {size} datasets, {every}", flush=True)
    print(f"  {server.url}/  (CKAN API at {server.url}/api/3/action/package_search)", flush=True)
    try:
        server.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server.server_close()
