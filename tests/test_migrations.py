"""Migrations: upgrade from empty on SQLite and PostgreSQL, and agree with the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from subscribe.extensions import db


def test_migrated_schema_matches_the_models(app):
    # The session's database was built by `upgrade()` from empty (see conftest).
    with db.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert differences == []


def test_change_counter_is_seeded(app):
    assert db.session.execute(text("SELECT id FROM change_counter")).scalars().all() == [1]


def test_downgrade_to_empty_and_upgrade_again(app):
    db.session.remove()
    downgrade(revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    upgrade()
    assert {"datasets", "sources", "users", "dataset_versions"} <= set(
        inspect(db.engine).get_table_names()
    )
