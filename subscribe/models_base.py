"""Column helpers shared by every domain's models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import JSONB

_EPOCH = datetime(1970, 1, 1)


def utcnow() -> datetime:
    """Naive UTC, the one convention for every stored datetime (SQLite keeps no zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def to_naive_utc(value: datetime) -> datetime:
    """All stored datetimes are naive UTC; naive inputs are taken as already in UTC.

    A time within a day of the calendar's ends whose UTC falls outside it
    ("0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00") is that end: raising
    OverflowError made a 500 of every API argument holding one, and a scenario filter
    holding one stopped event matching for every user."""
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:
            return datetime.min if value.utcoffset() > timedelta(0) else datetime.max
    return value


def epoch_seconds(value: datetime) -> int:
    """Whole seconds since 1970 (UTC): how search columns and matching compare dates."""
    return int((to_naive_utc(value) - _EPOCH).total_seconds())


# JSON on SQLite, JSONB on PostgreSQL (indexable, compact).
JSONType = JSON().with_variant(JSONB(), "postgresql")
