"""Operators in a real browser: pause, resume and run a job; add a source and harvest it."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from subscribe.catalog import services as catalog
from subscribe.catalog.models import HarvestRun
from subscribe.extensions import db
from subscribe.jobs import services as jobs
from subscribe.jobs.models import JobRun
from subscribe.jobs.registry import job_specs
from subscribe.jobs.runner import sync_jobs
from subscribe.models_base import utcnow
from tests.browser.helpers import create_user, login, no_sideways_scroll, screenshot

JOB = "detect-overdue"


@pytest.fixture
def operator(live_server):
    """An operator, with the jobs table filled as a starting worker fills it."""
    with live_server.app.app_context():
        sync_jobs(job_specs(live_server.app))
        jobs.set_paused(JOB, False)
    return create_user(live_server, role="operator")


def _add_runs(live_server, job: str) -> None:
    """One good and one failed run, as the worker records them."""
    now = utcnow()
    with live_server.app.app_context():
        db.session.add_all([
            JobRun(job=job, worker="node-1:101", started_at=now - timedelta(minutes=5),
                   finished_at=now - timedelta(minutes=5), duration_ms=42, outcome="succeeded",
                   result={"overdue": 2}),
            JobRun(job=job, worker="node-1:101", started_at=now - timedelta(minutes=1),
                   finished_at=now - timedelta(minutes=1), duration_ms=1830, outcome="failed",
                   error='Traceback (most recent call last):\n  File "jobs.py", line 9\n'
                         "OperationalError: database is locked"),
        ])  # fmt: skip
        db.session.commit()


def _paused_in_database(live_server) -> bool:
    with live_server.app.app_context():
        return jobs.get_job(JOB).paused


def test_an_operator_pauses_and_resumes_a_job(page, live_server, operator):
    _add_runs(live_server, JOB)
    login(page, live_server, operator.email)
    page.click("#site-nav >> text=运维")
    expect(page.locator("h1")).to_have_text("运维")
    rows = page.locator("table.jobs tbody tr")
    expect(rows).to_have_count(len(job_specs(live_server.app)))
    row = page.locator(f'tr[data-job="{JOB}"]')
    expect(row).to_have_class("failing")  # its last run failed
    expect(row).to_contain_text("OperationalError: database is locked")
    expect(page.locator('[data-live="leader"]')).to_contain_text("尚无主节点")
    screenshot(page, "operators-dashboard")

    row.locator('[data-action="pause"]').click()
    expect(page.locator(".flash-success")).to_contain_text(f"{JOB} 已暂停")
    expect(row.locator(".state")).to_contain_text("已暂停")
    assert _paused_in_database(live_server)

    row.locator('[data-action="resume"]').click()
    expect(page.locator(".flash-success")).to_contain_text(f"{JOB} 已恢复")
    expect(row.locator(".state")).not_to_contain_text("已暂停")
    expect(row.locator('[data-action="pause"]')).to_be_visible()
    assert not _paused_in_database(live_server)

    row.locator('[data-action="run"]').click()
    expect(page.locator(".flash-success")).to_contain_text("几秒内")
    expect(row.locator(".state")).to_contain_text("已请求运行")
    expect(row.locator('[data-action="run"]')).to_be_disabled()
    with live_server.app.app_context():
        assert jobs.describe(jobs.get_job(JOB))["run_requested"]

    row.locator(f'a:has-text("{JOB}")').click()
    expect(page.locator("h1")).to_have_text(JOB)
    failed = page.locator("table.runs tr.failing")
    expect(failed).to_have_count(1)
    failed.locator("summary").click()
    expect(failed.locator("pre")).to_contain_text("Traceback (most recent call last):")
    expect(page.locator("table.runs")).to_contain_text("overdue: 2")
    screenshot(page, "operators-job")


def test_an_operator_adds_a_source_and_queues_a_harvest(page, live_server, operator):
    login(page, live_server, operator.email)
    page.goto(live_server.url("/operators"))
    page.click("text=添加或编辑数据源")
    expect(page.locator("h1")).to_have_text("数据源")
    expect(page.locator("table.sources")).to_contain_text("city")

    page.fill("#name", "has spaces")
    page.fill("#url", "ftp://example.org/list.csv")
    page.fill("#mapping", "{not json")
    page.click("form.source-form button[type=submit]")
    expect(page.locator("#name-error")).to_be_visible()
    expect(page.locator("#url-error")).to_contain_text("http")
    expect(page.locator("#mapping-error")).to_contain_text("JSON")
    screenshot(page, "operators-sources")

    name = f"ops-{uuid.uuid4().hex[:6]}"
    page.fill("#name", name)
    page.select_option("#type", "tabular")
    # Never fetched: nothing runs harvests (a loopback address would be refused: SSRF guard).
    page.fill("#url", "https://data.example.org/catalog.csv")
    page.fill("#mapping", '{"id_column": "目录编号"}')
    page.fill("#schedule", "900")
    page.click("form.source-form button[type=submit]")
    expect(page.locator("h1")).to_have_text(name)
    expect(page.locator(".flash-success")).to_contain_text(name)
    expect(page.locator("#runs")).to_contain_text("(0)")

    page.click('.actions [data-action="harvest"]')
    expect(page.locator(".flash-success")).to_contain_text("已加入队列")
    queued = page.locator('.runs [data-status="queued"]')
    expect(queued).to_have_count(1)
    expect(queued).to_contain_text("手动")
    with live_server.app.app_context():
        source = catalog.find_source(name)
        assert (source.type, source.schedule, source.mapping["id_column"]) == (
            "tabular",
            900,
            "目录编号",
        )
        assert catalog.last_run(source).status == "queued"

    # The seeded source has a real history: counts per harvest.
    page.goto(live_server.url("/operators/sources"))
    page.click("table.sources a:text-is('city')")
    expect(page.locator(".runs .version").first).to_contain_text("新增")
    expect(page.locator(".runs [data-status='succeeded']")).to_have_count(2)
    screenshot(page, "operators-source")


def test_a_normal_user_gets_403_and_no_link(page, live_server):
    user = create_user(live_server)
    login(page, live_server, user.email)
    expect(page.locator("#site-nav")).not_to_contain_text("运维")
    response = page.goto(live_server.url("/operators"))
    assert response.status == 403
    expect(page.locator("h1")).to_contain_text("无权访问")


def test_the_dashboard_on_a_phone(phone_page, live_server, operator):
    login(phone_page, live_server, operator.email)
    phone_page.goto(live_server.url("/operators"))
    expect(phone_page.locator("table.jobs thead")).to_be_hidden()  # rows become cards
    row = phone_page.locator(f'tr[data-job="{JOB}"]')
    expect(row.locator('[data-action="pause"]')).to_be_visible()
    no_sideways_scroll(phone_page, "the operators' dashboard")
    expect(phone_page.locator("h1")).to_have_text(re.compile("运维"))
    screenshot(phone_page, "operators-dashboard-phone")


def test_the_jobs_table_refreshes_itself(page, live_server, operator):
    """operators.js reloads the live parts every 10 s: a pause made elsewhere (the API,
    another operator) shows without reloading the page. The page's clock is faked."""
    page.clock.install()
    login(page, live_server, operator.email)
    page.goto(live_server.url("/operators"))
    state = page.locator(f'tr[data-job="{JOB}"] .state')
    expect(state).not_to_contain_text("已暂停")
    page.evaluate("window.reloaded = false")  # a full reload would drop this
    with live_server.app.app_context():
        jobs.set_paused(JOB, True)
    try:
        page.clock.run_for(11_000)
        expect(state).to_contain_text("已暂停")
        assert page.evaluate("window.reloaded") is False
    finally:
        with live_server.app.app_context():
            jobs.set_paused(JOB, False)


