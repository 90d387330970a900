"""Column helpers shared by every domain's models."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import JSONB


def utcnow() -> datetime:
    """Naive UTC, the one convention for every stored datetime (SQLite keeps no zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


# JSON on SQLite, JSONB on PostgreSQL (indexable, compact).
JSONType = JSON().with_variant(JSONB(), "postgresql")
