"""Suggestions on the scenario page in a real browser: read why, then 👍 pins one."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from subscribe.auth.models import User
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.scenarios import services as scenarios
from subscribe.scenarios.models import Scenario
from tests.browser.helpers import create_user, login, screenshot


def test_a_suggestion_explains_itself_and_thumbs_up_pins_it(page, live_server):
    account = create_user(live_server)
    with live_server.app.app_context():
        ids = dict(db.session.execute(select(Dataset.identifier, Dataset.id)).all())
        user = db.session.get(User, account.id)
        scenario = scenarios.create_scenario(user, {
            "name": "空气与水", "q": "", "filters": {}, "include": [ids["HJ-001"], ids["HJ-002"]],
            "exclude": [],
        })  # fmt: skip
        scenario_id = scenario.id
    login(page, live_server, account.email)
    page.goto(live_server.url(f"/scenarios/{scenario_id}"))
    section = page.locator("#suggestions")
    expect(section.locator("h2")).to_have_text("推荐数据集")
    noise = section.locator(".suggestion", has=page.locator("h3", has_text="示例市噪声监测数据"))
    expect(noise.locator(".reason")).to_contain_text("与 2 个成员同属 市生态环境局")
    screenshot(page, "scenario-suggestions")

    with page.expect_navigation():
        noise.locator("button.vote-up").click()
    expect(page.locator(".flashes .flash").first).to_contain_text("已加入场景")
    members = page.locator("#members .results")
    expect(members).to_contain_text("示例市噪声监测数据")
    expect(section.locator(".suggestion h3", has_text="示例市噪声监测数据")).to_have_count(0)
    with live_server.app.app_context():
        assert ids["HJ-004"] in db.session.get(Scenario, scenario_id).include