LONG_BASE = "https://data-open-portal.example.gov.cn/open-data/catalog/resources/datasets/v2"


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_runs_decisions_fit_a_phone(phone_page, live_server, operator, language):
    """What a run decided by rule (renames, origin moves with long bases, datasets kept
    for bad records) reads on a phone without sideways scrolling."""
    with live_server.app.app_context():
        source = catalog.create_source(f"decisions-{language}", "dcat",
                                       "https://data.example.cn/data.json")  # fmt: skip
        title = "全市公共服务设施点位分布及开放时间信息（含历年更新记录）" * 2
        db.session.add(HarvestRun(
            source_id=source.id, status="succeeded", started_at=utcnow(),
            finished_at=utcnow(), unchanged=40, bad=2,
            mapping_report={
                "identity": {"carried_over": {"by": {"renamed title": 4}, "renamed": [
                    {"stored_title": title, "title": title + "（第二版）",
                     "reason": "the new title contains the old one"}] * 4}},
                "origin_moves": [{"from": "http://files.example.cn", "to": LONG_BASE,
                                  "datasets": 40}, {"from": LONG_BASE, "to": LONG_BASE + "x",
                                                    "datasets": 5}],
                "origin_moved_identifiers": 40, "kept_by_bad_records": 1,
                "records_unreadable": 1,
                "deletions_held_back": {"datasets_unseen": 1, "records_unreadable": 1,
                                        "already_unreadable": 0},
            },
        ))  # fmt: skip
        db.session.commit()
        source_id = source.id
    login(phone_page, live_server, operator.email)
    phone_page.goto(live_server.url(f"/operators/sources/{source_id}?lang={language}"))
    expect(phone_page.locator(".deletions-held-back")).to_be_visible()
    expect(phone_page.locator(".kept-by-bad-records")).to_be_visible()
    expect(phone_page.locator(".origin-moves")).to_be_visible()
    no_sideways_scroll(phone_page, f"the source page ({language})")
    screenshot(phone_page, f"operators-source-decisions-{language}-phone")
