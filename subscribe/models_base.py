"""Column helpers shared by every domain's models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import JSONB

_EPOCH = datetime(1970, 1, 1)


def utcnow() -> datetime:
    """Naive UTC, the one convention for every stored datetime (SQLite keeps no zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_naive_utc(value: datetime) -> datetime:
    """All stored datetimes are naive UTC; naive inputs are taken as already in UTC."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def epoch_seconds(value: datetime) -> int:
    """Whole seconds since 1970 (UTC): how search columns and matching compare dates."""
    return int((to_naive_utc(value) - _EPOCH).total_seconds())


# JSON on SQLite, JSONB on PostgreSQL (indexable, compact).
JSONType = JSON().with_variant(JSONB(), "postgresql")
