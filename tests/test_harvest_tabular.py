"""The tabular harvester against real CSV, XLSX and JSON exports served on loopback."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from subscribe.catalog.harvesters import tabular
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.catalog.records import BadRecord, DatasetRecord, HarvestError, ResourceRecord
from tests.catalog_helpers import LOOPBACK
from tests.conftest import FIXTURES

TABULAR = FIXTURES / "tabular"
PORTAL = "https://data.example.gov.cn"
CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def session():
    with make_session(LOOPBACK, retries=0) as session:
        yield session


@pytest.fixture
def serve(httpserver):
    """Serve bytes at a path; return its URL."""

    def serve(path: str, body: bytes | str, content_type: str = "", status: int = 200) -> str:
        httpserver.expect_request(path).respond_with_data(
            body, status=status, content_type=content_type or None
        )
        return httpserver.url_for(path)

    return serve


def run(url: str, session, mapping: dict | None = None) -> tuple[HarvestContext, list]:
    totals = []
    ctx = HarvestContext(url=url, session=session, mapping=mapping or {}, timeout=5)
    ctx.on_total = totals.append
    records = list(tabular.harvest(ctx))
    assert totals == [len(records)]  # reported once, before the records: one per data row
    return ctx, records


def split(records: list) -> tuple[dict[str, DatasetRecord], list[BadRecord]]:
    good = {r.title: r for r in records if isinstance(r, DatasetRecord)}
    bad = [r for r in records if isinstance(r, BadRecord)]
    return good, bad


def gbk_csv() -> bytes:
    return (TABULAR / "catalog_gbk.csv").read_bytes()


# --- the GB18030 CSV export ----------------------------------------------------------


def test_gbk_csv_counts_good_and_bad_rows(serve, session):
    ctx, records = run(serve("/export/catalog.csv", gbk_csv(), CSV_TYPE), session)
    good, bad = split(records)
    assert len(records) == 29  # blank lines and the trailing empty rows are not rows
    # Rows that differ are never merged: the copy sharing row 4's detail page (row 12)
    # and the two 法人单位名录 rows that differ in format (22, 23) are datasets of their own.
    assert len([r for r in records if isinstance(r, DatasetRecord)]) == 28
    assert len(good) == 27  # distinct titles
    assert [(b.reason, b.reference) for b in bad] == [
        ("missing title (column 目录名称* is empty)", "row 9")
    ]
    ids = [r.identifier for r in records if isinstance(r, DatasetRecord)]
    assert len(set(ids)) == len(ids)
    assert ctx.full_listing is True
    identity = ctx.report["identity"]
    assert (identity["method"], identity["column"]) == ("column", "详情页")
    assert identity["told_apart"] == [
        {"rows": ["row 4", "row 12"], "by": ["目录名称*"]},
        {"rows": ["row 22", "row 23"], "by": ["资源格式"]},
    ]


def test_gbk_csv_row_fields_are_normalized(serve, session):
    _, records = run(serve("/export/catalog.csv", gbk_csv(), CSV_TYPE), session)
    good, _ = split(records)

    first = good["企业登记信息"]
    # Its detail page is shared with another row: the title tells the two apart.
    assert first.identifier.startswith(f"{PORTAL}/catalog/1001#")
    assert good["企业登记信息(副本)"].identifier.startswith(f"{PORTAL}/catalog/1001#")
    assert first.identifier != good["企业登记信息(副本)"].identifier
    assert first.landing_page == f"{PORTAL}/catalog/1001"
    assert first.publisher == "市市场监督管理局"  # the header was "　数源单位"
    assert first.themes == ["市场监管"]
    assert (first.frequency, first.frequency_raw) == ("daily", "每日")
    assert (first.open_type, first.open_type_raw) == ("unconditional", "无条件开放")
    assert first.formats == ["XLS"]
    assert first.modified == datetime(2023, 1, 5, 8, 30)
    assert first.issued == datetime(2021, 3, 1)
    assert first.resources == [
        ResourceRecord(url=f"{PORTAL}/files/qydj.xls", name="qydj.xls", format="XLS")
    ]

    bus = good["公交线路站点"]
    assert bus.themes == ["交通出行", "城市建设"]
    assert bus.formats == ["XML", "XLS", "CSV", "JSON"]
    assert (bus.frequency, bus.modified, bus.issued) == (
        "realtime",
        datetime(2023, 6, 1),
        datetime(2020, 5, 20),
    )
    assert [(r.url, r.format) for r in bus.resources] == [
        (f"{PORTAL}/files/gjxl.csv", "CSV"),
        (f"{PORTAL}/files/gjxl.json", "JSON"),
    ]


def test_gbk_csv_messy_values(serve, session):
    url = serve("/export/catalog.csv", gbk_csv(), CSV_TYPE)
    _, records = run(url, session)
    good, _ = split(records)

    clinics = good["医疗机构名录"]
    assert clinics.formats == ["CSV", "JSON"]
    assert clinics.landing_page == url.replace("/export/catalog.csv", "/catalog/1003")
    assert clinics.identifier == clinics.landing_page
    assert clinics.modified == datetime(2023, 3, 1)
    # No suffix on the URL and two formats listed: which one it serves is not known.
    assert clinics.resources == [
        ResourceRecord(url=f"{PORTAL}/api/download?id=1003", name="医疗机构名录", format="")
    ]
    assert (clinics.open_type, clinics.frequency) == ("conditional", "monthly")

    air = good["空气质量实时监测"]
    assert air.modified == datetime(2023, 3, 28, 10, 40)  # epoch milliseconds
    assert air.issued == datetime(2017, 6, 4, 16, 0)  # +08:00 stored as UTC

    elderly = good["养老机构信息"]
    assert elderly.themes == ["社会救助", "民生服务"]
    assert (elderly.frequency, elderly.open_type) == ("yearly", "on_request")
    assert [r.format for r in elderly.resources] == ["CSV", "XLS"]

    accidents = good["道路交通事故统计（按月，分区县）"]
    assert accidents.themes == ["交通出行", "公共安全"]
    assert accidents.formats == ["CSV", "JSON"]
    assert accidents.frequency == "quarterly"
    assert accidents.resources[0].format == "ZIP"

    procurement = good["政府采购公告"]
    assert (procurement.frequency, procurement.frequency_raw) == ("unknown", "见备注")
    assert procurement.formats == ["CSV"]

    assert good["统计年鉴"].formats == ["XLS", "XLSX"]
    assert good["统计年鉴"].frequency == "biennial"  # 每两年
    assert good["统计年鉴"].resources == []
    assert (good["人口普查汇总"].open_type, good["人口普查汇总"].formats) == ("not_open", [])
    assert good["𬌗山景区客流量"].formats == ["CSV"]  # a GB18030-only character decoded
    assert good["停车场信息"].modified is None  # a bad date is no date, not a bad record
    assert good["停车场信息"].formats == ["XLS", "CSV"]
    assert good["公共厕所分布"].frequency == "irregular"  # 其他
    assert good["气象预警信息"].frequency == "realtime"  # 每小时
    assert good["社区卫生服务中心"].frequency == "semiannual"  # 每半年
    assert good["旅游景区名录"].modified == datetime(2023, 7, 1)


def test_gbk_csv_identity_without_landing_page_is_a_hash(serve, session):
    _, records = run(serve("/export/catalog.csv", gbk_csv(), CSV_TYPE), session)
    good, _ = split(records)
    school = good["学校基本信息"]
    assert school.landing_page == ""
    assert school.identifier.startswith("sha1:") and len(school.identifier) == 25
    library = good["图书馆馆藏目录"]  # a ragged row: three cells only
    assert (library.publisher, library.themes, library.frequency) == (
        "市图书馆",
        ["教育文化"],
        "unknown",
    )
    assert library.identifier.startswith("sha1:")
    assert good["体育场馆信息"].landing_page == f"{PORTAL}/catalog/1023"  # extra cells ignored


def _reordered(data: bytes) -> bytes:
    """The same export with its data rows reversed and the blank lines gone."""
    rows = list(csv.reader(io.StringIO(data.decode("gb18030"), newline="")))
    header_at = next(i for i, row in enumerate(rows) if row and row[0].startswith("目录名称"))
    body = [row for row in rows[header_at + 1 :] if any(row)]
    out = io.StringIO(newline="")
    csv.writer(out).writerows([rows[header_at], *reversed(body)])
    return out.getvalue().encode("gb18030")


def test_identity_is_stable_across_harvests_and_row_moves(serve, session):
    url = serve("/export/catalog.csv", gbk_csv(), CSV_TYPE)
    _, first = run(url, session)
    _, again = run(url, session)
    _, moved = run(serve("/export/moved.csv", _reordered(gbk_csv()), CSV_TYPE), session)

    def identities(records):
        return {r.title: r.identifier for r in records if isinstance(r, DatasetRecord)}

    assert identities(first) == identities(again)
    assert [r.identifier for r in first if isinstance(r, DatasetRecord)] == [
        r.identifier for r in again if isinstance(r, DatasetRecord)
    ]
    # Identity does not depend on row order, not even for rows that share a detail page.
    assert sorted(identities_all(moved)) == sorted(identities_all(first))
    by_row = {
        (r.title, tuple(r.formats)): r.identifier for r in first if isinstance(r, DatasetRecord)
    }
    assert {(r.title, tuple(r.formats)): r.identifier for r in moved
            if isinstance(r, DatasetRecord)} == by_row  # fmt: skip


def identities_all(records) -> list[str]:
    return [r.identifier for r in records if isinstance(r, DatasetRecord)]


# --- other CSV dialects --------------------------------------------------------------


def test_utf8_bom_tab_separated_csv_is_sniffed(serve, session):
    text = "\n".join(
        [
            "Title\tPublisher\tFrequency\tFormat\tModified\tIdentifier",
            "Road works\tCity of Example\tweekly\tCSV\t2023-02-01\trw-1",
            "Bike lanes\tCity of Example\thttp://purl.org/cld/freq/monthly\tGeoJSON\t\trw-2",
        ]
    )
    url = serve("/dl", ("\ufeff" + text).encode("utf-8"), "text/plain")
    _, records = run(url, session)
    good, bad = split(records)
    assert bad == []
    assert good["Road works"].identifier == "rw-1"
    assert (good["Road works"].frequency, good["Road works"].formats) == ("weekly", ["CSV"])
    assert good["Bike lanes"].frequency == "monthly"


def test_custom_mapping_overrides_the_defaults(serve, session):
    body = (
        "序号;数据名称;单位;编码;名称\n"
        "1;地铁客流;市地铁集团;M-01;不是标题\n"
        "2;出租车运营;;T-02;也不是\n"
    ).encode("gbk")
    mapping = {
        "fields": {"title": "数据名称", "publisher": ["部门", "单位"]},
        "id_column": "编码",
        "encoding": "gbk",
        "delimiter": ";",
    }
    _, records = run(serve("/export", body, "application/octet-stream"), session, mapping)
    good, bad = split(records)
    assert bad == []
    assert sorted(good) == ["出租车运营", "地铁客流"]
    assert (good["地铁客流"].identifier, good["地铁客流"].publisher) == ("M-01", "市地铁集团")
    assert (good["出租车运营"].identifier, good["出租车运营"].publisher) == ("T-02", "")


def test_mapping_can_switch_a_default_column_off(serve, session):
    # "编号" here holds short ids (not a running number: not in file order); the
    # mapping may still switch the column off.
    url = serve("/export.csv", "编号,名称\n12,地铁客流\n5,出租车运营\n".encode(), CSV_TYPE)
    _, default = run(url, session)
    _, switched_off = run(url, session, {"fields": {"identifier": None}})
    assert [r.identifier for r in default] == ["12", "5"]
    assert [r.identifier[:5] for r in switched_off] == ["sha1:", "sha1:"]


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"fields": {"titel": "数据名称"}}, "unknown field(s) titel"),
        ({"fields": {"title": "数据名称"}, "colour": 1}, "unknown key(s) colour"),
        ({"fields": {"title": "数据名称", "publisher": "部门"}}, "publisher (部门)"),
        ({"fields": {"title": "数据名称"}, "id_column": "目录编号"}, "identifier (目录编号)"),
    ],
)
def test_bad_mapping_is_a_harvest_error(serve, session, mapping, message):
    url = serve("/export.csv", "数据名称,单位\n地铁客流,市地铁集团\n".encode(), CSV_TYPE)
    with pytest.raises(HarvestError, match=re.escape(message)):
        run(url, session, mapping)


# --- XLSX ----------------------------------------------------------------------------


def _workbook_bytes() -> bytes:
    workbook = openpyxl.Workbook()
    notes = workbook.active
    notes.title = "说明"
    notes.append(["本表为全市公共数据开放目录，每月更新。"])
    sheet = workbook.create_sheet("目录")
    sheet.append(["某市公共数据开放目录（2023年第二季度）"])  # a banner above the header
    sheet.append([])
    sheet.append(["数据目录名称（必填）", "发布单位*", "行业分类", "更新频率", "开放方式",
                  "文件格式", "更新日期", "创建时间", "资源代码", "下载链接"])  # fmt: skip
    sheet.append(["用水量统计", "市水务集团", "能源", "每月", "无条件开放", "xlsx",
                  datetime(2023, 5, 31, 18, 0), 20200101, 1001.0, "/files/ysl.xlsx"])  # fmt: skip
    sheet.append([None, "市水务集团", "能源", "每月"])
    sheet.append(["供电可靠性", "市供电公司", "能源", "季度", "有条件开放", "CSV、JSON",
                  "2023年4月1日", datetime(2019, 1, 1), "E-2", None])  # fmt: skip
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.mark.parametrize("content_type", [XLSX_TYPE, "application/octet-stream"])
def test_xlsx_export(serve, session, content_type):
    url = serve("/download", _workbook_bytes(), content_type)
    ctx, records = run(url, session)
    good, bad = split(records)
    assert [(b.reason, b.reference) for b in bad] == [
        ("missing title (column 数据目录名称（必填） is empty)", "row 5")
    ]
    water = good["用水量统计"]
    assert (water.identifier, water.publisher, water.themes) == ("1001", "市水务集团", ["能源"])
    assert (water.modified, water.issued) == (datetime(2023, 5, 31, 18, 0), datetime(2020, 1, 1))
    assert water.resources == [
        ResourceRecord(
            url=url.replace("/download", "/files/ysl.xlsx"), name="ysl.xlsx", format="XLSX"
        )
    ]
    power = good["供电可靠性"]
    assert (power.identifier, power.frequency, power.open_type) == (
        "E-2",
        "quarterly",
        "conditional",
    )
    assert (power.formats, power.modified) == (["CSV", "JSON"], datetime(2023, 4, 1))
    assert ctx.full_listing is True


def test_xlsx_configured_sheet_must_exist(serve, session):
    url = serve("/catalog.xlsx", _workbook_bytes(), XLSX_TYPE)
    with pytest.raises(HarvestError, match="sheet 'Sheet1' not found; sheets: 说明, 目录"):
        run(url, session, {"sheet": "Sheet1"})


# --- JSON ----------------------------------------------------------------------------


def test_wrapped_json_export(serve, session):
    body = (TABULAR / "catalog.json").read_bytes()
    url = serve("/api/catalog/list", body, "application/json;charset=UTF-8")
    ctx, records = run(url, session)
    good, bad = split(records)
    assert [(b.reason, b.reference) for b in bad] == [
        ("missing title (column 数据集名称 is empty)", "record 3"),
        ("unreadable row: not an object: 这不是一条记录", "record 4"),
    ]
    assert set(good) == {"杭州市企业名录", "杭州市企业名录（重复）", "公共自行车站点",
                         "杭州市图书馆分馆", "西湖景区游客量"}  # fmt: skip

    firms = good["杭州市企业名录"]
    # Record 6 repeats its id with another title: both kept, told apart by the title.
    assert firms.identifier.startswith("330100-0001#")
    assert good["杭州市企业名录（重复）"].identifier.startswith("330100-0001#")
    assert firms.identifier != good["杭州市企业名录（重复）"].identifier
    assert ctx.report["identity"]["column"] == "目录编号"
    assert firms.themes == ["市场监管", "经济建设"]
    assert firms.keywords == ["企业", "名录", "市场主体"]
    assert (firms.frequency, firms.open_type, firms.formats) == (
        "quarterly",
        "unconditional",
        ["CSV", "JSON"],
    )
    assert (firms.modified, firms.issued) == (datetime(2023, 6, 30, 16, 0), datetime(2021, 4, 1))
    assert firms.license == "CC BY 4.0"
    assert firms.description.startswith("全市在册企业")
    assert [(r.url, r.format) for r in firms.resources] == [
        ("https://data.hangzhou.example.cn/files/qyml.csv", "CSV"),
        ("https://data.hangzhou.example.cn/files/qyml.json", "JSON"),
    ]

    bikes = good["公共自行车站点"]
    assert (bikes.identifier, bikes.publisher) == ("330100002", "杭州市城市管理局")
    assert (bikes.frequency, bikes.frequency_raw) == ("daily", "R/P1D")
    assert bikes.landing_page == url.replace("/api/catalog/list", "/dataset/330100002")
    assert bikes.modified == datetime(2023, 7, 1, 0, 0)
    assert (bikes.description, bikes.keywords) == ("", [])

    library = good["杭州市图书馆分馆"]
    assert (library.modified, library.issued) == (None, datetime(2020, 1, 1))
    # No id in the row: the landing page is the identity.
    lake = good["西湖景区游客量"]
    assert lake.identifier == "https://data.hangzhou.example.cn/dataset/xihu-visitors"
    assert ctx.full_listing is True


@pytest.mark.parametrize(
    "document",
    [
        [{"title": "Parks", "publisher": "City"}],
        {"data": {"total": 1, "list": [{"title": "Parks", "publisher": "City"}]}},
        {"rows": [{"name": "Parks", "organization": "City"}]},
    ],
)
def test_json_shapes(serve, session, document):
    url = serve("/catalog", json.dumps(document), "text/plain")
    _, records = run(url, session)
    assert [(r.title, r.publisher) for r in records] == [("Parks", "City")]


# --- whole-file failures -------------------------------------------------------------


def test_html_page_is_a_harvest_error(serve, session):
    page = "<!DOCTYPE html><html><body>请先登录</body></html>"
    url = serve("/export/catalog.csv", page, "text/html; charset=utf-8")
    with pytest.raises(HarvestError, match="answered an HTML/XML page"):
        run(url, session)


def test_csv_without_title_column_names_the_columns_found(serve, session):
    body = "序号,数量,备注\n1,20,无\n2,30,\n".encode("gb18030")
    with pytest.raises(
        HarvestError, match="no title column found; columns found: 序号, 数量, 备注"
    ):
        run(serve("/stats.csv", body, CSV_TYPE), session)


@pytest.mark.parametrize(
    ("name", "body", "content_type", "found"),
    [("c.csv", "数据名称,提供单位\n公交线路,市交通局\n".encode(), CSV_TYPE, "columns"),
     ("c.json", json.dumps([{"数据名称": "公交线路"}]).encode(), "application/json", "keys")],
)  # fmt: skip
def test_a_mapped_title_column_that_is_missing_is_named(serve, session, name, body,
                                                        content_type, found):  # fmt: skip
    """A typo in the title mapping says so, as for any other mapped field (acceptance run
    3 #9: it answered "no title column found", though the file has a title column)."""
    mapping = {"fields": {"title": "不存在的列"}}
    with pytest.raises(HarvestError, match=rf"mapped column\(s\) not found: title \(不存在的列\); "
                                           rf"{found} found: 数据名称"):  # fmt: skip
        run(serve(f"/{name}", body, content_type), session, mapping)


def test_json_without_record_array_is_a_harvest_error(serve, session):
    url = serve(
        "/api", json.dumps({"code": 500, "msg": "系统繁忙", "data": None}), "application/json"
    )
    with pytest.raises(HarvestError, match="no record array.*top level: code, msg, data"):
        run(url, session)


def test_server_error_surfaces_as_harvest_error(serve, session):
    url = serve("/export/catalog.csv", "oops", CSV_TYPE, status=502)
    with pytest.raises(HarvestError, match="answered HTTP 502"):
        run(url, session)


def test_full_listing_only_after_the_whole_file(serve, session):
    ctx = HarvestContext(url=serve("/c.csv", gbk_csv(), CSV_TYPE), session=session, timeout=5)
    stream = tabular.harvest(ctx)
    next(stream)
    assert ctx.full_listing is False
    list(stream)
    assert ctx.full_listing is True


def test_a_repeated_header_row_is_skipped_not_a_dataset(serve, session):
    """Exports concatenated from several files repeat the header row (QA): it is skipped
    and reported, never a dataset titled 数据目录名称 that is "unconditionally open"."""
    header = "序号,数据目录名称,提供单位,数据领域,更新周期,开放属性,数据格式,更新时间"
    rows = ["1,公交站点,市交通局,交通,每月,无条件开放,CSV,2023-05-01",
            "2,空气质量,市生态环境局,环境,每日,有条件开放,JSON,2023年5月"]  # fmt: skip
    # The repeat may come with its own 序号 cell, or with a cell left empty.
    repeated = [header, "序号,数据目录名称,提供单位,,更新周期,开放属性,数据格式,更新时间"]
    body = "\n".join([header, rows[0], *repeated[:1], rows[1], repeated[1]]) + "\n"
    ctx, records = run(serve("/catalog.csv", body.encode("gbk"), CSV_TYPE), session)
    good, bad = split(records)
    assert set(good) == {"公交站点", "空气质量"} and bad == []
    reasons = [row["reason"] for row in ctx.report["skipped_rows"]]
    assert reasons == ["the header row repeated"] * 2


def test_a_sign_off_footer_is_skipped_but_a_row_missing_its_title_is_bad(serve, session):
    """Exports end with sign-off lines (填报单位：…, 填报日期：…, 联系电话：…), often in
    several cells of one row: a footer, reported as skipped, not a bad record. A row that
    has data but no title stays a bad record, counted."""
    header = "序号,数据目录名称,提供单位,更新周期,更新时间"
    body = "\n".join([
        header,
        "1,公交站点,市交通局,每月,2023-05-01",
        "2,,市生态环境局,每日,2023-05-02",  # data without a title: bad
        "3,附件：人口统计表,市统计局,每年,2023",  # a title with a colon, then data: a dataset
        "填报单位：市政务服务数据管理局,,,填报日期：2024-09-30,",
        ",联系人：张三,联系电话：020-12345678,,",
        "Prepared by: Data Office,,,,",
    ]) + "\n"  # fmt: skip
    ctx, records = run(serve("/catalog.csv", body.encode("gbk"), CSV_TYPE), session)
    good, bad = split(records)
    assert set(good) == {"公交站点", "附件：人口统计表"}
    assert [(b.reference, b.reason) for b in bad] == [
        ("row 3", "missing title (column 数据目录名称 is empty)")
    ]
    footers = [row["reference"] for row in ctx.report["skipped_rows"]
               if row["reason"] == "a footer (label: value cells, no title)"]  # fmt: skip
    assert footers == ["row 5", "row 6", "row 7"]
    assert ctx.report["rows"] == 3


def test_a_resource_format_asked_for_in_its_address_query(serve, session):
    """data.gov.tw lists API addresses that end in no file name and ask for the format in
    the query (?format=CSV); ArcGIS asks with ?f=json, WFS with ?outputFormat=…. The
    format is the one asked for, where the row lists several and the suffix says none."""
    rows = [["資料集名稱", "提供機關", "檔案格式", "下載網址"],
            ["空氣品質指標(AQI)", "環境部", "CSV;JSON;XML",
             "https://data.moenv.gov.tw/api/v2/aqx_p_432?format=CSV;"
             "https://data.moenv.gov.tw/api/v2/aqx_p_432?format=JSON;"
             "https://data.moenv.gov.tw/api/v2/aqx_p_432?api_key=x&format=xml"],
            ["河川水位", "水利署", "JSON;GeoJSON",
             "https://gis.example.gov.tw/arcgis/rest/services/q/0/query?where=1%3D1&f=json;"
             "https://gis.example.gov.tw/geoserver/wfs?request=GetFeature&outputFormat=application/json;"
             "https://gis.example.gov.tw/api?format=notaformat"]]  # fmt: skip
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    ctx, records = run(serve("/tw.csv", buffer.getvalue().encode(), CSV_TYPE), session)
    good, bad = split(records)
    assert bad == []
    assert [r.format for r in good["空氣品質指標(AQI)"].resources] == ["CSV", "JSON", "XML"]
    assert [r.format for r in good["河川水位"].resources] == ["JSON", "JSON", ""]


def test_a_json_lines_export_is_one_record_per_line(serve, session):
    """JSON Lines (.jsonl / .ndjson): one record object per line, read one at a time."""
    lines = [{"目录名称": "公交站点", "提供单位": "市交通局", "更新时间": "2023-05-01"},
             {"目录名称": "空气质量", "提供单位": "市生态环境局", "更新时间": "2023年5月"}]  # fmt: skip
    body = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n"
    ctx, records = run(serve("/catalog.jsonl", body.encode(), "application/x-ndjson"), session)
    good, bad = split(records)
    assert bad == [] and ctx.report["format"] == "json"
    assert [(r.title, r.publisher, r.modified) for r in good.values()] == [
        ("公交站点", "市交通局", datetime(2023, 5, 1)),
        ("空气质量", "市生态环境局", datetime(2023, 5, 1)),
    ]


def test_broken_json_says_where_in_one_readable_line(serve, session):
    """The parser's message, not the repr of its bytes (b'parse error…\\n…\\xe7…')."""
    body = '[{"目录名称": "公交站点"} {"目录名称": "空气质量"}]'.encode()
    with pytest.raises(HarvestError) as caught:
        run(serve("/catalog.json", body, "application/json"), session)
    message = str(caught.value)
    assert message.startswith("not valid JSON: parse error") and "\n" not in message
    assert "\\x" not in message and "b'" not in message


UNDECODABLE = Path(__file__).resolve().parent / "data" / "undecodable"


@pytest.mark.parametrize(("name", "row", "title"),
                         [("gbk_badbytes.csv", "row 4", "坏编码行"),
                          ("gbk_trunc.csv", "row 12", "气象观测数据")])  # fmt: skip
def test_rows_holding_bytes_the_encoding_cannot_read_are_reported(serve, session, name, row,
                                                                  title):  # fmt: skip
    """A damaged or cut GBK export: the rows still harvest (nothing lost), and the report
    names the rows whose bytes were replaced (acceptance run 3 #7: silently ingested)."""
    body = (UNDECODABLE / name).read_bytes()
    ctx, records = run(serve(f"/{name}", body, CSV_TYPE), session)
    assert any(r.title.startswith(title) for r in records if isinstance(r, DatasetRecord))
    assert ctx.report["undecodable_rows"] == {"encoding": "gb18030", "rows": 1,
                                              "references": [row]}  # fmt: skip


def test_a_clean_export_reports_no_undecodable_rows(serve, session):
    ctx, _ = run(serve("/c.csv", gbk_csv(), CSV_TYPE), session)
    assert "undecodable_rows" not in ctx.report


def test_a_number_in_a_frequency_column_counts_the_unit_its_header_names(serve, session):
    """bb6 cn_odd.xlsx: 更新周期(天) = 30 was "unknown"; it is 30 days, monthly. Words in
    the same column are read as ever; another column's unit is its own."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["XX市公共数据开放目录（2024年第二批）"])
    sheet.append(["序 号", "资源名称 *", "资源提供部门（单位）", "更新周期(天)", "复核周期（月）"])
    sheet.append([1, "城市道路井盖", "市政工程管理处", 30, 12])
    sheet.append([2, "社区卫生服务站", "区卫健局", "90", None])
    sheet.append([3, "夜市经营点位", "市商务局", "每周一次", None])
    sheet.append([4, "公园厕所", "市园林局", 365.0, None])
    sheet.append([5, "网约车平台", "市交通运输局", None, 3])  # the fallback column: months
    buffer = io.BytesIO()
    workbook.save(buffer)
    _, records = run(serve("/cn_odd.xlsx", buffer.getvalue(), XLSX_TYPE), session)
    good, bad = split(records)
    assert not bad
    assert {title: (r.frequency, r.frequency_raw) for title, r in good.items()} == {
        "城市道路井盖": ("monthly", "30"),
        "社区卫生服务站": ("quarterly", "90"),
        "夜市经营点位": ("weekly", "每周一次"),
        "公园厕所": ("yearly", "365"),
        "网约车平台": ("quarterly", "3"),
    }


def test_a_frequency_header_in_months_or_updates_per_year_in_a_csv(serve, session):
    body = ("数据名称,提供单位,更新周期(月),更新频率(次/年)\n"
            "甲,测试局,1,\n乙,测试局,,4\n丙,测试局,6,12\n丁,测试局,30天,\n")  # fmt: skip
    _, records = run(serve("/months.csv", body.encode(), CSV_TYPE), session)
    good, _ = split(records)
    assert {title: r.frequency for title, r in good.items()} == {
        "甲": "monthly", "乙": "quarterly", "丙": "semiannual", "丁": "monthly",
    }  # fmt: skip


def test_a_frequency_column_whose_header_names_a_unit_reports_its_numbers_as_fitting(
    serve, session
):
    """bb8 F5 (cn4_gbk_messy.csv): 更新周期（天） holding 30/7/90/365 was read right (30 →
    monthly) but the mapping report said "0% of values fit": bare numbers fit a frequency
    column only when its header names their unit."""
    body = ("目录编号,信息资源名称,数据提供单位,更新周期（天）,更新周期\n"
            "XX-007,县级河道水质月报,县生态环境分局,30,30\n"
            "XX-006,县公共厕所分布,县城市管理局,,\n"
            "XX-005,县域农产品价格监测,县农业农村局,7,7\n"
            "XX-004,县农机补贴,县农业农村局,90,90\n"
            "XX-003,县统计年鉴,县统计局,365,365\n")  # fmt: skip
    ctx, records = run(serve("/cn4.csv", body.encode("gbk"), CSV_TYPE), session)
    good, _ = split(records)
    assert good["县级河道水质月报"].frequency == "monthly"
    reasons = {c["column"]: c.get("reason", "") for c in ctx.report["columns"]}
    assert "100% of values fit" in reasons["更新周期（天）"], reasons
    assert "0% of values fit" in reasons["更新周期"], reasons  # no unit: numbers are no words


def test_a_last_update_column_beats_a_bare_update_date_for_modified(serve, session):
    """bb8 F24 (cn19_headers.csv): with 更新时间, 更新时间 and 最后更新时间, the first bare
    更新时间 won by position (93.8 > 91.2) and the record looked ten months staler than it
    was. A header saying the last update is the stronger claim, and the report says so."""
    body = ('数据名称,提供单位,更新时间,更新时间,数据量（条）,访问ＵＲＬ,"最后\n更新时间 ",备 注\n'
            "全市公厕分布,市城市管理局,2024-01-01,2024-06-01,1200,http://example.gov/d/1,2024-11-01,\n"
            "全市垃圾转运站,市城市管理局,2024-02-01,2024-07-01,300,http://example.gov/d/2,2024-10-01,\n"
            "全市停车场,市交通局,2024-03-01,,10,http://example.gov/d/3,,\n")  # fmt: skip
    ctx, records = run(serve("/cn19.csv", body.encode(), CSV_TYPE), session)
    good, _ = split(records)
    assert good["全市公厕分布"].modified.date().isoformat() == "2024-11-01"
    assert good["全市垃圾转运站"].modified.date().isoformat() == "2024-10-01"
    assert good["全市停车场"].modified.date().isoformat() == "2024-03-01"  # the fallback
    used = [c for c in ctx.report["columns"] if c.get("field") == "modified"]
    assert [c["role"] for c in used] == ["fallback", "fallback", "used"], used
    assert "names the last update: preferred over a bare update date" in used[2]["reason"]
