"""Fixtures: an app per test on SQLite and on PostgreSQL, clients, users and tokens."""

from __future__ import annotations

import copy
import gzip
import os
import socket
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask
from flask_migrate import upgrade

from subscribe import create_app
from subscribe.auth import services as auth
from subscribe.config import normalize_database_url
from subscribe.extensions import db, limiter
from subscribe.metrics import init_app as init_metrics
from subscribe.search import service as search_service
from tests.smtp_helpers import start_servers

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DATA = Path(__file__).resolve().parent / "data"
HEALTHDATA_GZ = DATA / "catalogs" / "healthdata.gov.data.json.2019.json.gz"
BACKENDS = ["sqlite", "postgresql"]


# Mail a test sends without its own SMTP server (smtp_server) must go nowhere: not to the
# sink `make run` keeps on the default port 1025, nor to someone's own server there. A
# socket bound but not listening holds a port whose connections are refused for the whole
# run; the environment carries it to the processes the tests start.
_NO_SMTP: list[socket.socket] = []  # made by pytest_configure, closed by pytest_unconfigure


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "own_app: the test changes the app itself (adds routes): a new app for it"
    )
    held = socket.socket()
    _NO_SMTP.append(held)
    held.bind(("127.0.0.1", 0))
    os.environ["SUBSCRIBE_SMTP_HOST"] = "127.0.0.1"
    os.environ["SUBSCRIBE_SMTP_PORT"] = str(held.getsockname()[1])


# `make test` runs the suite in two pytest-xdist workers (-n 2). Tests of one group run
# one after another in the same worker, and the largest groups start first (the rest go
# one test at a time to whichever worker is free). "browser": one chromium and one live
# server for all of tests/browser/. "processes": the tests that run real worker, web or
# delivery processes for tens of seconds each (a third of the suite's time); one at a
# time they never load the machine with two such stacks at once, and started first they
# never end a run late.
XDIST_GROUPS = {
    "tests/browser/": "browser",
    "tests/test_worker_under_load.py": "processes",
    "tests/test_delivery_chaos.py": "processes",
    "tests/test_match_process.py": "processes",
    "tests/test_jobs.py::test_two_workers_one_leader": "processes",
    "tests/test_devstack.py::test_make_run_prints_the_banner": "processes",
}


def xdist_group(nodeid: str) -> str | None:
    return next((g for prefix, g in XDIST_GROUPS.items() if nodeid.startswith(prefix)), None)


@pytest.hookimpl(optionalhook=True)  # (a hook of pytest-xdist, a test dependency)
def pytest_xdist_make_scheduler(config, log):
    """xdist's own --dist loadgroup (xdist_group marks) renames each marked test's nodeid,
    which pytest 9's nodes no longer allow (the marks are silently ignored): the same
    scheduler here, with the groups read from XDIST_GROUPS. Only for the default --dist."""
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class GroupScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return xdist_group(nodeid) or nodeid

    return GroupScheduling(config, log)


BROWSER_SKIPPED = "browser tests skipped: "  # tests/browser/conftest.py skips with this
_browser_skipped: list[str] = []


def pytest_runtest_logreport(report):
    """Notes why the browser tests were skipped, from the reports: under xdist these reach
    the controlling process, where tests/browser/conftest.py (a worker's) never runs."""
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if reason.startswith(BROWSER_SKIPPED) and not _browser_skipped:
            _browser_skipped.append(reason.removeprefix(BROWSER_SKIPPED))


def pytest_unconfigure(config):
    """Closes _NO_SMTP. Says why the browser tests were skipped last, after the totals,
    where nobody scrolling a long run can miss it."""
    while _NO_SMTP:
        _NO_SMTP.pop().close()
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if _browser_skipped and reporter is not None:
        reporter.write_sep("=", "BROWSER TESTS SKIPPED", yellow=True, bold=True)
        reporter.write_line(f"BROWSER TESTS SKIPPED: {_browser_skipped[0]}.")
        reporter.write_line("Set SUBSCRIBE_REQUIRE_BROWSER=1 to make a missing browser a failure.")


def open_healthdata():
    """The healthdata.gov 2019 data.json (3.8 MB, 1,762 datasets) as a binary file object,
    decompressed while read from tests/data/catalogs (committed gzip-compressed)."""
    return gzip.open(HEALTHDATA_GZ, "rb")


def healthdata_bytes() -> bytes:
    """The whole healthdata.gov 2019 data.json, uncompressed (see open_healthdata)."""
    with open_healthdata() as handle:
        return handle.read()


# The hasher accounts are made with in production (argon2-cffi's recommended Argon2id:
# 64 MiB, 3 passes, 4 lanes: ~0.2 CPU-s a hash), kept for the tests that check it.
PRODUCTION_HASHER = auth._hasher


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes():
    """Argon2id at its cheapest cost (8 KiB, 1 pass: ~30 us) for the whole suite: every
    account, login and token fixture hashes or verifies a password, hundreds in all, and
    at the production cost they were a fifth of the suite's time. Same algorithm, same
    code paths; test_api_auth checks the production parameters with PRODUCTION_HASHER."""
    auth._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    auth._dummy_hash.cache_clear()
    yield
    auth._hasher = PRODUCTION_HASHER
    auth._dummy_hash.cache_clear()


@pytest.fixture
def production_password_hashes(monkeypatch):
    """The production hasher for one test (see cheap_password_hashes)."""
    monkeypatch.setattr(auth, "_hasher", PRODUCTION_HASHER)
    auth._dummy_hash.cache_clear()
    yield
    auth._dummy_hash.cache_clear()


