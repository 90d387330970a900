"""The operators' CLI, through Flask's CLI runner against a real loopback portal."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from subscribe.auth.models import User
from subscribe.catalog.models import Source
from subscribe.extensions import db
from tests.ckan_stub import CkanPortal
from tests.conftest import FIXTURES


def test_users_create_operator(runner):
    result = runner.invoke(
        args=["users", "create", "Ops@Example.org", "--password", "long enough pw", "--operator"]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User))
    assert (user.email, user.role) == ("ops@example.org", "operator")
    again = runner.invoke(
        args=["users", "create", "ops@example.org", "--password", "long enough pw"]
    )
    assert again.exit_code != 0 and "already exists" in again.output


def test_users_create_refuses_short_password(runner):
    result = runner.invoke(args=["users", "create", "a@example.org", "--password", "short"])
    assert result.exit_code != 0 and "8 characters" in result.output


@pytest.mark.parametrize("email", ["bad-email", "a@", "@example.org", "x" * 330 + "@example.org"])
def test_users_create_refuses_what_registration_refuses(runner, email):
    result = runner.invoke(args=["users", "create", email, "--password", "long enough pw"])
    assert result.exit_code != 0 and "email" in result.output, result.output
    assert db.session.scalar(select(User)) is None


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["x", "ckan", "notaurl"], "url"),
        (["x", "dcat", "ftp://example.org/data.json"], "url"),
        (["my source", "ckan", "https://example.org/"], "name"),
        (["x", "ckan", "https://example.org/", "--schedule", "1"], "schedule"),
        (["x", "tabular", "https://example.org/c.csv", "--mapping", "[1, 2]"], "mapping"),
    ],
)
def test_sources_add_refuses_what_the_api_refuses(runner, args, field):
    result = runner.invoke(args=["sources", "add", *args])
    assert result.exit_code != 0 and field in result.output, result.output
    assert db.session.scalar(select(Source)) is None


def test_sources_add_list_and_harvest(runner, httpserver):
    path = FIXTURES / "catalogs" / "catalog.data.gov_harvest_sources_package_search_results.json"
    url = CkanPortal(json.loads(path.read_text())).install(httpserver)
    added = runner.invoke(args=["sources", "add", "datagov", "ckan", url, "--schedule", "600"])
    assert added.exit_code == 0, added.output
    assert db.session.scalar(select(Source.schedule)) == 600

    harvested = runner.invoke(args=["harvest", "datagov"])
    assert harvested.exit_code == 0, harvested.output
    assert "succeeded: created 145, updated 0, unchanged 0, deleted 0, bad 0" in harvested.output

    listed = runner.invoke(args=["sources", "list"])
    assert "datagov" in listed.output and "145 datasets" in listed.output


def test_sources_add_rejects_bad_mapping_and_unknown_harvest(runner):
    bad = runner.invoke(
        args=["sources", "add", "t", "tabular", "http://x/c.csv", "--mapping", "{nope"]
    )
    assert bad.exit_code != 0 and "not JSON" in bad.output
    missing = runner.invoke(args=["harvest", "nowhere"])
    assert missing.exit_code != 0 and "No source named 'nowhere'" in missing.output


def test_failed_harvest_exits_nonzero_with_the_reason(runner, httpserver):
    httpserver.expect_request("/api/3/action/package_search").respond_with_data("down", status=503)
    runner.invoke(args=["sources", "add", "flaky", "ckan", httpserver.url_for("/")])
    result = runner.invoke(args=["harvest", "flaky"])
    assert result.exit_code != 0 and "HTTP 503" in result.output


def test_flask_db_is_flask_migrates_group(runner):
    """`flask db` is bound on first use (create_app does not import Flask-Migrate): its
    commands, options and migrations are Flask-Migrate's as before."""
    result = runner.invoke(args=["db", "--help"])
    assert result.exit_code == 0, result.output
    assert "--directory" in result.output and "upgrade" in result.output
    result = runner.invoke(args=["db", "current"])  # migrations/env.py, on the app's database
    assert result.exit_code == 0, result.output
    assert "Context impl" in result.output  # (the revision goes to the process's stdout)


def test_flask_db_check_says_only_what_it_found(runner):
    """`flask db check` (autogenerate against the models) prints no Alembic plugin set-up
    lines (migrations/alembic.ini quiets alembic.runtime.plugins), only its finding."""
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output  # (its finding goes to the process's stdout)
    assert "Context impl" in result.output  # Alembic's own lines are captured here
    assert "autogenerate plugin" not in result.output


def test_cli_preview_of_a_dcat_source_prints_its_report(runner, httpserver):
    """A DCAT preview's report is no tabular column mapping (dates not read, identifiers
    shared by different datasets): printed as it is, not a KeyError."""
    catalog = {"dataset": [
        {"identifier": "A-1", "title": "空气质量日报", "modified": "每月更新"},
        {"identifier": "A-2", "title": "公交线路", "modified": "2024-03-01",
         "landingPage": "https://data.example.cn/a2"},
        {"identifier": "A-2", "title": "停车场分布", "modified": "2024-03-02",
         "landingPage": "https://data.example.cn/parking"},
    ]}  # fmt: skip
    httpserver.expect_request("/data.json").respond_with_json(catalog)
    added = runner.invoke(args=["sources", "add", "dj", "dcat", httpserver.url_for("/data.json")])
    assert added.exit_code == 0, added.output
    result = runner.invoke(args=["sources", "preview", "dj"])
    assert result.exit_code == 0, result.output
    assert "first 3 of 3 records" in result.output
    assert "dates_not_read" in result.output
