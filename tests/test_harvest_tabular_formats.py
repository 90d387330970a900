"""A tabular row that names no format is a dataset of its files' formats.

Exports without a 格式 column give the files only (下载地址 …/x.csv): the resources read
as CSV, and the dataset must too, or the format filter and facet miss it. After the
upgrade, the datasets harvested before get their formats quietly (no version, no event).
Real tabular export on loopback, real database, the search API.
"""

from __future__ import annotations

from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvesters import tabular
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion
from subscribe.extensions import db
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.search_helpers import harvest, serve

HEADER = "数据名称,提供部门,下载地址\n"
ROWS = [f"示例市文件{n},市局,https://data.example.cn/files/d{n}.csv" for n in range(3)]


def export(httpserver, rows: list[str]) -> str:
    httpserver.clear()
    return serve(httpserver, "/files.csv", (HEADER + "\n".join(rows) + "\n").encode(), "text/csv")


def totals() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(CatalogEvent)),
            db.session.scalar(select(func.count()).select_from(DatasetVersion)))  # fmt: skip


def test_a_dataset_without_a_format_column_has_its_files_formats(app, client, httpserver):
    source = services.create_source("files", "tabular", export(httpserver, ROWS))
    assert harvest(source).created == 3
    assert db.session.scalars(select(Dataset.formats)).all() == [["CSV"]] * 3
    indexer.apply_changes(get_service().store)
    body = client.get("/api/v1/datasets", query_string={"format": "csv"}).json
    assert body["total"] == 3
    facets = client.get("/api/v1/datasets", query_string={"q": "示例市文件"}).json["facets"]
    assert dict((f["value"], f["count"]) for f in facets["format"])["CSV"] == 3  # noqa: C402


def test_a_format_column_still_decides(app, httpserver):
    header = "数据名称,提供部门,格式,下载地址\n"
    rows = ["示例市接口,市局,JSON,https://data.example.cn/files/a.csv"]
    httpserver.clear()
    url = serve(httpserver, "/f.csv", (header + "\n".join(rows) + "\n").encode(), "text/csv")
    harvest(services.create_source("f", "tabular", url))
    assert db.session.scalars(select(Dataset.formats)).all() == [["JSON"]]


def test_the_upgrade_fills_formats_in_without_an_event(app, httpserver, monkeypatch):
    source = services.create_source("files", "tabular", export(httpserver, ROWS))
    monkeypatch.setattr(tabular, "_dataset_formats", lambda formats, resources: formats)
    assert harvest(source).created == 3  # the earlier release: formats []
    assert db.session.scalars(select(Dataset.formats)).all() == [[]] * 3
    before = totals()

    monkeypatch.undo()
    monkeypatch.setattr(tabular, "FINGERPRINT_VERSION", "test-formats-of-resources")
    run = harvest(source)
    assert (run.updated, run.unchanged) == (0, 3)
    assert totals() == before  # no version, no event
    assert db.session.scalars(select(Dataset.formats)).all() == [["CSV"]] * 3

    # A file of another format added afterwards is an update, as always.
    export(httpserver, [ROWS[0] + " https://data.example.cn/files/d0.xlsx", *ROWS[1:]])
    run = harvest(source)
    assert (run.updated, run.unchanged) == (1, 2)
    event = db.session.scalars(select(CatalogEvent).order_by(CatalogEvent.id.desc())).first()
    assert event.type == "dataset.updated"
    assert event.changes[0]["fields"]["formats"] == {"old": ["CSV"], "new": ["CSV", "XLSX"]}
