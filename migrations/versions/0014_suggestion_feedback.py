"""Suggestion feedback: 👍 / 👎 per (scenario, dataset)

Revision ID: 0014_suggestion_feedback
Revises: 0013
Create Date: 2026-11-30 03:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0014_suggestion_feedback"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "suggestion_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scenario_id", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("vote", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["scenario_id"], ["scenarios.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("suggestion_feedback", schema=None) as batch_op:
        batch_op.create_index(
            "uq_suggestion_feedback_scenario_dataset", ["scenario_id", "dataset_id"], unique=True
        )
        batch_op.create_index("ix_suggestion_feedback_dataset_id", ["dataset_id"], unique=False)
        batch_op.create_index("ix_suggestion_feedback_user_id", ["user_id"], unique=False)


def downgrade():
    op.drop_table("suggestion_feedback")
