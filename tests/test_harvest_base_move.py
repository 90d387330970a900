"""Origin moves that carry a path prefix (bb7 findings 1-2): files moving to a CDN under
/v2 (``http://files.old-portal.example/ds/K0.csv`` -> ``https://cdn.new-portal.example/
v2/ds/K0.csv``, bb7 inputs A/mvcdn2.csv) were 12 updates with events, while the same move
without /v2 was recognised. Harvest series of a tabular export on a loopback portal, the
shape of bb7's mv*.csv (rows written here); the rule is subscribe/catalog/origins.py."""

from __future__ import annotations

from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion, Resource
from subscribe.catalog.origins import moved_origins, origin_only
from subscribe.extensions import db

HEADER = "目录编号,数据名称,数据提供方,更新时间,开放类型,数据格式,网页链接,下载地址"
TITLES = ["空气质量监测日报", "公交站点分布", "公园名录", "停车场", "充电站", "加油站",
          "医院名录", "学校名录"]  # fmt: skip


def rows(page: str, files: str, titles: dict[int, str] | None = None) -> bytes:
    titles = titles or {}
    lines = [HEADER] + [
        f"K{n:03d},{titles.get(n, title)},市统计局,2026-01-01,无条件开放,CSV,"
        f"{page}/portal/K{n},{files}/ds/K{n}.csv"
        for n, title in enumerate(TITLES)
    ]
    return "\n".join(lines).encode("utf-8")


def publish(httpserver, body: bytes) -> str:
    httpserver.clear()
    httpserver.expect_request("/catalog.csv").respond_with_data(body, content_type="text/csv")
    return httpserver.url_for("/catalog.csv")


def harvest(source):
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    return execute_run(run)


def events(kind: str) -> int:
    return db.session.scalar(
        select(func.count()).select_from(CatalogEvent).where(CatalogEvent.type == kind)
    )


def file_urls(source) -> set[str]:
    query = select(Resource.url).join(Dataset).where(Dataset.source_id == source.id)
    return set(db.session.scalars(query))


PAGES = "http://portal.example.cn"
OLD_FILES = "http://files.old-portal.example"
NEW_FILES = "https://cdn.new-portal.example/v2"


def test_files_moving_to_a_cdn_under_a_path_prefix_is_no_news(app, httpserver):
    source = services.create_source("city", "tabular", publish(httpserver, rows(PAGES, OLD_FILES)))
    assert harvest(source).created == len(TITLES)
    resource_ids = set(db.session.scalars(select(Resource.id)))
    publish(httpserver, rows(PAGES, NEW_FILES))
    run = harvest(source)
    assert run.status == "succeeded"
    assert (run.created, run.updated, run.deleted) == (0, 0, 0)
    assert events("dataset.updated") == 0
    assert run.mapping_report["origin_moves"] == [
        {"from": OLD_FILES, "to": NEW_FILES, "datasets": len(TITLES)}
    ]
    assert file_urls(source) == {f"{NEW_FILES}/ds/K{n}.csv" for n in range(len(TITLES))}
    assert set(db.session.scalars(select(Resource.id))) == resource_ids
    # The stored snapshot moved with it: an edit next is the edit alone.
    publish(httpserver, rows(PAGES, NEW_FILES, {2: "公园名录（新）"}))
    again = harvest(source)
    assert (again.updated, again.unchanged) == (1, len(TITLES) - 1)
    event = db.session.scalars(select(CatalogEvent).where(
        CatalogEvent.type == "dataset.updated")).one()  # fmt: skip
    assert [c["kind"] for c in event.changes] == ["metadata"]


def test_a_prefix_dropped_by_the_move_is_a_move_too(app, httpserver):
    """``http://old.example/files/ds/K0.csv`` -> ``https://cdn.example/ds/K0.csv``: the
    old base is the origin with /files."""
    source = services.create_source(
        "city", "tabular", publish(httpserver, rows(PAGES, "http://old.example/files"))
    )
    harvest(source)
    publish(httpserver, rows(PAGES, "https://cdn.example"))
    run = harvest(source)
    assert (run.updated, events("dataset.updated")) == (0, 0)
    assert run.mapping_report["origin_moves"] == [
        {"from": "http://old.example/files", "to": "https://cdn.example",
         "datasets": len(TITLES)}
    ]  # fmt: skip


