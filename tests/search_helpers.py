"""Shared set-up for search tests: real catalogs harvested over loopback, then indexed."""

from __future__ import annotations

import csv
import io

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.conftest import FIXTURES

CHINESE_CSV = FIXTURES / "search" / "chinese_catalog.csv"
EDUCATION = FIXTURES / "catalogs" / "small-education.data.json"


def run_harvest(source):
    """Queue, claim and run one harvest of ``source``, as the worker does; the run, whatever
    its outcome."""
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    return execute_run(run)


def harvest(source):
    """run_harvest, asserting it succeeded."""
    run = run_harvest(source)
    assert run.status == "succeeded", run.error
    return run


def serve(httpserver, path: str, body: bytes, content_type: str) -> str:
    httpserver.expect_request(path).respond_with_data(body, content_type=content_type)
    return httpserver.url_for(path)


def load_catalogs(httpserver) -> None:
    """The Chinese fixture (tabular) and the US Dept. of Education data.json (DCAT-US)."""
    chinese = serve(httpserver, "/catalog.csv", CHINESE_CSV.read_bytes(), "text/csv")
    education = serve(httpserver, "/data.json", EDUCATION.read_bytes(), "application/json")
    harvest(services.create_source("city", "tabular", chinese, mapping={"id_column": "目录编号"}))
    harvest(services.create_source("ed", "dcat", education))
    indexer.apply_changes(get_service().store)


def index_rows(httpserver, name: str, rows: list[tuple]) -> None:
    """A 开放目录 CSV of (目录编号, 目录名称, 数据摘要, 关键字) rows served as /<name>.csv,
    harvested (identified by 目录编号) and indexed."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["目录编号", "目录名称", "数据摘要", "关键字"])
    writer.writerows(rows)
    url = serve(httpserver, f"/{name}.csv", out.getvalue().encode(), "text/csv")
    harvest(services.create_source(name, "tabular", url, mapping={"id_column": "目录编号"}))
    indexer.apply_changes(get_service().store)
