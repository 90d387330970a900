"""Fixtures: an app per test on SQLite and on PostgreSQL, clients, users and tokens."""

from __future__ import annotations

import gzip
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from subscribe import create_app
from subscribe.auth import services as auth
from subscribe.config import normalize_database_url
from subscribe.extensions import db
from tests.smtp_helpers import start_servers

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
DATA = Path(__file__).resolve().parent / "data"
HEALTHDATA_GZ = DATA / "catalogs" / "healthdata.gov.data.json.2019.json.gz"
BACKENDS = ["sqlite", "postgresql"]


def open_healthdata():
    """The healthdata.gov 2019 data.json (3.8 MB, 1,762 datasets) as a binary file object,
    decompressed while read from tests/data/catalogs (committed gzip-compressed)."""
    return gzip.open(HEALTHDATA_GZ, "rb")


def healthdata_bytes() -> bytes:
    """The whole healthdata.gov 2019 data.json, uncompressed (see open_healthdata)."""
    with open_healthdata() as handle:
        return handle.read()


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
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    """A migrated, empty database per backend, shared by the session's tests."""
    if request.param == "sqlite":
        urls = iter([f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"])
    else:
        urls = _postgres_database()
    url = next(urls)
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(tmp_path_factory.mktemp("inst"))}
    )
    with app.app_context():
        upgrade()  # the real migrations, so every test run checks them on both backends
        db.engine.dispose()
    yield url
    next(urls, None)  # runs the generator's cleanup (drop the PostgreSQL database)


def _empty_tables() -> None:
    with db.engine.begin() as conn:
        for table in reversed(db.metadata.sorted_tables):
            if table.name == "change_counter":
                conn.execute(table.update().values(value=0))
            else:
                conn.execute(table.delete())


@pytest.fixture
def app(database_url, tmp_path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "TESTING": True,
            "SUBSCRIBE_HTTP_RETRIES": 0,
            "SUBSCRIBE_HTTP_TIMEOUT": 10.0,
            "SUBSCRIBE_HARVEST_BATCH_SIZE": 50,
            "SUBSCRIBE_MAILBOX_DIR": str(tmp_path / "mailbox"),
        }
    )
    with app.app_context():
        _empty_tables()
        yield app
        app.extensions["search"].close()
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
