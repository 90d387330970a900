"""Subscription, webhook and inbox pages through the test client (both backends)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event, select

from subscribe.auth import services as auth
from subscribe.catalog import services as catalog
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.notify import services as notify
from subscribe.notify.models import Notification, Subscription, WebhookEndpoint
from subscribe.notify.ssrf import OutboundPolicy
from subscribe.scenarios import services as scenarios
from tests.search_helpers import harvest, serve
from tests.test_web import HTML, PASSWORD, csrf_from, login

EVIL = '<script>alert("x")</script>'
CSV = "目录编号,目录名称,数源单位,数据领域,更新周期,开放属性,资源格式,更新时间,数据摘要,关键字\n"


@pytest.fixture
def me(app, client):
    user = auth.create_user("me@example.org", PASSWORD)
    login(client, "me@example.org")
    return user


@pytest.fixture
def other(app):
    """Someone else, with one of each thing the pages show."""
    user = auth.create_user("other@example.org", PASSWORD)
    endpoint = notify.create_endpoint(user, "https://other.example/hook")
    scenario = scenarios.create_scenario(user, {"name": "别人的场景"})
    subscription = notify.create_subscription(
        user, {"scenario_id": scenario.id, "channel": "inbox", "events": ["dataset.updated"]}
    )
    note = Notification(user_id=user.id, type="dataset.updated", title="别人的通知")
    db.session.add(note)
    db.session.commit()
    return {"endpoint": endpoint.id, "subscription": subscription.id, "notification": note.id}


@pytest.fixture
def dataset_id(app, httpserver):
    body = CSV + f"D-1,{EVIL}公交站点,交通局,交通出行,每月,无条件开放,CSV,2024-03-01,摘要,公交\n"
    url = serve(httpserver, "/one.csv", body.encode(), "text/csv")
    harvest(catalog.create_source("one", "tabular", url, mapping={"id_column": "目录编号"}))
    return db.session.scalar(select(Dataset.id).where(Dataset.identifier == "D-1"))


def token(client) -> str:
    return csrf_from(client.get("/subscriptions").data)


def text(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path", ["/subscriptions", "/subscriptions/new?scenario_id=1", "/subscriptions/1/edit",
             "/webhooks", "/webhooks/1", "/inbox?unread=1"],
)  # fmt: skip
def test_signed_out_visitors_are_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/")


def test_other_users_things_are_404_pages(client, me, other):
    form = {"csrf_token": token(client)}
    for path in (f"/subscriptions/{other['subscription']}/edit", f"/webhooks/{other['endpoint']}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "text/html" and "未找到" in text(response)
    for path in (
        f"/subscriptions/{other['subscription']}/delete",
        f"/subscriptions/{other['subscription']}/edit",
        f"/webhooks/{other['endpoint']}",
        f"/webhooks/{other['endpoint']}/ping",
        f"/webhooks/{other['endpoint']}/rotate",
        f"/webhooks/{other['endpoint']}/delete",
        f"/webhooks/{other['endpoint']}/deliveries/msg_x/resend",
        f"/inbox/{other['notification']}/read",
    ):
        assert client.post(path, data=form).status_code == 404, path
    # Nothing of theirs shows up in my lists, and nothing was changed.
    assert "other.example" not in text(client.get("/webhooks"))
    assert "别人的通知" not in text(client.get("/inbox"))
    assert db.session.get(Notification, other["notification"]).read_at is None
    assert db.session.get(Subscription, other["subscription"]) is not None


def test_forms_without_the_csrf_token_are_refused(client, me):
    client.get("/webhooks")
    response = client.post("/webhooks", data={"url": "https://example.org/hook"})
    assert response.status_code == 400
    assert client.post("/inbox/read-all").status_code == 400
    assert client.post("/subscriptions/new", data={"channel": "inbox"}).status_code == 400
    assert db.session.scalar(select(WebhookEndpoint.id)) is None


def test_subscribe_to_a_scenario_edit_and_unsubscribe(client, me):
    scenario = scenarios.create_scenario(me, {"name": "公交场景"})
    endpoint = notify.create_endpoint(me, "https://example.org/hook")
    page = text(client.get(f"/subscriptions/new?scenario_id={scenario.id}"))
    assert f'<option value="{scenario.id}" selected>公交场景</option>' in page
    assert 'value="Asia/Shanghai"' in page
    form = {"csrf_token": token(client), "scenario_id": scenario.id, "channel": "webhook",
            "endpoint_id": endpoint.id, "events": ["dataset.created", "dataset.deleted"],
            "cadence": "weekly", "hour": "7", "weekday": "4", "timezone": "Asia/Shanghai",
            "push": "bundle"}  # fmt: skip
    created = client.post("/subscriptions/new", data=form)
    assert created.status_code == 302, text(created)
    subscription = db.session.scalar(select(Subscription).where(Subscription.user_id == me.id))
    assert (subscription.channel, subscription.endpoint_id, subscription.cadence) == (
        "webhook", endpoint.id, "weekly")  # fmt: skip
    assert subscription.events == ["dataset.created", "dataset.deleted"]
    assert (subscription.hour, subscription.weekday, subscription.push) == (7, 4, "bundle")
    listing = text(client.get("/subscriptions"))
    assert "公交场景" in listing and "https://example.org/hook" in listing
    assert "每周摘要" in listing and "星期五 07:00 (Asia/Shanghai)" in listing

    edit = {**form, "channel": "email", "cadence": "immediate", "events": ["dataset.updated"]}
    del edit["scenario_id"]  # the target is fixed once subscribed; "active" unticked pauses
    assert client.post(f"/subscriptions/{subscription.id}/edit", data=edit).status_code == 302
    db.session.refresh(subscription)
    assert (subscription.channel, subscription.endpoint_id, subscription.active) == (
        "email", None, False)  # fmt: skip
    assert "已暂停" in text(client.get("/subscriptions"))

    gone = client.post(
        f"/subscriptions/{subscription.id}/delete", data={"csrf_token": form["csrf_token"]}
    )
    assert gone.status_code == 302
    assert db.session.get(Subscription, subscription.id) is None


def test_bad_subscription_forms_show_field_errors(client, me):
    scenario = scenarios.create_scenario(me, {"name": "场景"})
    form = {"csrf_token": token(client), "scenario_id": scenario.id, "channel": "webhook",
            "cadence": "daily", "hour": "25", "weekday": "0", "timezone": "Mars/Olympus",
            "push": "alert"}  # fmt: skip
    response = client.post("/subscriptions/new", data=form)
    assert response.status_code == 422
    page = text(response)
    assert 'id="events-error"' in page and 'id="timezone-error"' in page
    assert 'id="hour-error"' in page
    # Past the schema, the service's own check: a webhook needs one of my endpoints.
    fixed = {**form, "hour": "9", "timezone": "Asia/Shanghai", "events": ["dataset.updated"]}
    response = client.post("/subscriptions/new", data=fixed)
    assert response.status_code == 422
    assert 'id="endpoint_id-error"' in text(response)
    other_scenario = scenarios.create_scenario(
        auth.create_user("x@example.org", PASSWORD), {"name": "x"}
    )
    response = client.post("/subscriptions/new", data={**fixed, "channel": "inbox",
                                                       "scenario_id": other_scenario.id})  # fmt: skip
    assert response.status_code == 422 and 'id="scenario_id-error"' in text(response)
    assert client.post("/subscriptions/new", data={**fixed, "channel": "nonsense",
                                                  "scenario_id": "abc"}).status_code == 422  # fmt: skip
    assert db.session.scalar(select(Subscription.id)) is None


def test_subscribe_to_a_dataset_from_its_page(client, me, dataset_id):
    page = text(client.get(f"/datasets/{dataset_id}"))
    assert f'href="/subscriptions/new?dataset_id={dataset_id}"' in page
    form_page = text(client.get(f"/subscriptions/new?dataset_id={dataset_id}"))
    assert "&lt;script&gt;alert" in form_page and EVIL not in form_page
    form = {"csrf_token": token(client), "dataset_id": dataset_id, "channel": "inbox",
            "events": ["dataset.updated"], "cadence": "immediate", "hour": "8", "weekday": "0",
            "timezone": "", "push": "alert"}  # fmt: skip
    assert client.post("/subscriptions/new", data=form).status_code == 302
    subscription = db.session.scalar(select(Subscription))
    assert (subscription.dataset_id, subscription.timezone) == (dataset_id, "Asia/Shanghai")
    listing = text(client.get("/subscriptions"))
    assert f'href="/datasets/{dataset_id}"' in listing and EVIL not in listing
    assert client.get("/subscriptions/new?dataset_id=999999").status_code == 404


def test_new_endpoint_shows_its_secret_once(client, me):
    page = text(client.get("/webhooks"))
    once = re.search(r'name="once" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf_from(page.encode()), "once": once,
            "url": "https://example.org/hook", "description": EVIL}  # fmt: skip
    response = client.post("/webhooks", data=form)
    endpoint = db.session.scalar(select(WebhookEndpoint))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert endpoint.secret in text(response) and endpoint.secret.startswith("whsec_")
    # The browser's "send the form again?" must not make another endpoint or show a secret.
    again = client.post("/webhooks", data=form)
    assert again.status_code == 302 and "whsec_" not in text(again)
    assert db.session.scalar(select(db.func.count(WebhookEndpoint.id))) == 1
    shown = text(client.get(f"/webhooks/{endpoint.id}"))
    assert endpoint.secret not in shown and "whsec_" not in shown
    assert EVIL not in shown and "&lt;script&gt;" in shown
    assert "&lt;script&gt;" in text(client.get("/webhooks"))


def test_bad_endpoint_forms_show_field_errors(client, me):
    page = text(client.get("/webhooks"))
    form = {"csrf_token": csrf_from(page.encode()), "url": "javascript:alert(1)", "once": "x"}
    response = client.post("/webhooks", data=form)
    assert response.status_code == 422 and 'id="url-error"' in text(response)
    endpoint = notify.create_endpoint(me, "https://example.org/hook")
    response = client.post(f"/webhooks/{endpoint.id}", data={**form, "url": "ftp://x"})
    assert response.status_code == 422 and 'id="url-error"' in text(response)
    response = client.post(f"/webhooks/{endpoint.id}/recover", data={**form, "since": "yesterday"})
    assert response.status_code == 422 and 'id="since-error"' in text(response)
    # The first moment there is, in the pages' zone (UTC+8): its UTC is off the calendar.
    for edge in ("0001-01-01T00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"):
        response = client.post(f"/webhooks/{endpoint.id}/recover", data={**form, "since": edge})
        assert response.status_code == 302, edge
    assert db.session.get(WebhookEndpoint, endpoint.id).url == "https://example.org/hook"


def test_rotate_shows_the_new_secret_and_the_grace_period(client, me):
    endpoint = notify.create_endpoint(me, "https://example.org/hook")
    old = endpoint.secret
    page = text(client.get(f"/webhooks/{endpoint.id}"))
    once = re.search(r'name="once" value="([^"]+)"', page).group(1)
    form = {"csrf_token": csrf_from(page.encode()), "once": once}
    response = client.post(f"/webhooks/{endpoint.id}/rotate", data=form)
    db.session.refresh(endpoint)
    assert endpoint.secret != old and endpoint.previous_secret == old
    assert endpoint.secret in text(response) and old not in text(response)
    assert "24 小时" in text(response)
    assert client.post(f"/webhooks/{endpoint.id}/rotate", data=form).status_code == 302


def test_ping_shows_the_attempt_and_resend_queues_it(app, client, me, httpserver):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1"]
    httpserver.expect_request("/hook", method="POST").respond_with_data(f"ok {EVIL}")
    endpoint = notify.create_endpoint(me, httpserver.url_for("/hook"))
    form = {"csrf_token": token(client)}
    response = client.post(f"/webhooks/{endpoint.id}/ping", data=form)
    assert response.status_code == 302
    message_id = re.search(r"opened=(msg_\w+)", response.headers["Location"]).group(1)
    page = text(client.get(response.headers["Location"]))
    assert "HTTP 200" in page  # the flash
    assert f'id="delivery-{message_id}"' in page and "<details open>" in page
    assert "ok &lt;script&gt;alert" in page and EVIL not in page
    resent = client.post(f"/webhooks/{endpoint.id}/deliveries/{message_id}/resend", data=form)
    assert resent.status_code == 302
    page = text(client.get(resent.headers["Location"]))
    assert 'data-status="pending"' in page


def test_ping_refused_by_the_outbound_guard_is_shown_not_raised(client, me):
    # Allowed when it was made, refused when sent (the allow-list changed, or the DNS did).
    endpoint = notify.create_endpoint(me, "http://127.0.0.1:9/hook",
                                      policy=OutboundPolicy(["127.0.0.1"]))  # fmt: skip
    response = client.post(f"/webhooks/{endpoint.id}/ping", data={"csrf_token": token(client)})
    page = text(client.get(response.headers["Location"]))
    assert "flash-error" in page and 'data-status="failed"' in page


def test_inbox_lists_filters_and_marks_read(client, me, dataset_id):
    payload = {"type": "dataset.updated", "data": {"dataset": {"id": dataset_id}}}
    for title in ("第一条", f"第二条{EVIL}"):
        db.session.add(Notification(user_id=me.id, type="dataset.updated", title=title,
                                    payload=payload))  # fmt: skip
    db.session.add(Notification(user_id=me.id, type="bundle.ready", title="数据包",
                                payload={"data": {"bundle": {"id": 7, "download_url": "javascript:x"}}}))  # fmt: skip
    db.session.commit()
    page = text(client.get("/inbox"))
    assert page.index("数据包") < page.index("第二条") < page.index("第一条")  # newest first
    assert EVIL not in page and "&lt;script&gt;" in page
    assert f'href="/datasets/{dataset_id}"' in page and 'href="/bundles/7"' in page
    assert "javascript:x" not in page
    assert re.search(r'class="badge unread-count"[^>]*>3<', page)
    first = db.session.scalar(select(Notification.id).where(Notification.title == "第一条"))
    form = {"csrf_token": csrf_from(page.encode()), "next": "/inbox?unread=1"}
    response = client.post(f"/inbox/{first}/read", data=form)
    assert response.headers["Location"] == "/inbox?unread=1"
    unread = text(client.get("/inbox?unread=1"))
    assert "第一条" not in unread and "第二条" in unread
    assert re.search(r'class="badge unread-count"[^>]*>2<', unread)
    assert client.post("/inbox/read-all", data={**form, "next": "//evil.example"}).headers[
        "Location"] == "/inbox"  # fmt: skip
    page = text(client.get("/inbox"))
    assert "unread-count" not in page and 'class="result notification unread"' not in page


def test_nav_badge_is_not_shown_to_signed_out_visitors(client):
    page = text(client.get("/", headers=HTML))
    assert "/inbox" not in page and "unread-count" not in page


def test_pages_show_times_in_the_display_time_zone(app, client, me):
    from datetime import datetime

    # Stored as naive UTC: 20:30 on New Year's Day in UTC is 04:30 the next day in Shanghai.
    db.session.add(Notification(user_id=me.id, type="dataset.updated", title="时区",
                                created_at=datetime(2026, 1, 1, 20, 30)))  # fmt: skip
    db.session.commit()
    page = text(client.get("/inbox"))
    assert "04:30" in page and "20:30" not in page


def test_bundle_ready_is_titled_in_the_pages_language(app, client, me):
    payload = {"type": "bundle.ready", "data": {"scenario": {"id": 1, "name": "城市数据"},
                                                 "bundle": {"id": 3, "file_count": 26}}}  # fmt: skip
    db.session.add(Notification(user_id=me.id, type="bundle.ready", title="stored title", payload=payload))  # fmt: skip
    db.session.commit()
    assert "城市数据: 数据包已就绪：26 个文件" in text(client.get("/inbox"))
    client.get("/inbox?lang=en")
    assert "城市数据: Bundle ready: 26 files" in text(client.get("/inbox"))


def test_the_unread_count_runs_once_per_signed_in_page_only(app, client, me):
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    def unread_counts(path: str) -> int:
        statements.clear()
        with client.get(path, headers=HTML) as response:  # closes the static file
            assert response.status_code == 200, path
        return sum(1 for s in statements if "FROM notifications" in s and "read_at IS NULL" in s)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert unread_counts("/subscriptions") == 1  # the nav badge, once per render
        assert unread_counts("/") == 1
        assert unread_counts("/assets/app.css") == 0
        assert unread_counts("/api/v1/auth/me") == 0
        client.post("/logout", data={"csrf_token": token(client)})
        assert unread_counts("/") == 0
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


@pytest.mark.parametrize(
    "path", ["/inbox?page=²", "/webhooks?page=x", "/subscriptions?page=²",
             "/subscriptions/new?dataset_id=²", "/scenarios?page=²", "/scenarios/new?include=²"],
)  # fmt: skip
def test_hand_edited_numbers_in_urls_are_ignored(client, me, path):
    # "²" passes str.isdigit() but not int(): it used to be a 500.
    assert client.get(path).status_code == 200, path


def test_a_failing_delivery_notice_is_said_in_the_page_language(client, me):
    """subscription.failing is stored in the owner's language at the time (Chinese by
    default); the inbox says it in the page's language, with its type's label."""
    from datetime import UTC, datetime

    from subscribe.notify.health import _tell_owner

    scenario = scenarios.create_scenario(me, {"name": "失败的场景"})
    subscription = notify.create_subscription(me, {"scenario_id": scenario.id,
                                                   "channel": "email"})  # fmt: skip
    subscription.failing_since = datetime.now(UTC).replace(tzinfo=None)
    subscription.last_error = "HTTP 500"
    _tell_owner(subscription)
    db.session.commit()
    chinese = text(client.get("/inbox"))
    # (the channel named as every page names it: 邮箱)
    assert f"订阅 #{subscription.id} 发送失败（邮箱）：HTTP 500" in chinese
    client.get("/inbox?lang=en")
    english = text(client.get("/inbox"))
    assert f"Subscription #{subscription.id} cannot deliver (E-mail): HTTP 500" in english
    assert "Delivery failing" in english and "subscription.failing" not in english
    assert "发送失败" not in english


def test_a_source_removed_notice_is_said_in_the_page_language(client, me, httpserver):
    """bb8 F25: the notice of a deleted source, stored in the user's language, is said in
    the page's language, with its type's label."""
    from subscribe.catalog import services as catalog_services
    from subscribe.scenarios.source_removal import tell_source_removed
    from tests.search_helpers import harvest, serve

    body = "目录名称,提供单位,更新周期\n公交线路,市交通局,每月\n公交站点,市交通局,每月\n"
    source = catalog_services.create_source(
        "交通", "tabular", serve(httpserver, "/t.csv", body.encode(), "text/csv")
    )
    harvest(source)
    scenarios.create_scenario(me, {"name": "公交", "q": "公交"})
    assert tell_source_removed(source) == 1
    db.session.commit()
    chinese = text(client.get("/inbox"))
    assert "数据源 交通 已移除：您关注的 2 个数据集随之删除" in chinese
    assert "数据源已移除" in chinese
    client.get("/inbox?lang=en")
    english = text(client.get("/inbox"))
    assert "Source 交通 was removed: 2 datasets you follow are gone" in english
    assert "Source removed" in english
