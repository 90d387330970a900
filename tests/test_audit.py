"""行为记录: every instrumented action leaves one entry; search, export, own view, retention,
and no way to change an entry (both backends)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from subscribe.audit import services as audit
from subscribe.audit.models import AuditEntry
from subscribe.auth import services as auth
from subscribe.bundles.models import Bundle
from subscribe.catalog.models import Dataset, Source
from subscribe.extensions import db
from subscribe.jobs import runner
from subscribe.jobs.registry import job_specs
from subscribe.models_base import utcnow
from subscribe.scenarios import services as scenarios

PASSWORD = "correct horse battery"


def bearer(email: str, role: str = "user") -> tuple:
    user = auth.create_user(email, PASSWORD, role)
    token, plaintext = auth.create_token(user, "tests")
    return user, {"Authorization": f"Bearer {plaintext}"}


def entries(action: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


@pytest.fixture
def ops(app):
    return bearer("ops@example.org", "operator")


@pytest.fixture
def user(app):
    return bearer("user@example.org")


def test_tokens_are_recorded_with_who_and_from_where(client, user):
    person, headers = user
    created = entries("token.create")
    assert [(e.actor_id, e.actor_label, e.target_type) for e in created] == [
        (person.id, "user@example.org", "token")
    ]
    made = client.post("/api/v1/auth/tokens", json={"email": "user@example.org",
                       "password": PASSWORD, "name": "second"})  # fmt: skip
    assert made.status_code == 201
    assert (
        client.delete(f"/api/v1/auth/tokens/{made.json['id']}", headers=headers).status_code == 204
    )
    revoked = entries("token.revoke")
    assert len(revoked) == 1 and revoked[0].target_id == str(made.json["id"])
    assert revoked[0].ip == "127.0.0.1" and revoked[0].details["name"] == "second"
    assert len(entries("token.create")) == 2


def test_source_and_job_actions_by_operators_are_recorded(app, client, ops):
    operator, headers = ops
    body = {"name": "city", "type": "ckan", "url": "https://example.org"}
    source = client.post("/api/v1/sources", json=body, headers=headers).json
    client.patch(f"/api/v1/sources/{source['id']}", json={"schedule": 7200}, headers=headers)
    client.post(f"/api/v1/sources/{source['id']}/harvest", headers=headers)
    client.delete(f"/api/v1/sources/{source['id']}", headers=headers)
    runner.sync_jobs(job_specs(app))
    for action in ("pause", "resume", "run"):
        assert client.post(f"/api/v1/jobs/cleanup/{action}", headers=headers).status_code in (
            200,
            202,
        )
    got = [(e.action, e.target_type, e.target_id, e.actor_id) for e in entries()
           if e.action.startswith(("source.", "job."))]  # fmt: skip
    sid = str(source["id"])
    assert got == [
        ("source.create", "source", sid, operator.id), ("source.update", "source", sid, operator.id),
        ("source.harvest", "source", sid, operator.id), ("source.delete", "source", sid, operator.id),
        ("job.pause", "job", "cleanup", operator.id), ("job.resume", "job", "cleanup", operator.id),
        ("job.run", "job", "cleanup", operator.id),
    ]  # fmt: skip
    update = entries("source.update")[0]
    assert update.details["changes"]["schedule"]["to"] == 7200


def test_subscription_changes_and_bundles_are_recorded(app, client, user, tmp_path):
    person, headers = user
    scenario = scenarios.create_scenario(person, {"name": "空气", "q": "空气"})
    created = client.post("/api/v1/subscriptions", headers=headers,
                          json={"scenario_id": scenario.id, "channel": "inbox"}).json  # fmt: skip
    client.patch(f"/api/v1/subscriptions/{created['id']}", json={"active": False}, headers=headers)
    client.delete(f"/api/v1/subscriptions/{created['id']}", headers=headers)
    actions = [e.action for e in entries() if e.target_type == "subscription"]
    assert actions == ["subscription.create", "subscription.update", "subscription.delete"]
    assert entries("subscription.update")[0].details["changes"]["active"] == {"from": True,
                                                                              "to": False}  # fmt: skip

    requested = client.post(f"/api/v1/scenarios/{scenario.id}/bundles", json={}, headers=headers)
    assert requested.status_code == 202
    assert entries("bundle.request")[0].target_id == str(requested.json["id"])
    app.config["SUBSCRIBE_BUNDLE_DIR"] = str(tmp_path)
    (tmp_path / "b.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    bundle = db.session.get(Bundle, requested.json["id"])
    bundle.status, bundle.file_name, bundle.sha256 = "ready", "b.zip", "abc"
    db.session.commit()
    got = client.get(f"/api/v1/bundles/{bundle.id}/download", headers=headers)
    assert got.status_code == 200
    got.close()
    downloads = entries("bundle.download")
    assert len(downloads) == 1 and downloads[0].actor_id == person.id


@pytest.fixture
def filled(app, ops, user):
    """Entries of two people and the system, spread over three days."""
    operator, _ = ops
    person, _ = user
    now = utcnow()
    rows = [
        (operator, "source.update", "source", "1", now - timedelta(days=2)),
        (operator, "report.transition", "report", "7", now - timedelta(hours=20)),
        (person, "subscription.create", "subscription", "3", now - timedelta(hours=1)),
        (None, "audit.retention", "audit", "", now),
    ]
    for actor, action, kind, target, when in rows:
        entry = audit.record(action, kind, target, {"note": "=cmd|' /C calc'!A0"}, actor=actor,
                             system=None if actor else "audit-retention")  # fmt: skip
        entry.created_at = when
    db.session.commit()
    return now


def test_operators_search_by_actor_action_target_and_time(client, ops, user, filled):
    _, headers = ops
    now = filled

    def search(**params):
        response = client.get("/api/v1/audit", query_string=params, headers=headers)
        assert response.status_code == 200, response.json
        return [e["action"] for e in response.json["items"]
                if not e["action"].startswith("token.")]  # fmt: skip

    assert search(actor="ops@") == ["report.transition", "source.update"]
    assert search(actor=str(user[0].id)) == ["subscription.create"]
    # An id past what the database holds is nobody; "²" is text (both were a 500).
    assert search(actor="99999999999999999999") == search(actor="²") == []
    export = client.get("/api/v1/audit/export", query_string={"actor": "99999999999999999999"},
                        headers=headers)  # fmt: skip
    # Read to the end: a streamed body left unread keeps its request context pushed
    # (stream_with_context) until the response is collected, in whatever test that is.
    assert export.status_code == 200 and export.get_data(as_text=True).count("\n") == 1
    assert search(action="subscription.") == ["subscription.create"]
    assert search(target_type="report", target_id="7") == ["report.transition"]
    since = (now - timedelta(days=1, hours=1)).isoformat()
    until = (now - timedelta(minutes=1)).isoformat()
    assert search(since=since, until=until) == ["subscription.create", "report.transition"]
    assert client.get("/api/v1/audit", headers=user[1]).status_code == 403
    assert client.get("/api/v1/audit?since=yesterday", headers=headers).status_code == 400


def test_export_csv_and_json_and_users_see_their_own(client, ops, user, filled):
    _, headers = ops
    response = client.get("/api/v1/audit/export?format=csv&action=report.", headers=headers)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [r["action"] for r in rows] == ["report.transition"]
    assert json.loads(rows[0]["details"])["note"].startswith("=")  # inside JSON text: inert
    as_json = client.get("/api/v1/audit/export?format=json", headers=headers)
    items = json.loads(as_json.get_data(as_text=True))
    assert {"source.update", "subscription.create", "audit.retention"} <= {
        i["action"] for i in items
    }
    assert entries("audit.export")  # exporting is itself recorded
    assert client.get("/api/v1/audit/export", headers=user[1]).status_code == 403

    mine = client.get("/api/v1/audit/mine", headers=user[1]).json
    assert {e["action"] for e in mine["items"]} == {"subscription.create", "token.create"}
    assert all(e["actor_id"] == user[0].id for e in mine["items"])


def test_retention_deletes_only_old_entries_and_says_so(app, filled):
    app.config["SUBSCRIBE_AUDIT_RETENTION_DAYS"] = 1
    before = len(entries())
    from subscribe.jobs.jobs import expire_audit

    assert expire_audit() == {"deleted": 1}  # the entry two days old
    remaining = entries()
    assert len(remaining) == before - 1 + 1  # one gone, one audit.retention entry added
    assert "source.update" not in {e.action for e in remaining}
    note = [e for e in remaining if e.action == "audit.retention"][-1]
    assert note.actor_type == "system" and note.details["deleted"] == 1
    app.config["SUBSCRIBE_AUDIT_RETENTION_DAYS"] = 0
    assert audit.expire(now=utcnow() + timedelta(days=3650)) == 0  # 0 keeps everything


def test_no_api_changes_or_deletes_entries(client, ops, filled):
    _, headers = ops
    entry_id = entries()[0].id
    for method in ("put", "patch", "delete"):
        response = getattr(client, method)(f"/api/v1/audit/{entry_id}", headers=headers)
        assert response.status_code in (404, 405)
    assert client.post("/api/v1/audit", json={}, headers=headers).status_code == 405


def test_report_actions_are_recorded(client, ops, user):
    source = Source(name="s", type="ckan", url="https://example.org")
    db.session.add(source)
    db.session.flush()
    dataset = Dataset(source_id=source.id, identifier="x", title="t", content_hash="h")
    db.session.add(dataset)
    db.session.commit()
    report = client.post(f"/api/v1/datasets/{dataset.id}/reports", headers=user[1],
                         json={"description": "标题错了：应为 2024 年"}).json  # fmt: skip
    client.post(f"/api/v1/reports/{report['id']}/transition", headers=ops[1],
                json={"state": "rejected", "reason": "无误"})  # fmt: skip
    client.post(f"/api/v1/reports/{report['id']}/hide", headers=ops[1], json={})
    got = [(e.action, e.actor_id) for e in entries() if e.target_type == "report"]
    assert got == [("report.create", user[0].id), ("report.transition", ops[0].id),
                   ("report.hide", ops[0].id)]  # fmt: skip
    assert entries("report.transition")[0].details["to"] == "rejected"


def test_the_audit_page_reads_times_in_the_zone_it_shows(app, client, filled):
    """The table shows times in the operator's zone (Asia/Shanghai by default), so the
    From/Until fields read that zone too, and the export links carry the offset."""
    import html
    import re
    from datetime import UTC
    from urllib.parse import parse_qs, urlsplit
    from zoneinfo import ZoneInfo

    from tests.test_web import login

    login(client, "ops@example.org")
    now = filled
    shanghai = ZoneInfo(app.config["SUBSCRIBE_DISPLAY_TIMEZONE"])

    def local(value):  # what a datetime-local field sends
        return value.replace(tzinfo=UTC).astimezone(shanghai).strftime("%Y-%m-%dT%H:%M")

    # Two hours back in the shown zone takes the last hour's entry and leaves the one of
    # 20 hours ago out; read as UTC (8 hours earlier) it would have taken both.
    since = local(now - timedelta(hours=2))
    page = client.get("/operators/audit", query_string={"since": since})
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    table = body[body.index("<table") :]
    assert "subscription.create" in table and "report.transition" not in table
    assert "Asia/Shanghai" in body  # the field says which zone it reads
    # The export links carry the same instant, with its offset (the API reads UTC).
    exports = [parse_qs(urlsplit(html.unescape(href)).query)
               for href in re.findall(r'href="(/api/v1/audit/export[^"]*)"', body)]  # fmt: skip
    assert len(exports) == 2, body
    assert all(query["since"] == [since + ":00+08:00"] for query in exports), exports
