"""Trustworthy events: subscriptions start when made, one per channel, channel health

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 00:20:00

Existing duplicates (same user, target, channel and endpoint) are merged into the
oldest one: it takes the union of their event types and their deliveries and bundles,
and the later copies are deleted, so the unique index can be built and no history is
lost.
"""

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

EVENT_ORDER = ("dataset.created", "dataset.updated", "dataset.deleted", "dataset.overdue",
               "bundle.ready")  # fmt: skip


def _key(user_id, scenario_id, dataset_id, channel, endpoint_id) -> str:
    target = f"s{scenario_id}" if scenario_id is not None else f"d{dataset_id}"
    return f"u{user_id}:{target}:{channel}:{endpoint_id or ''}"


def upgrade():
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active_since", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column("failing_since", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))

    bind = op.get_bind()
    subscriptions = sa.table(
        "subscriptions", sa.column("id"), sa.column("user_id"), sa.column("scenario_id"),
        sa.column("dataset_id"), sa.column("channel"), sa.column("endpoint_id"),
        sa.column("events", sa.JSON()), sa.column("created_at"), sa.column("active_since"),
        sa.column("dedupe_key"),
    )  # fmt: skip
    deliveries = sa.table("deliveries", sa.column("subscription_id"))
    bundles = sa.table("bundles", sa.column("subscription_id"))
    groups = defaultdict(list)
    for row in bind.execute(sa.select(subscriptions).order_by(subscriptions.c.id)):
        key = _key(row.user_id, row.scenario_id, row.dataset_id, row.channel, row.endpoint_id)
        groups[key].append(row)
    for key, rows in groups.items():
        kept, copies = rows[0], rows[1:]
        events = set(kept.events or ())
        for copy in copies:
            events.update(copy.events or ())
            for table in (deliveries, bundles):
                bind.execute(
                    sa.update(table)
                    .where(table.c.subscription_id == copy.id)
                    .values(subscription_id=kept.id)
                )
            bind.execute(sa.delete(subscriptions).where(subscriptions.c.id == copy.id))
        bind.execute(
            sa.update(subscriptions)
            .where(subscriptions.c.id == kept.id)
            .values(
                dedupe_key=key,
                active_since=kept.created_at,
                events=sorted(events, key=lambda e: EVENT_ORDER.index(e) if e in EVENT_ORDER else 99),
            )
        )

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index("uq_subscriptions_dedupe_key", ["dedupe_key"], unique=True)


def downgrade():
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index("uq_subscriptions_dedupe_key")
        batch_op.drop_column("last_error")
        batch_op.drop_column("failing_since")
        batch_op.drop_column("dedupe_key")
        batch_op.drop_column("paused_at")
        batch_op.drop_column("active_since")
