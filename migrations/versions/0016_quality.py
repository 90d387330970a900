"""Dataset quality: scores, daily history, users' ratings

Revision ID: 0016_quality
Revises: 0015_chat_endpoints
Create Date: 2026-11-30 03:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_quality"
down_revision = "0015_chat_endpoints"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "quality_scores",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("completeness", sa.SmallInteger(), nullable=False),
        sa.Column("timeliness", sa.Float(), nullable=True),
        sa.Column("timeliness_before", sa.Float(), nullable=True),
        sa.Column("timeliness_today", sa.Float(), nullable=True),
        sa.Column("accuracy", sa.SmallInteger(), nullable=True),
        sa.Column("overall", sa.SmallInteger(), nullable=True),
        sa.Column("unmet", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("dataset_id"),
    )
    op.create_table(
        "quality_history",
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("completeness", sa.SmallInteger(), nullable=False),
        sa.Column("timeliness", sa.SmallInteger(), nullable=True),
        sa.Column("accuracy", sa.SmallInteger(), nullable=True),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("dataset_id", "day"),
    )
    op.create_table(
        "dataset_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("completeness", sa.SmallInteger(), nullable=True),
        sa.Column("timeliness", sa.SmallInteger(), nullable=True),
        sa.Column("accuracy", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dataset_id", "user_id", name="uq_ratings_dataset_user"),
    )
    with op.batch_alter_table("dataset_ratings", schema=None) as batch_op:
        batch_op.create_index("ix_dataset_ratings_dataset_id", ["dataset_id"], unique=False)
        batch_op.create_index("ix_dataset_ratings_user_id", ["user_id"], unique=False)


def downgrade():
    op.drop_table("dataset_ratings")
    op.drop_table("quality_history")
    op.drop_table("quality_scores")
