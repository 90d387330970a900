"""Black-box findings on what a tabular export's columns and rows are (runs bb8, bb9;
files in tests/data/tabular-bb9-columns, see SOURCE.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from subscribe.catalog.harvesters import tabular
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.catalog.records import DatasetRecord
from subscribe.web.reasons import mapping_reason
from tests.catalog_helpers import LOOPBACK

DATA = Path(__file__).resolve().parent / "data" / "tabular-bb9-columns"
CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def harvest(httpserver):
    def harvest(name: str, content_type: str = CSV_TYPE) -> tuple[dict, list]:
        httpserver.expect_request(f"/{name}").respond_with_data(
            (DATA / name).read_bytes(), content_type=content_type
        )
        url = httpserver.url_for(f"/{name}")
        with make_session(LOOPBACK, retries=0) as session:
            ctx = HarvestContext(url=url, session=session, mapping={}, timeout=5)
            records = list(tabular.harvest(ctx))
        return ctx.report, records

    return harvest


def datasets(records: list) -> list[DatasetRecord]:
    return [r for r in records if isinstance(r, DatasetRecord)]


def test_an_unnamed_column_of_pages_is_the_landing_page(harvest):
    report, records = harvest("unnamed_pages.csv")
    pages = {r.identifier: r.landing_page for r in datasets(records)}
    assert pages["D001"] == "https://data.qa.gov/dataset/d1"
    assert report["fields"]["landing_page"] == "(4)"
    column = report["columns"][3]
    assert (column["column"], column["field"], column["role"]) == ("(4)", "landing_page", "used")
    assert column["reason"].startswith("no header text; its values are landing_page")


def test_an_unnamed_column_of_files_is_the_download_url_and_named_by_position(harvest, app):
    report, records = harvest("unnamed_files.csv")
    found = {r.identifier: r for r in datasets(records)}
    assert [res.url for res in found["B003"].resources] == ["http://127.0.0.1:8799/files/f3.csv"]
    assert report["fields"]["download_url"] == "(8)"
    columns = {c["index"]: c for c in report["columns"]}
    assert [columns[i]["column"] for i in (3, 5, 7)] == ["(4)", "(6)", "(8)"]
    assert (columns[3]["role"], columns[3]["reason"]) == ("ignored", "no header text")
    assert report["ignored"] == ["(4)", "(6)"]
    with app.test_request_context():  # Chinese: the default
        shown = mapping_reason(columns[7]["reason"].split("; 100%")[0])
        assert shown.startswith("无列名") and "values" not in shown


def test_a_second_header_row_of_english_words_is_skipped(harvest):
    """bb8: Title;Publisher;Frequency;Modified;Format under the Chinese header became a
    dataset titled "Title"."""
    report, records = harvest("cn9_semicolon_bilingual.csv")
    assert [r.title for r in datasets(records)] == ["城市道路名录", "公共充电桩分布"]
    assert len(records) == 2 and report["rows"] == 2
    assert {
        "reference": "row 3",
        "reason": "a second header row (its cells name the same fields)",
    } in (report["skipped_rows"])


def test_a_data_row_of_header_words_under_real_rows_stays_a_dataset(harvest, httpserver):
    """Only rows before the first dataset row can be a second header; one cell that is a
    header word (a dataset named 名称) is no header."""
    httpserver.expect_request("/words.csv").respond_with_data(
        "数据名称,提供单位,更新频率\n道路,交通局,每月\nTitle,Publisher,Frequency\n名称,交通局,每年\n",
        content_type=CSV_TYPE,
    )
    url = httpserver.url_for("/words.csv")
    with make_session(LOOPBACK, retries=0) as session:
        ctx = HarvestContext(url=url, session=session, mapping={}, timeout=5)
        records = list(tabular.harvest(ctx))
    assert [r.title for r in datasets(records)] == ["道路", "Title", "名称"]


def test_a_total_row_without_publisher_is_skipped(harvest):
    """bb8: the XLSX's 合计 | | 5项 row became a dataset titled "5项" with no publisher."""
    report, records = harvest("cn16_merged_down.xlsx", XLSX_TYPE)
    titles = [r.title for r in datasets(records)]
    assert "5项" not in titles and len(titles) == 5 == len(records) == report["rows"]
    reasons = [row["reason"] for row in report["skipped_rows"]]
    assert "a total row (合计, no publisher)" in reasons


@pytest.mark.parametrize(
    ("row", "skipped"),
    [
        (",总计：12,,", True),  # the first filled cell
        ("小计,5项,,", True),
        ("合计,5项,交通局,", False),  # a publisher: a dataset
        ("合计表,交通局名录,,", False),  # not a total's words
    ],
)
def test_total_rows(httpserver, row, skipped):
    httpserver.expect_request("/t.csv").respond_with_data(
        f"序号,数据名称,提供单位,格式\n1,道路,交通局,CSV\n{row}\n", content_type=CSV_TYPE
    )
    url = httpserver.url_for("/t.csv")
    with make_session(LOOPBACK, retries=0) as session:
        ctx = HarvestContext(url=url, session=session, mapping={}, timeout=5)
        records = list(tabular.harvest(ctx))
    assert len(records) == (1 if skipped else 2)
