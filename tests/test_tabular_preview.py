"""The mapping report on harvest runs (API + source page) and the dry-run preview
(`flask sources preview`, POST /api/v1/sources/{id}/preview): nothing is written."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.models import Dataset, HarvestRun
from subscribe.extensions import db
from subscribe.jobs.jobs import run_queued_harvests
from tests.conftest import make_token
from tests.test_web_operators import (
    operator,  # noqa: F401  (fixture)
    registered,  # noqa: F401  (fixture)
)

EXPORT = "\n".join(
    [
        "某市公共数据开放目录（2023年）,,,,,,",
        "序号,资源名称,资源提供方,摘要信息,数据更新时间,详情页网址,审核意见",
        "1,公交线路,市交通局,线路与站点,2023-06-01,https://data.example.cn/d/1,同意",
        "2,公交线路,市交通局,线路与站点（郊区）,2023-06-02,https://data.example.cn/d/2,同意",
        "3,空气质量,市生态环境局,日报,2023-06-03,https://data.example.cn/d/3,同意",
        "4,,市民政局,无标题的行,2023-06-04,https://data.example.cn/d/4,同意",
    ]
)


@pytest.fixture
def export_url(httpserver):
    httpserver.expect_request("/export.csv").respond_with_data(
        EXPORT.encode("utf-8"), content_type="text/csv"
    )
    return httpserver.url_for("/export.csv")


@pytest.fixture
def source(app, export_url):
    return services.create_source("city", "tabular", export_url)


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_preview_maps_without_writing(client, operator_headers, source):
    response = client.post(
        f"/api/v1/sources/{source.id}/preview", json={"rows": 2}, headers=operator_headers
    )
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["source"], body["total"]) == ("city", 4)
    assert [r["title"] for r in body["records"]] == ["公交线路", "公交线路"]
    first = body["records"][0]
    assert (first["publisher"], first["landing_page"]) == (
        "市交通局",
        "https://data.example.cn/d/1",
    )
    assert first["identifier"] == "https://data.example.cn/d/1"
    assert body["bad"] == [
        {"reference": "row 6", "reason": "missing title (column 资源名称 is empty)"}
    ]
    mapping = body["mapping"]
    assert mapping["header_row"] == 2
    assert mapping["fields"] == {
        "title": "资源名称", "publisher": "资源提供方", "description": "摘要信息",
        "modified": "数据更新时间", "landing_page": "详情页网址",
    }  # fmt: skip
    assert mapping["ignored"] == ["序号", "审核意见"]
    assert (_count(Dataset), _count(HarvestRun)) == (0, 0)  # a dry run writes nothing


def test_preview_tries_another_mapping_and_refuses_bad_ones(client, operator_headers, source):
    tried = client.post(
        f"/api/v1/sources/{source.id}/preview",
        json={"mapping": {"fields": {"description": None}}},
        headers=operator_headers,
    )
    assert tried.status_code == 200
    assert "description" not in tried.json["mapping"]["fields"]
    bad = client.post(
        f"/api/v1/sources/{source.id}/preview",
        json={"mapping": {"fields": {"titel": "名称"}}},
        headers=operator_headers,
    )
    assert bad.status_code == 422
    assert set(bad.json) == {"code", "status", "message", "errors"}
    assert "unknown field(s) titel" in bad.json["message"]
    rows = client.post(
        f"/api/v1/sources/{source.id}/preview", json={"rows": 0}, headers=operator_headers
    )
    assert rows.status_code == 422 and rows.json["code"] == 422


def test_preview_of_an_unreadable_source_is_a_422(client, operator_headers, httpserver):
    httpserver.expect_request("/login").respond_with_data("<html>请登录</html>")
    source = services.create_source("login", "tabular", httpserver.url_for("/login"))
    response = client.post(f"/api/v1/sources/{source.id}/preview", headers=operator_headers)
    assert response.status_code == 422
    assert "answered an HTML/XML page" in response.json["message"]


def test_preview_is_for_operators_only(client, user_headers, source):
    assert client.post(f"/api/v1/sources/{source.id}/preview").status_code == 401
    assert (
        client.post(f"/api/v1/sources/{source.id}/preview", headers=user_headers).status_code == 403
    )
    assert client.post("/api/v1/sources/999/preview", headers=_admin(client)).status_code == 404


def _admin(client):
    return {"Authorization": f"Bearer {make_token('admin@example.org', 'operator')}"}


def test_harvest_run_records_the_mapping_report(client, operator_headers, source):
    client.post(f"/api/v1/sources/{source.id}/harvest", headers=operator_headers)
    assert run_queued_harvests() == 1
    detail = client.get(f"/api/v1/sources/{source.id}", headers=operator_headers).json
    report = detail["last_harvest"]["mapping_report"]
    assert report == detail["mapping_report"]
    by_column = {c["column"]: c for c in report["columns"]}
    assert by_column["详情页网址"]["field"] == "landing_page"
    assert by_column["详情页网址"]["role"] == "used"
    assert by_column["序号"]["reason"] == "a running number: not a dataset field"
    assert report["identity"]["column"] == "详情页网址"
    assert report["skipped_rows"] == [
        {"reference": "row 1", "reason": "above the header (a title or group row)"}
    ]
    assert detail["last_harvest"]["created"] == 3 and detail["last_harvest"]["bad"] == 1


def test_cli_preview_prints_the_mapping_and_rows(runner, source):
    result = runner.invoke(args=["sources", "preview", "city", "--rows", "1"])
    assert result.exit_code == 0, result.output
    assert "header at row 2" in result.output
    assert "详情页网址" in result.output and "landing_page" in result.output
    assert "identity: 详情页网址" in result.output
    assert "first 1 of 4 records" in result.output
    assert "bad record row 6: missing title" in result.output
    assert _count(Dataset) == 0
    missing = runner.invoke(args=["sources", "preview", "nope"])
    assert missing.exit_code == 1 and "No source named 'nope'" in missing.output


def test_source_page_shows_the_mapping(client, operator, source):  # noqa: F811
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    execute_run(run)
    page = client.get(f"/operators/sources/{source.id}").get_data(as_text=True)
    assert 'data-column="详情页网址" data-field="landing_page" data-role="used"' in page
    assert 'data-column="审核意见" data-field="" data-role="ignored"' in page
    assert "详情页网址" in page and "位于表头之上（标题行或分组行）" in page


def test_dataset_page_and_api_show_contact_point_and_record_count(client, httpserver, app):
    httpserver.expect_request("/c.csv").respond_with_data(
        '名称,联系电话,数据量（条）\n地铁客流,0571-88888888,"12,345"\n'.encode(),
        content_type="text/csv",
    )
    source = services.create_source("contacts", "tabular", httpserver.url_for("/c.csv"))
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    execute_run(run)
    dataset = db.session.scalar(select(Dataset))
    assert (dataset.contact_point, dataset.record_count) == ("0571-88888888", 12345)
    api = client.get(f"/api/v1/datasets/{dataset.id}").json
    assert (api["contact_point"], api["record_count"]) == ("0571-88888888", 12345)
    page = client.get(f"/datasets/{dataset.id}").get_data(as_text=True)
    assert "0571-88888888" in page and "12,345" in page


def test_preview_is_documented_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").json
    operation = spec["paths"]["/api/v1/sources/{source_id}/preview"]["post"]
    assert operation["summary"].startswith("Dry run")
    assert "200" in operation["responses"] and "requestBody" in operation
    schemas = spec["components"]["schemas"]
    assert "mapping_report" in schemas["HarvestRun"]["properties"]
    assert {"contact_point", "record_count"} <= set(schemas["Dataset"]["properties"])


def test_source_page_preview_shows_mapping_and_rows_without_writing(client, operator, source):  # noqa: F811
    detail = client.get(f"/operators/sources/{source.id}").get_data(as_text=True)
    assert f"/operators/sources/{source.id}/preview" in detail
    page = client.get(f"/operators/sources/{source.id}/preview")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-column="详情页网址" data-field="landing_page" data-role="used"' in text
    assert "公交线路" in text and "https://data.example.cn/d/2" in text
    assert "缺少标题（列 资源名称 为空）" in text
    assert (_count(Dataset), _count(HarvestRun)) == (0, 0)


def test_source_page_preview_of_an_unreadable_source_says_why(client, operator, httpserver):  # noqa: F811
    httpserver.expect_request("/login").respond_with_data("<html>请登录</html>")
    source = services.create_source("login", "tabular", httpserver.url_for("/login"))
    text = client.get(f"/operators/sources/{source.id}/preview").get_data(as_text=True)
    assert "answered an HTML/XML page" in text and 'role="alert"' in text


@pytest.mark.parametrize(
    "mapping, said",
    [({"fields": {"title": 5}}, "tabular mapping for title must be a column name or a list"),
     ({"fields": {"titel": "名称"}}, "tabular mapping names unknown field(s) titel"),
     ({"header_row": 2}, "tabular mapping has unknown key(s) header_row"),
     ({"fields": {"publisher": "不存在"}}, "mapped column(s) not found: publisher (不存在); "
      "columns found: 序号, 资源名称, 资源提供方, 摘要信息, 数据更新时间, 详情页网址, 审核意见 "
      "(row 2, taken as the header)")],
)  # fmt: skip
def test_a_mapping_the_service_refuses_is_keyed_mapping(
    client, operator_headers, source, mapping, said
):
    """bb6: a refused mapping was errors.source (the README keys errors by the field the
    request set, whether validation or the service refused it); the columns listed are
    the header row's, named, not the sheet title's above it."""
    for method, path, body in [
        ("post", f"/api/v1/sources/{source.id}/preview", {"mapping": mapping}),
        ("post", "/api/v1/sources", {"name": "other", "type": "tabular",
                                     "url": "https://data.example.cn/x.csv", "mapping": mapping}),
        ("patch", f"/api/v1/sources/{source.id}", {"mapping": mapping}),
    ]:  # fmt: skip
        if "not found" in said and path != f"/api/v1/sources/{source.id}/preview":
            continue  # a column is checked against the file, which saving does not read
        response = getattr(client, method)(path, json=body, headers=operator_headers)
        assert response.status_code == 422, (path, response.json)
        assert set(response.json["errors"]) == {"mapping"}, (path, response.json)
        assert response.json["errors"]["mapping"][0].startswith(said), response.json


def test_a_missing_title_column_names_the_row_whose_cells_are_listed(
    client, operator_headers, source
):
    response = client.post(
        f"/api/v1/sources/{source.id}/preview",
        json={"mapping": {"fields": {"title": "标题"}}}, headers=operator_headers,
    )  # fmt: skip
    assert response.status_code == 422 and list(response.json["errors"]) == ["mapping"]
    assert response.json["errors"]["mapping"][0] == (
        "mapped column(s) not found: title (标题); columns found: 某市公共数据开放目录（2023年） "
        "(row 1, the first non-blank row; none of the first 10 has a title column)"
    )
