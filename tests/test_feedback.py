"""数据纠错: error reports — counts, lifecycle, API, notifications (both backends)."""

from __future__ import annotations

import pytest

from subscribe.auth import services as auth
from subscribe.catalog.models import Dataset, Resource, Source
from subscribe.extensions import db
from subscribe.feedback.models import ErrorReport
from subscribe.feedback.services import confirmed_report_counts


@pytest.fixture
def datasets(app):
    """Three datasets of one source; the first has two resources."""
    source = Source(name="fb", type="ckan", url="https://example.org")
    db.session.add(source)
    db.session.flush()
    rows = [Dataset(source_id=source.id, identifier=f"d{i}", title=f"数据集 {i}",
                    content_hash="h") for i in range(3)]  # fmt: skip
    db.session.add_all(rows)
    db.session.flush()
    db.session.add_all([
        Resource(dataset_id=rows[0].id, position=0, name="表一", format="CSV",
                 url="https://example.org/1.csv"),
        Resource(dataset_id=rows[0].id, position=1, name="表二", format="CSV",
                 url="https://example.org/2.csv"),
        Resource(dataset_id=rows[1].id, position=0, name="别的表", format="CSV",
                 url="https://example.org/3.csv"),
    ])  # fmt: skip
    db.session.commit()
    return rows


def test_confirmed_counts_are_resolved_reports_per_dataset(datasets):
    user = auth.create_user("r@example.org", "correct horse battery")
    first, second, third = (d.id for d in datasets)
    states = [(first, "resolved"), (first, "resolved"), (first, "rejected"), (first, "open"),
              (second, "resolved"), (second, "acknowledged"), (third, "open")]  # fmt: skip
    for dataset_id, state in states:
        db.session.add(ErrorReport(dataset_id=dataset_id, user_id=user.id, description="错",
                                   state=state))  # fmt: skip
    db.session.add(ErrorReport(dataset_id=second, description="spam", state="resolved",
                               hidden=True))  # fmt: skip
    db.session.commit()
    assert confirmed_report_counts() == {first: 2, second: 1}
    assert confirmed_report_counts([second, third]) == {second: 1}
    assert confirmed_report_counts([]) == {}


# --- API: lifecycle, notifications, bad input ----------------------------------------------

PASSWORD = "correct horse battery"


def bearer(email: str, role: str = "user") -> dict:
    user = auth.create_user(email, PASSWORD, role)
    _token, plaintext = auth.create_token(user, "tests")
    return {"Authorization": f"Bearer {plaintext}"}


@pytest.fixture
def people(app):
    return {"reporter": bearer("reporter@example.org"), "ops": bearer("ops@example.org", "operator"),
            "other": bearer("other@example.org")}  # fmt: skip


def file_report(client, headers, dataset_id, **fields):
    body = {"description": "发布日期写成了 2099 年", **fields}
    return client.post(f"/api/v1/datasets/{dataset_id}/reports", json=body, headers=headers)


def test_a_report_goes_through_its_states_and_the_reporter_is_told_each_time(
    app, client, datasets, people, smtp_server
):
    controller, recorder = smtp_server()
    app.config.update(SUBSCRIBE_SMTP_HOST="127.0.0.1", SUBSCRIBE_SMTP_PORT=controller.port)
    resource = datasets[0].resources[0]
    created = file_report(client, people["reporter"], datasets[0].id, resource_id=resource.id,
                          row=3, column="日期", proposed_value="2019-05-01",
                          evidence_url="https://example.gov/notice/1")  # fmt: skip
    assert created.status_code == 201, created.json
    report = created.json
    assert report["state"] == "open" and report["resource_name"] == "表一"
    assert report["row"] == 3 and report["column"] == "日期"

    ops = people["ops"]
    path = f"/api/v1/reports/{report['id']}/transition"
    acknowledged = client.post(path, json={"state": "acknowledged"}, headers=ops)
    assert acknowledged.status_code == 200 and acknowledged.json["state"] == "acknowledged"
    assert acknowledged.json["reporter"] == "reporter@example.org"
    resolved = client.post(path, json={"state": "resolved", "reason": "已通知发布单位更正"},
                           headers=ops)  # fmt: skip
    assert resolved.status_code == 200 and resolved.json["closed_at"]
    assert confirmed_report_counts([datasets[0].id]) == {datasets[0].id: 1}

    # Inbox: one item per state change, in the reporter's own inbox.
    inbox = client.get("/api/v1/notifications", headers=people["reporter"]).json["items"]
    types = [(n["type"], n["payload"]["data"]["report"]["state"]) for n in inbox]
    assert sorted(types) == [("report.state", "acknowledged"), ("report.state", "resolved")]
    # E-mail: sent for real over SMTP by the delivery loop.
    from subscribe.notify import sender

    assert sender.deliver_due() == 2
    assert len(recorder.envelopes) == 2
    assert {tuple(e.rcpt_tos) for e in recorder.envelopes} == {("reporter@example.org",)}
    text = b"".join(e.content for e in recorder.envelopes)
    assert b"Subject:" in text
    import email

    bodies = [
        email.message_from_bytes(e.content, policy=email.policy.default) for e in recorder.envelopes
    ]
    plain = "\n".join(m.get_body(("plain",)).get_content() for m in bodies)
    assert "您的纠错报告已确认" in plain and "已通知发布单位更正" in plain
    assert "您提交的纠错报告有了新进展" in plain
    assert "数据集 0" in plain

    # Closed: no further move (409), and the public list shows it without the reporter.
    again = client.post(path, json={"state": "rejected", "reason": "x"}, headers=ops)
    assert again.status_code == 409 and set(again.json) == {"code", "status", "message", "errors"}
    public = client.get(f"/api/v1/datasets/{datasets[0].id}/reports").json
    assert public["total"] == 1
    assert "reporter" not in public["items"][0] and "user_id" not in public["items"][0]
    assert "reporter@example.org" not in str(public)
    mine = client.get("/api/v1/reports?mine", headers=people["reporter"]).json
    assert [r["id"] for r in mine["items"]] == [report["id"]]
    assert client.get("/api/v1/reports?mine=true", headers=people["other"]).json["total"] == 0


