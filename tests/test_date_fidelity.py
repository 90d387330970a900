"""ISO week dates and Excel serials with a time fraction.

2020-W05, 2020W05 and 2020年第5周 are weeks (a period from Monday, like a quarter):
shown as the locale writes them, late only after the week's end. An Excel serial with a
time fraction that went through a CSV ("44197.5") is that day and time, as the
spreadsheet's number cell of it is.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest

from subscribe.catalog.harvesters.tabular import _date
from subscribe.catalog.normalize import normalize_date
from subscribe.catalog.overdue import detect_overdue
from subscribe.models_base import epoch_seconds
from subscribe.quality.job import _PRECISION_CODE, _period_end_epoch
from tests.test_quarter_dates import dated_dataset


@pytest.mark.parametrize(
    ("text", "start", "precision", "end"),
    [
        ("2020-W05", (2020, 1, 27), "week", (2020, 2, 3)),
        ("2020W05", (2020, 1, 27), "week", (2020, 2, 3)),
        ("2020-w05", (2020, 1, 27), "week", (2020, 2, 3)),
        ("2020-W01", (2019, 12, 30), "week", (2020, 1, 6)),  # the ISO week-numbering year
        ("2020-W53", (2020, 12, 28), "week", (2021, 1, 4)),  # 2020 has 53 ISO weeks
        ("2020-W05-3", (2020, 1, 29), "day", (2020, 1, 30)),  # the week's Wednesday
        ("2020W053", (2020, 1, 29), "day", (2020, 1, 30)),
        ("2020年第5周", (2020, 1, 27), "week", (2020, 2, 3)),
        ("2020年第05周", (2020, 1, 27), "week", (2020, 2, 3)),
        ("2020年第五周", (2020, 1, 27), "week", (2020, 2, 3)),
        ("2020年 第 二十三 周", (2020, 6, 1), "week", (2020, 6, 8)),
        ("２０２０－Ｗ０５", (2020, 1, 27), "week", (2020, 2, 3)),  # full-width
    ],
)
def test_an_iso_week_is_a_period_from_its_monday(text, start, precision, end):
    found = normalize_date(text)
    assert (found.value, found.precision, found.raw) == (datetime(*start), precision, text)
    assert found.end == datetime(*end)


@pytest.mark.parametrize("text", ["2021-W53", "2020-W00", "2020-W54", "2020-W05-8", "2020年第60周"])
def test_no_such_week_is_no_date(text):
    found = normalize_date(text)
    assert found.value is None and found.raw == text


def test_a_week_is_late_only_after_its_sunday_plus_the_gap(app):
    dated_dataset("weekly", "2020-W05", updated_at=datetime(2020, 2, 1))
    # From Monday 27 January a weekly dataset is late a week and its grace later; the
    # week may mean Sunday 2 February, so it is on time until after 3 February + gap.
    assert detect_overdue(now=datetime(2020, 2, 5)) == 0
    assert detect_overdue(now=datetime(2020, 3, 1)) == 1


def test_quality_counts_a_week_from_its_end():
    modified = np.array([epoch_seconds(datetime(2020, 1, 27))], dtype=np.int64)
    ends = _period_end_epoch(modified, np.array([_PRECISION_CODE["week"]], dtype=np.int8))
    assert ends.tolist() == [epoch_seconds(datetime(2020, 2, 3))]


@pytest.mark.parametrize(
    ("text", "value", "precision"),
    [
        ("44197", datetime(2021, 1, 1), "day"),
        ("44197.0", datetime(2021, 1, 1), "day"),
        ("44197.5", datetime(2021, 1, 1, 12), "datetime"),  # noon
        ("43831.75", datetime(2020, 1, 1, 18), "datetime"),
        (" 45078.25 ", datetime(2023, 6, 1, 6), "datetime"),
    ],
)
def test_an_excel_serial_through_a_csv_is_its_day_and_time(text, value, precision):
    found = _date(text)
    assert (found.value, found.precision, found.raw) == (value, precision, text.strip())
    # what the spreadsheet's number cell of the same serial gives
    cell = _date(float(text))
    assert (cell.value, cell.precision) == (value, precision)


@pytest.mark.parametrize("text", ["19999.5", "80000.5", "44197.5.1", "4419.75"])
def test_a_number_outside_the_serial_range_is_no_date(text):
    assert _date(text).value is None
