"""Shared set-up for search tests: real catalogs harvested over loopback, then indexed."""

from __future__ import annotations

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.conftest import FIXTURES

CHINESE_CSV = FIXTURES / "search" / "chinese_catalog.csv"
EDUCATION = FIXTURES / "catalogs" / "small-education.data.json"


def harvest(source):
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    run = execute_run(run)
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