def test_a_path_prefix_changed_on_the_same_origin_is_news(app, httpserver):
    """/ds -> /v2/ds on the same host is the portal's own new version of its files, not
    a move of the files elsewhere: every dataset stays an update."""
    source = services.create_source("city", "tabular", publish(httpserver, rows(PAGES, OLD_FILES)))
    harvest(source)
    publish(httpserver, rows(PAGES, OLD_FILES + "/v2"))
    run = harvest(source)
    assert run.updated == len(TITLES)
    assert "origin_moves" not in (run.mapping_report or {})


def test_files_moving_under_a_prefix_with_a_file_left_behind_is_news(app, httpserver):
    """Seven files move to the CDN's /v2, one stays on the old file host: the old base is
    still in use, so no move (each of the seven is news)."""
    body = rows(PAGES, NEW_FILES).decode().replace(f"{NEW_FILES}/ds/K5.csv",
                                                  f"{OLD_FILES}/ds/K5.csv")  # fmt: skip
    source = services.create_source("city", "tabular", publish(httpserver, rows(PAGES, OLD_FILES)))
    harvest(source)
    publish(httpserver, body.encode())
    run = harvest(source)
    assert run.updated == len(TITLES) - 1
    assert "origin_moves" not in (run.mapping_report or {})


def test_moved_bases():
    before = {"title": "t", "landing_page": "http://a.example/d/1",
              "resources": [{"url": "http://f.example/ds/1.csv?x=1", "name": "f"}]}  # fmt: skip
    after = {"title": "t", "landing_page": "https://a.example/d/1",
             "resources": [{"url": "https://cdn.example/v2/ds/1.csv?x=1", "name": "f"}]}  # fmt: skip
    mapping = moved_origins(before, after)
    assert mapping == {("page", "http://a.example"): "https://a.example",
                       ("file", "http://f.example"): "https://cdn.example/v2"}  # fmt: skip
    assert origin_only(before, after, mapping)
    # Prefixes are whole segments: /ds/x1.csv is not /ds/1.csv under a prefix.
    odd = {**after, "resources": [{"url": "https://cdn.example/ds/x1.csv?x=1", "name": "f"}]}
    assert moved_origins(before, odd) == {("page", "http://a.example"): "https://a.example"}
    # A query that changed is no common rest.
    query = {**after, "resources": [{"url": "https://cdn.example/v2/ds/1.csv?x=2", "name": "f"}]}
    assert moved_origins(before, query) == {("page", "http://a.example"): "https://a.example"}


# --- pages and files moving to different homes (bb7 finding 2, mvsplit.csv) ----------

SPLIT_OLD = "http://data.example.cn"
SPLIT_PAGES = "https://data.example.cn"
SPLIT_FILES = "https://cdn.example.cn"


def test_pages_and_files_moving_to_different_origins_is_one_move(app, httpserver):
    """Pages http://data.example.cn -> https://data.example.cn, files -> https://cdn.
    example.cn: one old origin, two new ones within each dataset, which the one-mapping
    rule called news for every dataset."""
    source = services.create_source(
        "city", "tabular", publish(httpserver, rows(SPLIT_OLD, SPLIT_OLD))
    )
    harvest(source)
    resource_ids = set(db.session.scalars(select(Resource.id)))
    publish(httpserver, rows(SPLIT_PAGES, SPLIT_FILES))
    run = harvest(source)
    assert (run.created, run.updated, run.deleted) == (0, 0, 0)
    assert events("dataset.updated") == 0
    assert run.mapping_report["origin_moves"] == [
        {"from": SPLIT_OLD, "to": SPLIT_FILES, "datasets": len(TITLES)},
        {"from": SPLIT_OLD, "to": SPLIT_PAGES, "datasets": len(TITLES)},
    ]
    assert file_urls(source) == {f"{SPLIT_FILES}/ds/K{n}.csv" for n in range(len(TITLES))}
    assert set(db.session.scalars(select(Resource.id))) == resource_ids


