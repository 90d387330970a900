"""Quarter and half-year dates (2019年第三季度, 2019-Q3, 2019年上半年, 2019-H1): statistics
and Chinese catalog exports date by period. Each is a period with a start and an end, as
a year or a month is: read at harvest, shown as written, late only after its end."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import select

from subscribe.catalog import sequence, services
from subscribe.catalog.freshness import allowed_gap
from subscribe.catalog.models import Dataset, DatasetVersion
from subscribe.catalog.normalize import normalize_date
from subscribe.catalog.overdue import detect_overdue
from subscribe.extensions import db
from subscribe.models_base import epoch_seconds
from subscribe.quality.job import _PRECISION_CODE, _period_end_epoch
from tests.search_helpers import harvest, serve


def dated_dataset(frequency: str, raw: str, updated_at: datetime | None = None) -> Dataset:
    """One stored dataset (with its version 1) whose `modified` is `raw` as the harvest
    reads it (normalize_date: start, precision, raw text), committed."""
    found = normalize_date(raw)
    source = services.create_source(f"dated-{frequency}", "dcat", "http://127.0.0.1:9/data.json")
    dataset = Dataset(
        source_id=source.id, identifier=raw, title=raw, content_hash="x", frequency=frequency,
        modified=found.value, modified_precision=found.precision, modified_raw=raw,
        change_seq=sequence.allocate(1)[0], updated_at=updated_at or datetime(2019, 1, 1),
    )  # fmt: skip
    db.session.add(dataset)
    db.session.flush()
    db.session.add(DatasetVersion(dataset_id=dataset.id, number=1, kind="created", snapshot={}))
    db.session.commit()
    return dataset


@pytest.mark.parametrize(
    ("text", "start", "precision", "end"),
    [
        ("2019年第三季度", (2019, 7), "quarter", (2019, 10)),
        ("2019年3季度", (2019, 7), "quarter", (2019, 10)),
        ("2019年第一季", (2019, 1), "quarter", (2019, 4)),
        ("2019年度四季度", (2019, 10), "quarter", (2020, 1)),
        ("2019-Q3", (2019, 7), "quarter", (2019, 10)),
        ("2019Q4", (2019, 10), "quarter", (2020, 1)),
        ("2019 q2", (2019, 4), "quarter", (2019, 7)),
        ("2019年Q3", (2019, 7), "quarter", (2019, 10)),
        ("2019.Q3", (2019, 7), "quarter", (2019, 10)),
        ("2019年H2", (2019, 7), "half", (2020, 1)),
        ("Q2 2019", (2019, 4), "quarter", (2019, 7)),
        ("２０１９年第二季度", (2019, 4), "quarter", (2019, 7)),  # full-width digits
        ("108年第三季", (2019, 7), "quarter", (2019, 10)),  # Taiwan's 民國 year
        ("2019年上半年", (2019, 1), "half", (2019, 7)),
        ("2019年度下半年", (2019, 7), "half", (2020, 1)),
        ("2019-H1", (2019, 1), "half", (2019, 7)),
        ("H2 2019", (2019, 7), "half", (2020, 1)),
    ],
)
def test_a_quarter_or_half_year_is_a_period(text, start, precision, end):
    found = normalize_date(text)
    assert (found.value, found.precision, found.raw) == (datetime(*start, 1), precision, text)
    assert found.end == datetime(*end, 1)


@pytest.mark.parametrize("text", ["2019年第五季度", "2019-Q5", "2019-H3", "第三季度"])
def test_no_such_quarter_is_no_date(text):
    found = normalize_date(text)
    assert found.value is None and found.raw == text


def test_an_interval_of_quarters_gives_its_later_or_earlier_end():
    text = "2019年第一季度至2019年第二季度"
    assert normalize_date(text, latest=True).value == datetime(2019, 4, 1)
    assert normalize_date(text).value == datetime(2019, 1, 1)


def test_quality_counts_freshness_from_the_end_of_the_period():
    modified = np.array([epoch_seconds(datetime(2019, 7, 1))] * 2, dtype=np.int64)
    codes = np.array([_PRECISION_CODE["quarter"], _PRECISION_CODE["half"]], dtype=np.int8)
    ends = _period_end_epoch(modified, codes)
    assert ends.tolist() == [
        epoch_seconds(datetime(2019, 10, 1)),
        epoch_seconds(datetime(2020, 1, 1)),
    ]


EXPORT = (
    "数据目录名称,数据提供方,更新周期,更新时间\n"
    "全市规模以上工业增加值,市统计局,每季度,2024年第三季度\n"
    "城镇居民人均可支配收入,市统计局,每半年,2024年上半年\n"
)


@pytest.mark.parametrize(
    ("lang", "quarter", "half"),
    [("zh", "2024年第3季度", "2024年上半年"), ("en", "3rd quarter 2024", "first half of 2024")],
)
def test_an_export_dated_by_quarter_is_harvested_and_shown_so(app, client, httpserver, lang,
                                                              quarter, half):  # fmt: skip
    url = serve(httpserver, "/catalog.csv", EXPORT.encode(), "text/csv")
    run = harvest(services.create_source("stats", "tabular", url))
    assert (run.status, run.created, run.bad) == ("succeeded", 2, 0)
    by_title = {d.title: d for d in db.session.scalars(select(Dataset))}
    added = by_title["全市规模以上工业增加值"]
    assert (added.modified, added.modified_precision) == (datetime(2024, 7, 1), "quarter")
    income = by_title["城镇居民人均可支配收入"]
    assert (income.modified, income.modified_precision) == (datetime(2024, 1, 1), "half")

    for dataset, shown in ((added, quarter), (income, half)):
        page = client.get(f"/datasets/{dataset.id}?lang={lang}", follow_redirects=True)
        assert page.status_code == 200
        assert f"<dd>{shown}" in page.get_data(as_text=True)
    api = client.get(f"/api/v1/datasets/{added.id}").json
    assert (api["modified_precision"], api["modified_raw"]) == ("quarter", "2024年第三季度")


def test_a_quarter_is_late_only_after_its_end_plus_the_gap(app):
    dated_dataset("quarterly", "2019-Q1", updated_at=datetime(2019, 4, 2))
    # From 1 January a quarterly dataset would be late in April; "2019-Q1" may mean
    # 31 March, so it is on time until a quarter (and its grace) after 1 April.
    assert detect_overdue(now=datetime(2019, 5, 1)) == 0
    assert detect_overdue(now=datetime(2019, 7, 5)) == 0
    assert detect_overdue(now=datetime(2019, 9, 1)) == 1


@pytest.mark.parametrize(
    ("precision", "raw", "late_from"),
    [("quarter", "2019-Q3", datetime(2019, 10, 1)), ("half", "2019年下半年", datetime(2020, 1, 1)),
     ("year", "2019", datetime(2020, 1, 1))],
)  # fmt: skip
def test_the_page_and_api_count_lateness_from_the_end_of_the_period(
    app, client, precision, raw, late_from
):
    """overdue_since (dataset page badge, API) agrees with overdue detection and the
    scenario report: a black-box run saw 2026-Q3 marked late in November, from 1 July."""
    dataset = dated_dataset("quarterly", raw)
    assert dataset.modified_precision == precision
    gap = allowed_gap("quarterly")
    assert dataset.overdue_since == late_from + timedelta(seconds=gap)
    shown = client.get(f"/api/v1/datasets/{dataset.id}").json["overdue_since"]
    assert shown.startswith((late_from + timedelta(seconds=gap)).isoformat()[:10])
