"""Page details through the test client: translated text in attributes, the shortcuts
(save a search as a scenario, pin a dataset), the subscribe state, register keeping
`next`, paging past the end, notes for conditionally open datasets."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from subscribe.auth import services as auth
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.notify import services as notify
from subscribe.scenarios import services as scenarios
from tests.search_helpers import load_catalogs
from tests.test_web import PASSWORD, csrf_from, login

ATTRIBUTE_NAME = re.compile(r"^[a-z][a-z0-9_:.-]*$")


class Attributes(HTMLParser):
    """Every attribute of every tag, as the browser's parser would split them."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        self.found.extend((tag, name, value) for name, value in attrs)


def attributes(html: str) -> list[tuple[str, str, str | None]]:
    parser = Attributes()
    parser.feed(html)
    return parser.found


@pytest.fixture
def catalog_loaded(app, httpserver):
    load_catalogs(httpserver)


@pytest.fixture
def alice(app):
    return auth.create_user("alice@example.org", PASSWORD)


def text(response) -> str:
    return response.get_data(as_text=True)


def first_dataset(identifier: str | None = None) -> Dataset:
    query = select(Dataset).order_by(Dataset.id)
    if identifier:
        query = query.where(Dataset.identifier == identifier)
    return db.session.scalars(query).first()


@pytest.mark.parametrize(
    ("language", "hint"),
    [("zh", '例如：空气质量、公交站点、"日报" -草稿'),
     ("en", 'e.g. air quality, 公交站点, "daily report" -draft')],
)  # fmt: skip
def test_the_search_hint_is_whole_in_both_languages(client, language, hint):
    client.set_cookie("lang", language)
    found = attributes(text(client.get("/")))
    assert ("input", "placeholder", hint) in found
    assert all(ATTRIBUTE_NAME.match(name) for _tag, name, _value in found), found


@pytest.mark.parametrize("language", ["zh", "en"])
def test_no_translated_text_breaks_an_attribute_on_any_page(
    client, catalog_loaded, alice, language
):
    """The kind of the broken hint: every attribute on the main pages parses as one."""
    scenario = scenarios.create_scenario(alice, {"name": '引号"场景', "q": "空气", "filters": {},
                                                 "include": [], "exclude": []})  # fmt: skip
    dataset_id = first_dataset().id
    client.set_cookie("lang", language)
    pages = ["/", "/?q=空气&open_type=unconditional", f"/datasets/{dataset_id}", "/login",
             "/register"]  # fmt: skip
    for path in pages:
        bad = [(t, n) for t, n, _v in attributes(text(client.get(path))) if not ATTRIBUTE_NAME.match(n)]  # fmt: skip
        assert not bad, f"{path}: {bad}"
    login(client, alice.email)
    pages = pages[:3]
    pages += ["/scenarios", "/scenarios/new", f"/scenarios/{scenario.id}", "/subscriptions",
              "/subscriptions/new", "/webhooks", "/inbox", f"/scenarios/{scenario.id}/timeline",
              f"/scenarios/{scenario.id}/bundles", f"/datasets/{dataset_id}"]  # fmt: skip
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        bad = [(t, n) for t, n, _v in attributes(text(response)) if not ATTRIBUTE_NAME.match(n)]
        assert not bad, f"{path}: {bad}"


def test_chinese_pages_use_the_full_width_colon(client, catalog_loaded, alice):
    scenarios.create_scenario(alice, {"name": "空气", "q": "空气", "filters": {},
                                      "include": [], "exclude": []})  # fmt: skip
    login(client, alice.email)
    page = text(client.get("/scenarios"))
    assert "搜索词：空气" in page and "搜索词: " not in page
    client.set_cookie("lang", "en")
    assert "Words: 空气" in text(client.get("/scenarios"))


def test_save_as_scenario_carries_the_query_and_filters(client, catalog_loaded):
    page = text(client.get("/?q=空气&open_type=unconditional&sort=newest&page=1"))
    link = re.search(r'id="save-as-scenario" href="([^"]+)"', page).group(1)
    url = urlsplit(link.replace("&amp;", "&"))
    assert url.path == "/scenarios/new"
    assert parse_qs(url.query) == {"q": ["空气"], "open_type": ["unconditional"]}
    assert 'id="save-as-scenario"' not in text(client.get("/"))  # nothing to save


