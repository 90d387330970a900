"""Scenario and bundle pages through the test client: builder, tabs, access, CSRF, errors."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from subscribe.auth import services as auth
from subscribe.bundles import services as bundles
from subscribe.bundles.build import build_bundle, claim_next
from subscribe.bundles.models import Bundle
from subscribe.catalog import services as catalog
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.scenarios import services as scenarios
from subscribe.scenarios.matching import PercolatorCache, match_pending_events
from subscribe.scenarios.models import Scenario
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.search_helpers import CHINESE_CSV, harvest, load_catalogs
from tests.test_web import HTML, PASSWORD, csrf_from, login

EVIL_NAME = '<script>alert("x")</script>坏场景'


@pytest.fixture
def catalog_loaded(app, httpserver):
    load_catalogs(httpserver)


@pytest.fixture
def alice(app):
    return auth.create_user("alice@example.org", PASSWORD)


@pytest.fixture
def signed_in(client, alice):
    login(client, alice.email)
    return client


def dataset_id(identifier: str) -> int:
    return db.session.scalar(select(Dataset.id).where(Dataset.identifier == identifier))


def make_scenario(user, **values) -> Scenario:
    body = {"name": "公交出行", "q": "公交", "filters": {}, "include": [], "exclude": []}
    return scenarios.create_scenario(user, {**body, **values})


def token_of(client) -> str:
    return csrf_from(client.get("/scenarios").data)


def text(response) -> str:
    return response.get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_login(client, alice):
    scenario = make_scenario(alice)
    for path in ("/scenarios", "/scenarios/new", f"/scenarios/{scenario.id}",
                 f"/scenarios/{scenario.id}/edit", f"/scenarios/{scenario.id}/report",
                 f"/scenarios/{scenario.id}/timeline", f"/scenarios/{scenario.id}/bundles",
                 "/bundles/1"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=/"), path


def test_build_and_save_a_scenario_through_the_form(signed_in, alice, catalog_loaded):
    pinned, left_out = dataset_id("QX-001"), dataset_id("JT-002")
    page = signed_in.get("/scenarios/new?q=交通&theme=交通出行")
    assert page.status_code == 200
    body = text(page)
    assert "示例市出租车运营数据" in body and "示例市空气质量日报" not in body
    # The pin link carries the query, the filter and the pin itself.
    pin = re.search(rf'href="([^"]*include={left_out}[^"]*)"[^>]*data-action="pin"', body)
    params = parse_qs(urlsplit(pin.group(1).replace("&amp;", "&")).query)
    assert params["q"] == ["交通"] and params["theme"] == ["交通出行"] and params["b"] == ["1"]
    # Excluding a pinned dataset unpins it: the two lists never share an id.
    both = text(signed_in.get(f"/scenarios/new?q=交通&include={left_out}"))
    row = both.split(f'data-dataset-id="{left_out}"')[1].split("</li>")[0]
    exclude = re.search(r'href="([^"]*)"[^>]*data-action="exclude"', row).group(1)
    assert "include=" not in exclude and f"exclude={left_out}" in exclude

    form = {"csrf_token": token_of(signed_in), "name": "城市交通", "description": "出行相关",
            "q": "交通", "theme": "交通出行", "include": str(pinned), "exclude": str(left_out)}  # fmt: skip
    saved = signed_in.post("/scenarios/new", data=form)
    assert saved.status_code == 302
    scenario = db.session.scalar(select(Scenario).where(Scenario.name == "城市交通"))
    assert saved.headers["Location"] == f"/scenarios/{scenario.id}"
    assert (scenario.q, scenario.filters) == ("交通", {"theme": ["交通出行"]})
    assert (scenario.include, scenario.exclude) == ([pinned], [left_out])

    members = text(signed_in.get(f"/scenarios/{scenario.id}"))
    assert "场景已保存" in members
    assert "示例市天气预报数据" in members  # pinned in
    assert "示例市出租车运营数据" not in members  # left out
    assert "示例市公交线路站点信息" in members
    assert f"/subscriptions/new?scenario_id={scenario.id}" in members
    assert f"feed.atom?token={scenario.feed_token}" in members

    listing = text(signed_in.get("/scenarios"))
    expected = len(scenarios.member_ids(scenario))
    card = listing.split(f'data-scenario-id="{scenario.id}"')[1]
    count = re.search(r'class="member-count">([^<]*)<', card).group(1)
    assert "城市交通" in card and re.search(rf"\b{expected}\b", count)


def test_edit_starts_from_the_saved_scenario_and_saves_changes(signed_in, alice, catalog_loaded):
    pinned = dataset_id("QX-001")
    scenario = make_scenario(alice, include=[pinned], filters={"open_type": ["unconditional"]})
    page = text(signed_in.get(f"/scenarios/{scenario.id}/edit"))
    assert 'value="公交"' in page and "示例市天气预报数据" in page  # the pin, listed by title
    assert 'name="open_type" value="unconditional"' in page
    # With the state in the URL (b=1), the URL wins even with every filter removed.
    cleared = text(signed_in.get(f"/scenarios/{scenario.id}/edit?b=1&q=空气"))
    assert 'name="open_type" value="unconditional"' not in cleared
    assert "示例市天气预报数据" not in cleared

    form = {"csrf_token": token_of(signed_in), "name": "公交（新）", "q": "公交", "include": ""}
    response = signed_in.post(f"/scenarios/{scenario.id}/edit", data=form)
    assert response.status_code == 302
    db.session.refresh(scenario)
    assert (scenario.name, scenario.include, scenario.filters) == ("公交（新）", [], {})


def test_bad_form_input_shows_field_errors(signed_in, catalog_loaded):
    token = token_of(signed_in)
    cases = [
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "ok", "include": "not-a-number"}, "include"),
        ({"name": "ok", "exclude": "999999"}, "exclude"),  # no such dataset
        ({"name": "ok", "open_type": "nonsense"}, "filters"),
        ({"name": "ok", "q": "词" * 501}, "q"),
    ]
    for fields, field in cases:
        response = signed_in.post("/scenarios/new", data={"csrf_token": token, **fields})
        assert response.status_code == 422, fields
        assert f'id="{field}-error"' in text(response), fields
    assert db.session.scalar(select(Scenario.id)) is None


def test_other_users_scenarios_and_bundles_are_not_found(signed_in, client, alice):
    bob = auth.create_user("bob@example.org", PASSWORD)
    theirs = make_scenario(bob, name="鲍勃的场景")
    bundle = bundles.request_bundle(bob, theirs, "all", None)
    token = token_of(signed_in)
    for path in ("", "/edit", "/report", "/timeline", "/bundles", "/delete"):
        response = signed_in.get(f"/scenarios/{theirs.id}{path}", headers=HTML)
        assert response.status_code == 404, path
        assert "鲍勃的场景" not in text(response)
    for path in ("/edit", "/bundles", "/delete"):
        form = {"csrf_token": token, "name": "stolen", "mode": "all"}
        assert signed_in.post(f"/scenarios/{theirs.id}{path}", data=form).status_code == 404
    assert signed_in.get(f"/bundles/{bundle.id}").status_code == 404
    assert signed_in.get(f"/api/v1/bundles/{bundle.id}/download").status_code == 404
    assert db.session.get(Scenario, theirs.id).name == "鲍勃的场景"
    assert "鲍勃的场景" not in text(signed_in.get("/scenarios"))


def test_forms_without_the_csrf_token_are_refused(signed_in, alice):
    scenario = make_scenario(alice)
    assert signed_in.post("/scenarios/new", data={"name": "x"}).status_code == 400
    assert signed_in.post(f"/scenarios/{scenario.id}/delete").status_code == 400
    assert (
        signed_in.post(f"/scenarios/{scenario.id}/bundles", data={"mode": "all"}).status_code == 400
    )
    assert db.session.get(Scenario, scenario.id) is not None
    assert db.session.scalar(select(Bundle.id)) is None


def test_user_content_is_escaped(signed_in, alice):
    scenario = make_scenario(alice, name=EVIL_NAME, description=EVIL_NAME, q="<b>公交</b>")
    for path in ("/scenarios", f"/scenarios/{scenario.id}", f"/scenarios/{scenario.id}/edit",
                 f"/scenarios/{scenario.id}/report", f"/scenarios/{scenario.id}/delete"):  # fmt: skip
        page = text(signed_in.get(path))
        assert "<script>alert" not in page and "<b>公交</b>" not in page, path
        assert "&lt;script&gt;alert" in page, path


def test_delete_asks_first_then_deletes(signed_in, alice):
    scenario = make_scenario(alice)
    confirm = signed_in.get(f"/scenarios/{scenario.id}/delete")
    assert confirm.status_code == 200 and "无法撤销" in text(confirm)
    assert db.session.get(Scenario, scenario.id) is not None
    response = signed_in.post(f"/scenarios/{scenario.id}/delete",
                              data={"csrf_token": token_of(signed_in)})  # fmt: skip
    assert response.status_code == 302 and response.headers["Location"] == "/scenarios"
    assert db.session.get(Scenario, scenario.id) is None


def test_report_and_timeline_tabs(signed_in, alice, app, httpserver):
    header, *rows = CHINESE_CSV.read_text(encoding="utf-8").splitlines()
    body = ("\n".join([header, *rows]) + "\n").encode("utf-8")
    httpserver.expect_request("/v1.csv").respond_with_data(body, content_type="text/csv")
    source = catalog.create_source(
        "city", "tabular", httpserver.url_for("/v1.csv"), mapping={"id_column": "目录编号"}
    )
    harvest(source)
    indexer.apply_changes(get_service().store)
    scenario = make_scenario(alice)
    match_pending_events(cache=PercolatorCache())
    changed = body.decode().replace("全市公交线路", "全市公交线路（含夜班线）")
    new = next(r for r in rows if r.startswith("JT-001")).replace("JT-001", "JT-900")
    changed = (
        changed + new.replace("公交线路站点信息", "夜班公交线路") + "\n"
    ).encode()  # published
    httpserver.expect_request("/v2.csv").respond_with_data(changed, content_type="text/csv")
    catalog.update_source(source, {"url": httpserver.url_for("/v2.csv")})
    harvest(source)
    indexer.apply_changes(get_service().store)
    match_pending_events(cache=PercolatorCache())

    report = text(signed_in.get(f"/scenarios/{scenario.id}/report"))
    assert 'data-chart="publisher"' in report and "市交通运输局" in report
    assert "<rect width=" in report  # bars as SVG, no inline styles
    assert "style=" not in report

    timeline = text(signed_in.get(f"/scenarios/{scenario.id}/timeline"))
    assert 'data-event-type="dataset.updated"' in timeline
    assert 'data-event-type="dataset.created"' in timeline
    assert "全市公交线路（含夜班线）" in timeline  # the diff, through the dataset page's partial
    assert "匹配词" in timeline and "公交" in timeline


def test_request_build_and_download_a_bundle(signed_in, alice, catalog_loaded, app, tmp_path):
    app.config["SUBSCRIBE_BUNDLE_DIR"] = str(tmp_path / "bundles")
    scenario = make_scenario(alice, include=[dataset_id("JT-002")])  # conditionally open
    token = token_of(signed_in)
    bad = signed_in.post(
        f"/scenarios/{scenario.id}/bundles", data={"csrf_token": token, "mode": "x"}
    )
    assert bad.status_code == 422 and 'id="mode-error"' in text(bad)
    response = signed_in.post(f"/scenarios/{scenario.id}/bundles",
                              data={"csrf_token": token, "mode": "all"})  # fmt: skip
    assert response.status_code == 302
    listing = text(signed_in.get(response.headers["Location"]))
    bundle = db.session.scalar(select(Bundle).where(Bundle.scenario_id == scenario.id))
    assert f'data-bundle-id="{bundle.id}" data-status="queued"' in listing

    assert claim_next("test", 60) == bundle.id
    build_bundle(bundle.id, "test")
    assert bundle.status == "ready", bundle.error
    listing = text(signed_in.get(f"/scenarios/{scenario.id}/bundles"))
    assert f'data-bundle-id="{bundle.id}" data-status="ready"' in listing
    assert f"/api/v1/bundles/{bundle.id}/download" in listing
    detail = text(signed_in.get(f"/bundles/{bundle.id}"))
    assert 'data-reason="no_resources"' in detail and "数据集没有资源文件" in detail
    download = signed_in.get(f"/api/v1/bundles/{bundle.id}/download")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert download.headers["ETag"].strip('"') == bundle.sha256
    download.close()
