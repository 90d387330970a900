"""The operators' pages through the test client: access, CSRF, forms, escaping, history."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from subscribe.auth import services as auth
from subscribe.catalog import services as catalog
from subscribe.catalog.models import HarvestRun, Source
from subscribe.extensions import db
from subscribe.jobs import services as jobs
from subscribe.jobs.models import JobRun
from subscribe.jobs.registry import job_specs
from subscribe.jobs.runner import sync_jobs
from subscribe.models_base import utcnow
from tests.search_helpers import harvest, serve
from tests.test_harvest_tabular import UNDECODABLE
from tests.test_web import HTML, PASSWORD, csrf_from, login

EVIL = '<script>alert("x")</script>'


@pytest.fixture
def registered(app):
    sync_jobs(job_specs(app))


@pytest.fixture
def operator(client, registered):
    """The client, logged in as an operator; returns the session's CSRF token."""
    auth.create_user("ops@example.org", PASSWORD, "operator")
    assert login(client, "ops@example.org").status_code == 302
    return csrf_from(client.get("/operators").data)


def _source_form(token: str, **values) -> dict:
    form = {"name": "city", "type": "tabular", "url": "https://data.example.org/list.csv",
            "mapping": '{"id_column": "目录编号"}', "schedule": "600", "csrf_token": token}  # fmt: skip
    form.update(values)
    return form


def test_signed_out_visitors_log_in_and_users_are_refused(client, registered):
    source = catalog.create_source("city", "ckan", "https://data.example.org/")
    pages = ["/operators", "/operators/jobs/cleanup", "/operators/sources",
             f"/operators/sources/{source.id}"]  # fmt: skip
    for path in pages:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next=/operators"), path
    auth.create_user("user@example.org", PASSWORD)
    login(client, "user@example.org")
    for path in pages:
        response = client.get(path, headers=HTML)
        assert response.status_code == 403, path
        assert "无权访问" in response.get_data(as_text=True)
    token = csrf_from(client.get("/").data)
    assert (
        client.post("/operators/jobs/cleanup/pause", data={"csrf_token": token}).status_code == 403
    )
    assert not jobs.get_job("cleanup").paused
    harvest = client.post(f"/operators/sources/{source.id}/harvest", data={"csrf_token": token})
    assert harvest.status_code == 403
    assert catalog.last_run(source) is None
    # The nav shows the operators' link only to operators.
    assert 'href="/operators"' not in client.get("/").get_data(as_text=True)


def test_dashboard_lists_jobs_leader_queue_and_sources(client, operator):
    catalog.create_source("city", "ckan", "https://data.example.org/")
    page = client.get("/operators").get_data(as_text=True)
    for spec in ("cleanup", "deliver", "enqueue-harvests", "update-search-index"):
        assert f'data-job="{spec}"' in page
    assert "还没有工作进程" in page or "No leader" in page  # no worker has taken the lease
    assert 'data-count="depth">0<' in page
    assert "https://data.example.org/" in page
    assert 'href="/operators"' in page  # the nav link


def test_pause_needs_the_csrf_token(client, operator):
    refused = client.post("/operators/jobs/cleanup/pause")
    assert refused.status_code == 400
    forged = client.post("/operators/jobs/cleanup/pause", data={"csrf_token": "forged"})
    assert forged.status_code == 400
    assert not jobs.get_job("cleanup").paused

    paused = client.post("/operators/jobs/cleanup/pause", data={"csrf_token": operator})
    assert paused.status_code == 302
    assert paused.headers["Location"] == "/operators#jobs"
    assert jobs.get_job("cleanup").paused
    row = _row(client.get("/operators").get_data(as_text=True), "cleanup")
    assert 'data-action="resume"' in row and "已暂停" in row

    back = client.post("/operators/jobs/cleanup/resume",
                       data={"csrf_token": operator, "next": "/operators/jobs/cleanup"})  # fmt: skip
    assert back.headers["Location"] == "/operators/jobs/cleanup"
    assert not jobs.get_job("cleanup").paused
    off_site = client.post("/operators/jobs/cleanup/run",
                           data={"csrf_token": operator, "next": "//evil.example"})  # fmt: skip
    assert off_site.headers["Location"] == "/operators#jobs"
    assert jobs.describe(jobs.get_job("cleanup"))["run_requested"]
    assert "几秒" in client.get("/operators").get_data(as_text=True)  # the flash


