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
