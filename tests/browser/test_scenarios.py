"""Scenarios in a real browser: build one from a Chinese search, read it, bundle its data."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from subscribe.auth.models import User
from subscribe.bundles.build import build_bundle, claim_next
from subscribe.catalog.models import CatalogEvent, Dataset
from subscribe.extensions import db
from subscribe.scenarios import services as scenarios
from subscribe.scenarios.models import ScenarioEvent
from tests.browser.helpers import create_user, login, no_sideways_scroll, screenshot


def dataset_id(live_server, identifier: str) -> int:
    with live_server.app.app_context():
        return db.session.scalar(select(Dataset.id).where(Dataset.identifier == identifier))


def row(page, title: str):
    return page.locator(".results .result", has=page.locator("h2", has_text=title))


def search(page, words: str) -> None:
    page.fill("form.search-form input[name=q]", words)
    with page.expect_navigation():
        page.press("form.search-form input[name=q]", "Enter")


def test_build_a_scenario_and_read_it(page, live_server):
    user = create_user(live_server)
    login(page, live_server, user.email)
    page.goto(live_server.url("/scenarios"))
    expect(page.locator(".no-results")).to_be_visible()
    page.click("text=新建场景")
    expect(page.locator("h1")).to_have_text("新建场景")

    # A name typed before pinning stays (scenarios.js carries it through the links).
    page.fill("#name", "城市环境监测")
    search(page, "天气预报")
    row(page, "示例市天气预报数据").locator("[data-action=pin]").click()
    expect(page.locator("[data-list=pinned]")).to_contain_text("示例市天气预报数据")
    expect(page.locator("#name")).to_have_value("城市环境监测")

    search(page, "监测")  # the search form keeps the pin
    expect(page.locator("[data-list=pinned]")).to_contain_text("示例市天气预报数据")
    before = page.locator(".member-count").inner_text()
    page.locator('[data-facet="publisher"] a', has_text="市生态环境局").click()
    expect(page.locator(".active-filters")).to_contain_text("市生态环境局")
    assert "publisher=" in page.url and page.locator(".member-count").inner_text() != before
    publishers = page.locator(".results .result .meta span:first-child").all_inner_texts()
    assert publishers and set(publishers) == {"市生态环境局"}
    row(page, "示例市站点监测设备清单").locator("[data-action=exclude]").click()
    expect(page.locator("[data-list=excluded]")).to_contain_text("示例市站点监测设备清单")
    expect(row(page, "示例市站点监测设备清单").locator(".badge.excluded")).to_be_visible()
    page.fill("#description", "空气、水和噪声监测，加上天气预报")
    screenshot(page, "scenario-builder")

    with page.expect_navigation():
        page.click(".scenario-form button[type=submit]")
    expect(page.locator(".flash-success")).to_have_text("场景已保存。")
    expect(page.locator("h1")).to_have_text("城市环境监测")
    scenario_id = int(re.search(r"/scenarios/(\d+)$", page.url).group(1))
    members = page.locator("#members .result h2")
    expect(members.filter(has_text="示例市天气预报数据")).to_have_count(1)
    expect(members.filter(has_text="示例市空气质量日报")).to_have_count(1)
    expect(members.filter(has_text="示例市站点监测设备清单")).to_have_count(0)
    expect(page.locator(".feed-link")).to_have_attribute("href", re.compile(r"feed\.atom\?token="))
    href = f"/subscriptions/new?scenario_id={scenario_id}"
    expect(page.locator(f'a[href="{href}"]')).to_be_visible()
    screenshot(page, "scenario-members")

    page.click(".tabs >> text=报告")
    publishers = page.locator('[data-chart="publisher"] .bars li')
    expect(publishers.filter(has_text="市生态环境局")).to_have_count(1)
    expect(publishers.filter(has_text="市气象局").locator(".bar-count")).to_have_text("1")
    expect(page.locator('[data-chart="freshness"] .bars li')).to_have_count(4)
    screenshot(page, "scenario-report")

    add_timeline_event(live_server, scenario_id)
    page.click(".tabs >> text=动态")
    event = page.locator(".event").first
    expect(event).to_contain_text("示例市空气质量日报")
    expect(event.locator(".badge")).to_have_text("有变化")
    expect(event.locator(".change").first).to_contain_text("PM2.5")
    screenshot(page, "scenario-timeline")

    page.goto(live_server.url("/scenarios"))
    expect(page.locator(".scenario-card h2")).to_have_text("城市环境监测")
    screenshot(page, "scenarios")


def add_timeline_event(live_server, scenario_id: int) -> None:
    """The timeline entry change matching writes when a member changes, for the catalog's
    own second edition of the air quality report (the harvest ran before this scenario
    existed, and the matcher's cursor is shared by every test on this server)."""
    with live_server.app.app_context():
        change = db.session.scalar(
            select(CatalogEvent)
            .join(Dataset, Dataset.id == CatalogEvent.dataset_id)
            .where(Dataset.identifier == "HJ-001", CatalogEvent.type == "dataset.updated")
        )
        payload = {"reason": "changed", "matched_because": {"words": ["监测"]}}
        db.session.add(ScenarioEvent(scenario_id=scenario_id, dataset_id=change.dataset_id,
                                     type="dataset.updated", catalog_event_id=change.id,
                                     payload=payload))  # fmt: skip
        db.session.commit()


def test_request_a_bundle_and_download_it(page, live_server, monkeypatch, tmp_path):
    # The zip goes to this test's folder, not to the default instance folder of the repo.
    monkeypatch.setitem(live_server.app.config, "SUBSCRIBE_BUNDLE_DIR", str(tmp_path))
    user = create_user(live_server)
    with live_server.app.app_context():
        owner = db.session.get(User, user.id)
        scenario = scenarios.create_scenario(
            owner,
            {"name": "交通出行数据", "q": "交通", "filters": {}, "include": [], "exclude": []},
        )
        scenario_id = scenario.id
    login(page, live_server, user.email)
    page.goto(live_server.url(f"/scenarios/{scenario_id}/bundles"))
    expect(page.locator(".no-bundles")).to_be_visible()
    page.check('input[name=mode][value="all"]')
    with page.expect_navigation():
        page.click(".bundle-form button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("已排队")
    queued = page.locator("tr[data-bundle-id]")
    expect(queued).to_have_count(1)
    expect(queued).to_have_attribute("data-status", "queued")
    screenshot(page, "scenario-bundles-queued")

    # The worker's part, in this process: the catalog's datasets list no files, so the
    # bundle is ready with every dataset listed as left out, and why.
    with live_server.app.app_context():
        while (claimed := claim_next("browser-test", 60)) is not None:
            build_bundle(claimed, "browser-test")
    page.goto(live_server.url(f"/scenarios/{scenario_id}/bundles"))
    ready = page.locator("tr[data-bundle-id]")
    expect(ready).to_have_attribute("data-status", "ready")
    expect(ready.locator(".badge")).to_have_text("已就绪")
    screenshot(page, "scenario-bundles")
    with page.expect_download() as download:
        ready.locator("a.download").click()
    bundle_id = ready.get_attribute("data-bundle-id")
    assert download.value.suggested_filename == f"subscribe-bundle-{bundle_id}.zip"

    ready.locator(f'a[href="/bundles/{bundle_id}"]').first.click()
    skipped = page.locator("table.skipped tbody tr")
    expect(skipped.first).to_be_visible()
    expect(skipped.filter(has_text="示例市出租车运营数据")).to_contain_text("数据集没有资源文件")
    screenshot(page, "bundle")


def test_builder_pins_and_excludes_without_javascript(browser, live_server):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        user = create_user(live_server)
        login(page, live_server, user.email)
        page.goto(live_server.url("/scenarios/new?q=公交"))
        row(page, "示例市公交线路站点信息").locator("[data-action=exclude]").click()
        expect(page.locator("[data-list=excluded]")).to_contain_text("示例市公交线路站点信息")
        row(page, "示例市公交线路站点信息").locator("[data-action=pin]").click()
        expect(page.locator("[data-list=pinned]")).to_contain_text("示例市公交线路站点信息")
        expect(page.locator("[data-list=excluded]")).to_have_count(0)  # pinning took it back
        page.click(".scenario-form button[type=submit]")
        expect(page.locator("#name-error")).to_be_visible()  # no name yet: a field error
        page.fill("#name", "公交")
        page.click(".scenario-form button[type=submit]")
        expect(page.locator("h1")).to_have_text("公交")
        pinned = dataset_id(live_server, "JT-001")
        with live_server.app.app_context():
            scenario_id = int(re.search(r"/scenarios/(\d+)$", page.url).group(1))
            saved = scenarios.get_scenario(db.session.get(User, user.id), scenario_id)
            assert (saved.q, saved.include, saved.exclude) == ("公交", [pinned], [])
    finally:
        context.close()


def test_scenario_pages_on_a_phone(phone_page, live_server):
    page = phone_page
    user = create_user(live_server)
    with live_server.app.app_context():
        owner = db.session.get(User, user.id)
        scenario_id = scenarios.create_scenario(
            owner,
            {"name": "医疗与教育机构名录", "q": "名录", "filters": {"open_type": ["unconditional"]},
             "include": [], "exclude": []},
        ).id  # fmt: skip
    login(page, live_server, user.email)
    for path, name in [
        ("/scenarios", "scenarios-phone"),
        (f"/scenarios/{scenario_id}/edit", "scenario-builder-phone"),
        (f"/scenarios/{scenario_id}", "scenario-members-phone"),
        (f"/scenarios/{scenario_id}/timeline", "scenario-timeline-phone"),
        (f"/scenarios/{scenario_id}/bundles", "scenario-bundles-phone"),
        (f"/scenarios/{scenario_id}/report", "scenario-report-phone"),
    ]:
        page.goto(live_server.url(path))
        expect(page.locator("h1")).to_be_visible()
        no_sideways_scroll(page, path)
        screenshot(page, name)
    expect(page.locator(".tabs a[aria-current=page]")).to_have_text("报告")
