"""Users choose their language and time zone: NULL until they do

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 00:50:00

"""
from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('locale', existing_type=sa.String(length=8), nullable=True)
        batch_op.alter_column('timezone', existing_type=sa.String(length=64), nullable=True)
    # Nobody could choose before (no page or API set them): the stored values were the
    # column defaults, not choices, and would override the language switch.
    op.execute("UPDATE users SET locale = NULL, timezone = NULL")


def downgrade():
    op.execute("UPDATE users SET locale = COALESCE(locale, 'zh'), "
               "timezone = COALESCE(timezone, 'Asia/Shanghai')")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('timezone', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('locale', existing_type=sa.String(length=8), nullable=False)
