"""Identity by evidence over the whole export: unique id or URL columns, never a constant
column; rows that differ are never merged; exact duplicate rows are reported once each."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.harvesters import tabular
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.catalog.models import Dataset
from subscribe.catalog.records import BadRecord, DatasetRecord
from subscribe.extensions import db
from tests.catalog_helpers import LOOPBACK


@pytest.fixture
def serve_csv(httpserver):
    def serve(lines: list[str], path: str = "/catalog.csv") -> str:
        body = ("\n".join(lines) + "\n").encode("utf-8")
        httpserver.expect_request(path).respond_with_data(body, content_type="text/csv")
        return httpserver.url_for(path)

    return serve


def harvest(url: str) -> tuple[dict, list[DatasetRecord], list[BadRecord]]:
    with make_session(LOOPBACK, retries=0) as session:
        ctx = HarvestContext(url=url, session=session, timeout=5)
        items = list(tabular.harvest(ctx))
    good = [i for i in items if isinstance(i, DatasetRecord)]
    return ctx.report, good, [i for i in items if isinstance(i, BadRecord)]


def test_same_title_with_different_detail_pages_are_distinct_datasets(serve_csv):
    lines = ["资源名称,提供方,详情页网址"] + [
        f"道路交通流量,市交通局,https://data.example.cn/detail?id={n}" for n in range(8)
    ]
    report, good, bad = harvest(serve_csv(lines))
    assert bad == []
    assert len({r.identifier for r in good}) == 8
    assert [r.identifier for r in good] == [
        f"https://data.example.cn/detail?id={n}" for n in range(8)
    ]
    assert (report["identity"]["method"], report["identity"]["column"]) == ("column", "详情页网址")


def test_a_constant_url_column_is_never_the_identity(serve_csv):
    lines = ["名称,提供单位,url"] + [
        f"数据集{n},市统计局,https://data.example.cn/catalog" for n in range(20)
    ]
    report, good, bad = harvest(serve_csv(lines))
    assert bad == [] and len({r.identifier for r in good}) == 20
    assert all(r.identifier.startswith("sha1:") for r in good)
    assert report["identity"]["method"] == "hash"
    url = next(c for c in report["columns"] if c["column"] == "url")
    assert (url["role"], url["suggested"]) == ("ignored", "landing_page")
    assert "every row holds https://data.example.cn/catalog" in url["reason"]
    assert all(r.landing_page == "" for r in good)  # the portal's page is no dataset's page


def test_a_repetitive_url_column_loses_to_the_detail_pages_and_is_not_identity(serve_csv):
    lines = ["名称,url,详情页网址"] + [
        f"数据集{n},https://data.example.cn/list?page={n % 3},https://data.example.cn/d/{n}"
        for n in range(12)
    ]
    report, good, _ = harvest(serve_csv(lines))
    assert report["fields"]["landing_page"] == "详情页网址"
    url = next(c for c in report["columns"] if c["column"] == "url")
    assert url["role"] == "fallback" and "25% distinct" in url["reason"]
    assert report["identity"]["column"] == "详情页网址"
    assert report["identity"]["rejected"] == [
        {"column": "url", "field": "landing_page",
         "reason": "one value (https://data.example.cn/list?page=0) on 4 of 12 rows"}
    ]  # fmt: skip
    assert [r.landing_page for r in good] == [f"https://data.example.cn/d/{n}" for n in range(12)]


def test_a_repeated_id_column_is_not_the_identity(serve_csv):
    lines = ["编号,名称,详情链接"] + [f"1,数据{n},https://x.example.cn/d/{n}" for n in range(6)]
    report, good, _ = harvest(serve_csv(lines))
    assert [r.identifier for r in good] == [f"https://x.example.cn/d/{n}" for n in range(6)]
    assert report["identity"]["rejected"][0]["column"] == "编号"
    assert report["identity"]["column"] == "详情链接"


def test_every_rejected_column_names_its_own_repeated_value(serve_csv):
    """Two id candidates whose most repeated value first appears on the same row: each
    rejection names its value. One kept the stand-in (a NUL byte), and PostgreSQL's
    JSONB refused the run's report: the whole harvest failed."""
    lines = ["编号,名称,详情链接"] + [
        f"{'A1' if n < 6 else f'A{n}'},数据{n},https://x.example.cn/list?p={n % 2}"
        for n in range(8)
    ]
    report, good, _ = harvest(serve_csv(lines))
    assert report["identity"]["method"] == "hash" and len(good) == 8
    assert report["identity"]["rejected"] == [
        {"column": "编号", "field": "identifier", "reason": "one value (A1) on 6 of 8 rows"},
        {"column": "详情链接", "field": "landing_page",
         "reason": "one value (https://x.example.cn/list?p=0) on 4 of 8 rows"},
    ]  # fmt: skip