def test_rejecting_needs_a_reason_and_bad_moves_are_refused(client, datasets, people):
    report = file_report(client, people["reporter"], datasets[1].id, field="title").json
    path = f"/api/v1/reports/{report['id']}/transition"
    ops = people["ops"]
    no_reason = client.post(path, json={"state": "rejected"}, headers=ops)
    assert no_reason.status_code == 422 and "reason" in no_reason.json["errors"]
    for invisible in ("   ", "\u200b\u200b\u200b"):
        blank = client.post(path, json={"state": "rejected", "reason": invisible}, headers=ops)
        assert blank.status_code == 422
    unknown = client.post(path, json={"state": "fixed"}, headers=ops)
    assert unknown.status_code == 422
    back = client.post(path, json={"state": "open"}, headers=ops)
    assert back.status_code == 409
    assert (
        client.post(path, json={"state": "acknowledged"}, headers=people["reporter"]).status_code
        == 403
    )
    rejected = client.post(path, json={"state": "rejected", "reason": "数据无误"}, headers=ops)
    assert rejected.status_code == 200 and rejected.json["reason"] == "数据无误"
    assert confirmed_report_counts() == {}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"description": ""}, "description"),
        ({"description": "   "}, "description"),
        ({"description": "\u200b" * 6}, "description"),  # zero-width only (hbreak F14)
        ({"description": "\u3000\ufeff\u200d\x0b\u2060 \u200e"}, "description"),
        ({"resource_id": 999999}, "resource_id"),
        ({"row": 2}, "column"),
        ({"row": 2, "column": "A"}, "resource_id"),
        ({"evidence_url": "javascript:alert(1)"}, "evidence_url"),
        ({"evidence_url": "not a url"}, "evidence_url"),
        ({"unknown": 1}, "unknown"),  # errors.<field>, as every error (bb5 L4)
    ],
)
def test_bad_reports_are_422_in_the_error_shape(client, datasets, people, fields, field):
    response = file_report(client, people["reporter"], datasets[0].id, **fields)
    assert response.status_code == 422, response.json
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert field in str(response.json["errors"])


def test_a_resource_of_another_dataset_is_refused(client, datasets, people):
    foreign = datasets[1].resources[0].id
    response = file_report(client, people["reporter"], datasets[0].id, resource_id=foreign)
    assert response.status_code == 422
    assert response.json["errors"]["resource_id"] == ["This resource belongs to another dataset."]


def test_reports_need_an_account_an_existing_dataset_and_operators_list_all(
    client, datasets, people
):
    assert file_report(client, {}, datasets[0].id).status_code == 401
    assert file_report(client, people["reporter"], 999999).status_code == 404
    assert client.get("/api/v1/datasets/999999/reports").status_code == 404
    file_report(client, people["reporter"], datasets[0].id)
    assert client.get("/api/v1/reports", headers=people["reporter"]).status_code == 403
    listed = client.get("/api/v1/reports?state=open", headers=people["ops"]).json
    assert listed["total"] == 1 and listed["items"][0]["reporter"] == "reporter@example.org"


def test_spam_is_hidden_from_the_public_and_from_counts(client, datasets, people):
    report = file_report(client, people["reporter"], datasets[2].id,
                         description="<script>alert(1)</script> buy now").json  # fmt: skip
    hidden = client.post(f"/api/v1/reports/{report['id']}/hide", json={}, headers=people["ops"])
    assert hidden.status_code == 200 and hidden.json["hidden"] is True
    assert client.get(f"/api/v1/datasets/{datasets[2].id}/reports").json["total"] == 0
    assert client.get("/api/v1/reports?hidden=true", headers=people["ops"]).json["total"] == 1
    shown = client.post(f"/api/v1/reports/{report['id']}/hide", json={"hidden": False},
                        headers=people["ops"])  # fmt: skip
    assert shown.json["hidden"] is False
    assert client.get(f"/api/v1/datasets/{datasets[2].id}/reports").json["total"] == 1


