"""Chat group robots (DingTalk, WeCom, Feishu) as endpoints: webhook_endpoints.kind

Revision ID: 0015_chat_endpoints
Revises: 0014_suggestion_feedback
Create Date: 2026-11-30 03:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_chat_endpoints"
down_revision = "0014_suggestion_feedback"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="webhook")
        )


def downgrade():
    # Without the kind, a chat robot would pass for a webhook: drop them and their messages.
    for table in ("deliveries", "subscriptions"):
        op.execute(f"DELETE FROM {table} WHERE channel IN ('dingtalk', 'wecom', 'feishu')")
    op.execute("DELETE FROM webhook_endpoints WHERE kind <> 'webhook'")
    with op.batch_alter_table("webhook_endpoints", schema=None) as batch_op:
        batch_op.drop_column("kind")
