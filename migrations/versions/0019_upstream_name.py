"""A dataset's upstream short name (CKAN's package name): identity carried over by name

Revision ID: 0019_upstream_name
Revises: 0018_mask_stored_previews
Create Date: 2026-12-01 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_upstream_name"
down_revision = "0018_mask_stored_previews"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upstream_name", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_column("upstream_name")