def test_report_creation_is_rate_limited_per_user(app, client, datasets, people):
    app.config["SUBSCRIBE_LIMIT_REPORTS"] = "2 per minute"
    refused = [file_report(client, people["reporter"], datasets[0].id, description="").status_code
               for _ in range(4)]  # fmt: skip
    assert refused == [422] * 4  # mistakes cost nothing (hbreak F3)
    statuses = [file_report(client, people["reporter"], datasets[0].id).status_code
                for _ in range(3)]  # fmt: skip
    assert statuses == [201, 201, 429]
    assert file_report(client, people["other"], datasets[0].id).status_code == 201


def test_dataset_feedback_reaches_subscribers_who_opted_in(app, client, datasets, people):
    from subscribe.notify import sender
    from subscribe.notify.models import Delivery

    def subscribe(headers, **values):
        response = client.post("/api/v1/subscriptions", headers=headers,
                               json={"channel": "inbox", **values})  # fmt: skip
        assert response.status_code == 201, response.json
        return response.json

    watcher, plain = bearer("watcher@example.org"), bearer("plain@example.org")
    subscribe(watcher, dataset_id=datasets[0].id, events=["dataset.updated", "dataset.feedback"])
    default = subscribe(plain, dataset_id=datasets[0].id)
    assert "dataset.feedback" not in default["events"]  # opt-in only
    subscribe(plain, dataset_id=datasets[1].id, events=["dataset.feedback"])  # other dataset

    report = file_report(client, people["reporter"], datasets[0].id).json
    client.post(f"/api/v1/reports/{report['id']}/transition", json={"state": "acknowledged"},
                headers=people["ops"])  # fmt: skip
    rows = db.session.scalars(
        db.select(Delivery).where(Delivery.event_type == "dataset.feedback").order_by(Delivery.id)
    ).all()
    assert [r.payload["data"]["report"]["state"] for r in rows] == ["open", "acknowledged"]
    assert all("reporter" not in str(r.payload) for r in rows)
    sender.deliver_due()
    items = client.get("/api/v1/notifications", headers=watcher).json["items"]
    assert sorted(n["payload"]["data"]["reason"] for n in items) == ["acknowledged", "open"]
    assert client.get("/api/v1/notifications", headers=plain).json["total"] == 0


def test_scenario_subscriptions_hear_of_reports_on_their_members(app, client, datasets, people):
    from subscribe.notify.models import Delivery
    from subscribe.scenarios import services as scenarios

    watcher = auth.create_user("scenario@example.org", PASSWORD)
    pinned = scenarios.create_scenario(watcher, {"name": "我的公交", "include": [datasets[0].id]})
    elsewhere = scenarios.create_scenario(watcher, {"name": "别的", "include": [datasets[1].id]})
    from subscribe.notify import services as notify

    notify.create_subscription(watcher, {"scenario_id": pinned.id, "channel": "email",
                                         "events": ["dataset.feedback"]})  # fmt: skip
    notify.create_subscription(watcher, {"scenario_id": elsewhere.id, "channel": "email",
                                         "events": ["dataset.feedback"]})  # fmt: skip
    file_report(client, people["reporter"], datasets[0].id)
    rows = db.session.scalars(
        db.select(Delivery).where(Delivery.event_type == "dataset.feedback")
    ).all()
    assert [r.payload["data"]["scenario"]["name"] for r in rows] == ["我的公交"]
    assert rows[0].payload["data"]["dataset"]["id"] == datasets[0].id


def test_a_reporter_who_follows_the_dataset_is_told_once_in_their_language(
    app, client, datasets, people
):
    """hbreak F5/F16: the reporter's own dataset.feedback subscription does not repeat what
    the report.state message says; the stored title is in the reporter's language and
    the message links the report itself."""
    from subscribe.notify import sender

    reporter = people["reporter"]
    assert (
        client.patch("/api/v1/auth/me", json={"locale": "en"}, headers=reporter).status_code == 200
    )
    follow = client.post("/api/v1/subscriptions", headers=reporter, json={
        "dataset_id": datasets[0].id, "channel": "inbox", "events": ["dataset.feedback"]})  # fmt: skip
    assert follow.status_code == 201, follow.json
    report = file_report(client, reporter, datasets[0].id).json
    client.post(f"/api/v1/reports/{report['id']}/transition", json={"state": "acknowledged"},
                headers=people["ops"])  # fmt: skip
    sender.deliver_due()
    items = client.get("/api/v1/notifications", headers=reporter).json["items"]
    assert [n["type"] for n in items] == ["report.state"]
    assert items[0]["title"] == f"error report acknowledged #{report['id']}: {datasets[0].title}"
    assert items[0]["payload"]["data"]["report"]["api_url"].endswith(
        f"/api/v1/reports/{report['id']}"
    )