def test_exact_duplicate_rows_are_reported_once_each(serve_csv):
    row = "公交站点,市交通局,2023-01-01"
    lines = ["目录名称,数源单位,更新时间", row, "地铁站点,市交通局,2023-01-01", row, row]
    report, good, bad = harvest(serve_csv(lines))
    assert [r.title for r in good] == ["公交站点", "地铁站点"]
    assert [(b.reference, b.reason) for b in bad] == [
        ("row 4", "exact duplicate of row 2"),
        ("row 5", "exact duplicate of row 2"),
    ]
    assert report["duplicates"] == 2


def test_rows_differing_only_in_an_unmapped_column_are_told_apart(serve_csv):
    lines = ["目录名称,数源单位,所属区县,更新时间"] + [
        f"规划许可信息,市规划局,{district},2023-05-01" for district in ("东区", "西区", "南区")
    ]
    report, good, bad = harvest(serve_csv(lines))
    assert bad == [] and len({r.identifier for r in good}) == 3
    assert report["identity"]["told_apart"] == [
        {"rows": ["row 2", "row 3", "row 4"], "by": ["所属区县"]}
    ]
    assert "所属区县" in report["ignored"]  # not a dataset field, yet it tells rows apart


def test_identity_ignores_row_order_and_volatile_fields(serve_csv):
    rows = [f"规划许可信息,市规划局,{d},2023-05-0{n}" for n, d in enumerate(("东区", "西区"), 1)]
    _, first, _ = harvest(serve_csv(["目录名称,数源单位,所属区县,更新时间", *rows], "/a.csv"))
    moved = [rows[1].replace("2023-05-02", "2023-06-30"), rows[0]]
    _, again, _ = harvest(serve_csv(["目录名称,数源单位,所属区县,更新时间", *moved], "/b.csv"))
    assert {r.identifier: r.title for r in first} == {r.identifier: r.title for r in again}


def test_headers_no_rule_places_are_ignored_and_untitled_rows_reported(serve_csv):
    lines = ["名称,审核意见,数据量,联系电话", "甲,同意,1.2万,0571-88888888", ",同意,3,"]
    report, good, bad = harvest(serve_csv(lines))
    assert report["ignored"] == ["审核意见"]
    entry = next(c for c in report["columns"] if c["column"] == "审核意见")
    assert entry["reason"] == "no rule recognises this header"
    assert [(b.reference, b.reason) for b in bad] == [
        ("row 3", "missing title (column 名称 is empty)")
    ]
    assert (good[0].record_count, good[0].contact_point) == (12000, "0571-88888888")
    assert report["missing_title"] == 1


def test_distinct_same_title_datasets_survive_into_the_database(app, serve_csv):
    lines = ["资源名称,提供方,详情页网址"] + [
        f"统计年鉴,市统计局,https://data.example.cn/d/{year}" for year in range(2015, 2024)
    ]
    source = services.create_source("yearbooks", "tabular", serve_csv(lines))
    for created in (9, 0):
        run = services.queue_harvest(source)
        assert claim_run(run.id)
        run = execute_run(run)
        assert (run.status, run.created, run.bad) == ("succeeded", created, 0)
    assert run.unchanged == 9
    assert db.session.scalar(select(func.count()).select_from(Dataset)) == 9
