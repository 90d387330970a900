"""Source names are unique in any case (name_key: the name casefolded, a unique index)

`bom` and `BOM` could both be created, and `?source=Bom` then matched neither (README:
"a source's name in any case"). Existing sources whose names differ only in case keep
their names (renaming would break the scenarios, feeds and links that name them): the
oldest takes the plain key, each later one "<key>#<id>" ('#' is in no valid source
name, so no new name can clash with it), so the index builds; an operator may rename
them. New names that clash in any case are refused (409).

Revision ID: 0021_source_name_key
Revises: 0020_dataset_distinguished_by
Create Date: 2026-12-01 11:15:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_source_name_key"
down_revision = "0020_dataset_distinguished_by"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=300), nullable=True))
    bind = op.get_bind()
    sources = sa.table("sources", sa.column("id"), sa.column("name"), sa.column("name_key"))
    seen: set[str] = set()
    for row in bind.execute(sa.select(sources.c.id, sources.c.name).order_by(sources.c.id)):
        key = row.name.strip().casefold()  # as catalog.models.source_name_key
        if key in seen:
            key = f"{key}#{row.id}"
        seen.add(key)
        bind.execute(sa.update(sources).where(sources.c.id == row.id).values(name_key=key))
    # SQLite rebuilds the table for NOT NULL: keep its AUTOINCREMENT (0017).
    with op.batch_alter_table(
        "sources", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.alter_column("name_key", existing_type=sa.String(length=300), nullable=False)
        batch_op.create_index("uq_sources_name_key", ["name_key"], unique=True)


def downgrade():
    with op.batch_alter_table(
        "sources", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_index("uq_sources_name_key")
        batch_op.drop_column("name_key")
