"""Each user's language and time zone: API, settings page, pages and e-mails use them."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import datetime

from subscribe.auth import services as auth
from subscribe.extensions import db
from subscribe.notify import sender
from subscribe.notify.models import Notification
from tests.smtp_helpers import Recorder, immediate_email_subscription, queue_email_delivery

PASSWORD = "correct horse battery"


def bearer(email_address: str) -> dict:
    user = auth.create_user(email_address, PASSWORD)
    _token, plaintext = auth.create_token(user, "tests")
    return {"Authorization": f"Bearer {plaintext}"}


def csrf_from(page: bytes) -> str:
    return re.search(rb'name="csrf-token" content="([^"]+)"', page).group(1).decode()


def login(client, email_address: str) -> None:
    token = csrf_from(client.get("/login").data)
    form = {"email": email_address, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=form).status_code == 302


def test_api_reads_and_sets_language_and_zone(app, client):
    headers = bearer("ana@example.org")
    me = client.get("/api/v1/auth/me", headers=headers).json
    assert (me["locale"], me["timezone"]) == (None, None)  # not chosen yet
    changed = client.patch("/api/v1/auth/me", json={"locale": "en", "timezone": "Europe/Paris"},
                           headers=headers)  # fmt: skip
    assert changed.status_code == 200
    assert (changed.json["locale"], changed.json["timezone"]) == ("en", "Europe/Paris")
    only_zone = client.patch("/api/v1/auth/me", json={"timezone": None}, headers=headers).json
    assert (only_zone["locale"], only_zone["timezone"]) == ("en", None)  # the other kept

    # "Asia" (a folder of zones) and an over-long name fail in ZoneInfo with an OSError.
    for bad in ({"locale": "fr"}, {"timezone": "北京时间"}, {"timezone": "../etc/passwd"},
                {"timezone": "Asia"}, {"timezone": "x" * 300}, {"locale": 3}, {"colour": "blue"}):  # fmt: skip
        response = client.patch("/api/v1/auth/me", json=bad, headers=headers)
        assert response.status_code == 422, bad
        assert set(response.json) >= {"code", "status", "message", "errors"}
    assert client.patch("/api/v1/auth/me", json={"locale": "zh"}).status_code == 401


def notification_at(user_id: int, at: datetime) -> None:
    db.session.add(Notification(user_id=user_id, type="dataset.updated", title="空气质量日报",
                                payload={}, created_at=at))  # fmt: skip
    db.session.commit()


def test_pages_use_the_signed_in_users_language_and_zone(app, client):
    user = auth.create_user("ana@example.org", PASSWORD)
    notification_at(user.id, datetime(2026, 3, 1, 12, 0))  # naive UTC, as stored
    login(client, "ana@example.org")
    client.set_cookie("lang", "zh")
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "收件箱" in inbox and "20:00" in inbox  # cookie language, site zone (Shanghai)

    page = client.get("/settings").get_data(as_text=True)
    token = csrf_from(page.encode())
    saved = client.post("/settings", data={"locale": "en", "timezone": "America/New_York",
                                           "csrf_token": token})  # fmt: skip
    assert saved.status_code == 302
    client.set_cookie("lang", "zh")  # the user's choice beats the cookie
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "Inbox" in inbox and "收件箱" not in inbox
    assert "7:00" in inbox and "20:00" not in inbox  # 12:00 UTC is 07:00 in New York (EST)

    for zone in ("北京时间", "Asia", "x" * 300):
        refused = client.post("/settings", data={"locale": "en", "timezone": zone,
                                                 "csrf_token": token})  # fmt: skip
        assert refused.status_code == 400 and "Asia/Shanghai" in refused.get_data(as_text=True)
    db.session.refresh(user)
    assert user.timezone == "America/New_York"

    client.get("/?lang=zh")  # the language switch is the newer choice: it is saved
    db.session.refresh(user)
    assert user.locale == "zh"
    assert "收件箱" in client.get("/inbox").get_data(as_text=True)


def test_without_a_choice_the_cookie_decides(app, client):
    auth.create_user("bo@example.org", PASSWORD)
    login(client, "bo@example.org")
    client.get("/?lang=en")
    assert "Inbox" in client.get("/inbox").get_data(as_text=True)
    client.get("/?lang=zh")
    assert "收件箱" in client.get("/inbox").get_data(as_text=True)


def test_emails_use_the_users_language_and_zone(app, smtp_server):
    controller, handler = smtp_server(Recorder())
    user = auth.create_user("ana@example.org", PASSWORD)
    user.locale, user.timezone = "en", "America/New_York"
    db.session.commit()
    subscription = immediate_email_subscription(app, controller, user, "Air")
    queue_email_delivery(subscription, sent_at=datetime(2026, 3, 1, 12, 0))
    db.session.commit()
    assert sender.deliver_due() == 1
    [envelope] = handler.envelopes
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "Unsubscribe from these e-mails" in text  # English
    assert "2026-03-01 07:00 America/New_York" in text  # the user's zone
