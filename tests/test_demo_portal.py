"""The demo catalog and its CKAN-compatible portal, driven over real HTTP with a fake clock."""

from __future__ import annotations

import csv
import io
import json
import time
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter

import pytest
import requests

from subscribe.demo import KINDS, ChangeFeed, DemoCatalog, PortalServer, create_portal
from subscribe.demo.catalog import from_us
from subscribe.demo.changes import resolve
from subscribe.demo.ckan import PackageEncoder

SIZE = 600
# Seconds an HTTP call to the portal may take: a guard against a hang, not a timing check
# (a package_search of 600 took over 10 s on a shared machine under load 8).
TIMEOUT = 60
SEED = 7
TICK = 5.0
FORMATS = {"CSV", "JSON", "XLSX", "XML", "API"}


class FakeClock:
    """Time that only moves when a test says so."""

    def __init__(self, now: float = 1_750_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def portal(clock):
    server = PortalServer(create_portal(DemoCatalog(SIZE, SEED), clock, TICK)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def client():
    """In-process client for plain request/response checks; its clock never moves."""
    return create_portal(DemoCatalog(SIZE, SEED), FakeClock(), TICK).test_client()


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def api(http, portal, action: str, **params) -> requests.Response:
    return http.get(f"{portal.url}/api/3/action/{action}", params=params, timeout=TIMEOUT)


def search(http, portal, **params) -> dict:
    response = api(http, portal, "package_search", **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body["result"]


def crawl(http, portal, rows: int = 97, **params) -> list[dict]:
    """Every page of package_search, the way a harvester pages it."""
    found, start = [], 0
    while True:
        result = search(http, portal, rows=rows, start=start, **params)
        found.extend(result["results"])
        start += rows
        if start >= result["count"]:
            assert len(found) == result["count"]
            return found


def planned_changes(n: int) -> list[dict]:
    """The first n changes, from a twin feed: changes are deterministic for a seed."""
    feed = ChangeFeed(DemoCatalog(SIZE, SEED), clock=FakeClock(), tick_seconds=0)
    return [feed.tick() for _ in range(n)]


def file_url(portal, package: dict, resource_id: str) -> str:
    resource = next(r for r in package["resources"] if r["id"] == resource_id)
    assert resource["url"].startswith(portal.url + "/files/")
    return resource["url"]


# --- package_search -------------------------------------------------------------------------


def test_paging_by_id_lists_every_dataset_exactly_once(http, portal, clock):
    first = crawl(http, portal, sort="id asc")
    ids = [p["id"] for p in first]
    assert len(ids) == len(set(ids)) == SIZE
    assert ids == sorted(ids)

    clock.advance(TICK * len(KINDS) * 2)  # created and deleted datasets included
    after = crawl(http, portal, sort="id asc")
    ids = [p["id"] for p in after]
    assert len(ids) == len(set(ids)) == SIZE  # two created, two deleted
    assert ids == sorted(ids)
    names = [p["name"] for p in crawl(http, portal, sort="name asc")]
    assert names == sorted(names) and len(names) == SIZE


def test_fq_range_returns_only_newer_datasets_inclusively(http, portal):
    everything = crawl(http, portal, sort="id asc")
    pivot = sorted(p["metadata_modified"] for p in everything)[450]
    newer = [p for p in everything if p["metadata_modified"] >= pivot]
    fq = f"metadata_modified:[{pivot}Z TO *]"
    found = crawl(http, portal, rows=40, fq=fq, sort="id asc")
    assert {p["id"] for p in found} == {p["id"] for p in newer}
    assert pivot in {p["metadata_modified"] for p in found}  # inclusive bound
    exclusive = search(http, portal, fq=f"metadata_modified:{{{pivot}Z TO *]", rows=0)
    assert exclusive["count"] == len(newer) - 1
    assert search(http, portal, fq="metadata_modified:[* TO *]", rows=0)["count"] == SIZE
    upper = search(http, portal, fq=f"metadata_modified:[* TO {pivot}Z]", rows=0)
    assert upper["count"] == SIZE - len(newer) + 1


def test_incremental_harvest_sees_only_changed_datasets(http, portal, clock):
    before = max(p["metadata_modified"] for p in crawl(http, portal, rows=200))
    clock.advance(TICK * len(KINDS))
    changed = crawl(http, portal, fq=f"metadata_modified:{{{before}Z TO *]", sort="id asc")
    bumping = [c for c in planned_changes(len(KINDS)) if c["kind"] in {
        "created", "metadata", "content", "schema", "resource_added", "resource_removed",
    }]  # fmt: skip
    assert {p["id"] for p in changed} == {c["dataset_id"] for c in bumping}


def test_q_matches_title_and_notes(http, portal):
    result = search(http, portal, q="空气质量", rows=1000)
    assert result["count"] > 0
    assert all("空气质量" in p["title"] + p["notes"] for p in result["results"])


def test_rows_are_capped_at_1000_like_ckan():
    catalog = DemoCatalog(1500, SEED, exact_sizes=False)
    app = create_portal(catalog, FakeClock(), TICK)
    result = app.test_client().get("/api/3/action/package_search?rows=5000").json["result"]
    assert result["count"] == 1500 and len(result["results"]) == 1000


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"rows": "many"}, "rows"),
        ({"start": "-1"}, "start"),
        ({"sort": "title asc"}, "sort"),
        ({"sort": "metadata_modified sideways"}, "sort"),
        ({"fq": "organization:jtysj"}, "fq"),
        ({"fq": "metadata_modified:[yesterday TO *]"}, "fq"),
        ({"colour": "blue"}, "query"),
    ],
)
def test_bad_search_params_get_the_ckan_error_envelope(client, params, field):
    response = client.get("/api/3/action/package_search", query_string=params)
    assert response.status_code == 400
    body = response.get_json()
    assert body["success"] is False and "help" in body
    assert body["error"]["__type"] == "Validation Error"
    assert field in body["error"]