def test_pin_a_dataset_from_its_page(client, catalog_loaded, alice):
    mine = scenarios.create_scenario(alice, {"name": "我的", "q": "天气", "filters": {},
                                             "include": [], "exclude": []})  # fmt: skip
    dataset = first_dataset()
    scenarios.update_scenario(mine, {"exclude": [dataset.id]})
    bob = auth.create_user("bob@example.org", PASSWORD)
    theirs = scenarios.create_scenario(bob, {"name": "别人的", "q": "", "filters": {},
                                             "include": [], "exclude": []})  # fmt: skip
    login(client, alice.email)
    page = text(client.get(f"/datasets/{dataset.id}"))
    assert "别人的" not in page and f'<option value="{mine.id}">我的</option>' in page
    token = csrf_from(client.get(f"/datasets/{dataset.id}").data)

    assert client.post(f"/datasets/{dataset.id}/pin", data={"scenario_id": mine.id}).status_code == 400  # fmt: skip
    response = client.post(f"/datasets/{dataset.id}/pin",
                           data={"scenario_id": mine.id, "csrf_token": token})  # fmt: skip
    assert response.status_code == 302 and response.location.endswith(f"/datasets/{dataset.id}")
    db.session.refresh(mine)
    assert mine.include == [dataset.id] and mine.exclude == []
    page = text(client.get(f"/datasets/{dataset.id}"))
    assert "已纳入场景“我的”。" in page and "已纳入您的场景：" in page

    other = client.post(f"/datasets/{dataset.id}/pin",
                        data={"scenario_id": theirs.id, "csrf_token": token})  # fmt: skip
    assert other.status_code == 404
    assert client.post(f"/datasets/{dataset.id}/pin",
                       data={"scenario_id": "x", "csrf_token": token}).status_code == 302  # fmt: skip
    # Ids past what the database holds were a driver overflow (500): no such scenario.
    for huge in ("99999999999999999999", "2147483648", "²"):
        refused = client.post(f"/datasets/{dataset.id}/pin",
                              data={"scenario_id": huge, "csrf_token": token})  # fmt: skip
        assert refused.status_code == 302, huge
    assert client.post("/datasets/999999/pin",
                       data={"scenario_id": mine.id, "csrf_token": token}).status_code == 404  # fmt: skip


def test_pages_show_the_subscribe_state(client, catalog_loaded, alice):
    dataset = first_dataset()
    scenario = scenarios.create_scenario(alice, {"name": "空气", "q": "空气", "filters": {},
                                                 "include": [], "exclude": []})  # fmt: skip
    login(client, alice.email)
    assert "已订阅" not in text(client.get(f"/datasets/{dataset.id}"))
    assert "已订阅" not in text(client.get(f"/scenarios/{scenario.id}"))
    for target in ({"dataset_id": dataset.id}, {"scenario_id": scenario.id}):
        notify.create_subscription(alice, {**target, "channel": "inbox",
                                           "events": ["dataset.updated"]})  # fmt: skip
    assert "✓ 已订阅（收件箱）" in text(client.get(f"/datasets/{dataset.id}"))
    assert "✓ 已订阅（收件箱）" in text(client.get(f"/scenarios/{scenario.id}"))


def test_register_keeps_where_the_visitor_was_going(client, catalog_loaded):
    target = "/subscriptions/new?dataset_id=1"
    login_page = text(client.get("/login?next=" + target.replace("?", "%3F").replace("=", "%3D")))
    assert 'href="/register?next=/subscriptions/new?dataset_id%3D1"' in login_page
    register_page = client.get("/register?next=%2Fsubscriptions%2Fnew%3Fdataset_id%3D1")
    assert f'name="next" value="{target}"' in text(register_page)
    form = {"email": "new@example.org", "password": PASSWORD, "password_confirm": PASSWORD,
            "next": target, "csrf_token": csrf_from(register_page.data)}  # fmt: skip
    response = client.post("/register", data=form)
    assert response.status_code == 302 and response.location == target
    evil = client.get("/register?next=https://evil.example/")  # signed in now: sent on
    assert evil.status_code == 302 and evil.location == "/"


def test_paging_past_the_end_says_so(client, catalog_loaded):
    page = text(client.get("/?page=999"))
    assert "没有第 999 页" in page and "前往最后一页" in page
    assert "没有匹配的数据集" not in page


def test_conditional_and_deleted_datasets(client, catalog_loaded):
    conditional = db.session.scalars(select(Dataset).where(Dataset.open_type == "conditional")).first()  # fmt: skip
    assert conditional is not None
    assert "使用这些文件前需向发布单位申请" in text(client.get(f"/datasets/{conditional.id}"))
    # One whose raw text is the label itself (a 無條件開放 row shows its raw text beside it).
    plain = db.session.scalars(
        select(Dataset)
        .where(Dataset.open_type == "unconditional", Dataset.open_type_raw == "无条件开放")
        .order_by(Dataset.id)
    ).first()
    page = text(client.get(f"/datasets/{plain.id}"))
    assert "需向发布单位申请" not in page and "无条件开放 <span" not in page
    from subscribe.models_base import utcnow

    plain.deleted_at = utcnow()
    db.session.commit()
    assert 'id="subscribe-dataset"' not in text(client.get(f"/datasets/{plain.id}"))


def test_intervals_read_as_people_say_them(app):
    from subscribe.web.operators import every, schedule_text

    with app.test_request_context("/"):
        assert [every(3600), every(600), every(86400 * 2), every(45)] == [
            "每小时", "每 10 分钟", "每 2 天", "每 45 秒"
        ]  # fmt: skip
        assert schedule_text("every 600s") == "每 10 分钟"
        assert schedule_text("cron 5 * * * *") == "cron 5 * * * *"


def test_macros_get_the_colon_too(client, alice):
    """The query chip is drawn by an imported macro (no template context there)."""
    scenario = scenarios.create_scenario(alice, {"name": "水", "q": "水质", "filters": {},
                                                 "include": [], "exclude": []})  # fmt: skip
    login(client, alice.email)
    assert "搜索词：水质" in text(client.get(f"/scenarios/{scenario.id}"))
