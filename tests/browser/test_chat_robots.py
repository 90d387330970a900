"""Add a DingTalk robot on the page, send it a test message that arrives (signed) at a
loopback stub, subscribe a scenario through it; an internal address is refused on the page."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from playwright.sync_api import expect
from werkzeug import Response

from subscribe.auth.models import User
from subscribe.extensions import db
from subscribe.scenarios import services as scenarios
from tests.browser.helpers import create_user, login, screenshot

SECRET = "SECbrowser-test-secret"


@pytest.fixture
def loopback(live_server, monkeypatch):
    monkeypatch.setitem(live_server.app.config, "SUBSCRIBE_OUTBOUND_ALLOWLIST", ["127.0.0.1"])


def test_add_a_dingtalk_robot_send_a_test_message_and_subscribe(page, live_server, httpserver,
                                                                loopback):  # fmt: skip
    received = []

    def robot(request):
        received.append({"args": dict(request.args), "json": request.get_json()})
        return Response(json.dumps({"errcode": 0, "errmsg": "ok"}), content_type="application/json")

    httpserver.expect_request("/robot/send", method="POST").respond_with_handler(robot)
    url = httpserver.url_for("/robot/send") + "?access_token=browsertoken123456"
    user = create_user(live_server)
    with live_server.app.app_context():
        scenario_id = scenarios.create_scenario(
            db.session.get(User, user.id), {"name": "城市空气"}
        ).id
    login(page, live_server, user.email)

    page.click("nav >> text=群机器人")
    expect(page.locator("h1")).to_have_text("群机器人")
    page.check("input[name=kind][value=dingtalk]")
    page.fill("#url", url)
    page.fill("#secret", SECRET)
    page.fill("#description", "数据组群")
    screenshot(page, "chat-robot-form")
    page.click("#add-robot")
    expect(page.locator(".flash-success")).to_contain_text("机器人已添加")
    expect(page.locator("h1")).to_contain_text("钉钉 · 数据组群")
    expect(page.locator(".endpoint-url")).to_contain_text("access_token=brow…")
    assert "browsertoken123456" not in page.content() and SECRET not in page.content()

    page.click("#send-test")
    expect(page.locator(".flash-success")).to_contain_text("测试消息已送达")
    delivery = page.locator(".delivery").first
    expect(delivery).to_have_attribute("data-status", "succeeded")
    expect(delivery.locator("summary")).to_contain_text("测试消息")
    expect(delivery.locator(".response-body")).to_contain_text('"errcode": 0')
    screenshot(page, "chat-robot-endpoint")
    [message] = received
    timestamp = message["args"]["timestamp"]
    mac = hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(), hashlib.sha256)
    assert message["args"]["sign"] == base64.b64encode(mac.digest()).decode()
    assert message["json"]["msgtype"] == "markdown"
    assert message["json"]["markdown"]["title"] == "【数据订阅】群机器人测试消息"

    # Subscribe a scenario through the robot.
    page.goto(live_server.url(f"/subscriptions/new?scenario_id={scenario_id}"))
    expect(page.locator("#endpoint_id_dingtalk")).to_be_hidden()
    page.check("input[name=channel][value=dingtalk]")
    expect(page.locator("#endpoint_id_dingtalk")).to_be_visible()
    expect(page.locator("#endpoint_id_dingtalk option:checked")).to_have_text("数据组群")
    page.select_option("#cadence", "daily")
    page.click("form.subscription-form button[type=submit]")
    expect(page.locator(".flash-success")).to_have_text("订阅成功。")
    row = page.locator(".subscription")
    expect(row.locator(".meta")).to_contain_text("钉钉")
    expect(row.locator(".endpoint-url")).to_have_text("数据组群")
    screenshot(page, "chat-robot-subscription")


def test_an_internal_address_is_refused_on_the_page(page, live_server):
    user = create_user(live_server)
    login(page, live_server, user.email)
    page.goto(live_server.url("/chat-endpoints"))
    page.check("input[name=kind][value=wecom]")
    page.fill("#url", "http://127.0.0.1:9/cgi-bin/webhook/send?key=k")
    page.click("#add-robot")
    expect(page.locator("#url-error")).to_contain_text("此地址指向内部网络")
    expect(page.locator("#url-error")).to_contain_text("loopback")
    expect(page.locator(".chat-endpoint-list")).to_have_count(0)
    page.goto(live_server.url("/webhooks"))
    page.fill("#url", "http://169.254.169.254/latest/meta-data")
    page.get_by_role("button", name="添加端点").click()
    expect(page.locator("#url-error")).to_contain_text("link-local")
    screenshot(page, "webhook-internal-refused")