def test_other_actions_and_errors(client):
    names = client.get("/api/3/action/package_list").get_json()["result"]
    assert len(names) == SIZE and names == sorted(names)
    page = client.get("/api/3/action/package_list?limit=5&offset=10").get_json()["result"]
    assert page == names[10:15]
    shown = client.get(f"/api/3/action/package_show?id={names[3]}").get_json()["result"]
    assert shown["name"] == names[3]
    missing = client.get("/api/3/action/package_show?id=no-such-dataset")
    assert missing.status_code == 404
    assert missing.get_json()["error"]["__type"] == "Not Found Error"
    assert client.get("/api/3/action/package_show").status_code == 400
    assert client.get("/api/3/action/no_such_action").status_code == 400
    default = client.get("/api/3/action/package_search").json["result"]
    assert default["sort"] == "score desc, metadata_modified desc"
    times = [p["metadata_modified"] for p in default["results"]]
    assert times == sorted(times, reverse=True) and len(times) == 10
    status = client.get("/api/3/action/status_show").get_json()["result"]
    assert status["site_title"] == "示例市公共数据开放平台"
    assert status["site_url"].startswith("http://localhost")


def test_organizations_are_many_and_zipf_like(client):
    orgs = client.get("/api/3/action/organization_list?all_fields=true").get_json()["result"]
    counts = sorted((o["package_count"] for o in orgs), reverse=True)
    assert len(orgs) >= 20 and sum(counts) == SIZE
    assert counts[0] > 5 * counts[-1] and counts[0] > sum(counts[10:])
    assert {"市交通运输局", "市生态环境局", "市统计局"} <= {o["title"] for o in orgs}


# --- the catalog itself ---------------------------------------------------------------------


def _package_json(catalog: DemoCatalog, index: int) -> str:
    feed = ChangeFeed(catalog, FakeClock(), 0)
    return PackageEncoder(catalog).encoded(resolve(catalog, feed.snapshot, index))


def test_catalog_is_deterministic_per_seed():
    one, same, other = DemoCatalog(SIZE, 1), DemoCatalog(SIZE, 1), DemoCatalog(SIZE, 2)
    for index in (0, 1, 299, 599):
        assert _package_json(one, index) == _package_json(same, index)
        ds = one.dataset(index)
        for spec in ds.resources:
            file = (index, spec.slot, spec.format, 0, 0)
            assert one.file(*file) == same.file(*file)
    assert [_package_json(one, i) for i in range(9)] != [_package_json(other, i) for i in range(9)]
    assert planned_changes(12) == planned_changes(12)


def test_catalog_is_lazy_and_ids_sort_by_index():
    started = time.perf_counter()
    big = DemoCatalog(345_853, SEED)
    last = big.dataset(345_852)
    assert time.perf_counter() - started < 0.5
    assert big.dataset_id(9) < big.dataset_id(10) < big.dataset_id(345_852) == last.id
    assert big.index_of(last.id) == big.index_of(last.name) == 345_852
    assert big.index_of("00000000-0000-5000-8000-000000000000") is None
    assert big.base_modified_us(1000) < big.base_modified_us(1001)


