"""SQLite: ids are never reused (AUTOINCREMENT)

Without AUTOINCREMENT SQLite gives a new row the highest id + 1, so deleting the newest
source, scenario, endpoint... and creating another handed the new one the old id, and
with it everything that still named the old one (feed entries, links, pins, the audit
trail). SQLite can only set AUTOINCREMENT when a table is created: each table is rebuilt
(batch mode), with foreign keys off so that dropping the old copy cascades nothing
(migrations/env.py). PostgreSQL sequences never reuse ids: nothing to do there.

Revision ID: 0017_sqlite_ids_never_reused
Revises: 0016_quality
Create Date: 2026-11-30 10:00:00
"""

from alembic import op
from sqlalchemy import text

revision = "0017_sqlite_ids_never_reused"
down_revision = "0016_quality"
branch_labels = None
depends_on = None

# Every table with an integer `id` of its own (parents first: not needed with foreign
# keys off, but it keeps a failure easy to read).
TABLES = (
    "users", "api_tokens", "sources", "harvest_runs", "datasets", "resources",
    "dataset_versions", "catalog_events", "scenarios", "scenario_events",
    "webhook_endpoints", "subscriptions", "deliveries", "delivery_attempts",
    "notifications", "bundles", "resource_previews", "error_reports", "audit_entries",
    "suggestion_feedback", "dataset_ratings", "job_runs", "change_counter",
)  # fmt: skip


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    if bind.execute(text("PRAGMA foreign_keys")).scalar():
        # Dropping a parent table with foreign keys on deletes its children's rows.
        raise RuntimeError("foreign keys must be off while SQLite tables are rebuilt")
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass


def downgrade():
    pass  # ids that are never reused harm nothing; the rebuilt tables stay as they are
