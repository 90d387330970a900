"""Chat robot pages through the test client (both backends): add, errors, escaping,
someone else's robot, the subscription form, the security fix on the webhook page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subscribe.auth import services as auth
from subscribe.extensions import db
from subscribe.notify import chat_endpoints
from subscribe.notify import services as notify
from subscribe.notify.models import Subscription, WebhookEndpoint
from subscribe.scenarios import services as scenarios
from tests.test_web import PASSWORD, login
from tests.test_web_notify import EVIL, text, token

DINGTALK = "https://robot.example.invalid/robot/send?access_token=abcdef0123456789"


@pytest.fixture
def me(app, client):
    user = auth.create_user("me@example.org", PASSWORD)
    login(client, "me@example.org")
    return user


def test_add_a_robot_its_secret_and_token_never_shown(client, me):
    form = {"csrf_token": token(client), "kind": "dingtalk", "url": DINGTALK,
            "secret": "SECsupersecret", "description": f"值班{EVIL}"}  # fmt: skip
    response = client.post("/chat-endpoints", data=form)
    assert response.status_code == 302
    endpoint = db.session.scalar(select(WebhookEndpoint))
    assert (endpoint.kind, endpoint.secret, endpoint.url) == (
        "dingtalk",
        "SECsupersecret",
        DINGTALK,
    )
    for page in (
        text(client.get(response.headers["Location"])),
        text(client.get("/chat-endpoints")),
    ):
        assert "SECsupersecret" not in page and "abcdef0123456789" not in page
        assert "access_token=abcd…" in page
        assert EVIL not in page and "&lt;script&gt;" in page
    assert "已加签" in text(client.get("/chat-endpoints"))


def test_bad_robot_forms_show_field_errors_and_keep_no_secret(app, client, me):
    base = {"csrf_token": token(client), "secret": "SECkeepout"}
    cases = [
        ({"kind": "dingtalk", "url": "https://robot.example.invalid/robot/send"}, "url-error"),
        ({"kind": "wecom", "url": "https://robot.example.invalid/send?key=k"}, "secret-error"),
        ({"kind": "teams", "url": DINGTALK}, "kind-error"),
        ({"kind": "dingtalk", "url": "http://10.0.0.7/robot/send?access_token=t"}, "url-error"),
    ]
    for fields, error_id in cases:
        response = client.post("/chat-endpoints", data={**base, **fields})
        page = text(response)
        assert response.status_code == 422 and f'id="{error_id}"' in page, fields
        assert "SECkeepout" not in page
    assert (
        "此地址指向内部网络" in page
        and "SUBSCRIBE_OUTBOUND_ALLOWLIST" in page
        and "private" in page
    )
    assert db.session.scalar(select(WebhookEndpoint)) is None


def test_someone_elses_robot_is_404(app, client, me):
    other = auth.create_user("other@example.org", PASSWORD)
    robot = chat_endpoints.create_chat_endpoint(other, "feishu",
                                                "https://x.example.invalid/open-apis/bot/v2/hook/h")  # fmt: skip
    assert client.get(f"/chat-endpoints/{robot.id}").status_code == 404
    form = {"csrf_token": token(client)}
    for action in ("test", "delete", "enable"):
        assert client.post(f"/chat-endpoints/{robot.id}/{action}", data=form).status_code == 404
    hook = notify.create_endpoint(me, "https://example.invalid/hook")
    assert client.get(f"/chat-endpoints/{hook.id}").status_code == 404  # a webhook is not a robot
    mine = chat_endpoints.create_chat_endpoint(me, "wecom", "https://x.example.invalid/s?key=k")
    assert client.get(f"/webhooks/{mine.id}").status_code == 404  # and a robot is not a webhook


def test_subscribe_through_a_robot_and_see_it_in_the_list(client, me):
    robot = chat_endpoints.create_chat_endpoint(me, "wecom", "https://x.example.invalid/s?key=k0123456789",
                                                description="")  # fmt: skip
    scenario = scenarios.create_scenario(me, {"name": "城市空气"})
    page = text(
        client.get(
            f"/subscriptions/new?scenario_id={scenario.id}&channel=wecom&endpoint_id={robot.id}"
        )
    )
    assert 'name="endpoint_id_wecom"' in page and 'value="wecom" checked' in page
    form = {"csrf_token": token(client), "scenario_id": scenario.id, "channel": "wecom",
            "endpoint_id_wecom": robot.id, "endpoint_id": "", "events": ["dataset.updated"],
            "cadence": "daily", "hour": "8", "weekday": "0", "timezone": "Asia/Shanghai",
            "push": "alert"}  # fmt: skip
    assert client.post("/subscriptions/new", data=form).status_code == 302
    subscription = db.session.scalar(select(Subscription))
    assert (subscription.channel, subscription.endpoint_id) == ("wecom", robot.id)
    listed = text(client.get("/subscriptions"))
    assert "企业微信" in listed and "key=k012…" in listed and "k0123456789" not in listed
    # Without a robot of that app: the form says so, on the robot's select.
    response = client.post("/subscriptions/new", data={**form, "channel": "feishu"})
    assert response.status_code == 422 and "请选择您的一个飞书机器人" in text(response)


def test_the_webhook_page_refuses_an_internal_address(app, client, me):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = []  # the default (tests allow loopback)
    page = text(client.get("/webhooks"))
    once = page.split('name="once" value="')[1].split('"')[0]
    form = {"csrf_token": token(client), "url": "http://192.168.0.10/hook", "once": once}
    response = client.post("/webhooks", data=form)
    assert response.status_code == 422 and 'id="url-error"' in text(response)
    assert "192.168.0.10 is a private address" in text(response)
    endpoint = notify.create_endpoint(me, "https://example.invalid/hook")
    response = client.post(f"/webhooks/{endpoint.id}", data={**form, "url": "http://127.0.0.1/x"})
    assert response.status_code == 422 and "loopback" in text(response)
    assert db.session.get(WebhookEndpoint, endpoint.id).url == "https://example.invalid/hook"