def test_large_catalog_serves_a_deep_page():
    client = create_portal(DemoCatalog(345_853, SEED), FakeClock(), 0).test_client()
    query = "rows=1000&start=300000&sort=id+asc"
    result = client.get(f"/api/3/action/package_search?{query}").get_json()["result"]
    assert result["count"] == 345_853
    assert [int(p["id"][:8], 16) for p in result["results"]] == list(range(300_000, 301_000))
    assert all(r["size"] is None for p in result["results"] for r in p["resources"])


def test_catalog_looks_like_a_chinese_portal():
    catalog = DemoCatalog(SIZE, SEED)
    datasets = [catalog.dataset(i) for i in range(SIZE)]
    opens = Counter(d.open_type for d in datasets)
    assert opens["无条件开放"] > opens["有条件开放"] > opens["依申请开放"] > 0
    frequencies = {d.frequency for d in datasets}
    assert {"", "其他", "每月", "按年更新", "不定期"} <= frequencies
    assert frequencies & {"见说明", "详见附件", "/", "2次/年"}  # junk, as real catalogs have
    assert any(d.traditional and set(d.title) & set("數醫機線") for d in datasets)
    assert len({d.department.name for d in datasets}) >= 20
    assert len({t for d in datasets for t in d.themes}) >= 13
    assert any(len(d.resources) == 3 for d in datasets)
    assert {r.format for d in datasets for r in d.resources} == FORMATS


def test_resource_files_are_real_and_parse(http, portal):
    packages = crawl(http, portal, rows=1000)
    seen = set()
    for package in packages:
        for resource in package["resources"]:
            if resource["format"] in seen:
                continue
            seen.add(resource["format"])
            response = http.get(resource["url"], timeout=TIMEOUT)
            assert response.status_code == 200
            assert len(response.content) == resource["size"]
            assert response.headers["Content-Length"] == str(resource["size"])
            _check_parses(resource["format"], response)
    assert seen == FORMATS


def _check_parses(fmt: str, response: requests.Response) -> None:
    content_type = response.headers["Content-Type"]
    if fmt == "CSV":
        assert content_type == "text/csv; charset=utf-8"
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8"))))
        assert 20 <= len(rows) - 1 <= 200 and any("\u4e00" <= ch <= "\u9fff" for ch in rows[0][0])
    elif fmt in {"JSON", "API"}:
        assert content_type.startswith("application/json")
        assert 20 <= response.json()["total"] <= 200
    elif fmt == "XML":
        assert len(ET.fromstring(response.content)) >= 20
    else:
        with zipfile.ZipFile(io.BytesIO(response.content)) as workbook:
            assert "xl/worksheets/sheet1.xml" in workbook.namelist()


# --- changes ---------------------------------------------------------------------------------


def _snapshot(http, portal, change: dict) -> dict:
    """What a harvester would see of the dataset a change touches: metadata and the file."""
    response = api(http, portal, "package_show", id=change["dataset_id"])
    state = {"status": response.status_code}
    if response.status_code == 200:
        state["package"] = response.json()["result"]
        resource_id = change.get("resource_id")
        ids = [r["id"] for r in state["package"]["resources"]]
        if resource_id in ids:
            got = http.get(file_url(portal, state["package"], resource_id), timeout=TIMEOUT)
            state["file"] = (got.status_code, got.content, got.headers.get("ETag"))
    return state


def test_every_change_kind_is_observable(http, portal, clock):
    plan = planned_changes(len(KINDS))
    assert [c["kind"] for c in plan] == list(KINDS)
    before = {c["kind"]: _snapshot(http, portal, c) for c in plan}
    clock.advance(TICK * len(KINDS))
    log = http.get(f"{portal.url}/_demo/changes", timeout=TIMEOUT).json()
    assert [c["dataset_id"] for c in reversed(log["changes"])] == [c["dataset_id"] for c in plan]
    after = {c["kind"]: _snapshot(http, portal, c) for c in plan}
    ids = {p["id"] for p in crawl(http, portal, rows=1000)}
    changes = {c["kind"]: c for c in plan}
    _check_metadata_changes(before, after, changes, ids)
    _check_content_changes(before, after)


