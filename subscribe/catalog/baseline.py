"""A source's first harvest is the catalog's starting state, not a change.

The `dataset.created` events (version 1) written before the source's first successful
harvest run finished are its initial load: they stay in each dataset's history, but
matching makes no scenario event or message of them and bundles do not count them as
changed. Datasets that appear in later runs are news.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select

from subscribe.catalog.models import HarvestRun
from subscribe.extensions import db


def first_harvest_finished(source_ids: Iterable[int | None]) -> dict[int, datetime]:
    """Source id → when its first successful harvest finished (absent: not yet)."""
    ids = {i for i in source_ids if i is not None}
    if not ids:
        return {}
    return dict(
        db.session.execute(
            select(HarvestRun.source_id, func.min(HarvestRun.finished_at))
            .where(HarvestRun.source_id.in_(ids), HarvestRun.status == "succeeded")
            .group_by(HarvestRun.source_id)
        ).all()
    )


def is_initial_load(event_type: str, version: int, created_at: datetime,
                    finished: datetime | None) -> bool:  # fmt: skip
    """Was this catalog event written by its source's first harvest? (`finished` from
    `first_harvest_finished`, None while the first harvest has not succeeded yet.)"""
    if event_type != "dataset.created" or version != 1:
        return False
    return finished is None or created_at <= finished
