"""Stored previews masked by today's rule (no valid 身份证号 or phone number at rest)

Previews stored before this revision could hold valid ID numbers in full: python-stdnum's
`cn.ric` refused IDs whose county code is younger than the holder (530102 五华区 for
anyone born before 1983), so such columns were not detected as personal, and IDs inside
text or with spaces were never looked for. Reading a preview masks it again
(`profile.redact_preview`), so nothing is shown in full whatever is stored; this rewrites
the stored rows too, so no database copy or backup made from now on keeps them. Rows are
read and written in batches of 200 by id; a preview already masked is left alone.
Nothing to undo: the unmasked values are not kept anywhere.

Revision ID: 0018_mask_stored_previews
Revises: 0017_sqlite_ids_never_reused
Create Date: 2026-12-01 08:00:00
"""

import sqlalchemy as sa
from alembic import op

from subscribe.models_base import JSONType

revision = "0018_mask_stored_previews"
down_revision = "0017_sqlite_ids_never_reused"
branch_labels = None
depends_on = None

BATCH = 200
_FIELDS = ("columns", "rows", "profile", "notes", "detail")


def upgrade():
    from subscribe.preview.profile import redact_preview

    previews = sa.table(
        "resource_previews",
        sa.column("id", sa.Integer()),
        sa.column("detail", sa.Text()),
        *(sa.column(name, JSONType) for name in ("columns", "rows", "profile", "notes")),
    )
    bind = op.get_bind()
    last = 0
    while True:
        batch = bind.execute(
            sa.select(previews)
            .where(previews.c.id > last)
            .order_by(previews.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            break
        for row in batch:
            stored = {name: getattr(row, name) for name in _FIELDS}
            shown = redact_preview(stored)
            changed = {name: shown[name] for name in _FIELDS if shown[name] != stored[name]}
            if changed:
                bind.execute(previews.update().where(previews.c.id == row.id).values(**changed))
        last = batch[-1].id


def downgrade():
    pass  # the values masked are not kept: nothing to put back
