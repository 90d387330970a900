"""Dates as the source wrote them, read only when they are dates one can believe.

Placeholders ("n/a", "暂无", "-") keep their text and give no date; ISO week dates and
2020年第5周 are weeks (a period, like a quarter); an Excel serial with a time fraction
that went through a CSV is that day and time; a date after the harvest is not credible
(it would look freshly updated, and never overdue, for years). Dates not read are
counted in the run's report by reason, never made bad records.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select

from subscribe.auth import services as auth
from subscribe.catalog import records, services
from subscribe.catalog.harvesters.tabular import _date
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion
from subscribe.catalog.normalize import (
    credible,
    date_note,
    is_placeholder,
    normalize_date,
)
from subscribe.catalog.overdue import detect_overdue
from subscribe.catalog.records import DatasetRecord, date_notes
from subscribe.extensions import db
from subscribe.models_base import epoch_seconds, utcnow
from subscribe.quality.job import _PRECISION_CODE, _period_end_epoch
from tests.search_helpers import harvest, serve
from tests.test_quarter_dates import dated_dataset
from tests.test_web import PASSWORD, login

PLACEHOLDERS = ["n/a", "N/A", "NA", "-", "—", "--", "/", "无", "暂无", "暫無", "null", "NULL",
                "不详", "未知", "待定", "…", "？", "ｎ／ａ"]  # fmt: skip


@pytest.mark.parametrize("text", PLACEHOLDERS)
def test_a_placeholder_keeps_its_text_and_gives_no_date(text):
    found = normalize_date(f"  {text} ")
    assert (found.value, found.precision, found.raw) == (None, "", text)
    assert is_placeholder(text)
    assert date_note(found.raw, found.value) == "placeholder"


@pytest.mark.parametrize("text", ["", "   ", None])
def test_nothing_written_is_no_raw_text(text):
    assert normalize_date(text).raw == ""


@pytest.mark.parametrize("text", ["2019", "2019-03", "无限期", "N/A 2019", "R/P1D", "n/a2"])
def test_text_with_a_date_or_other_words_is_no_placeholder(text):
    assert not is_placeholder(text)


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


def test_a_future_date_is_not_credible():
    now = datetime(2026, 12, 1, 10)
    ahead = normalize_date("2026-12-02 09:00:00")  # within a day: a time zone ahead
    assert credible(ahead, now) == ahead
    far = normalize_date("2091-05-01")  # 2019 mistyped
    assert credible(far, now).value is None and credible(far, now).raw == "2091-05-01"
    assert credible(normalize_date("2027"), now).value is None  # the period starts later
    assert credible(normalize_date("2026"), now).value == datetime(2026, 1, 1)


def test_a_record_keeps_the_text_of_a_date_it_does_not_believe():
    record = DatasetRecord(identifier="a", title="t", modified="2091-05-01", issued="暂无")
    assert (record.modified, record.modified_precision, record.modified_raw) == (
        None, "", "2091-05-01")  # fmt: skip
    assert (record.issued, record.issued_raw) == (None, "暂无")
    assert date_notes(record) == [("issued", "placeholder"), ("modified", "future")]
    read = DatasetRecord(identifier="b", title="t", modified="2019-05-01", issued="R/P1D")
    assert read.modified == datetime(2019, 5, 1)
    assert date_notes(read) == [("issued", "schedule")]


def _export(modified: dict[str, str]) -> bytes:
    lines = ["目录编号,数据目录名称,数据提供方,更新周期,发布日期,更新时间"]
    for n, (title, when) in enumerate(modified.items(), 1):
        lines.append(f"A{n:03d},{title},市统计局,每日,{'无' if n == 1 else '2019-01-01'},{when}")
    return ("\n".join(lines) + "\n").encode()


def test_a_harvest_keeps_what_the_source_wrote_and_counts_why_it_read_no_date(
    app, client, httpserver
):
    future = (utcnow() + timedelta(days=30)).strftime("%Y-%m-%d")
    rows = {"人口": "n/a", "企业": "暂无", "道路": "-", "学校": future, "医院": "44197.5",
            "公园": "2020年第5周", "河流": "看情况", "桥梁": ""}  # fmt: skip
    url = serve(httpserver, "/catalog.csv", _export(rows), "text/csv")
    source = services.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    run = harvest(source)
    assert (run.created, run.bad, run.errors or []) == (8, 0, [])
    assert run.mapping_report["dates_not_read"] == {
        "issued": {"placeholder": 1},
        "modified": {"placeholder": 3, "future": 1, "unreadable": 1},
    }
    by_title = {d.title: d for d in db.session.scalars(select(Dataset))}
    for title in ("人口", "企业", "道路", "学校", "河流"):
        dataset = by_title[title]
        assert (dataset.modified, dataset.modified_raw) == (None, rows[title]), title
    assert by_title["人口"].issued_raw == "无" and by_title["人口"].issued is None
    assert (by_title["医院"].modified, by_title["医院"].modified_precision) == (
        datetime(2021, 1, 1, 12), "datetime")  # fmt: skip
    assert (by_title["公园"].modified, by_title["公园"].modified_precision) == (
        datetime(2020, 1, 27), "week")  # fmt: skip
    assert (by_title["桥梁"].modified, by_title["桥梁"].modified_raw) == (None, "")
    # A date nobody can believe says neither "fresh" nor "late": overdue detection passes
    # it over (no date), and judges the week by its end as any period.
    assert by_title["学校"].overdue_since is None
    assert by_title["公园"].overdue_since is not None  # a daily dataset last updated in 2020
    assert detect_overdue() == 0  # both known late at their first harvest: nothing pushed
    db.session.expire_all()
    assert db.session.get(Dataset, by_title["学校"].id).overdue_notified_for is None
    park = db.session.get(Dataset, by_title["公园"].id)
    assert park.overdue_notified_for == park.modified

    api = client.get(f"/api/v1/datasets/{by_title['人口'].id}").json
    assert (api["modified"], api["modified_raw"], api["modified_note"]) == (None, "n/a",
                                                                           "placeholder")  # fmt: skip
    assert (api["issued_raw"], api["issued_note"]) == ("无", "placeholder")
    assert client.get(f"/api/v1/datasets/{by_title['学校'].id}").json["modified_note"] == "future"
    assert client.get(f"/api/v1/datasets/{by_title['医院'].id}").json["modified_note"] is None

    page = client.get(f"/datasets/{by_title['企业'].id}?lang=zh", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "暂无" in text and "占位符" in text
    page = client.get(f"/datasets/{by_title['学校'].id}?lang=en", follow_redirects=True)
    assert "a date in the future" in page.get_data(as_text=True)
    page = client.get(f"/datasets/{by_title['公园'].id}?lang=zh", follow_redirects=True)
    assert "<dd>2020年第5周" in page.get_data(as_text=True)
    page = client.get(f"/datasets/{by_title['公园'].id}?lang=en", follow_redirects=True)
    assert "<dd>week 5 of 2020" in page.get_data(as_text=True)

    # The operators' source page: the run's counts, by field and reason, in its language.
    auth.create_user("ops@example.org", PASSWORD, "operator")
    login(client, "ops@example.org")
    page = client.get(f"/operators/sources/{source.id}?lang=zh", follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "以下日期按原文保留，未识别为日期" in text
    shown = re.findall(r'data-field="(\w+)" data-note="(\w+)">([^<]*)</li>', text)
    counts = run.mapping_report["dates_not_read"]
    assert {(field, note) for field, note, _ in shown} == {
        (field, note) for field, notes in counts.items() for note in notes
    }
    line = next(line for field, note, line in shown if (field, note) == ("modified", "placeholder"))
    assert "3" in line and "占位符" in line


def test_a_future_date_is_taken_quietly_once_it_has_passed(app, httpserver, monkeypatch):
    future = utcnow() + timedelta(days=30)
    rows = {"人口": "2019-05-01", "学校": future.strftime("%Y-%m-%d")}  # 人口: issued 无
    url = serve(httpserver, "/catalog.csv", _export(rows), "text/csv")
    source = services.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    first = harvest(source)
    assert first.mapping_report["dates_not_read"] == {"issued": {"placeholder": 1},
                                                      "modified": {"future": 1}}  # fmt: skip
    school = db.session.scalar(select(Dataset).where(Dataset.title == "学校"))
    # The row is stored unread-as-new, so the next run reads it again, not "unchanged".
    assert school.modified is None and school.source_fingerprint is None
    people = db.session.scalar(select(Dataset).where(Dataset.title == "人口"))
    assert people.source_fingerprint is not None

    # Still in the future: unchanged, read again and counted again (a run's report counts
    # the rows it read: 人口's unchanged row is not).
    again = harvest(source)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert again.mapping_report["dates_not_read"] == {"modified": {"future": 1}}

    events = db.session.scalar(select(func.count()).select_from(CatalogEvent))
    monkeypatch.setattr(records, "utcnow", lambda: future + timedelta(hours=1))
    later = harvest(source)
    assert "dates_not_read" not in later.mapping_report
    db.session.expire_all()
    school = db.session.get(Dataset, school.id)
    assert (school.modified, school.modified_precision) == (datetime(*future.timetuple()[:3]),
                                                            "day")  # fmt: skip
    assert school.source_fingerprint is not None  # read: unchanged rows are skipped again
    # A new reading of the same text: no version, no event for subscribers.
    assert school.version == 1
    assert db.session.scalar(select(func.count()).select_from(CatalogEvent)) == events
    snapshot = db.session.scalar(
        select(DatasetVersion.snapshot).where(DatasetVersion.dataset_id == school.id)
    )
    assert snapshot["modified"].startswith(future.strftime("%Y-%m-%d"))
