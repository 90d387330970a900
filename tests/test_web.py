"""The web pages through the test client: CSRF, headers, escaping, errors, languages."""

from __future__ import annotations

import re
import shutil

import pytest
from flask import Blueprint
from sqlalchemy import select

from subscribe.auth import services as auth
from subscribe.catalog import services as catalog
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.search import indexer
from subscribe.search.service import get_service
from subscribe.web import i18n, labels
from subscribe.web.access import login_required, operator_required
from tests.search_helpers import harvest, serve

HTML = {"Accept": "text/html"}
PASSWORD = "correct horse battery"
HEADERS = (
    "目录编号,目录名称,数源单位,数据领域,更新周期,开放属性,资源格式,更新时间,数据摘要,关键字\n"
)
EVIL_TITLE = '<script>alert("x")</script>坏标题'


def csrf_from(page: bytes) -> str:
    return re.search(rb'name="csrf-token" content="([^"]+)"', page).group(1).decode()


def login(client, email: str, password: str = PASSWORD, **extra):
    token = csrf_from(client.get("/login").data)
    form = {"email": email, "password": password, "csrf_token": token, **extra}
    return client.post("/login", data=form)


@pytest.fixture
def evil_dataset(app, httpserver):
    body = (
        HEADERS
        + f'X-1,{EVIL_TITLE},<b>单位</b>,交通出行,每月,无条件开放,CSV,2024-03-01,"<img src=x onerror=alert(1)> 摘要",坏\n'
    )
    url = serve(httpserver, "/evil.csv", body.encode(), "text/csv")
    harvest(catalog.create_source("evil", "tabular", url, mapping={"id_column": "目录编号"}))
    indexer.apply_changes(get_service().store)
    return db.session.scalar(select(Dataset.id).where(Dataset.identifier == "X-1"))


def test_pages_carry_security_headers(client):
    response = client.get("/")
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert client.get("/api/v1/datasets").headers["X-Content-Type-Options"] == "nosniff"


