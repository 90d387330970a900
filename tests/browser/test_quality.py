"""Quality in a real browser: a dataset's scores explained, and rating it (then editing
and removing the rating) through its page."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from sqlalchemy import select

from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.quality.job import run_quality
from tests.browser.helpers import create_user, login, screenshot

TITLE = "示例市空气质量日报"


def test_rate_a_dataset_on_its_page(page, live_server):
    with live_server.app.app_context():
        run_quality()
        dataset_id = db.session.scalar(select(Dataset.id).where(Dataset.title == TITLE))
    page.goto(live_server.url(f"/datasets/{dataset_id}"))
    section = page.locator("#quality")
    expect(section.locator("h2")).to_have_text("质量")
    expect(section.locator('tr[data-axis="completeness"] .quality-value')).to_have_text(
        re.compile(r"^\d{1,3}$")
    )
    # Every criterion says met, what to fix, or why it is not assessed.
    expect(section.locator('[data-criterion="title"] .criterion-mark')).to_have_text("✓")
    expect(section.locator(".criterion")).to_have_count(15)
    expect(section.locator('[data-criterion="resources_answer"]')).to_contain_text("未评估")
    expect(section.get_by_role("link", name="登录后评分")).to_be_visible()

    user = create_user(live_server)
    login(page, live_server, user.email)
    page.goto(live_server.url(f"/datasets/{dataset_id}#quality"))
    form = page.locator("#rating-form")
    expect(form.locator("h3")).to_have_text("为此数据集评分")
    form.locator('fieldset[data-axis="completeness"]').get_by_label("4").check()
    form.locator('fieldset[data-axis="accuracy"]').get_by_label("2").check()
    form.get_by_label("评论（可选）").fill('缺少<b>联系方式</b>，"坐标"列有误')
    with page.expect_navigation():
        form.get_by_role("button", name="提交评分").click()
    expect(page.locator(".flash-success")).to_have_text("感谢评分，已保存。")
    expect(section.locator('tr[data-axis="completeness"] .quality-rated')).to_contain_text("★ 4.0")
    expect(section.locator('tr[data-axis="timeliness"] .quality-rated')).to_contain_text("暂无评分")
    expect(section.locator(".rating-comments")).to_contain_text('缺少<b>联系方式</b>，"坐标"列有误')
    screenshot(page, "dataset-quality-rated")

    # Editing replaces the one rating (averages over one rating, not two).
    expect(form.locator("h3")).to_have_text("我的评分")
    expect(form.locator('fieldset[data-axis="completeness"]').get_by_label("4")).to_be_checked()
    form.locator('fieldset[data-axis="completeness"]').get_by_label("5").check()
    with page.expect_navigation():
        form.get_by_role("button", name="更新我的评分").click()
    expect(page.locator(".flash-success")).to_have_text("你的评分已更新。")
    expect(section.locator('tr[data-axis="completeness"] .quality-rated')).to_contain_text("★ 5.0")
    expect(section.locator('tr[data-axis="completeness"] .quality-rated')).to_contain_text(
        "1 人评分"
    )

    with page.expect_navigation():
        page.locator(".rating-delete button").click()
    expect(page.locator(".flash-success")).to_have_text("你的评分已删除。")
    expect(section.locator('tr[data-axis="completeness"] .quality-rated')).to_contain_text(
        "暂无评分"
    )