def _check_metadata_changes(before, after, changes, ids):
    assert before["created"]["status"] == 404 and after["created"]["status"] == 200
    assert changes["created"]["dataset_id"] in ids
    old, new = before["metadata"]["package"], after["metadata"]["package"]
    assert new["title"] == changes["metadata"]["title"] != old["title"]
    assert new["metadata_modified"] > old["metadata_modified"]
    assert changes["deleted"]["dataset_id"] not in ids and after["deleted"]["status"] == 404
    old, new = before["resource_added"]["package"], after["resource_added"]["package"]
    assert new["num_resources"] == old["num_resources"] + 1
    assert changes["resource_added"]["resource_id"] in {r["id"] for r in new["resources"]}
    old, new = before["resource_removed"]["package"], after["resource_removed"]["package"]
    assert new["num_resources"] == old["num_resources"] - 1
    assert changes["resource_removed"]["resource_id"] not in {r["id"] for r in new["resources"]}


def _check_content_changes(before, after):
    old, new = before["content"], after["content"]
    assert new["file"][1] != old["file"][1] and new["file"][2] != old["file"][2]
    assert new["package"]["metadata_modified"] > old["package"]["metadata_modified"]
    old, new = before["content_silent"], after["content_silent"]
    assert new["file"][1] != old["file"][1] and new["file"][2] != old["file"][2]
    assert new["package"] == old["package"]  # only a content check can find this one
    old, new = before["schema"], after["schema"]
    old_header = old["file"][1].decode("utf-8").splitlines()[0]
    assert new["file"][1].decode("utf-8").splitlines()[0] != old_header
    old, new = before["resource_unavailable"], after["resource_unavailable"]
    assert old["file"][0] == 200 and new["file"][0] == 404
    assert new["package"] == old["package"]


def test_changes_spread_over_departments():
    plan = planned_changes(60)
    assert len({c["organization"] for c in plan if "organization" in c}) >= 15
    assert len({c["theme"] for c in plan if "theme" in c}) >= 10


def test_conditional_get_304_then_200_after_content_change(http, portal, clock):
    change = next(c for c in planned_changes(len(KINDS)) if c["kind"] == "content_silent")
    package = api(http, portal, "package_show", id=change["dataset_id"]).json()["result"]
    url = file_url(portal, package, change["resource_id"])
    first = http.get(url, timeout=TIMEOUT)
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert etag.startswith('"') and first.headers["Content-Length"] == str(len(first.content))
    assert http.get(url, headers={"If-None-Match": etag}, timeout=TIMEOUT).status_code == 304
    assert (
        http.get(url, headers={"If-Modified-Since": modified}, timeout=TIMEOUT).status_code == 304
    )
    ranged = http.get(url, headers={"Range": "bytes=0-9"}, timeout=TIMEOUT)
    assert ranged.status_code == 206 and ranged.content == first.content[:10]

    clock.advance(TICK * len(KINDS))
    again = http.get(url, headers={"If-None-Match": etag}, timeout=TIMEOUT)
    assert again.status_code == 200 and again.headers["ETag"] != etag
    assert again.content != first.content
    later = http.get(url, headers={"If-Modified-Since": modified}, timeout=TIMEOUT)
    assert later.status_code == 200


def test_ticks_come_from_the_clock_and_from_demo_tick(http, portal, clock):
    def ticks() -> int:
        return http.get(f"{portal.url}/_demo/changes", timeout=TIMEOUT).json()["ticks"]

    clock.advance(TICK - 0.001)
    assert ticks() == 0
    clock.advance(0.002)
    assert ticks() == 1
    response = http.post(f"{portal.url}/api/3/action/demo_tick", timeout=TIMEOUT)
    assert response.json()["result"]["kind"] == KINDS[1]
    assert http.post(f"{portal.url}/_demo/tick", timeout=TIMEOUT).json()["kind"] == KINDS[2]
    assert api(http, portal, "demo_tick").status_code == 400  # a GET must not change anything
    clock.advance(TICK * 3)
    assert ticks() == 6


# --- other exports --------------------------------------------------------------------------


