"""Previews and join keys in a real browser, on the demo catalog (its real files)."""

from __future__ import annotations

import threading

import pytest
from flask_migrate import upgrade
from playwright.sync_api import expect
from sqlalchemy import delete, select
from werkzeug.serving import make_server

from subscribe import create_app
from subscribe.auth.models import User
from subscribe.catalog import services as catalog
from subscribe.catalog.models import Dataset, Resource
from subscribe.demo.portal import start_portal
from subscribe.extensions import db
from subscribe.preview import services as previews
from subscribe.preview.models import ResourcePreview
from subscribe.scenarios import services as scenarios
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.browser.conftest import LiveServer
from tests.browser.helpers import create_user, login, screenshot
from tests.search_helpers import harvest


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory, browser):
    """The app on its own SQLite file over the demo portal (80 datasets), harvested,
    indexed and previewed by the job, except one file left for the page to make."""
    folder = tmp_path_factory.mktemp("preview-live")
    portal = start_portal(size=80, tick_seconds=3600)
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'live.db'}",
        "INSTANCE_PATH": str(folder / "instance"), "SECRET_KEY": "browser-tests",
        "SUBSCRIBE_HTTP_RETRIES": 0, "SUBSCRIBE_OUTBOUND_ALLOWLIST": ["127.0.0.1"],
        "SUBSCRIBE_LIMIT_LOGIN": "10000 per minute",
    })  # fmt: skip
    with app.app_context():
        upgrade()
        harvest(catalog.create_source("demo", "ckan", portal.url))
        indexer.apply_changes(get_service().store)
        previews.run_previews(limit=500, seconds=600)
        # A GB18030 CSV with 统一社会信用代码, not previewed yet: the page makes it.
        left = next(
            p for p in db.session.scalars(select(ResourcePreview))
            if p.kind == "csv" and p.encoding == "gbk" and "cn_uscc" in p.key_formats
        )  # fmt: skip
        resource = db.session.get(Resource, left.resource_id)
        pending = (resource.dataset_id, resource.id, resource.dataset.title)
        db.session.execute(delete(ResourcePreview).where(ResourcePreview.id == left.id))
        closed = db.session.scalar(
            select(Dataset.id).where(Dataset.open_type == "conditional").limit(1)
        )
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}"), pending, closed
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        portal.stop()
        with app.app_context():
            app.extensions["search"].close()
            db.engine.dispose()


def test_preview_a_file_from_the_dataset_page(page, demo_server):
    live, (dataset_id, resource_id, title), closed = demo_server
    page.goto(live.url(f"/datasets/{dataset_id}"))
    section = page.locator("#preview")
    expect(section.locator("h2")).to_have_text("数据预览")
    pending = section.locator(f'details[data-resource="{resource_id}"]')
    pending.locator("summary").click()
    with page.expect_navigation():
        pending.locator("a.make-preview").click()
    expect(page.locator("h1")).to_contain_text("预览")
    expect(page.locator(".preview-facts")).to_contain_text("GBK")
    uscc = page.locator('.preview-profile tr[data-format="cn_uscc"]')
    expect(uscc.locator(".chip")).to_have_text("统一社会信用代码")
    expect(page.locator(".preview-rows tbody tr").first).to_be_visible()
    screenshot(page, "preview-resource-page")

    # Back on the dataset page the stored preview shows its first rows at once.
    page.click(f"text={title}")
    rows = page.locator(f'details[data-resource="{resource_id}"] .preview-rows tbody tr')
    pending = page.locator(f'details[data-resource="{resource_id}"]')
    if not pending.evaluate("details => details.open"):  # the first file's is open already
        pending.locator("summary").click()
    expect(rows).to_have_count(10)
    expect(rows.first).to_be_visible()
    expect(pending.locator(".key-format").first).to_be_visible()
    screenshot(page, "preview-dataset-page")

    # A conditionally open dataset: its files are not fetched, and the page says so.
    page.goto(live.url(f"/datasets/{closed}"))
    expect(page.locator('#preview [data-reason="not_open"]')).to_contain_text("不会下载文件")


def test_join_keys_in_the_scenario_report(page, demo_server):
    live, _pending, _closed = demo_server
    user = create_user(live)
    with live.app.app_context():
        scenario = scenarios.create_scenario(
            db.session.get(User, user.id),
            {"name": "示例市全部数据", "q": "", "filters": {"source": ["demo"]},
             "include": [], "exclude": []},
        )  # fmt: skip
        expected = previews.join_keys(int(i) for i in scenarios.member_ids(scenario))
        scenario_id = scenario.id
    uscc = next(k for k in expected["keys"] if k["format"] == "cn_uscc")
    assert uscc["count"] >= 2  # the demo's organisations appear in several files
    login(page, live, user.email)
    page.goto(live.url(f"/scenarios/{scenario_id}/report"))
    keys = page.locator("#join-keys")
    expect(keys.locator("h2")).to_have_text("关联字段")
    item = keys.locator('li[data-format="cn_uscc"]')
    expect(item.locator("strong")).to_have_text(f"{uscc['count']} 个数据集含 统一社会信用代码")
    expect(item.locator("li")).to_have_count(uscc["count"])
    expect(item).to_contain_text("也出现在其他成员中")
    keys.scroll_into_view_if_needed()
    screenshot(page, "preview-join-keys")
