"""A catalog whose URLs all move origin (http -> https, a new host name, another port) is
no news (bb6 M6: `make run` with port 5001 taken started the demo portal elsewhere, and
the next harvest told subscribers ~600 datasets were updated). Harvest series on a real
loopback portal whose data.json writes its URLs on the origin it is asked on, as a
portal behind a moved address does; the rule is subscribe/catalog/origins.py."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion, Resource
from subscribe.catalog.origins import MIN_DATASETS, moved_origins, origin_only, split_origin
from subscribe.extensions import db


def harvest(source):
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    return execute_run(run)


class Portal:
    """A DCAT-US portal of ``count`` datasets; dataset n's URLs are on ``origins[n]``
    (default: the origin the request came to, ``request.host_url``) and under
    ``paths[n]`` (default /dataset/dsN)."""

    def __init__(self, httpserver, count: int):
        self.count = count
        self.origins: dict[int, str] = {}
        self.paths: dict[int, str] = {}
        self.titles: dict[int, str] = {}
        self.url_identifiers = False  # no identifier: the landing page identifies
        httpserver.expect_request("/data.json").respond_with_handler(self.respond)
        self.port = httpserver.port

    def url(self, host: str) -> str:
        return f"http://{host}:{self.port}/data.json"

    def respond(self, request):
        from werkzeug import Response

        here = request.host_url.rstrip("/")
        datasets = []
        for n in range(self.count):
            origin = self.origins.get(n, here)
            path = self.paths.get(n, f"/dataset/ds{n}")
            datasets.append({
                **({} if self.url_identifiers else {"identifier": f"ds-{n}"}),
                "title": self.titles.get(n, f"Dataset {n}"),
                "publisher": {"name": "Bureau"},
                "modified": "2024-01-01",
                "landingPage": f"{origin}{path}",
                "distribution": [
                    {"downloadURL": f"{origin}{path}/data.csv?v=1", "mediaType": "text/csv",
                     "title": "data"},
                    {"downloadURL": f"{origin}{path}/data.json", "mediaType": "application/json",
                     "title": "json"},
                ],
            })  # fmt: skip
        body = json.dumps({"dataset": datasets})
        return Response(body, content_type="application/json")


def events(kind: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(CatalogEvent).where(CatalogEvent.type == kind)
    )


def versions() -> int:
    return db.session.scalar(select(func.count()).select_from(DatasetVersion))


def move_source(source, url: str) -> None:
    source.url = url
    db.session.commit()


def stored_urls(source) -> set[str]:
    rows = db.session.scalars(select(Dataset).where(Dataset.source_id == source.id)).all()
    found = {d.landing_page for d in rows}
    found |= {r.url for d in rows for r in db.session.scalars(
        select(Resource).where(Resource.dataset_id == d.id))}  # fmt: skip
    return found


@pytest.fixture
def portal(httpserver):
    return Portal(httpserver, 8)


def test_a_portal_moving_to_another_host_is_no_news(app, portal):
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    first = harvest(source)
    assert (first.status, first.created) == ("succeeded", 8)
    resource_ids = set(db.session.scalars(select(Resource.id)))
    before_versions = versions()

    move_source(source, portal.url("localhost"))
    second = harvest(source)
    assert second.status == "succeeded"
    assert (second.created, second.updated, second.deleted) == (0, 0, 0)
    assert events("dataset.updated") == 0 and events("dataset.deleted") == 0
    assert versions() == before_versions
    # The new URLs are stored (downloads work), on resources that kept their ids.
    urls = stored_urls(source)
    assert urls and all(u.startswith(f"http://localhost:{portal.port}/") for u in urls)
    assert set(db.session.scalars(select(Resource.id))) == resource_ids
    old, new = f"http://127.0.0.1:{portal.port}", f"http://localhost:{portal.port}"
    assert second.mapping_report["origin_moves"] == [{"from": old, "to": new, "datasets": 8}]

    # The snapshot was rewritten: an edit afterwards is diffed against the new URLs.
    portal.titles[3] = "Dataset 3, revised"
    third = harvest(source)
    assert (third.updated, third.unchanged) == (1, 7)
    event = db.session.scalars(select(CatalogEvent).where(
        CatalogEvent.type == "dataset.updated")).one()  # fmt: skip
    assert [c["kind"] for c in event.changes] == ["metadata"]
    assert set(event.changes[0]["fields"]) == {"title"}
    assert "origin_moves" not in (third.mapping_report or {})


def test_one_dataset_moving_elsewhere_is_news(app, portal):
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    portal.origins[2] = "https://mirror.example.org"
    run = harvest(source)
    assert (run.updated, run.unchanged) == (1, 7)
    assert events("dataset.updated") == 1
    assert "origin_moves" not in (run.mapping_report or {})


def test_with_the_portal_moved_a_dataset_moved_elsewhere_is_news(app, portal):
    """Seven datasets follow the portal to localhost, one goes to a mirror: the seven
    are a move, the one is news."""
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    portal.origins[5] = "https://mirror.example.org"
    move_source(source, portal.url("localhost"))
    run = harvest(source)
    assert (run.updated, run.unchanged) == (1, 7)
    event = db.session.scalars(select(CatalogEvent).where(
        CatalogEvent.type == "dataset.updated")).one()  # fmt: skip
    assert event.after["landing_page"] == "https://mirror.example.org/dataset/ds5"
    assert event.before["landing_page"] == f"http://127.0.0.1:{portal.port}/dataset/ds5"
    assert run.mapping_report["origin_moves"][0]["datasets"] == 7


def test_datasets_edited_while_the_portal_moved_count_in_the_move(app, portal):
    """bb9 F4 (t3.py edit): 8 moved, 2 of them also edited: the move said 6 datasets.
    Every dataset whose URLs the move took counts; the 2 edits are news without it."""
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    portal.titles[0] = "Dataset 0, revised"
    portal.titles[1] = "Dataset 1, revised"
    move_source(source, portal.url("localhost"))
    run = harvest(source)
    assert (run.updated, run.unchanged) == (2, 6)
    assert run.mapping_report["origin_moves"][0]["datasets"] == 8
    for event in db.session.scalars(select(CatalogEvent).where(
            CatalogEvent.type == "dataset.updated")):  # fmt: skip
        assert set(event.changes[0]["fields"]) == {"title"}


def test_a_path_changed_with_the_move_is_news(app, portal):
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    portal.paths[4] = "/datasets/ds4-renamed"
    move_source(source, portal.url("localhost"))
    run = harvest(source)
    assert (run.updated, run.unchanged) == (1, 7)
    assert run.mapping_report["origin_moves"][0]["datasets"] == 7


def test_half_a_portal_moved_is_news(app, httpserver):
    """Five datasets move to another host while five stay on the old one: the old origin
    is still in use, so this is no move of the portal, and each is news."""
    portal = Portal(httpserver, 10)
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    for n in range(5):
        portal.origins[n] = "https://new.example.org"
    run = harvest(source)
    assert (run.updated, run.unchanged) == (5, 5)
    assert events("dataset.updated") == 5
    assert versions() == 15
    event = db.session.scalars(select(CatalogEvent).where(
        CatalogEvent.type == "dataset.updated").limit(1)).one()  # fmt: skip
    kinds = [c["kind"] for c in event.changes]
    assert "metadata" in kinds  # the landing page, as before the rule
    assert "origin_moves" not in (run.mapping_report or {})


def test_a_small_portal_moving_is_news(app, httpserver):
    """Fewer datasets than MIN_DATASETS: too few to tell a move from a story."""
    portal = Portal(httpserver, MIN_DATASETS - 1)
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    move_source(source, portal.url("localhost"))
    run = harvest(source)
    assert run.updated == MIN_DATASETS - 1
    assert events("dataset.updated") == MIN_DATASETS - 1


def test_moved_origins_and_origin_only():
    before = {"title": "t", "landing_page": "http://a.example/d/1",
              "resources": [{"url": "http://A.example/d/1.csv?x=1", "name": "f"}]}  # fmt: skip
    after = {"title": "t", "landing_page": "https://a.example/d/1",
             "resources": [{"url": "https://a.example/d/1.csv?x=1", "name": "f"}]}  # fmt: skip
    assert moved_origins(before, after) == {
        ("page", "http://a.example"): "https://a.example",
        ("file", "http://a.example"): "https://a.example",
    }
    assert origin_only(before, after, moved_origins(before, after))
    edited = {**after, "title": "t2"}
    assert not origin_only(before, edited, moved_origins(before, edited))
    # an old origin left in the dataset: not one move
    half = {**after, "resources": before["resources"]}
    assert not origin_only(before, half, moved_origins(before, half))
    assert moved_origins(before, before) is None
    assert split_origin("https://Host:8443?q") == ("https://host:8443", "?q")
    assert split_origin("ftp://host/x") is None and split_origin("http:///x") is None


# --- tabular exports identified by their landing pages --------------------------------

TABULAR_HEADER = "数据名称,提供部门,详情页,下载地址"
TITLES = ["道路运输企业名录", "公交线路", "公园名录", "停车场", "充电站", "加油站", "医院名录",
          "学校名录"]  # fmt: skip


def tabular_rows(origin: str) -> bytes:
    lines = [TABULAR_HEADER] + [
        f"{title},市交通运输局,{origin}/d/{n},{origin}/files/{n}.csv"
        for n, title in enumerate(TITLES, 1)
    ]
    return "\n".join(lines).encode("utf-8")


def publish(httpserver, body: bytes) -> str:
    httpserver.clear()
    httpserver.expect_request("/catalog.csv").respond_with_data(body, content_type="text/csv")
    return httpserver.url_for("/catalog.csv")


def active_identities(source) -> dict[int, str]:
    query = select(Dataset.id, Dataset.identifier).where(
        Dataset.source_id == source.id, Dataset.deleted_at.is_(None)
    )
    return dict(db.session.execute(query).all())


def test_an_export_identified_by_landing_pages_moving_to_https(app, httpserver):
    """The identity is the landing page: moved, each row's identity is new. It must not
    be a deletion and a creation per dataset, nor an update."""
    source = services.create_source(
        "city", "tabular", publish(httpserver, tabular_rows("http://data.example.cn"))
    )
    first = harvest(source)
    assert first.created == len(TITLES)
    before = active_identities(source)
    publish(httpserver, tabular_rows("https://data.example.cn"))
    run = harvest(source)
    assert run.status == "succeeded"
    assert (run.created, run.updated, run.deleted) == (0, 0, 0)
    assert active_identities(source).keys() == before.keys()
    assert events("dataset.updated") == events("dataset.deleted") == 0
    assert run.mapping_report["origin_moves"] == [
        {"from": "http://data.example.cn", "to": "https://data.example.cn",
         "datasets": len(TITLES)}
    ]  # fmt: skip
    assert all(u.startswith("https://data.example.cn/") for u in stored_urls(source))
    again = harvest(source)
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)


def test_datasets_identified_by_their_landing_pages_keep_them_through_a_move(app, portal):
    """A data.json entry without identifier is identified by its landing page: moved,
    every identifier is new. Before: 8 created and 8 deleted."""
    portal.url_identifiers = True
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    before = active_identities(source)
    move_source(source, portal.url("localhost"))
    run = harvest(source)
    assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 0, 0, 8)
    assert active_identities(source).keys() == before.keys()
    assert events("dataset.created") == 8 and events("dataset.deleted") == 0
    assert run.mapping_report["origin_moved_identifiers"] == 8
    assert run.mapping_report["origin_moves"][0]["datasets"] == 8
    again = harvest(source)
    assert (again.created, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 8)
    assert active_identities(source) == moved_identities_of(before, "127.0.0.1", "localhost")


def test_an_identifier_move_is_reported_once_in_the_run_it_happened(app, client, portal,
                                                                   operator_headers):  # fmt: skip
    """After a move the stored identifiers stay the old URLs (the datasets' identities)
    and every later listing names them on the new origin: each run carried them over
    again and reported `origin_moved_identifiers: 8` although nothing moved again. A
    move is reported in the run where the datasets' URLs moved, and then no more."""
    portal.url_identifiers = True
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    before = active_identities(source)
    move_source(source, portal.url("localhost"))
    moved = harvest(source)
    assert moved.mapping_report["origin_moved_identifiers"] == 8
    later = [harvest(source), harvest(source)]
    for run in later:
        assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 0, 0, 8)
        assert "origin_moved_identifiers" not in (run.mapping_report or {})
        assert "origin_moves" not in (run.mapping_report or {})
    assert active_identities(source).keys() == before.keys()
    runs = client.get(f"/api/v1/sources/{source.id}/runs", headers=operator_headers).json
    reported = {run["id"]: (run.get("mapping_report") or {}).get("origin_moved_identifiers")
                for run in runs["items"]}  # fmt: skip
    assert reported[moved.id] == 8
    assert [reported[run.id] for run in later] == [None, None]
    portal.titles[2] = "Dataset 2, edited"  # an edit later on is no move either
    edited = harvest(source)
    assert (edited.updated, edited.unchanged) == (1, 7)
    assert "origin_moved_identifiers" not in (edited.mapping_report or {})


