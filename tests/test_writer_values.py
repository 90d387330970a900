"""The writer's own bind processing (writer._values) gives what the column types would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from subscribe.catalog import writer
from subscribe.extensions import db


def test_values_process_each_row_as_the_column_types_do(app):
    dialect = db.engine.dialect
    plan = writer._insert_plan(writer.DATASETS, ("id", "updated_at", "themes"), dialect,
                               with_defaults=False)  # fmt: skip
    noon = datetime(2024, 3, 1, 12)
    east = datetime(2024, 3, 1, 20, tzinfo=timezone(timedelta(hours=8)))  # noon UTC, other zone
    rows = [{"id": 1, "updated_at": noon, "themes": ["交通"]},
            {"id": 2, "updated_at": noon, "themes": []},
            {"id": 3, "updated_at": east, "themes": None},
            {"id": 4, "updated_at": noon.replace(tzinfo=UTC), "themes": ["交通"]},
            {"id": 5, "updated_at": None, "themes": ["交通"]},
            {"id": 6, "updated_at": noon, "themes": [1]},
            {"id": 7, "updated_at": noon, "themes": [True]}]  # fmt: skip
    column = writer.DATASETS.c
    expected = [
        [
            row["id"],
            _bound(column.updated_at, dialect)(row["updated_at"]),
            _bound(column.themes, dialect)(row["themes"]),
        ]
        for row in rows
    ]
    assert _comparable(writer._values(plan, rows)) == _comparable(expected)


def _comparable(rows):
    """psycopg's Jsonb wrapper has no equality: compare what it wraps."""
    return [[getattr(value, "obj", value) for value in row] for row in rows]


def _bound(column, dialect):
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    return processor or (lambda value: value)
