"""E-mail unsubscribe: List-Unsubscribe + RFC 8058 one-click, and the link in the body.

Messages go through the real delivery worker to a real SMTP server (aiosmtpd); the
links they carry are then followed against the app as a mail client or a person would.
"""

from __future__ import annotations

import email
import email.policy
import re

import pytest

from subscribe.auth.services import create_user
from subscribe.extensions import db
from subscribe.notify import sender
from subscribe.notify.models import Subscription
from subscribe.notify.unsubscribe import find_subscription, make_token
from subscribe.scenarios.services import create_scenario
from tests.smtp_helpers import Recorder, immediate_email_subscription, queue_email_delivery


@pytest.fixture
def mailed(app, smtp_server):
    """One immediate e-mail about 空气质量 delivered to ana; (message, subscription)."""
    controller, handler = smtp_server(Recorder())
    user = create_user("ana@example.org", "correct horse battery")
    subscription = immediate_email_subscription(
        app, controller, user, "空气质量", SUBSCRIBE_BASE_URL="https://subscribe.example.cn"
    )
    queue_email_delivery(subscription)
    db.session.commit()
    assert sender.deliver_due() == 1
    [envelope] = handler.envelopes
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    return message, subscription


def path_of(url: str) -> str:
    assert url.startswith("https://subscribe.example.cn/unsubscribe/")
    return url.removeprefix("https://subscribe.example.cn")


def test_headers_offer_one_click_unsubscribe(mailed, client):
    message, subscription = mailed
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(r"<(https://[^>]+)>", message["List-Unsubscribe"]).group(1)
    # What a mail client does (RFC 8058 §3.1): POST the one-click body, no cookie, no CSRF.
    response = client.post(path_of(url), data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code == 200
    db.session.refresh(subscription)
    assert subscription.active is False  # paused, not deleted
    # Paused as the API pauses: a resume with catch-up starts from now, not from the start.
    assert (
        subscription.paused_at is not None and subscription.paused_at >= subscription.active_since
    )
    assert client.post(path_of(url), data="List-Unsubscribe=One-Click").status_code == 200


def test_body_links_lead_to_a_confirmation_page(mailed, client):
    message, subscription = mailed
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    [in_text] = re.findall(r"退订此订阅的邮件：(\S+)", text)
    [in_html] = re.findall(r'<a href="([^"]+/unsubscribe/[^"]+)"[^>]*>退订此订阅的邮件</a>', html)
    assert in_text == in_html == message["List-Unsubscribe"][1:-1]

    page = client.get(path_of(in_text))  # following the link changes nothing yet
    assert page.status_code == 200
    shown = page.get_data(as_text=True)
    assert "ana@example.org" in shown and "空气质量" in shown
    db.session.refresh(subscription)
    assert subscription.active is True

    done = client.post(path_of(in_text))  # the page's button
    assert done.status_code == 200 and "已退订" in done.get_data(as_text=True)
    db.session.refresh(subscription)
    assert subscription.active is False
    again = client.get(path_of(in_text)).get_data(as_text=True)
    assert "此订阅已暂停" in again


def test_forged_or_foreign_tokens_are_refused(app, client):
    ana = create_user("ana@example.org", "correct horse battery")
    bo = create_user("bo@example.org", "correct horse battery")
    scenario = create_scenario(
        ana, {"name": "空气", "q": "空气", "filters": {}, "include": [], "exclude": []}
    )
    subscription = Subscription(user_id=ana.id, scenario_id=scenario.id, channel="email")
    db.session.add(subscription)
    db.session.commit()
    good = make_token(app.config["SECRET_KEY"], subscription)
    assert find_subscription(app.config["SECRET_KEY"], good).id == subscription.id
    assert find_subscription("another secret", good) is None
    subscription.user_id = bo.id  # a token names the owner too: it does not follow a move
    db.session.commit()
    assert find_subscription(app.config["SECRET_KEY"], good) is None
    for token in (good, good[:-2] + "xx", "not-a-token"):
        assert client.get(f"/unsubscribe/{token}").status_code == 404
        assert (
            client.post(f"/unsubscribe/{token}", data="List-Unsubscribe=One-Click").status_code
            == 404
        )
    db.session.refresh(subscription)
    assert subscription.active is True
