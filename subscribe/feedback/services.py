"""Error reports: create, list, transition, hide — and the counts other packages read."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select

from subscribe.extensions import db
from subscribe.feedback.models import CONFIRMED_STATE, ErrorReport


def confirmed_report_counts(dataset_ids: Iterable[int] | None = None) -> dict[int, int]:
    """Confirmed errors per dataset: {dataset id: number of reports in state `resolved`}.

    `dataset_ids` None means every dataset; datasets without a confirmed report are
    absent (read a missing key as 0). Hidden (spam) reports never count. One query
    (ids are sent in chunks of 5,000 to stay under drivers' parameter limits).
    """
    base = (
        select(ErrorReport.dataset_id, func.count())
        .where(ErrorReport.state == CONFIRMED_STATE, ErrorReport.hidden.is_(False))
        .group_by(ErrorReport.dataset_id)
    )
    if dataset_ids is None:
        return {int(d): int(n) for d, n in db.session.execute(base)}
    ids = sorted({int(i) for i in dataset_ids})
    counts: dict[int, int] = {}
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        rows = db.session.execute(base.where(ErrorReport.dataset_id.in_(chunk)))
        counts.update((int(d), int(n)) for d, n in rows)
    return counts
