"""Field cases 11 (XLSX: merged cells, title/footnote rows, date serials) and 14
(traditional-Chinese headers), asserting their case.json `expected`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.harvesters import tabular
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.catalog.models import CatalogEvent, Dataset
from subscribe.catalog.records import BadRecord, DatasetRecord
from subscribe.extensions import db
from tests.catalog_helpers import LOOPBACK

DATA = Path(__file__).resolve().parent / "data"
CASE_11 = DATA / "11-tabular-xlsx-merged-header"
CASE_14 = DATA / "14-tabular-traditional-headers"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def serve_file(httpserver):
    def serve(path: Path, content_type: str) -> str:
        httpserver.expect_request(f"/{path.name}").respond_with_data(
            path.read_bytes(), content_type=content_type
        )
        return httpserver.url_for(f"/{path.name}")

    return serve


def harvest_file(url: str, mapping: dict | None = None) -> tuple[HarvestContext, list]:
    with make_session(LOOPBACK, retries=0) as session:
        ctx = HarvestContext(url=url, session=session, mapping=mapping or {}, timeout=5)
        return ctx, list(tabular.harvest(ctx))


def test_case_11_expected_is_what_we_assert():
    expected = json.loads((CASE_11 / "case.json").read_text())["expected"]
    assert expected.startswith("Exactly 6 datasets, 0 bad. The header is found on row 3")


def test_case_11_xlsx_merged_header(serve_file):
    ctx, records = harvest_file(serve_file(CASE_11 / "catalog.xlsx", XLSX_TYPE))
    assert [r for r in records if isinstance(r, BadRecord)] == []
    good = {r.title: r for r in records}
    assert len(records) == len(good) == 6  # not the sheet title (row 1), not the footnote
    report = ctx.report
    assert (report["format"], report["sheet"], report["header_row"]) == ("xlsx", "开放目录", 3)
    assert report["fields"]["title"] == "目录名称"
    assert report["fields"]["publisher"] == "提供单位"
    assert report["fields"]["modified"] == "更新时间"
    assert report["ignored"] == []
    assert [row["reference"] for row in report["skipped_rows"]] == ["row 1", "row 2", "row 11"]
    # B4:B6 is merged: every row it covers gets the department.
    for title in ("公交线路基础信息", "出租汽车企业名录", "公共停车场泊位信息"):
        assert good[title].publisher == "市交通运输局"
    assert good["地表水水质监测数据"].publisher == "市生态环境局"
    assert good["公交线路基础信息"].modified == datetime(2023, 6, 1)  # a real date cell
    assert good["出租汽车企业名录"].modified == datetime(2023, 6, 1)  # "2023年6月1日"
    assert good["公共停车场泊位信息"].modified == datetime(2023, 6, 2)  # "2023/06/02"
    assert good["中小学校基本信息"].modified == datetime(2023, 6, 1)  # serial 45078
    # Dates at the precision written: a date cell and a serial are days, not instants.
    precisions = {title: good[title].modified_precision for title in good}
    assert precisions["公交线路基础信息"] == precisions["中小学校基本信息"] == "day"
    assert good["医疗机构执业登记信息"].formats == ["CSV", "XLSX"]
    assert good["公交线路基础信息"].description == "线路编号、起讫站点与首末班时间。"


def test_case_11_harvested_twice_makes_no_change_events(app, serve_file):
    source = services.create_source(
        "case11", "tabular", serve_file(CASE_11 / "catalog.xlsx", XLSX_TYPE)
    )
    for expected_created in (6, 0):
        run = services.queue_harvest(source)
        assert claim_run(run.id)
        run = execute_run(run)
        assert (run.status, run.created, run.bad) == ("succeeded", expected_created, 0)
    assert (run.updated, run.unchanged) == (0, 6)
    assert db.session.scalar(select(func.count()).select_from(CatalogEvent)) == 6  # created
    assert run.mapping_report["fields"]["publisher"] == "提供单位"


@pytest.mark.parametrize(
    "mapping",
    [{"fields": {"title": "資料集名稱", "publisher": "提供機關名稱", "issued": "上架日"}}, {}],
    ids=["case-mapping", "default-rules"],
)
def test_case_14_traditional_headers(serve_file, mapping):
    ctx, records = harvest_file(serve_file(CASE_14 / "tw_list.csv", "text/csv"), mapping)
    assert all(isinstance(r, DatasetRecord) for r in records)
    good = {r.title: r for r in records}
    assert len(good) == 5
    bikes = good["臺北市公共自行車租賃站資料"]  # shown in its own script, never converted
    assert (bikes.publisher, bikes.issued) == ("臺北市政府交通局", datetime(2023, 7, 1))
    assert good["醫療機構基本資料"].publisher == "衛生福利部"
    assert ctx.report["fields"] == {
        "title": "資料集名稱",
        "publisher": "提供機關名稱",
        "issued": "上架日",
    }
    levels = {c["column"]: c["level"] for c in ctx.report["columns"]}
    assert set(levels.values()) == ({"explicit"} if mapping else {"rule"})


def test_case_14_simplified_json_export_with_default_mapping(serve_file):
    ctx, records = harvest_file(serve_file(CASE_14 / "cn_export.json", "application/json"))
    good = {r.title: r for r in records}
    assert set(good) == {"医疗机构执业登记信息", "环境空气质量监测数据", "人口统计年鉴"}
    health = good["医疗机构执业登记信息"]
    assert (health.publisher, health.themes, health.frequency) == (
        "市卫生健康委员会",
        ["医疗卫生"],
        "monthly",
    )
    assert (health.open_type, health.formats) == ("unconditional", ["CSV"])
    assert health.description == "机构名称、类别、执业地址。"
    assert health.modified == datetime(2024, 3, 1)
    assert ctx.report["ignored"] == []


def test_case_14_both_files_in_one_catalog(app, serve_file):
    for name, path in (("tw", CASE_14 / "tw_list.csv"), ("cn", CASE_14 / "cn_export.json")):
        source = services.create_source(name, "tabular", serve_file(path, "text/plain"))
        run = services.queue_harvest(source)
        assert claim_run(run.id)
        assert execute_run(run).status == "succeeded"
    assert db.session.scalar(select(func.count()).select_from(Dataset)) == 8


XLS = DATA / "tabular-xls"


def test_a_legacy_xls_export_reads_as_its_xlsx_would(serve_file):
    """The .xls 目录导出 of many Chinese platforms (BIFF, read by xlrd): header found on
    row 3 below the merged title and group header, the merged department filled into
    the three rows it covers, date cells, date text and serials all dates, the footnote
    and sign-off skipped, ids read as whole numbers (330100001, not 330100001.0)."""
    ctx, records = harvest_file(serve_file(XLS / "catalog.xls", "application/vnd.ms-excel"))
    assert [r for r in records if isinstance(r, BadRecord)] == []
    good = {r.title: r for r in records}
    assert list(good) == ["公交站点位置信息", "出租汽车企业名录", "公共停车场泊位信息", "学校名录"]
    report = ctx.report
    assert (report["format"], report["sheet"], report["header_row"]) == ("xls", "开放目录", 3)
    assert [row["reference"] for row in report["skipped_rows"]] == ["row 1", "row 2", "row 8",
                                                                     "row 9"]  # fmt: skip
    assert {r.publisher for r in list(good.values())[:3]} == {"市交通运输局"}
    assert good["学校名录"].publisher == "市教育局"
    assert [r.modified for r in good.values()] == [
        datetime(2023, 6, 1),
        datetime(2023, 6, 1),
        datetime(2023, 6, 2),
        datetime(2023, 6, 2),
    ]
    assert good["公交站点位置信息"].formats == ["CSV", "JSON"]
    assert [r.identifier for r in good.values()] == ["330100001", "330100002", "330100003",
                                                      "330100004"]  # fmt: skip


def test_a_csv_named_xls_is_read_as_csv(serve_file, tmp_path):
    """Portals label CSV text ".xls" (and serve it as application/vnd.ms-excel): the bytes
    decide, not the name."""
    path = tmp_path / "catalog.xls"
    path.write_bytes("目录名称,提供单位\n公交站点,市交通局\n".encode("gbk"))
    ctx, records = harvest_file(serve_file(path, "application/vnd.ms-excel"))
    assert ctx.report["format"] == "csv"
    assert [(r.title, r.publisher) for r in records] == [("公交站点", "市交通局")]
