"""The whole kind behind field cases 02 and 07: dates at the precision catalogs give
them, and language-tagged text shown by one fixed preference."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from subscribe.catalog.harvesters.ckan import read_package
from subscribe.catalog.harvesters.dcat_us import dataset_record
from subscribe.catalog.languages import (
    by_language,
    language_rank,
    normalize_tag,
    preferred,
    translations,
)
from subscribe.catalog.normalize import PartialDate, normalize_date, period_end
from subscribe.catalog.records import DatasetRecord


@pytest.mark.parametrize(
    ("raw", "value", "precision"),
    [
        # year
        ("2019", datetime(2019, 1, 1), "year"),
        ("2019年", datetime(2019, 1, 1), "year"),
        ("2019年度", datetime(2019, 1, 1), "year"),
        (2019, datetime(2019, 1, 1), "year"),  # a spreadsheet cell typed as a number
        # month
        ("2018-05", datetime(2018, 5, 1), "month"),
        ("2019-3", datetime(2019, 3, 1), "month"),
        ("2019/03", datetime(2019, 3, 1), "month"),
        ("2019.03", datetime(2019, 3, 1), "month"),
        ("2019年3月", datetime(2019, 3, 1), "month"),
        ("2019年3月份", datetime(2019, 3, 1), "month"),
        ("２０１９年３月", datetime(2019, 3, 1), "month"),  # full-width digits
        ("201903", datetime(2019, 3, 1), "month"),
        ("March 2019", datetime(2019, 3, 1), "month"),
        # day
        ("2019-03-05", datetime(2019, 3, 5), "day"),
        ("2019/3/5", datetime(2019, 3, 5), "day"),
        ("2019.3.5", datetime(2019, 3, 5), "day"),
        ("2019年3月5日", datetime(2019, 3, 5), "day"),
        ("2019年03月05号", datetime(2019, 3, 5), "day"),
        ("20190305", datetime(2019, 3, 5), "day"),
        (20190305, datetime(2019, 3, 5), "day"),
        ("2019-03-05+08:00", datetime(2019, 3, 5), "day"),  # xsd:date with a zone
        ("2019-03-05Z", datetime(2019, 3, 5), "day"),
        ("5 Mar 2019", datetime(2019, 3, 5), "day"),
        ("03/05/2019", datetime(2019, 3, 5), "day"),  # US month/day/year (DCAT-US)
        (date(2019, 3, 5), datetime(2019, 3, 5), "day"),
        # datetime: zones converted to UTC, naive taken as UTC
        ("2019-03-05T10:00:00Z", datetime(2019, 3, 5, 10), "datetime"),
        ("2019-03-05T10:00:00+08:00", datetime(2019, 3, 5, 2), "datetime"),
        ("2019-01-01T00:00:00.000+0000", datetime(2019, 1, 1), "datetime"),
        ("2018-08-09T17:49:15.225557", datetime(2018, 8, 9, 17, 49, 15, 225557), "datetime"),
        ("2019-03-05 08:05", datetime(2019, 3, 5, 8, 5), "datetime"),
        ("2019-3-5 8:05:09", datetime(2019, 3, 5, 8, 5, 9), "datetime"),
        ("2019年3月5日 10时30分", datetime(2019, 3, 5, 10, 30), "datetime"),
        ("Tue, 05 Mar 2019 10:00:00 GMT", datetime(2019, 3, 5, 10), "datetime"),
        ("1551780000", datetime(2019, 3, 5, 10), "datetime"),  # epoch seconds as text
        (1551780000000, datetime(2019, 3, 5, 10), "datetime"),  # epoch milliseconds
        (datetime(2019, 3, 5, 10), datetime(2019, 3, 5, 10), "datetime"),
        # Taiwan's 民國 calendar (year 1 = 1912), as its government exports write it
        ("民國108年6月1日", datetime(2019, 6, 1), "day"),
        ("中华民国108年6月", datetime(2019, 6, 1), "month"),
        ("民國99年", datetime(2010, 1, 1), "year"),
        ("108/06/01", datetime(2019, 6, 1), "day"),
        ("112.7.1", datetime(2023, 7, 1), "day"),
        ("108年6月", datetime(2019, 6, 1), "month"),
        ("1080601", datetime(2019, 6, 1), "day"),
        ("112/07/01 10:30", datetime(2023, 7, 1, 10, 30), "datetime"),
    ],
)
def test_date_forms_keep_their_precision_and_raw_text(raw, value, precision):
    found = normalize_date(raw)
    assert (found.value, found.precision) == (value, precision)
    expected_raw = raw.isoformat() if isinstance(raw, date) else str(raw).strip()
    assert found.raw == expected_raw


@pytest.mark.parametrize(
    "raw",
    ["R/P1D", "R/PT1H", "R/2019-01-01/P1M", "P1Y", "junk", "2019-02-30", "2019-13",
     "见附件", "0", "12", 45078, "March 5", "0001-01-01", "100", "1080632", "1234567"],
)  # fmt: skip
def test_no_date_is_made_up_but_the_raw_text_stays(raw):
    found = normalize_date(raw)
    assert (found.value, found.precision, found.raw) == (None, "", str(raw))


def test_blank_is_no_date_and_no_text():
    for blank in (None, "", "  "):
        assert normalize_date(blank) == PartialDate()
    # A placeholder is no date either, but the source's text is kept (test_date_fidelity).
    for placeholder in ("null", "-"):
        assert normalize_date(placeholder) == PartialDate(raw=placeholder)


@pytest.mark.parametrize(
    ("raw", "earliest", "latest"),
    [
        ("2019-01-01/2019-12-31", (datetime(2019, 1, 1), "day"), (datetime(2019, 12, 31), "day")),
        ("1899-2017", (datetime(1899, 1, 1), "year"), (datetime(2017, 1, 1), "year")),
        ("7/1/1997 - 06/30/2019", (datetime(1997, 7, 1), "day"), (datetime(2019, 6, 30), "day")),
        ("2019年1月至2019年6月", (datetime(2019, 1, 1), "month"), (datetime(2019, 6, 1), "month")),
        ("2019-01-01/P1Y", (datetime(2019, 1, 1), "day"), (datetime(2019, 1, 1), "day")),
        ("2019-01-01~2019-02", (datetime(2019, 1, 1), "day"), (datetime(2019, 2, 1), "month")),
    ],
)
def test_an_interval_gives_its_earlier_end_to_issued_and_later_to_modified(raw, earliest, latest):
    issued, modified = normalize_date(raw), normalize_date(raw, latest=True)
    assert (issued.value, issued.precision) == earliest
    assert (modified.value, modified.precision) == latest
    assert issued.raw == modified.raw == raw


def test_interval_latest_compares_period_ends_not_starts():
    # "2019-12-15/2019": the year 2019 ends after 15 December.
    found = normalize_date("2019-12-15/2019", latest=True)
    assert (found.value, found.precision) == (datetime(2019, 1, 1), "year")


@pytest.mark.parametrize(
    ("value", "precision", "end"),
    [
        (datetime(2019, 1, 1), "year", datetime(2020, 1, 1)),
        (datetime(2019, 12, 1), "month", datetime(2020, 1, 1)),
        (datetime(2019, 2, 1), "month", datetime(2019, 3, 1)),
        (datetime(2020, 2, 29), "day", datetime(2020, 3, 1)),
        (datetime(2019, 3, 5, 10), "datetime", datetime(2019, 3, 5, 10)),
        (datetime(2019, 3, 5, 10), "", datetime(2019, 3, 5, 10)),  # stored before precision
        (None, "year", None),
    ],
)
def test_period_end(value, precision, end):
    assert period_end(value, precision) == end


def test_record_accepts_a_partial_date_or_anything_the_normalizer_reads():
    record = DatasetRecord(
        identifier="a", title="A", issued="2019年3月", modified=normalize_date("2018-05")
    )
    assert (record.issued, record.issued_precision, record.issued_raw) == (
        datetime(2019, 3, 1), "month", "2019年3月",
    )  # fmt: skip
    assert (record.modified, record.modified_precision, record.modified_raw) == (
        datetime(2018, 5, 1), "month", "2018-05",
    )  # fmt: skip
    stated = DatasetRecord(
        identifier="b", title="B", modified=datetime(2019, 1, 1), modified_precision="year"
    )
    assert (stated.modified, stated.modified_precision) == (datetime(2019, 1, 1), "year")
    canonical = record.canonical()
    assert (canonical["modified"], canonical["modified_precision"]) == (
        "2018-05-01T00:00:00",
        "month",
    )


# --- languages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "normalized", "rank"),
    [
        ("zh", "zh", 0),
        ("zh-Hans", "zh-Hans", 0),
        ("zh-cn", "zh-CN", 0),
        ("zh_CN", "zh-CN", 0),
        ("ZH-HANS-CN", "zh-Hans-CN", 0),
        ("zh-SG", "zh-SG", 0),
        ("zh-Hant", "zh-Hant", 1),
        ("zh-TW", "zh-TW", 1),
        ("zh_tw", "zh-TW", 1),
        ("zh-HK", "zh-HK", 1),
        ("zh-Hant-HK", "zh-Hant-HK", 1),
        ("en", "en", 2),
        ("en-GB", "en-GB", 2),
        ("en_us", "en-US", 2),
        ("", "und", 3),
        (None, "und", 3),
        ("und", "und", 3),
        ("de", "de", 4),
        ("es-419", "es-419", 4),
    ],
)
def test_language_tags_and_their_rank(tag, normalized, rank):
    assert normalize_tag(tag) == normalized
    assert language_rank(tag) == rank


def test_preference_ignores_document_order():
    values = [("zh-Hant", "公共自行車站點"), ("zh-TW", "公車"), ("zh_CN", "公共自行车站点"),
              ("en-GB", "Public bikes"), (None, "untagged"), ("de", "Fahrräder")]  # fmt: skip
    for rotation in range(len(values)):
        rotated = values[rotation:] + values[:rotation]
        assert preferred(rotated) == "公共自行车站点"
        assert preferred(list(reversed(rotated))) == "公共自行车站点"
    assert preferred([("de", "Fahrräder"), ("fr", "Vélos")]) == "Fahrräder"  # smallest tag
    assert preferred([("de", "Fahrräder"), (None, "bikes")]) == "bikes"  # untagged before
    assert preferred([("en", ""), ("de", "")]) == ""


def test_translations_keyed_by_normalized_tag_in_preference_order():
    found = translations(
        title=by_language([("en_GB", "Air"), ("zh-cn", "空气"), ("fr", "Air (fr)")]),
        description=by_language([("en-gb", "Hourly"), ("", "untagged")]),
    )
    assert list(found) == ["zh-CN", "en-GB", "und", "fr"]
    assert found["en-GB"] == {"title": "Air", "description": "Hourly"}
    assert translations(title=by_language([(None, "only untagged")])) == {}


def test_ckan_fluent_translated_fields_follow_the_same_preference():
    package = {
        "id": "p1",
        "name": "air",
        "title": "Air quality",
        "notes": "Hourly values",
        "title_translated": {"en": "Air quality", "zh_CN": "空气质量", "fr": "Qualité de l'air"},
        "notes_translated": {"en": "Hourly values", "zh_CN": "小时数据"},
    }
    record = read_package(package, "https://ckan.example.org", "p1")
    assert (record.title, record.description) == ("空气质量", "小时数据")
    assert record.translations["en"] == {"title": "Air quality", "description": "Hourly values"}
    assert record.translations["fr"] == {"title": "Qualité de l'air"}
    # In extras, ckanext-scheming stores the dict as JSON text.
    as_extra = {"id": "p2", "name": "b", "title": "Bikes",
                "extras": [{"key": "title_translated", "value": '{"zh-Hant": "自行車", "en": "Bikes"}'}]}  # fmt: skip
    assert read_package(as_extra, "https://ckan.example.org", "p2").title == "自行車"
    plain = read_package({"id": "p3", "name": "c", "title": "Plain"}, "https://x.org", "p3")
    assert (plain.title, plain.translations) == ("Plain", {})


def test_a_repeat_rule_in_modified_gives_the_frequency_when_none_is_declared():
    item = {"identifier": "d", "title": "Daily", "modified": "R/P1D"}
    record = dataset_record(item)
    assert (record.modified, record.modified_raw) == (None, "R/P1D")
    assert (record.frequency, record.frequency_raw) == ("daily", "R/P1D")
    declared = dataset_record({**item, "accrualPeriodicity": "R/P1W"})
    assert declared.frequency == "weekly"  # the declared frequency wins
