"""A workbook exported one sheet per department (bb8 F26): every sheet with the same
columns is read as one catalog, whatever the sheets' order; a sheet of notes or with
other columns is left out and reported."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from tests.search_helpers import harvest, serve

WORKBOOK = Path(__file__).resolve().parent / "data" / "sheets-bb8" / "cn22_sheets.xlsx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def reordered(path: Path, order: list[str]) -> bytes:
    book = openpyxl.load_workbook(path)
    book._sheets = [book[name] for name in order]
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def titles() -> dict[str, str]:
    rows = db.session.execute(select(Dataset.title, Dataset.publisher)
                              .where(Dataset.deleted_at.is_(None)))  # fmt: skip
    return dict(rows.all())


def test_every_sheet_of_one_header_is_read_whatever_their_order(app, httpserver):
    url = serve(httpserver, "/catalog.xlsx", WORKBOOK.read_bytes(), XLSX)
    source = services.create_source("cn22", "tabular", url)
    run = harvest(source)
    assert (run.created, run.bad) == (7, 0)
    assert run.mapping_report["sheets"] == ["市教育局", "市交通运输局"]
    assert titles()["公交线路信息"] == "市交通运输局" and titles()["中小学名录"] == "市教育局"
    httpserver.clear()
    serve(httpserver, "/catalog.xlsx", reordered(WORKBOOK, ["市交通运输局", "市教育局"]), XLSX)
    again = harvest(source)
    assert (again.created, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 7)


def test_columns_in_another_order_a_notes_sheet_and_a_bad_row(app, httpserver):
    book = openpyxl.Workbook()
    first = book.active
    first.title = "市教育局"
    first.append(["资源名称", "提供单位", "更新频率"])
    first.append(["中小学名录", "市教育局", "每年"])
    second = book.create_sheet("市交通运输局")
    second.append(["某市政务数据目录"])  # a title row above the header
    second.append(["更新频率", "资源名称", "提供单位"])  # the same columns, another order
    second.append(["每月", "公交线路信息", "市交通运输局"])
    second.append(["每月", "", "市交通运输局"])  # no title: a bad row, named by its sheet
    notes = book.create_sheet("填报说明")
    notes.append(["本表由各部门填报，每季度更新。"])
    other = book.create_sheet("统计")
    other.append(["资源名称", "数量"])
    other.append(["合计", "2"])
    out = io.BytesIO()
    book.save(out)
    url = serve(httpserver, "/catalog.xlsx", out.getvalue(), XLSX)
    run = harvest(services.create_source("mixed", "tabular", url))
    assert (run.created, run.bad) == (2, 1)
    assert titles() == {"中小学名录": "市教育局", "公交线路信息": "市交通运输局"}
    assert run.errors[0]["reference"] == "sheet '市交通运输局' row 4"
    report = run.mapping_report
    assert report["sheets"] == ["市教育局", "市交通运输局"]
    assert [entry["sheet"] for entry in report["sheets_left_out"]] == ["填报说明", "统计"]
    assert "differs" in report["sheets_left_out"][1]["reason"]
    skipped = [entry["reference"] for entry in report["skipped_rows"]]
    assert "sheet '市交通运输局' row 1" in skipped


def test_an_unnamed_column_of_every_sheet_is_read_in_each(app, httpserver):
    """Sheets whose header leaves a column unnamed (page URLs placed by their values):
    the later sheets' unnamed column is read as the first's (review: it came out empty,
    so their datasets had no landing page)."""
    book = openpyxl.Workbook()
    for n, name in enumerate(["市教育局", "市交通运输局"]):
        sheet = book.active if n == 0 else book.create_sheet(name)
        sheet.title = name
        sheet.append(["资源名称", None, "提供单位", "更新频率"])
        for k in range(3):
            sheet.append([f"{name}数据{k}", f"https://data.example.cn/ds/{n}{k}", name, "每月"])
    out = io.BytesIO()
    book.save(out)
    url = serve(httpserver, "/catalog.xlsx", out.getvalue(), XLSX)
    run = harvest(services.create_source("blank", "tabular", url))
    assert run.created == 6
    pages = dict(db.session.execute(select(Dataset.title, Dataset.landing_page)).all())
    assert pages["市交通运输局数据2"] == "https://data.example.cn/ds/12"
    assert all(pages.values()), pages