def test_run_now_while_it_runs_says_so(client, operator):
    from subscribe.extensions import db
    from subscribe.jobs import runner
    from subscribe.jobs.models import JobRun
    from subscribe.models_base import utcnow

    assert runner.renew_lease("w1", 60)
    run = JobRun(job="cleanup", worker="w1", started_at=utcnow())  # going on, on the leader
    db.session.add(run)
    db.session.commit()
    answer = client.post("/operators/jobs/cleanup/run", data={"csrf_token": operator})
    assert answer.headers["Location"] == "/operators#jobs"
    assert not jobs.describe(jobs.get_job("cleanup"))["run_requested"]
    assert f"正在运行（运行 #{run.id}）" in client.get("/operators").get_data(as_text=True)


def test_unknown_job_or_source_is_a_404_page(client, operator):
    assert client.get("/operators/jobs/no-such-job").status_code == 404
    response = client.post("/operators/jobs/no-such-job/pause", data={"csrf_token": operator})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert client.get("/operators/sources/999999").status_code == 404


def test_bad_source_form_shows_field_errors(client, operator):
    response = client.post("/operators/sources", data=_source_form(
        operator, name="has spaces", type="ftp", url="javascript:alert(1)", mapping="[1, 2",
        schedule="often"))  # fmt: skip
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("name", "type", "url", "mapping", "schedule"):
        assert f'id="{field}-error"' in page, field
    assert 'value="has spaces"' in page  # what was typed stays in the form
    assert db.session.scalar(select(Source.id)) is None

    not_an_object = client.post("/operators/sources", data=_source_form(operator, mapping="[1]"))
    assert not_an_object.status_code == 422
    assert 'id="mapping-error"' in not_an_object.get_data(as_text=True)
    too_often = client.post("/operators/sources", data=_source_form(operator, schedule="5"))
    assert 'id="schedule-error"' in too_often.get_data(as_text=True)

    inside = client.post("/operators/sources",
                         data=_source_form(operator, url="http://169.254.169.254/"))  # fmt: skip
    assert inside.status_code == 422
    page = inside.get_data(as_text=True)
    assert 'id="url-error"' in page and "SUBSCRIBE_OUTBOUND_ALLOWLIST" in page
    assert "link-local address" in page and db.session.scalar(select(Source.id)) is None

    created = client.post("/operators/sources", data=_source_form(operator))
    assert created.status_code == 302
    source = catalog.find_source("city")
    assert (source.type, source.schedule, source.mapping) == (
        "tabular",
        600,
        {"id_column": "目录编号"},
    )
    again = client.post("/operators/sources", data=_source_form(operator))
    assert again.status_code == 422
    assert 'id="name-error"' in again.get_data(as_text=True)


