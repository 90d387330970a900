"""Subscribe with a webhook, see the delivery in the log, resend it; the inbox."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from subscribe.auth.models import User
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify import payloads, sender
from subscribe.notify.models import Delivery
from subscribe.scenarios import services as scenarios
from tests.browser.helpers import create_user, login, no_sideways_scroll, screenshot

RECEIVED = "received: 谢谢 <b>not bold</b>"


@pytest.fixture
def loopback(live_server, monkeypatch):
    """Webhooks to the test receiver on 127.0.0.1 (refused by default, as they should be)."""
    monkeypatch.setitem(live_server.app.config, "SUBSCRIBE_OUTBOUND_ALLOWLIST", ["127.0.0.1"])


def make_scenario(live_server, user_id: int, name: str) -> int:
    with live_server.app.app_context():
        return scenarios.create_scenario(db.session.get(User, user_id), {"name": name}).id


def test_subscribe_with_a_webhook_and_see_the_delivery_in_the_log(
    page, phone_page, live_server, httpserver, loopback
):
    httpserver.expect_request("/hook", method="POST").respond_with_data(RECEIVED)
    hook_url = httpserver.url_for("/hook")
    user = create_user(live_server)
    scenario_id = make_scenario(live_server, user.id, "公交线路监测")
    login(page, live_server, user.email)

    # A new endpoint: the secret is on the answer to the form, once.
    page.click("nav >> text=开发者")
    expect(page.locator("h1")).to_have_text("Webhook 端点")
    page.fill("#url", hook_url)
    page.fill("#description", "测试接收端")
    page.get_by_role("button", name="添加端点").click()
    expect(page.locator("h1")).to_have_text("端点已添加")
    secret = page.locator("#secret").inner_text()
    screenshot(page, "webhook-secret")
    assert re.fullmatch(r"whsec_[A-Za-z0-9+/=]{44}", secret)
    page.reload()  # the browser may post the form again: no second endpoint, no secret
    expect(page.locator("#secret")).to_have_count(0)
    assert secret not in page.content()
    page.goto(live_server.url("/webhooks"))
    expect(page.locator(".webhook-list .endpoint")).to_have_count(1)
    expect(page.locator(".webhook-list .endpoint-url")).to_have_text(hook_url)
    screenshot(page, "webhooks-list")

    # A webhook subscription for the scenario (the scenario page links here like this).
    page.goto(live_server.url(f"/subscriptions/new?scenario_id={scenario_id}"))
    expect(page.locator("#scenario_id option:checked")).to_have_text("公交线路监测")
    expect(page.locator("#endpoint_id")).to_be_hidden()  # the inbox is the default channel
    page.check("input[name=channel][value=webhook]")
    expect(page.locator("#endpoint_id")).to_be_visible()
    page.select_option("#cadence", "weekly")
    expect(page.locator("#weekday")).to_be_visible()
    page.select_option("#weekday", "4")
    page.select_option("#hour", "9")
    page.uncheck("input[name=events][value='dataset.overdue']")
    screenshot(page, "subscription-form")
    page.click("form.subscription-form button[type=submit]")
    expect(page.locator(".flash-success")).to_have_text("订阅成功。")
    expect(page.locator("h1")).to_have_text("订阅")
    row = page.locator(".subscription")
    expect(row.locator("h2 a")).to_have_text("公交线路监测")
    expect(row.locator(".endpoint-url")).to_have_text(hook_url)
    expect(row.locator(".meta")).to_contain_text("星期五 09:00 (Asia/Shanghai)")
    expect(row.locator(".events .chip")).to_have_count(3)
    expect(row.locator(".state")).to_have_text("已启用")
    screenshot(page, "subscriptions-list")

    # The endpoint page: a test ping, and its attempt in the delivery log.
    page.goto(live_server.url("/webhooks"))
    page.click(".webhook-list .endpoint-url")
    page.click("#send-ping")
    expect(page.locator(".flash-success")).to_contain_text("HTTP 200")
    delivery = page.locator(".delivery").first
    expect(delivery).to_have_attribute("data-status", "succeeded")
    expect(delivery.locator("summary")).to_contain_text("测试推送")
    expect(delivery.locator(".attempt")).to_have_count(1)
    expect(delivery.locator(".attempt-status")).to_contain_text("200")
    expect(delivery.locator(".response-body")).to_have_text(RECEIVED)  # escaped, as text
    expect(delivery.locator(".response-body b")).to_have_count(0)
    message_id = delivery.get_attribute("data-message")
    screenshot(page, "webhook-endpoint")

    # Resend: queued again with the same message id, then sent by the worker.
    delivery.locator("button.resend").click()
    expect(page.locator(".flash-success")).to_contain_text(message_id)
    expect(page.locator(f"#delivery-{message_id}")).to_have_attribute("data-status", "pending")
    with live_server.app.app_context():
        assert sender.deliver_due() >= 1
    page.reload()
    resent = page.locator(f"#delivery-{message_id}")
    expect(resent).to_have_attribute("data-status", "succeeded")
    expect(resent.locator(".attempt")).to_have_count(2)
    ids = [request.headers["webhook-id"] for request, _response in httpserver.log]
    assert ids == [message_id, message_id]

    # The same page on a phone.
    login(phone_page, live_server, user.email)
    phone_page.goto(page.url.split("?")[0])  # the log closed: open the message by touch
    expect(phone_page.locator(f"#delivery-{message_id} .response-body").first).to_be_hidden()
    phone_page.locator(f"#delivery-{message_id} summary").click()
    expect(phone_page.locator(f"#delivery-{message_id} .response-body").first).to_be_visible()
    no_sideways_scroll(phone_page, "the webhook endpoint's page")
    screenshot(phone_page, "webhook-endpoint-phone")


def test_inbox_shows_a_notification_and_marks_it_read(page, phone_page, live_server):
    user = create_user(live_server)
    scenario_id = make_scenario(live_server, user.id, "空气质量场景")
    with live_server.app.app_context():
        dataset = db.session.scalar(select(Dataset).where(Dataset.title == "示例市空气质量日报"))
        message_id = payloads.new_message_id()
        body = payloads.message(
            message_id, "dataset.updated", utcnow(), live_server.base_url, dataset_id=dataset.id,
            snapshot={"title": dataset.title}, version=2, changes=[{"kind": "metadata"}],
            scenario={"id": scenario_id, "name": "空气质量场景"},
        )  # fmt: skip
        db.session.add(Delivery(message_id=message_id, user_id=user.id, channel="inbox",
                                event_type="dataset.updated", payload=body))  # fmt: skip
        db.session.commit()
        dataset_id = dataset.id
        assert sender.deliver_due() >= 1  # the worker puts it in the inbox

    login(page, live_server, user.email)
    badge = page.locator(".site-nav .unread-count")
    expect(badge).to_have_text("1")
    page.click("nav >> text=收件箱")
    item = page.locator(".notification")
    expect(item).to_have_count(1)
    expect(item).to_have_class(re.compile(r"\bunread\b"))
    expect(item.locator("h2")).to_contain_text("空气质量场景: 示例市空气质量日报")
    expect(item.locator(".meta")).to_contain_text("数据集更新")
    expect(item.get_by_role("link", name="数据集")).to_have_attribute(
        "href", f"/datasets/{dataset_id}"
    )
    expect(item.get_by_role("link", name="场景")).to_have_attribute(
        "href", f"/scenarios/{scenario_id}"
    )
    screenshot(page, "inbox")

    login(phone_page, live_server, user.email)
    phone_page.goto(live_server.url("/inbox"))
    expect(phone_page.locator(".notification.unread")).to_have_count(1)
    no_sideways_scroll(phone_page, "/inbox")
    screenshot(phone_page, "inbox-phone")

    item.locator("button.mark-read").click()
    expect(page.locator(".notification")).not_to_have_class(re.compile(r"\bunread\b"))
    expect(badge).to_have_count(0)
    page.click("text=仅未读")
    expect(page.locator(".no-results")).to_have_text("没有未读通知。")
    page.get_by_role("link", name="全部", exact=True).click()
    page.locator(".notification").get_by_role("link", name="数据集").click()
    expect(page.locator("h1")).to_contain_text("示例市空气质量日报")