def _postgres_database():
    """A fresh database on the server named by SUBSCRIBE_TEST_DATABASE_URL; dropped after."""
    base = os.environ.get("SUBSCRIBE_TEST_DATABASE_URL", "").strip()
    if not base:
        pytest.skip("PostgreSQL tests need SUBSCRIBE_TEST_DATABASE_URL (CI sets it)")
    url = sa.make_url(normalize_database_url(base))
    name = f"subscribe_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        # Commits return before their WAL is flushed to disk: ~8 -> ~0.8 ms a commit on
        # this machine's disk, and the tests commit tens of thousands of times. Only
        # durability across a server crash differs (nothing a test looks at); what other
        # sessions see, and when, is the same. This database only, every session of it.
        conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _migrated(url: str, instance: Path) -> None:
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance)})
    with app.app_context():
        upgrade()  # the real migrations, so every test run checks them on both backends
        db.engine.dispose()


@pytest.fixture(scope="session")
def _databases(tmp_path_factory):
    """backend -> the URL of a migrated, empty database, made on first use and kept to the
    end of the session. Not torn down when tests switch backend: under pytest-xdist a
    worker can take PostgreSQL tests, then SQLite ones, then PostgreSQL again."""
    urls: dict[str, str] = {}
    makers = []

    def get(backend: str) -> str:
        if backend not in urls:
            if backend == "sqlite":
                maker = iter([f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"])
            else:
                maker = _postgres_database()
            url = next(maker)  # (skips the test here when PostgreSQL is not configured)
            makers.append(maker)
            _migrated(url, tmp_path_factory.mktemp("inst"))
            urls[backend] = url
        return urls[backend]

    yield get
    for maker in makers:
        next(maker, None)  # runs the generator's cleanup (drop the PostgreSQL database)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, _databases):
    """A migrated, empty database per backend, shared by the session's tests (each xdist
    worker is a session of its own: its own SQLite file and PostgreSQL database)."""
    return _databases(request.param)


def _empty_tables() -> None:
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            if table.name == "change_counter":
                conn.execute(table.update().values(value=0))
            else:
                conn.execute(table.delete())


def _app_config(database_url: str, tmp_path: Path) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "TESTING": True,
        "SUBSCRIBE_HTTP_RETRIES": 0,
        "SUBSCRIBE_HTTP_TIMEOUT": 10.0,
        "SUBSCRIBE_HARVEST_BATCH_SIZE": 50,
        "SUBSCRIBE_MAILBOX_DIR": str(tmp_path / "mailbox"),
        # The test portals and files listen on loopback, which every outbound fetch
        # (harvests included) refuses unless allow-listed: the operator's way in, as
        # the demo's. Tests of the refusal itself set their own list ([] or narrower).
        "SUBSCRIBE_OUTBOUND_ALLOWLIST": ["127.0.0.1", "::1"],
    }


@pytest.fixture(scope="session")
def _shared_apps(tmp_path_factory):
    """database URL -> one app for it, built once: create_app registers ~160 routes
    (Werkzeug compiles each) and documents the API (apispec), ~0.15 CPU-s, and 1,200 tests
    take an app. Each is (app, its config as built, its extension names as built); the
    `app` fixture puts those back before each test (see there)."""
    apps: dict[str, tuple[Flask, dict, frozenset]] = {}

    def get(database_url: str) -> tuple[Flask, dict, frozenset]:
        if database_url not in apps:
            config = _app_config(database_url, tmp_path_factory.mktemp("shared"))
            app = create_app(config)
            app.extensions["search"].close()  # each test makes its own (in its instance folder)
            apps[database_url] = (app, copy.deepcopy(dict(app.config)), frozenset(app.extensions))
        return apps[database_url]

    yield get
    for app, _config, _built in apps.values():
        with app.app_context():
            db.engine.dispose()


def _close_added_extensions(app: Flask, built: frozenset) -> None:
    """Drop what a test's requests or jobs kept on the app (the sender's keep-alive
    session and threads), so that the next test starts from the app as built."""
    from subscribe.notify.sender import _Outbound

    for name in set(app.extensions) - built:
        kept = app.extensions.pop(name)
        if name == _Outbound.KEY:
            kept[2].shutdown(wait=True)
            kept[1].close()


@pytest.fixture
def app(request, database_url, tmp_path):
    """The app, its context pushed, on an empty database, with its own instance folder
    (search index, files), config as create_app made it, a fresh search service and
    metrics registry and no rate-limit counts. The app itself is shared by the backend's
    tests (_shared_apps); a test marked `own_app` (one that adds routes) gets a new one."""
    config = _app_config(database_url, tmp_path)
    if request.node.get_closest_marker("own_app"):
        app, built = create_app(config), None
    else:
        app, pristine, built = request.getfixturevalue("_shared_apps")(database_url)
        app.config.clear()
        app.config.update(copy.deepcopy(pristine), **config)
        app.instance_path = config["INSTANCE_PATH"]
        search_service.init_app(app)  # its index lives in the instance folder
        init_metrics(app)
        limiter.reset()  # one memory store, shared by every app in the process
    with app.app_context():
        _empty_tables()
        yield app
        app.extensions["search"].close()
        if built is not None:
            _close_added_extensions(app, built)
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def make_token(email: str, role: str = "user") -> str:
    user = auth.create_user(email, "correct horse battery", role)
    _token, plaintext = auth.create_token(user, "tests")
    return plaintext


@pytest.fixture
def operator_headers(app):
    return {"Authorization": f"Bearer {make_token('ops@example.org', 'operator')}"}


@pytest.fixture
def user_headers(app):
    return {"Authorization": f"Bearer {make_token('user@example.org')}"}


@pytest.fixture
def smtp_server():
    """start(handler=None) → (controller, recorder): a real SMTP server on loopback."""
    yield from start_servers()