def test_edit_disable_harvest_and_delete_a_source(client, operator):
    source = catalog.create_source("city", "ckan", "https://data.example.org/")
    other = catalog.create_source("town", "ckan", "https://town.example.org/")
    path = f"/operators/sources/{source.id}"
    clash = client.post(path, data=_source_form(operator, name="town", type="ckan", mapping=""))
    assert clash.status_code == 422
    assert 'id="name-error"' in clash.get_data(as_text=True)
    saved = client.post(path, data=_source_form(operator, name="city2", type="dcat", mapping="",
                                                schedule=""))  # fmt: skip
    assert saved.status_code == 302
    assert (source.name, source.type, source.schedule) == ("city2", "dcat", 3600)

    client.post(f"{path}/enabled", data={"csrf_token": operator, "enabled": "0"})
    assert not source.enabled
    assert "已停用" in client.get(path).get_data(as_text=True)
    client.post(f"{path}/enabled", data={"csrf_token": operator, "enabled": "1"})
    assert source.enabled

    queued = client.post(f"{path}/harvest", data={"csrf_token": operator})
    assert queued.headers["Location"] == f"{path}#runs"
    run = catalog.last_run(source)
    assert (run.status, run.trigger) == ("queued", "manual")
    client.post(f"{path}/harvest", data={"csrf_token": operator})
    assert catalog.last_run(source).id == run.id  # one waiting run, not two
    page = client.get(path).get_data(as_text=True)
    assert f'data-run="{run.id}" data-status="queued"' in page

    confirm = client.get(f"{path}/delete")
    assert confirm.status_code == 200 and "city2" in confirm.get_data(as_text=True)
    assert client.post(f"{path}/delete").status_code == 400  # no token
    deleted = client.post(f"{path}/delete", data={"csrf_token": operator})
    assert deleted.headers["Location"] == "/operators/sources"
    assert [s.id for s in catalog.list_sources()] == [other.id]


def test_user_content_on_the_pages_is_escaped(client, operator):
    # The service takes any name and URL (the API's schema refuses them): the pages must
    # still escape whatever is stored.
    source = catalog.create_source(EVIL, "ckan", f"https://x.example/{EVIL}")
    started = utcnow() - timedelta(minutes=1)
    db.session.add(HarvestRun(source_id=source.id, status="failed", trigger="schedule",
                              started_at=started, finished_at=utcnow(), bad=1,
                              error=f"broke {EVIL}",
                              errors=[{"reference": EVIL, "reason": f"<b>{EVIL}</b>"}]))  # fmt: skip
    db.session.add(JobRun(job="cleanup", worker=EVIL, started_at=started, finished_at=utcnow(),
                          duration_ms=1500, outcome="failed", result={"<i>": EVIL},
                          error=f"Traceback\n  File x\nValueError: {EVIL}"))  # fmt: skip
    db.session.commit()
    pages = ["/operators", "/operators/sources", f"/operators/sources/{source.id}",
             f"/operators/sources/{source.id}/delete", "/operators/jobs/cleanup"]  # fmt: skip
    for path in pages:
        response = client.get(path)
        text = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert "<script>alert" not in text and "<b>" not in text and "<i>" not in text, path
        assert "&lt;script&gt;alert" in text, path


def test_job_page_shows_runs_paged_with_tracebacks(client, operator):
    now = utcnow()
    for number in range(25):
        failed = number == 24
        db.session.add(JobRun(job="deliver", worker="node-1:42", trigger="schedule",
                              started_at=now + timedelta(seconds=number),
                              finished_at=now + timedelta(seconds=number, milliseconds=250),
                              duration_ms=250, outcome="failed" if failed else "succeeded",
                              result=None if failed else {"sent": number},
                              error="Traceback (most recent call last):\n  File \"x\"\n"
                                    "RuntimeError: SMTP down" if failed else None))  # fmt: skip
    db.session.commit()
    first = client.get("/operators/jobs/deliver").get_data(as_text=True)
    assert first.count("data-run=") == 20
    assert "<pre>Traceback (most recent call last):" in first
    assert "RuntimeError: SMTP down</summary>" in first
    assert "sent: 23" in first and "250 毫秒" in first
    second = client.get("/operators/jobs/deliver?page=2").get_data(as_text=True)
    assert second.count("data-run=") == 5
    assert "sent: 0" in second
    assert client.get("/operators/jobs/deliver?page=-1").status_code == 200
    # The dashboard marks the failing job and sums up its error.
    row = _row(client.get("/operators").get_data(as_text=True), "deliver")
    assert 'class="failing"' in row and "RuntimeError: SMTP down" in row