def test_with_pages_and_files_split_a_file_moved_elsewhere_is_news(app, httpserver):
    """Seven datasets' files go to the CDN, one's to a mirror (its page with the rest):
    the seven are a move, the one news."""
    body = (
        rows(SPLIT_PAGES, SPLIT_FILES)
        .decode()
        .replace(f"{SPLIT_FILES}/ds/K3.csv", "https://mirror.example.org/ds/K3.csv")
    )
    source = services.create_source(
        "city", "tabular", publish(httpserver, rows(SPLIT_OLD, SPLIT_OLD))
    )
    harvest(source)
    publish(httpserver, body.encode())
    run = harvest(source)
    assert (run.updated, run.unchanged) == (1, len(TITLES) - 1)
    event = db.session.scalars(select(CatalogEvent).where(
        CatalogEvent.type == "dataset.updated")).one()  # fmt: skip
    assert event.after["resources"][0]["url"] == "https://mirror.example.org/ds/K3.csv"


def test_moved_bases_by_kind():
    before = {"title": "t", "landing_page": "http://a.example/d/1",
              "resources": [{"url": "http://a.example/f/1.csv", "name": "f"}]}  # fmt: skip
    after = {"title": "t", "landing_page": "https://a.example/d/1",
             "resources": [{"url": "https://cdn.example/f/1.csv", "name": "f"}]}  # fmt: skip
    mapping = moved_origins(before, after)
    assert mapping == {("page", "http://a.example"): "https://a.example",
                       ("file", "http://a.example"): "https://cdn.example"}  # fmt: skip
    assert origin_only(before, after, mapping)
    # Two files of one kind on one old base going to two homes: no one mapping.
    two = {**before, "resources": [*before["resources"],
                                   {"url": "http://a.example/f/2.csv", "name": "g"}]}  # fmt: skip
    split = {**after, "resources": [*after["resources"],
                                    {"url": "https://mirror.example/f/2.csv", "name": "g"}]}  # fmt: skip
    assert moved_origins(two, split) is None
    # A file left on the old origin while the page moved: not one move of the dataset.
    half = {**after, "resources": before["resources"]}
    assert not origin_only(before, half, moved_origins(before, half))


# --- URLs that mean the same (bb7 finding 3, mvnorm2.csv) ------------------------------


def test_scheme_and_host_case_and_the_default_port_are_no_change(app, httpserver):
    """``http://data.example.cn/…`` read again as ``HTTP://Data.Example.CN:80/…`` (pages)
    and ``http://data.example.cn:80/…`` (files) is the same address: it was an update for
    every dataset."""
    source = services.create_source(
        "city", "tabular", publish(httpserver, rows(SPLIT_OLD, SPLIT_OLD))
    )
    harvest(source)
    resource_ids = set(db.session.scalars(select(Resource.id)))
    publish(httpserver, rows("HTTP://Data.Example.CN:80", "http://data.example.cn:80"))
    run = harvest(source)
    assert (run.created, run.updated, run.deleted) == (0, 0, 0)
    assert events("dataset.updated") == 0
    assert set(db.session.scalars(select(Resource.id))) == resource_ids
    # Stored as read (:80 and all), and back without the port: still the same address.
    assert f"{SPLIT_OLD}:80/ds/K0.csv" in file_urls(source)
    publish(httpserver, rows(SPLIT_OLD, SPLIT_OLD))
    back = harvest(source)
    assert (back.updated, events("dataset.updated")) == (0, 0)
    # https on 443 is the same as https; another port is not.
    publish(httpserver, rows(SPLIT_PAGES + ":443", SPLIT_PAGES))
    harvest(source)
    publish(httpserver, rows(SPLIT_PAGES, SPLIT_PAGES))
    assert harvest(source).updated == 0
    publish(httpserver, rows(SPLIT_PAGES, SPLIT_PAGES).replace(b"/ds/K1.csv", b"/ds/K1b.csv"))
    assert harvest(source).updated == 1


