"""Dates keep their precision and raw text; datasets keep every translation

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 00:40:00

Existing rows get precision "" and raw "" (unknown until the next harvest fills them
in; the writer does that without a new version or event) and no translations.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade():
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("issued_precision", sa.String(8), nullable=False, server_default=""))
        batch.add_column(sa.Column("issued_raw", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("modified_precision", sa.String(8), nullable=False, server_default=""))
        batch.add_column(sa.Column("modified_raw", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("translations", _JSON, nullable=False, server_default="{}"))


def downgrade():
    with op.batch_alter_table("datasets") as batch:
        for name in ("translations", "modified_raw", "modified_precision", "issued_raw", "issued_precision"):
            batch.drop_column(name)
