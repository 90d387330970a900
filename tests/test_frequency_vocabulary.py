"""Declared update frequencies between the enum's old rungs: every two weeks, twice a
month, every six months, every two years — in Chinese, English and the DCAT / Dublin
Core vocabularies — are read as what they say, not rounded up to the next rung."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from subscribe.catalog.freshness import overdue_since
from subscribe.catalog.normalize import normalize_frequency


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Every two weeks / twice a month.
        *[(t, "biweekly") for t in (
            "每两周", "每2周", "两周", "双周", "每双周", "半月", "每半月", "每月两次", "每月2次",
            "每旬", "biweekly", "Bi-weekly", "fortnightly", "semimonthly", "semi-monthly",
            "every two weeks", "every 2 weeks", "twice a month", "R/P2W", "R/P14D",
            "http://purl.org/cld/freq/biweekly",
            "http://publications.europa.eu/resource/authority/frequency/BIWEEKLY",
            "http://publications.europa.eu/resource/authority/frequency/MONTHLY_2",
        )],  # fmt: skip
        # Every six months / twice a year.
        *[(t, "semiannual") for t in (
            "每半年", "半年", "半年度", "每年两次", "一年两次", "2次/年", "semiannual",
            "semi-annually", "biannual", "twice a year", "P6M",
            "http://publications.europa.eu/resource/authority/frequency/ANNUAL_2",
        )],  # fmt: skip
        # Every two years.
        *[(t, "biennial") for t in ("每两年", "两年", "每2年", "biennial", "R/P2Y", "every two years")],
        # Neighbours keep their rung.
        ("每周两次", "weekly"), ("每日两次", "daily"), ("每季度", "quarterly"),
        ("每年4次", "quarterly"), ("双月", "quarterly"), ("bimonthly", "quarterly"),
        ("每月", "monthly"), ("每年", "yearly"), ("每三年", "irregular"), ("不定期", "irregular"), ("MANUAL", "irregular"),
    ],
)  # fmt: skip
def test_the_frequency_kind(text, expected):
    assert normalize_frequency(text) == (expected, text)


def test_a_biweekly_dataset_is_late_after_weeks_not_months():
    modified = datetime(2026, 1, 1)
    assert overdue_since("biweekly", modified, modified + timedelta(days=20)) is None
    assert overdue_since("biweekly", modified, modified + timedelta(days=30)) is not None
    assert overdue_since("semiannual", modified, modified + timedelta(days=300)) is not None
    assert overdue_since("biennial", modified, modified + timedelta(days=400)) is None


def test_the_api_filters_and_names_the_new_values(client):
    for value in ("biweekly", "semiannual", "biennial"):
        response = client.get("/api/v1/datasets", query_string={"frequency": value})
        assert response.status_code == 200, response.json
    assert (
        client.get("/api/v1/datasets", query_string={"frequency": "fortnight"}).status_code == 400
    )
    spec = client.get("/api/v1/openapi.json").get_data(as_text=True)
    assert "biweekly" in spec and "semiannual" in spec and "biennial" in spec