def test_a_dataset_whose_landing_page_path_changed_is_still_new(app, portal):
    portal.url_identifiers = True
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    portal.paths[1] = "/dataset/another"
    run = harvest(source)
    assert (run.created, run.deleted) == (1, 1)
    assert "origin_moved_identifiers" not in (run.mapping_report or {})


def test_stored_urls_moved_ahead_of_the_harvest_settle_quietly(app, portal):
    """The demo's case (`make run` starts the portal on another port): the stored URLs
    are moved at once (services.move_stored_urls, so files stay reachable), and the next
    harvest settles the datasets as a move, quietly."""
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    old, new = f"http://127.0.0.1:{portal.port}", f"http://localhost:{portal.port}"
    assert services.move_stored_urls(source, old, new) == 8 * 3
    assert all(u.startswith(new + "/") for u in stored_urls(source))
    assert services.move_stored_urls(source, old, new) == 0
    move_source(source, portal.url("localhost"))
    run = harvest(source)
    assert (run.updated, run.unchanged) == (0, 8)
    assert events("dataset.updated") == 0
    assert run.mapping_report["origin_moves"] == [{"from": old, "to": new, "datasets": 8}]


class JsonLdPortal:
    """A DCAT-AP JSON-LD catalog whose dataset nodes are named by IRIs on the origin the
    request came to (no dct:identifier: the IRI identifies)."""

    def __init__(self, httpserver, count: int):
        self.count = count
        httpserver.expect_request("/catalog.jsonld").respond_with_handler(self.respond)
        self.port = httpserver.port

    def url(self, host: str) -> str:
        return f"http://{host}:{self.port}/catalog.jsonld"

    def respond(self, request):
        from werkzeug import Response

        here = request.host_url.rstrip("/")
        graph = [
            {"@id": f"{here}/dataset/{n}", "@type": "dcat:Dataset", "dct:title": f"Set {n}",
             "dcat:landingPage": {"@id": f"{here}/dataset/{n}/page"},
             "dcat:distribution": {"@id": f"{here}/dataset/{n}/csv",
                                   "@type": "dcat:Distribution",
                                   "dcat:downloadURL": {"@id": f"{here}/files/{n}.csv"}}}
            for n in range(self.count)
        ]  # fmt: skip
        context = {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"}
        body = json.dumps({"@context": context, "@graph": graph})
        return Response(body, content_type="application/ld+json")


def test_dcat_ap_datasets_named_by_iris_keep_them_through_a_move(app, httpserver):
    portal = JsonLdPortal(httpserver, 6)
    source = services.create_source("eu", "dcat", portal.url("127.0.0.1"))
    first = harvest(source)
    assert first.created == 6
    before = active_identities(source)
    assert all(i.startswith("http://127.0.0.1:") for i in before.values())
    move_source(source, portal.url("localhost"))
    run = harvest(source)
    assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 0, 0, 6)
    assert active_identities(source).keys() == before.keys()
    assert run.mapping_report["origin_moved_identifiers"] == 6
    assert run.mapping_report["origin_moves"][0]["datasets"] == 6
    assert all(u.startswith("http://localhost:") for u in stored_urls(source))


def moved_identities_of(before: dict[int, str], old: str, new: str) -> dict[int, str]:
    """The stored identifiers ``before`` with the host moved: a carried dataset is stored
    under the identifier the catalog lists it by now (bb9 F2)."""
    return {id_: identifier.replace(old, new, 1) for id_, identifier in before.items()}
