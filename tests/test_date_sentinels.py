"""A system's "no date" written as a date, and a weekday beside a date (bb8 F23).

healthdata.gov's data.json gives FDA recall datasets "modified": "1900-01-01"; exports
and databases write 1970-01-01 (the Unix epoch), 0001-01-01 or 9999-12-31 where they
have no date. Read as a date, such a dataset looks 125 years overdue. They are no date,
their raw text kept and noted as a placeholder. A Chinese export's "2024-3-1 星期五"
is that day."""

from __future__ import annotations

from datetime import datetime

import pytest

from subscribe.catalog.diff import diff_snapshots
from subscribe.catalog.normalize import date_note, normalize_date


@pytest.mark.parametrize(
    "text",
    ["1900-01-01", "1900-01-01T00:00:00", "1900-01-01T00:00:00Z", "1970-01-01",
     "1970/1/1", "1970-01-01 00:00:00+00:00", "0001-01-01", "9999-12-31", "1900年1月1日"],
)  # fmt: skip
def test_a_sentinel_date_is_no_date(text):
    found = normalize_date(text)
    assert found.value is None and found.raw == text
    assert date_note(text, None) == "placeholder"


@pytest.mark.parametrize(
    ("text", "expected", "precision"),
    [
        ("1900", datetime(1900, 1, 1), "year"),  # a year is a year (a 1900 census)
        ("1900-01-02", datetime(1900, 1, 2), "day"),
        ("1970-01-01T08:30:00", datetime(1970, 1, 1, 8, 30), "datetime"),
        ("2024-3-1 星期五", datetime(2024, 3, 1), "day"),
        ("星期五 2024年3月1日", datetime(2024, 3, 1), "day"),
        ("2024年3月1日（周五）", datetime(2024, 3, 1), "day"),
    ],
)
def test_real_dates_and_dates_with_a_weekday_are_read(text, expected, precision):
    found = normalize_date(text)
    assert (found.value, found.precision) == (expected, precision)


def test_a_sentinel_stored_as_a_date_before_is_no_update():
    """Stored read as 1900-01-01 before the rule: the same raw text read again as no date
    is stored quietly (diff.READINGS), not news to subscribers."""
    old = {"title": "t", "modified": "1900-01-01T00:00:00", "modified_precision": "day",
           "modified_raw": "1900-01-01"}  # fmt: skip
    new = {"title": "t", "modified": None, "modified_precision": None,
           "modified_raw": "1900-01-01"}  # fmt: skip
    assert diff_snapshots(old, new) == {}
