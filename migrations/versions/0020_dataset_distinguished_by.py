"""Datasets keep what tells them apart from their twins (distinguished_by)

Rows of a tabular export that share a title and publisher (or an id) are told apart by
columns no field holds (所属区县, 年份); their values were kept nowhere, so twins could
not be told apart on any page. Existing rows get {} (no twins known): the next harvest
fills it in for twins without a new version or an event (diff.QUIET_WHEN_GONE). A
constant default: PostgreSQL adds the column without rewriting the table.

Revision ID: 0020_dataset_distinguished_by
Revises: 0019_upstream_name
Create Date: 2026-12-01 08:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0020_dataset_distinguished_by"
down_revision = "0019_upstream_name"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("distinguished_by", _JSON, nullable=False, server_default="{}"))


def downgrade():
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("distinguished_by")