def test_api_docs_page_is_served_from_this_site(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert "script-src 'self' 'unsafe" not in csp  # no inline or eval'd script
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<title>API 文档 · 数据订阅</title>" in page  # in the page language, zh by default
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(url.startswith("/") for url in sources), sources  # no CDN
    assert "<script>" not in page  # the start-up script is a file too
    for url in sources:
        with client.get(url) as asset:
            assert asset.status_code == 200, url
    with client.get("/api/v1/docs/swagger-ui/swagger-ui-bundle.js") as bundle:
        assert bundle.mimetype in ("text/javascript", "application/javascript")
        assert len(bundle.data) > 500_000  # the real Swagger UI, not a placeholder
    assert 'data-spec="/api/v1/openapi.json"' in page
    assert client.get("/api/v1/docs/swagger-ui/../../openapi.json").status_code == 404


def test_favicon_is_served(client):
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/vnd.microsoft.icon"
        assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert 'rel="icon" href="/favicon.ico"' in client.get("/").get_data(as_text=True)


def test_form_post_without_csrf_token_is_refused(client):
    auth.create_user("a@example.org", PASSWORD)
    client.get("/login")  # the session has a token; the form below does not send it
    response = client.post("/login", data={"email": "a@example.org", "password": PASSWORD})
    assert response.status_code == 400
    assert "表单已过期" in response.get_data(as_text=True)
    assert client.post("/logout").status_code == 400
    wrong = client.post("/login", data={"email": "a@example.org", "password": PASSWORD,
                                        "csrf_token": "forged"})  # fmt: skip
    assert wrong.status_code == 400


def test_web_login_starts_the_session_the_api_reads(client):
    auth.create_user("a@example.org", PASSWORD)
    response = login(client, "a@example.org")
    assert response.status_code == 302
    assert client.get("/api/v1/auth/me").json["email"] == "a@example.org"
    token = csrf_from(client.get("/").data)
    created = client.post("/api/v1/webhooks", json={"url": "https://example.org/hook"},
                          headers={"X-CSRF-Token": token})  # fmt: skip
    assert created.status_code == 201, created.json
    logout = client.post("/logout", data={"csrf_token": token})
    assert logout.status_code == 302
    assert client.get("/api/v1/auth/me").status_code == 401


def test_login_never_redirects_off_site(client):
    auth.create_user("a@example.org", PASSWORD)
    for target in ("//evil.example", "https://evil.example/x", "/\\evil.example"):
        response = login(client, "a@example.org", next=target)
        assert response.headers["Location"] == "/", target
    response = login(client, "a@example.org", next="/datasets/1?page=2")
    assert response.headers["Location"] == "/datasets/1?page=2"


@pytest.mark.own_app
def test_login_required_and_operator_required(app, client):
    pages = Blueprint("guarded", __name__)
    pages.add_url_rule("/guarded", "mine", login_required(lambda: "mine"))
    pages.add_url_rule("/ops-only", "ops", operator_required(lambda: "ops"))
    app.register_blueprint(pages)
    response = client.get("/guarded?x=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/guarded?x%3D1"
    auth.create_user("a@example.org", PASSWORD)
    login(client, "a@example.org")
    assert client.get("/guarded").get_data(as_text=True) == "mine"
    assert client.get("/ops-only", headers=HTML).status_code == 403


def test_user_content_is_escaped(client, evil_dataset):
    page = client.get("/?q=坏标题").get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page
    assert "<mark>坏标题</mark>" in page  # the one tag highlights may carry
    detail = client.get(f"/datasets/{evil_dataset}")
    text = detail.get_data(as_text=True)
    assert detail.status_code == 200
    assert "<script>alert" not in text and "<b>单位</b>" not in text
    assert "&lt;script&gt;alert" in text and "&lt;b&gt;单位&lt;/b&gt;" in text


def test_unknown_dataset_is_a_404_page_and_still_json_in_the_api(client):
    page = client.get("/datasets/999999")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    assert "未找到" in page.get_data(as_text=True)
    assert client.get("/api/v1/datasets/999999").json["code"] == 404


def test_unrouted_paths_answer_browsers_in_html_and_others_in_json(client):
    assert client.get("/no-such-page", headers=HTML).mimetype == "text/html"
    assert client.get("/no-such-page").json["code"] == 404


def test_chinese_by_default_english_by_choice(client):
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "<h1>登录</h1>" in page.get_data(as_text=True)  # Accept-Language does not count
    switched = client.get("/login?lang=en&next=/x")
    assert switched.status_code == 302
    assert switched.headers["Location"] == "/login?next=%2Fx"
    assert "<h1>Log in</h1>" in client.get("/login").get_data(as_text=True)
    client.get("/login?lang=zh")
    assert "<h1>登录</h1>" in client.get("/login").get_data(as_text=True)


def test_search_page_ignores_bad_arguments(client):
    response = client.get("/search?page=-3&sort=sideways&open_type=nonsense&per_page=9999")
    assert response.status_code == 200


def test_translations_compile_into_the_instance_without_make(app, tmp_path, monkeypatch):
    package = tmp_path / "package"
    shutil.copytree(i18n.PACKAGE_TRANSLATIONS, package, ignore=shutil.ignore_patterns("*.mo"))
    monkeypatch.setattr(i18n, "PACKAGE_TRANSLATIONS", package)
    directory = i18n.translations_directory(app)
    assert directory == tmp_path / "instance" / "translations"
    assert (directory / "zh" / "LC_MESSAGES" / "messages.mo").stat().st_size > 0


def test_every_label_table_the_templates_name_exists():
    templates = i18n.PACKAGE_TRANSLATIONS.parent / "web" / "templates"
    source = "".join(path.read_text() for path in templates.rglob("*.html"))
    named = set(re.findall(r'(?:label\(|table=)"([A-Z_]+)"', source))
    assert {"EVENT_TYPES", "FRESHNESS", "RUN_STATUSES"} <= named  # the pattern finds them
    assert named <= set(labels.TABLES), named - set(labels.TABLES)
    assert labels.label("daily", "FREQUENCIES") != "daily"
    assert labels.label("no-such-code", "FREQUENCIES") == "no-such-code"
    with pytest.raises(KeyError):
        labels.label("daily", "FREQUENCY")