def _row(page: str, job: str) -> str:
    start = page.rindex("<tr", 0, page.index(f'data-job="{job}"'))
    return page[start : page.index("</tr>", start)]


def test_the_source_page_names_rows_with_undecodable_bytes(client, operator, httpserver):
    """A damaged GBK export's report (undecodable_rows) is on the operator's page too."""
    body = (UNDECODABLE / "gbk_badbytes.csv").read_bytes()
    source = catalog.create_source(
        "damaged", "tabular", serve(httpserver, "/c.csv", body, "text/csv")
    )
    harvest(source)
    page = client.get(f"/operators/sources/{source.id}").get_data(as_text=True)
    assert "1 行含有 gb18030 编码无法识别的字节（显示为 �）： 第 4 行" in page
    # The bad record's reason in the page's language (acceptance run 3 #10).
    assert "缺少标题（列 数据目录名称 为空）" in page and "missing title" not in page


def test_every_harvest_reason_a_page_translates_is_one_a_harvester_writes(app):
    """The reasons' patterns match the harvesters' own texts (a reworded reason would
    silently show in English again)."""
    from subscribe.catalog.harvesters.listed_twice import (
        shared_identifier_reason,
        superseded_reason,
    )
    from subscribe.catalog.writer import _duplicate_reason
    from subscribe.web.reasons import harvest_reason

    written = [superseded_reason("2024-01-02", ""), shared_identifier_reason("2024", "2023"),
               _duplicate_reason, "exact duplicate of row 3", "package has no title",
               "dataset has no dct:title", "unreadable row: bad"]  # fmt: skip
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        shown = [harvest_reason(reason) for reason in written]
        assert harvest_reason("some exception text") == "some exception text"
    assert all(text != reason for text, reason in zip(shown, written, strict=True)), shown
    assert (
        shown[0]
        == "以更晚的修改日期（2024-01-02）再次列出：保留了那一条，本条（修改于 未给出）被搁置"
    )


def test_an_unclosed_quote_reads_in_the_pages_language(app):
    """bb9 F9: the reason of a CSV row cut by an unclosed quote stayed English inside the
    Chinese page ("无法读取：unclosed quote: a quoted cell runs on …")."""
    from subscribe.catalog.harvesters.tabular_read import _unclosed
    from subscribe.web.reasons import harvest_reason

    written = f"unreadable row: {_unclosed(7, 7, {})[1]}"
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        shown = harvest_reason(written)
    assert shown.startswith("无法读取：引号未闭合") and "第 7 行" in shown
    assert "unclosed" not in shown


def test_a_harvest_error_and_row_references_read_in_the_pages_language(app):
    """Acceptance run 4 #7: the usual harvest errors and "row 6" were English on Chinese
    pages; the API keeps the English texts."""
    from subscribe.web.reasons import harvest_error, harvest_reference

    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert (
            harvest_reference("row 6") == "第 6 行"
            and harvest_reference("record 3") == "第 3 条记录"
        )
        assert harvest_reference("dataset x") == "dataset x"
        assert harvest_error(
            "mapped column(s) not found: title (不存在的列); columns found: 名称, 单位"
        ) == ("找不到映射指定的列：title (不存在的列)；文件中的列：名称, 单位")
        assert harvest_error("http://x/c.csv answered HTTP 404") == "http://x/c.csv 返回 HTTP 404"
        assert harvest_error("Traceback: boom") == "Traceback: boom"


def test_an_incomplete_listing_reads_in_the_pages_language(app):
    """A CKAN listing that received fewer packages than its count (run.errors' "listing"
    entry) is said in the page's language, not English on a Chinese page (review)."""
    from subscribe.web.reasons import harvest_reason, harvest_reference

    written = ("listing incomplete: 100 of 143 packages received (page start=100 came back "
               "empty); no deletions this run")  # fmt: skip
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        shown, where = harvest_reason(written), harvest_reference("listing")
    assert shown.startswith("列表不完整") and "143" in shown and "100" in shown
    assert where == "列表"
