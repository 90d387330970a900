"""Ids are never reused: a new source, scenario or endpoint must not inherit what still
names a deleted one (its audit trail, feed entries, links). SQLite without AUTOINCREMENT
gave the next row a deleted row's id (the highest + 1); PostgreSQL sequences never did."""

from __future__ import annotations

import sqlite3

from flask_migrate import upgrade
from sqlalchemy import select

from subscribe import create_app
from subscribe.audit.models import AuditEntry
from subscribe.extensions import db


def test_a_new_source_does_not_take_a_deleted_sources_id(client, operator_headers):
    def add(name: str) -> int:
        made = client.post("/api/v1/sources", headers=operator_headers, json={
            "name": name, "type": "dcat", "url": f"https://example.gov/{name}.json",
        })  # fmt: skip
        assert made.status_code == 201, made.json
        return made.json["id"]

    old = add("old")
    assert client.delete(f"/api/v1/sources/{old}", headers=operator_headers).status_code == 204
    new = add("new")
    assert new != old
    # The old source's audit trail is not the new one's.
    trail = db.session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.target_type == "source", AuditEntry.target_id == str(new)
        )
    ).all()
    assert "source.delete" not in trail


def test_a_new_scenario_does_not_take_a_deleted_scenarios_id(client, user_headers):
    body = {"name": "空气", "q": "空气"}
    old = client.post("/api/v1/scenarios", headers=user_headers, json=body).json["id"]
    assert client.delete(f"/api/v1/scenarios/{old}", headers=user_headers).status_code == 204
    assert client.post("/api/v1/scenarios", headers=user_headers, json=body).json["id"] != old


def test_the_migration_keeps_every_row_and_stops_reuse(tmp_path):
    """An existing SQLite database upgraded to 0017: tables rebuilt with AUTOINCREMENT,
    children of rebuilt parents untouched (no cascade), and a deleted id stays unused."""
    path = tmp_path / "old.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
                      "INSTANCE_PATH": str(tmp_path / "instance")})  # fmt: skip
    with app.app_context():
        upgrade(revision="0016_quality")
        db.engine.dispose()
    conn = sqlite3.connect(path)
    conn.executescript("""
        INSERT INTO sources (id, name, type, url, mapping, schedule, enabled, created_at)
            VALUES (1, 'a', 'dcat', 'https://a', '{}', 3600, 1, '2026-01-01'),
                   (2, 'b', 'dcat', 'https://b', '{}', 3600, 1, '2026-01-01');
        INSERT INTO harvest_runs (id, source_id, status, "trigger", incremental, queued_at,
                                  created, updated, unchanged, deleted, bad, errors)
            VALUES (1, 1, 'succeeded', 'manual', 0, '2026-01-01', 0, 0, 0, 0, 0, '[]'),
                   (2, 2, 'succeeded', 'manual', 0, '2026-01-01', 0, 0, 0, 0, 0, '[]');
    """)  # fmt: skip
    conn.commit()
    conn.close()
    with app.app_context():
        upgrade()
        db.engine.dispose()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT source_id FROM harvest_runs ORDER BY id").fetchall() == [(1,), (2,)]
    assert (
        "AUTOINCREMENT"
        in conn.execute("SELECT sql FROM sqlite_master WHERE name = 'sources'").fetchone()[0]
    )
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("DELETE FROM sources WHERE id = 2")
    assert conn.execute("SELECT count(*) FROM harvest_runs").fetchone() == (1,)  # cascade works
    conn.execute("INSERT INTO sources (name, name_key, type, url, mapping, schedule, enabled, "
                 "created_at) VALUES ('c', 'c', 'dcat', 'https://c', '{}', 3600, 1, '2026-01-01')")  # fmt: skip
    assert conn.execute("SELECT id FROM sources WHERE name = 'c'").fetchone() == (3,)
    conn.close()
