"""An HTML table saved as a spreadsheet (bb8 F14): many portals' 导出Excel answers an
HTML page with one <table>, named .xls. Its rows are read as a sheet's; spans fill the
cells they cover; an HTML page that is no spreadsheet (a login page) still fails."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from tests.search_helpers import harvest, serve

EXPORT = Path(__file__).resolve().parent / "data" / "html-table-xls-bb8" / "cn7_html_disguised.xls"
EXCEL = "application/vnd.ms-excel"


def datasets() -> dict[str, tuple[str, str]]:
    rows = db.session.execute(select(Dataset.title, Dataset.publisher, Dataset.frequency))
    return {title: (publisher, frequency) for title, publisher, frequency in rows}


def test_the_tester_s_html_xls_export_is_read(app, httpserver):
    url = serve(httpserver, "/export.xls", EXPORT.read_bytes(), EXCEL)
    run = harvest(services.create_source("cn7", "tabular", url))
    assert (run.status, run.created, run.bad) == ("succeeded", 2, 0)
    assert run.mapping_report["format"] == "html"
    assert datasets() == {"市场主体登记信息": ("市市场监督管理局", "daily"),
                          "食品经营许可信息": ("市市场监督管理局", "weekly")}  # fmt: skip


def test_a_title_row_spans_and_a_gbk_page_without_a_charset(app, httpserver):
    """A merged title row above the header (colspan), a publisher merged down (rowspan),
    <th> header cells, a line break in a cell, and GB 18030 bytes with no <meta charset>."""
    page = (
        "<html><body><table>"
        "<tr><td colspan='3'>某市政务数据开放目录（2024年）</td></tr>"
        "<tr><th>数据名称</th><th>提供部门</th><th>更新频率</th></tr>"
        "<tr><td>公交站点</td><td rowspan='2'>市交通运输局</td><td>每月</td></tr>"
        "<tr><td>停车场<br>信息</td><td>每日</td></tr>"
        "<tr><td>医疗机构</td><td>市卫生健康委员会</td><td>每年</td></tr>"
        "</table></body></html>"
    )
    url = serve(httpserver, "/目录.xls", page.encode("gb18030"), EXCEL)
    run = harvest(services.create_source("gbk", "tabular", url))
    assert (run.status, run.created, run.bad) == ("succeeded", 3, 0)
    assert datasets() == {"公交站点": ("市交通运输局", "monthly"),
                          "停车场 信息": ("市交通运输局", "daily"),
                          "医疗机构": ("市卫生健康委员会", "yearly")}  # fmt: skip


def test_an_html_page_that_is_no_spreadsheet_still_fails_clearly(app, httpserver):
    url = serve(httpserver, "/export.csv", b"<html><body><form>login</form></body></html>",
                "text/html")  # fmt: skip
    run = services.queue_harvest(services.create_source("login", "tabular", url))
    assert claim_run(run.id)
    run = execute_run(run)
    assert run.status == "failed" and "answered an HTML/XML page" in run.error
