"""Dataset contact point and record count; the mapping report of each harvest run

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 00:30:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_point', sa.String(length=500), nullable=False,
                                      server_default=''))
        batch_op.add_column(sa.Column('record_count', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('harvest_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mapping_report', JSON, nullable=True))


def downgrade():
    with op.batch_alter_table('harvest_runs', schema=None) as batch_op:
        batch_op.drop_column('mapping_report')
    with op.batch_alter_table('datasets', schema=None) as batch_op:
        batch_op.drop_column('record_count')
        batch_op.drop_column('contact_point')
