"""In a real browser: the API docs page works offline under its CSP, the favicon is
there, and the demo mailbox shows an e-mail the local SMTP sink received."""

from __future__ import annotations

import socket

import pytest
from playwright.sync_api import expect

from subscribe.demo import mailsink
from subscribe.notify.email import SmtpSettings, build_message, send
from tests.browser.helpers import create_user, login, screenshot


def watch(page) -> dict[str, list[str]]:
    """Console errors, failed requests and any request leaving this host."""
    seen: dict[str, list[str]] = {"errors": [], "failed": [], "external": []}
    page.on("console", lambda m: m.type == "error" and seen["errors"].append(m.text))
    page.on("requestfailed", lambda r: seen["failed"].append(r.url))
    page.on("response", lambda r: r.status >= 400 and seen["failed"].append(f"{r.status} {r.url}"))
    page.on("request", lambda r: "127.0.0.1" not in r.url and seen["external"].append(r.url))
    return seen


def test_api_docs_render_from_this_site(page, live_server):
    seen = watch(page)
    page.goto(live_server.url("/"))
    page.click("text=API 文档")
    expect(page).to_have_url(live_server.url("/api/v1/docs"))
    expect(page.locator(".opblock").first).to_be_visible(timeout=20_000)
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/datasets").first).to_be_visible()
    assert page.title() == "API 文档 · 数据订阅"
    screenshot(page, "api-docs")
    assert seen == {"errors": [], "failed": [], "external": []}  # no CSP block, no 404


def test_favicon_on_pages(page, live_server):
    seen = watch(page)
    page.goto(live_server.url("/"))
    icon = page.evaluate("() => document.querySelector('link[rel=icon]').href")
    assert icon == live_server.url("/favicon.ico")
    response = page.request.get(icon)
    assert response.status == 200 and response.body()[:4] == b"\x00\x00\x01\x00"
    assert seen["failed"] == []


@pytest.fixture
def sink(live_server, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    controller = mailsink.start(tmp_path / "mailbox", port)
    config = live_server.app.config
    saved = {key: config.get(key) for key in ("SUBSCRIBE_MAIL_SINK", "SUBSCRIBE_MAILBOX_DIR")}
    config.update(SUBSCRIBE_MAIL_SINK=True, SUBSCRIBE_MAILBOX_DIR=str(tmp_path / "mailbox"))
    yield SmtpSettings(port=port)
    config.update(saved)
    controller.stop()


def test_demo_mailbox_shows_the_mail_sent_to_the_user(page, live_server, sink):
    user = create_user(live_server)
    html = '<p style="color:#1f5fa8">城市空气质量：<a href="https://example.org/d/1">数据集已更新</a></p>'
    send(sink, build_message(user.email, "[城市空气质量] 数据集已更新", "数据集已更新", html))
    send(sink, build_message("someone-else@example.org", "别人的邮件", "x", "<p>x</p>"))
    seen = watch(page)
    login(page, live_server, user.email)
    page.click("nav >> text=演示邮件")
    expect(page.locator("h1")).to_have_text("演示邮件")
    expect(page.locator("table.mailbox tbody tr")).to_have_count(1)  # not someone else's
    screenshot(page, "mailbox")
    page.click("text=[城市空气质量] 数据集已更新")
    expect(page.locator(".mail-text")).to_have_text("数据集已更新\n")
    frame = page.frame_locator("iframe.mail-html")
    expect(frame.locator("a")).to_have_text("数据集已更新")
    screenshot(page, "mailbox-message")
    assert seen["errors"] == [] and seen["failed"] == []


def test_unsubscribe_link_without_logging_in(page, live_server):
    from subscribe.auth.models import User
    from subscribe.extensions import db
    from subscribe.notify.models import Subscription
    from subscribe.notify.unsubscribe import make_token
    from subscribe.scenarios.services import create_scenario

    account = create_user(live_server)
    with live_server.app.app_context():
        user = db.session.get(User, account.id)
        scenario = create_scenario(
            user, {"name": "公交出行", "q": "公交", "filters": {}, "include": [], "exclude": []}
        )
        subscription = Subscription(user_id=user.id, scenario_id=scenario.id, channel="email")
        db.session.add(subscription)
        db.session.commit()
        token, subscription_id = (
            make_token(live_server.app.config["SECRET_KEY"], subscription),
            subscription.id,
        )
    page.goto(live_server.url(f"/unsubscribe/{token}"))  # as the e-mail's link: not signed in
    expect(page.locator("main")).to_contain_text(account.email)
    expect(page.locator("main")).to_contain_text("公交出行")
    screenshot(page, "unsubscribe-confirm")
    page.click("#unsubscribe")
    expect(page.locator("h1")).to_have_text("已退订")
    with live_server.app.app_context():
        assert db.session.get(Subscription, subscription_id).active is False


def test_settings_choose_language_and_time_zone(page, live_server):
    user = create_user(live_server)
    login(page, live_server, user.email)
    page.click(".user-email a")
    expect(page.locator("h1")).to_have_text("设置")
    page.select_option("#locale", "en")
    page.select_option("#timezone", "America/New_York")
    screenshot(page, "settings")
    page.click("form.form button[type=submit]")
    expect(page.locator(".flash-success")).to_have_text("Settings saved.")
    expect(page.locator("h1")).to_have_text("Settings")
    expect(page.locator("#timezone")).to_have_value("America/New_York")
    page.context.clear_cookies(name="lang")  # the saved choice, not the cookie, decides
    page.goto(live_server.url("/inbox"))
    expect(page.locator("h1")).to_have_text("Inbox")
