"""Every harvest fetch goes through the SSRF guard, redirects and later pages included.

A source URL is vetted when it is saved, but the harvest fetched with a plain session:
a portal that redirected inside, a second page that did, or a name that resolved
elsewhere by the time of the run was fetched. Real servers on loopback: 127.0.0.1 is
the allow-listed "portal", 127.0.0.2 (not allow-listed) the inside that must never be
asked; names are resolved by a fake resolver, as in test_ssrf."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select
from werkzeug import Request, Response
from werkzeug.serving import make_server

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.models import Dataset, HarvestRun
from subscribe.catalog.preview import preview_source
from subscribe.errors import InvalidInputError
from subscribe.extensions import db
from tests.conftest import FIXTURES

CSV = "目录编号,目录名称,提供单位\nA001,空气质量日报,生态环境局\nA002,公交线路,交通局\n"
DCAT_US = json.dumps({"dataset": [{"identifier": "d1", "title": "Air", "modified": "2024-01-01"}]})
PACKAGES = FIXTURES / "catalogs" / "catalog.data.gov_harvest_sources_package_search_results.json"


@dataclass
class Server:
    url: str
    port: int
    hits: list[str] = field(default_factory=list)


@contextmanager
def serving(handler: Callable[[Request], Response], host: str = "127.0.0.1", port: int = 0
            ) -> Iterator[Server]:  # fmt: skip
    """A real server on host:port answering handler(request), counting requests."""
    box: dict = {}

    @Request.application
    def app(request: Request) -> Response:
        box["server"].hits.append(request.full_path)
        return handler(request)

    server = make_server(host, port, app, threaded=True)
    box["server"] = Server(f"http://{host}:{server.server_port}", server.server_port)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield box["server"]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def redirect_to(url: str) -> Callable[[Request], Response]:
    return lambda request: Response("", status=302, headers={"Location": url})


def answer(body: str, content_type: str) -> Callable[[Request], Response]:
    return lambda request: Response(body, content_type=content_type)


def ckan_page(packages: list) -> Callable[[Request], Response]:
    """package_search over packages (rows and start read, as CKAN does)."""

    def handler(request: Request) -> Response:
        rows, start = int(request.args.get("rows", 10)), int(request.args.get("start", 0))
        result = {"count": len(packages), "results": packages[start : start + rows]}
        return Response(json.dumps({"success": True, "result": result}),
                        content_type="application/json")  # fmt: skip

    return handler


def harvest(name: str, kind: str, url: str) -> HarvestRun:
    source = services.create_source(name, kind, url, mapping={"id_column": "目录编号"}
                                    if kind == "tabular" else None)  # fmt: skip
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    return execute_run(run)


@pytest.fixture
def only_127_0_0_1(app):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1"]  # not 127.0.0.2
    app.config["SUBSCRIBE_HTTP_TIMEOUT"] = 2.0


@pytest.mark.parametrize(
    "kind, path, inside",
    [
        ("ckan", "/", ckan_page([{"id": "p1", "name": "p1", "title": "P1"}])),
        ("dcat", "/data.json", answer(DCAT_US, "application/json")),
        ("tabular", "/catalog.csv", answer(CSV, "text/csv")),
    ],
)
def test_a_redirect_inside_fails_the_run_and_is_never_followed(only_127_0_0_1, kind, path, inside):
    """The source URL (CKAN: its action URL; DCAT: the catalog; tabular: the export)
    answers a redirect to an address the allow-list does not let in: the run fails
    with "blocked: <reason>" and the inside server is never asked. Before: followed,
    and the inside's answer harvested."""
    with serving(inside, host="127.0.0.2") as inner, serving(redirect_to(inner.url + path)) as hop:
        run = harvest(f"hop-{kind}", kind, hop.url + path)
    assert run.status == "failed", (run.status, run.error)
    assert run.error.startswith("blocked: ") and "127.0.0.2 is a loopback address" in run.error
    assert inner.hits == [] and len(hop.hits) == 1
    assert db.session.scalar(select(func.count()).select_from(Dataset)) == 0


def test_a_next_page_that_leads_inside_fails_the_run_keeping_the_pages_read(app, only_127_0_0_1):
    """CKAN's pages are one action asked again (start=…): the second page's answer is a
    redirect inside. The first page's datasets are kept (a failed run keeps good data),
    nothing is marked deleted, and the inside (which would answer the page) is never
    asked. Before: the run followed it and succeeded with the inside's page."""
    packages = json.loads(PACKAGES.read_text())[:30]
    app.config["SUBSCRIBE_HARVEST_PAGE_SIZE"] = 20
    portal_page = ckan_page(packages)
    with serving(portal_page, host="127.0.0.2") as inner:

        def portal(request: Request) -> Response:
            if request.args.get("start", "0") != "0":  # the next page
                return redirect_to(inner.url + request.full_path)(request)
            return portal_page(request)

        with serving(portal) as outer:
            run = harvest("paged", "ckan", outer.url + "/")
    assert run.status == "failed" and run.error.startswith("blocked: ")
    assert "127.0.0.2" in run.error and "start=20" in run.error  # which fetch was refused
    assert inner.hits == [] and len(outer.hits) == 2
    assert (run.created, run.deleted) == (20, 0)


@pytest.fixture
def dns(monkeypatch):
    """A fake resolver: names in the table answer its addresses (changeable during a
    test); IP literals go to the real, numeric resolver. No DNS query is sent."""
    table: dict[str, list[str]] = {}
    real = socket.getaddrinfo

    def fake(host, port, family=0, type=0, proto=0, flags=0):
        try:
            ipaddress.ip_address(host)
        except ValueError:
            if host not in table:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in table[host]]
        return real(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return table


def test_a_name_that_now_resolves_inside_is_refused_at_fetch_time(app, only_127_0_0_1, dns):
    """The source was saved (and vetted) while its name resolved to an allowed address;
    by the next run it resolves inside. The address is checked when the connection is
    opened: the run fails "blocked", and the server at the inside address (same port)
    is never asked. A preview of the source says the same (422 on source)."""
    dns["portal.example"] = ["127.0.0.1"]
    with (
        serving(answer(CSV, "text/csv")) as outer,
        serving(answer(CSV, "text/csv"), host="127.0.0.2", port=outer.port) as inner,
    ):
        url = f"http://portal.example:{outer.port}/catalog.csv"
        services.check_source_url(url)  # what the API and the operator pages do
        first = harvest("named", "tabular", url)
        assert (first.status, first.created) == ("succeeded", 2), first.error
        dns["portal.example"] = ["127.0.0.2"]
        source = first.source
        run = services.queue_harvest(source)
        assert claim_run(run.id)
        second = execute_run(run)
        with pytest.raises(InvalidInputError) as previewed:
            preview_source(source)
    assert second.status == "failed", (second.status, second.error)
    assert second.error.startswith("blocked: portal.example resolves to 127.0.0.2, a loopback")
    assert inner.hits == [] and len(outer.hits) == 1
    assert second.deleted == 0 and db.session.scalar(
        select(func.count()).select_from(Dataset).where(Dataset.deleted_at.is_(None))
    ) == 2  # fmt: skip
    assert previewed.value.errors["source"][0].startswith("blocked: portal.example resolves")


def test_an_unresolvable_name_is_unreachable_not_blocked(app, dns):
    """The guard's "no address" is the same words as before it was in the way."""
    run = harvest("nowhere", "tabular", "http://nowhere.example/catalog.csv")
    assert run.status == "failed"
    assert run.error == "could not fetch http://nowhere.example/catalog.csv: host name not found"
