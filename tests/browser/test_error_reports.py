"""数据纠错 in a real browser: a user files a report on a dataset page, an operator
acknowledges and resolves it on the operators' page, the user sees the state on their
reports page and the message in their inbox. The audit trail page lists every step."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from subscribe.catalog.models import Dataset, Resource
from subscribe.extensions import db
from subscribe.feedback.models import ErrorReport
from tests.browser.helpers import create_user, login, screenshot

EVIL = '<img src=x onerror="window.__pwned=1">'


def _dataset(live_server) -> int:
    """A harvested dataset, with a file added to report a cell of (the catalog lists none)."""
    with live_server.app.app_context():
        dataset = db.session.scalar(select(Dataset).order_by(Dataset.id).limit(1))
        db.session.add(Resource(dataset_id=dataset.id, position=99, name="日报表", format="CSV",
                                url="https://example.gov/daily.csv"))  # fmt: skip
        db.session.commit()
        return dataset.id


def _state(live_server, report_id: int) -> str:
    with live_server.app.app_context():
        return db.session.get(ErrorReport, report_id).state


def test_a_report_goes_through_every_state_in_the_browser(browser, live_server):
    dataset_id = _dataset(live_server)
    reporter = create_user(live_server)
    operator = create_user(live_server, role="operator")
    user_context, ops_context = browser.new_context(), browser.new_context()
    user_page, ops_page = user_context.new_page(), ops_context.new_page()
    for page in (user_page, ops_page):
        page.set_default_timeout(10_000)
    try:
        # The user files a report: first empty (refused, the form says why), then whole.
        login(user_page, live_server, reporter.email)
        user_page.goto(live_server.url(f"/datasets/{dataset_id}"))
        expect(user_page.locator("#reports")).to_contain_text("数据纠错")
        user_page.click("details.report-form-box summary")
        user_page.click("#report-submit")
        expect(user_page.locator("#description-error")).to_have_text(
            "请说明哪里有误（至少 5 个字）。"
        )
        user_page.select_option("#report-resource", label="日报表 (CSV)")
        user_page.fill("#report-row", "3")
        user_page.fill("#report-column", "日期")
        user_page.fill("#report-description", f"日期写成了 2099 年 {EVIL}")
        user_page.fill("#report-proposed", "2019-05-01")
        user_page.fill("#report-evidence", "https://example.gov/notice/1")
        user_page.click("#report-submit")
        expect(user_page.locator(".flash-success")).to_contain_text("感谢您的纠错")
        item = user_page.locator("ol.reports li.report").first
        expect(item).to_contain_text("待处理")
        expect(item).to_contain_text(EVIL)  # shown as text, never run
        expect(item).to_contain_text("第 3 行")
        assert user_page.evaluate("window.__pwned") is None
        expect(item).not_to_contain_text(reporter.email)
        report_id = int(item.get_attribute("data-report"))
        screenshot(user_page, "error-report-filed")

        # The operator acknowledges, then resolves with a note.
        login(ops_page, live_server, operator.email)
        ops_page.goto(live_server.url("/operators"))
        ops_page.click("#ops-reports")
        row = ops_page.locator(f'li.report[data-report="{report_id}"]')
        expect(row).to_contain_text(reporter.email)
        row.locator("select[name=state]").select_option("acknowledged")
        row.locator("button[type=submit]", has_text="应用").click()
        expect(ops_page.locator(".flash-success")).to_contain_text("已受理")
        assert _state(live_server, report_id) == "acknowledged"
        ops_page.click("a.chip >> text=已受理")
        row = ops_page.locator(f'li.report[data-report="{report_id}"]')
        row.locator("select[name=state]").select_option("resolved")
        row.locator("input[name=reason]").fill("已通知发布单位更正")
        row.locator("button[type=submit]", has_text="应用").click()
        expect(ops_page.locator(".flash-success")).to_contain_text("已确认")
        assert _state(live_server, report_id) == "resolved"
        screenshot(ops_page, "error-report-operators")

        # The user sees the state and the note, and the inbox has both steps.
        user_page.goto(live_server.url("/reports/mine"))
        mine = user_page.locator(f'li.report[data-report="{report_id}"]')
        expect(mine).to_contain_text("已确认（数据有误）")
        expect(mine).to_contain_text("已通知发布单位更正")
        user_page.goto(live_server.url("/inbox"))
        notes = user_page.locator("li.notification")
        expect(notes).to_have_count(2)
        expect(notes.first).to_contain_text(f"您的纠错 #{report_id}：已确认（数据有误）")
        expect(notes.first).to_contain_text("已通知发布单位更正")
        screenshot(user_page, "error-report-inbox")

        # The audit trail shows who did each step.
        ops_page.goto(live_server.url(f"/operators/audit?target_type=report&target_id={report_id}"))
        rows = ops_page.locator("table.audit tbody tr")
        expect(rows).to_have_count(3)
        expect(ops_page.locator('tr[data-action="report.create"]')).to_contain_text(reporter.email)
        expect(ops_page.locator('tr[data-action="report.transition"]').first).to_contain_text(
            operator.email
        )
    finally:
        user_context.close()
        ops_context.close()
