"""Browser tests: the app on a real server, driven by Debian's chromium through Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium. Without it
(or without the playwright package) these tests are skipped, and the run says so at the
end; with SUBSCRIBE_REQUIRE_BROWSER=1 (CI) a missing browser is a failure instead.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask, current_app
from flask_migrate import upgrade
from pytest_httpserver import HTTPServer
from werkzeug.serving import make_server

from subscribe import create_app
from subscribe.catalog import services as catalog
from subscribe.extensions import db
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.conftest import BROWSER_SKIPPED
from tests.search_helpers import CHINESE_CSV, harvest

CHROMIUM = Path("/usr/bin/chromium")
# The machine has no internet: without these chromium keeps trying to reach Google.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
REQUIRE_ENV = "SUBSCRIBE_REQUIRE_BROWSER"


def _missing_browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401  (an optional test dependency)
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"no chromium at {CHROMIUM} (apt-get install chromium fonts-noto-cjk)"
    return None


@pytest.fixture(scope="session")
def browser():
    reason = _missing_browser()
    if reason:
        if os.environ.get(REQUIRE_ENV, "").strip() == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
        pytest.skip(f"{BROWSER_SKIPPED}{reason}")  # tests/conftest.py reports it at the end
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh page in its own context (no cookies from other tests), desktop size."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def phone_page(browser):
    """The same on a phone-sized screen with touch."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@dataclass
class LiveServer:
    app: Flask
    base_url: str

    def url(self, path: str = "/") -> str:
        return self.base_url + path


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, browser):
    """The app served by werkzeug in a thread (Playwright's sync API keeps the main
    thread), on a migrated SQLite file, with the Chinese catalog harvested and indexed.
    It depends on `browser` so that nothing starts when the browser tests are skipped."""
    folder = tmp_path_factory.mktemp("live")
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'live.db'}",
            "INSTANCE_PATH": str(folder / "instance"),
            "SECRET_KEY": "browser-tests",
            "SUBSCRIBE_HTTP_RETRIES": 0,
            # Every test logs in through the form: the per-address limits would trip.
            "SUBSCRIBE_LIMIT_LOGIN": "10000 per minute",
            "SUBSCRIBE_LIMIT_REGISTER": "10000 per minute",
        }
    )
    with app.app_context():
        upgrade()
        seed_catalog()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
        with app.app_context():
            app.extensions["search"].close()
            db.engine.dispose()


# A second edition of the Chinese catalog: one dataset's description and formats change,
# so its page has a version history with a diff.
CHANGED_ROW = ("HJ-001,", "各监测站点空气质量指数AQI及首要污染物的日报数据", '"[csv,json]"')


def seed_catalog() -> None:
    """Harvest tests/fixtures/search/chinese_catalog.csv twice (the second time with one
    dataset changed) over loopback, then index: the real harvest path, no shortcuts."""
    original = CHINESE_CSV.read_text(encoding="utf-8")
    changed = original.replace(
        CHANGED_ROW[1], "各监测站点空气质量指数AQI、PM2.5浓度及首要污染物的日报数据"
    ).replace(CHANGED_ROW[2], '"[csv,json,xlsx]"', 1)
    assert changed != original
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    # The harvest fetches through the SSRF guard: loopback let in for the seeding only
    # (the pages' own guard tests see the default list).
    config = current_app.config
    allowlist = config["SUBSCRIBE_OUTBOUND_ALLOWLIST"]
    config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1"]
    try:
        server.expect_request("/v1.csv").respond_with_data(original, content_type="text/csv")
        server.expect_request("/v2.csv").respond_with_data(changed, content_type="text/csv")
        source = catalog.create_source(
            "city", "tabular", server.url_for("/v1.csv"), mapping={"id_column": "目录编号"}
        )
        harvest(source)
        catalog.update_source(source, {"url": server.url_for("/v2.csv")})
        harvest(source)
    finally:
        config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = allowlist
        server.clear()
        server.stop()
    indexer.apply_changes(get_service().store)