def test_catalog_csv_and_data_json_list_the_same_datasets(http, portal, clock):
    clock.advance(TICK * len(KINDS))
    ids = {p["id"] for p in crawl(http, portal, rows=1000)}
    names = {p["name"] for p in crawl(http, portal, rows=1000)}

    raw = http.get(f"{portal.url}/catalog.csv", timeout=TIMEOUT)
    assert raw.headers["Content-Type"].startswith("text/csv")
    assert raw.content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, for Excel
    rows = list(csv.DictReader(io.StringIO(raw.content.decode("utf-8-sig"))))
    assert list(rows[0]) == ["序号", "资源名称", "资源提供方", "数据主题", "更新周期", "开放状态",
                             "资源格式", "上架日期", "数据更新时间", "详情页网址", "下载地址"]  # fmt: skip
    assert len(rows) == len(ids)
    assert {row["详情页网址"].rsplit("/", 1)[1] for row in rows} == names
    notations = {row["资源格式"][0] == "[" for row in rows}
    assert notations == {True, False}  # "[csv,json]" and "CSV、JSON" both appear

    catalog = json.loads(http.get(f"{portal.url}/data.json", timeout=TIMEOUT).content)
    assert catalog["conformsTo"] == "https://project-open-data.cio.gov/v1.1/schema"
    assert {d["identifier"] for d in catalog["dataset"]} == ids
    levels = {d["accessLevel"] for d in catalog["dataset"]}
    assert levels == {"public", "restricted public"}
    assert any(d.get("accrualPeriodicity") == "R/P1D" for d in catalog["dataset"])
    assert all(d["distribution"] for d in catalog["dataset"])


def test_catalog_csv_harvests_by_rule_with_every_field(http, portal, clock):
    from subscribe.catalog.harvesters import tabular
    from subscribe.catalog.harvesters.base import HarvestContext, make_session
    from tests.catalog_helpers import LOOPBACK

    clock.advance(TICK * len(KINDS))
    ids = {p["id"] for p in crawl(http, portal, rows=1000)}
    with make_session(LOOPBACK, retries=0) as session:  # harvests fetch through the guard
        ctx = HarvestContext(url=f"{portal.url}/catalog.csv", session=session, timeout=TIMEOUT)
        records = list(tabular.harvest(ctx))
    assert len(records) == len(ids) and all(r.publisher and r.landing_page for r in records)
    assert all(r.themes and r.modified and r.issued and r.formats for r in records)
    assert ctx.report["fields"] == {
        "title": "资源名称", "publisher": "资源提供方", "themes": "数据主题",
        "frequency": "更新周期", "open_type": "开放状态", "formats": "资源格式",
        "issued": "上架日期", "modified": "数据更新时间", "landing_page": "详情页网址",
        "download_url": "下载地址",
    }  # fmt: skip
    assert ctx.report["ignored"] == ["序号"]
    assert ctx.report["identity"]["column"] == "详情页网址"


def test_human_pages(http, portal, clock):
    clock.advance(TICK)
    page = http.get(f"{portal.url}/", timeout=TIMEOUT)
    assert page.status_code == 200 and "示例市公共数据开放平台" in page.text
    assert f"{portal.url}/catalog.csv" in page.text and "created" in page.text
    name = search(http, portal, rows=1)["results"][0]["name"]
    detail = http.get(f"{portal.url}/dataset/{name}", timeout=TIMEOUT)
    assert detail.status_code == 200 and "数据资源" in detail.text


@pytest.mark.parametrize("sort", ["id asc", "id desc", "name asc", "metadata_modified asc",
                                  "metadata_modified desc"])  # fmt: skip
def test_paging_agrees_with_brute_force_after_many_changes(sort):
    catalog = DemoCatalog(120, SEED, exact_sizes=False)
    app = create_portal(catalog, FakeClock(), 0)
    feed = app.extensions["demo_portal"].feed
    for _ in range(len(KINDS) * 6):
        feed.tick()
    live = [resolve(catalog, feed.snapshot, i) for i in range(feed.snapshot.total)]
    live = [d for d in live if d is not None]
    key = "modified_us" if sort.startswith("metadata") else "index"
    expected = sorted(live, key=lambda d: getattr(d, key) if key != "index" else d.base.index)
    if sort.endswith("desc"):
        expected.reverse()
    pivot = from_us(sorted(d.modified_us for d in live)[60]).isoformat()
    client = app.test_client()
    for fq in ("", f"metadata_modified:[{pivot}Z TO *]", f"metadata_modified:[* TO {pivot}Z]"):
        wanted = [d.base.id for d in expected if _in_range(d, fq, pivot)]
        got = []
        for start in range(0, len(wanted) + 7, 7):
            query = {"rows": 7, "start": start, "sort": sort, "fq": fq}
            result = client.get("/api/3/action/package_search", query_string=query).json["result"]
            assert result["count"] == len(wanted)
            got += [p["id"] for p in result["results"]]
        assert got == wanted


def _in_range(live, fq: str, pivot: str) -> bool:
    modified = from_us(live.modified_us).isoformat()
    if not fq:
        return True
    return modified >= pivot if fq.endswith("TO *]") else modified <= pivot