def test_an_origin_moving_with_its_default_port_spelled_is_still_used(app, httpserver):
    """A file stored and read again as ``http://data.example.cn:80/…`` is on
    ``http://data.example.cn``: while it stays there, the origin is still in use, so the
    others moving away from it are news (and so is its own dataset, whose page moved)."""
    stored = rows(SPLIT_OLD, SPLIT_OLD).replace(
        b"http://data.example.cn/ds/K7.csv", b"http://data.example.cn:80/ds/K7.csv"
    )
    source = services.create_source("city", "tabular", publish(httpserver, stored))
    harvest(source)
    moved = rows(SPLIT_PAGES, SPLIT_FILES).replace(
        b"https://cdn.example.cn/ds/K7.csv", b"http://data.example.cn:80/ds/K7.csv"
    )
    publish(httpserver, moved)
    run = harvest(source)
    assert run.updated == len(TITLES)
    assert "origin_moves" not in (run.mapping_report or {})


def test_url_key():
    from subscribe.catalog.urls import url_key

    assert url_key("HTTP://Data.Example.CN:80/C/N0?Q=1") == "http://data.example.cn/C/N0?Q=1"
    assert url_key("https://h.example:443") == "https://h.example"
    assert url_key("https://h.example:80/x") == "https://h.example:80/x"  # not https's
    assert url_key("http://User:PW@Host.example:8080/") == "http://User:PW@host.example:8080/"
    assert url_key("ftp://Host/x") == "ftp://Host/x" and url_key(None) is None


# --- an edit made during a move (bb7 finding 4) ----------------------------------------


def test_an_edit_during_a_move_is_told_without_the_move(app, httpserver):
    """One dataset's title changes in the run its portal moves: its news is the title,
    not also landing_page old -> new and resource_removed + resource_added for the same
    file."""
    source = services.create_source(
        "city", "tabular", publish(httpserver, rows(SPLIT_OLD, SPLIT_OLD))
    )
    harvest(source)
    publish(httpserver, rows(SPLIT_PAGES, SPLIT_FILES, {2: "公园名录（新）"}))
    run = harvest(source)
    assert (run.updated, run.unchanged) == (1, len(TITLES) - 1)
    assert [m["to"] for m in run.mapping_report["origin_moves"]] == [SPLIT_FILES, SPLIT_PAGES]
    event = db.session.scalars(select(CatalogEvent).where(
        CatalogEvent.type == "dataset.updated")).one()  # fmt: skip
    assert [c["kind"] for c in event.changes] == ["metadata"]
    assert set(event.changes[0]["fields"]) == {"title"}
    assert event.before["landing_page"] == f"{SPLIT_PAGES}/portal/K2"
    assert event.after["resources"][0]["url"] == f"{SPLIT_FILES}/ds/K2.csv"
    version = db.session.scalars(
        select(DatasetVersion).where(DatasetVersion.dataset_id == event.dataset_id)
        .order_by(DatasetVersion.number.desc()).limit(1)
    ).one()  # fmt: skip
    assert set(version.diff) == {"fields"} and set(version.diff["fields"]) == {"title"}


def test_an_edit_when_the_urls_moved_but_no_move_keeps_the_urls_in_its_news(app, httpserver):
    """Too few datasets for a move: the edited one's news still says its URLs moved."""
    body_before = "\n".join(rows(SPLIT_OLD, SPLIT_OLD).decode().splitlines()[:5]).encode()
    body_after = "\n".join(
        rows(SPLIT_PAGES, SPLIT_FILES, {1: "公交站点分布（新）"}).decode().splitlines()[:5]
    ).encode()
    source = services.create_source("city", "tabular", publish(httpserver, body_before))
    harvest(source)
    publish(httpserver, body_after)
    run = harvest(source)
    assert run.updated == 4
    event = db.session.scalars(
        select(CatalogEvent).join(Dataset).where(
            CatalogEvent.type == "dataset.updated", Dataset.title == "公交站点分布（新）")
    ).one()  # fmt: skip
    kinds = [c["kind"] for c in event.changes]
    assert "resource_added" in kinds and "resource_removed" in kinds
    assert set(event.changes[0]["fields"]) >= {"title", "landing_page"}
