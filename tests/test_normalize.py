"""The shared normalizers over the messy values real catalogs publish."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from subscribe.catalog.normalize import (
    DAY,
    clean_text,
    is_bare_number,
    normalize_date,
    normalize_format,
    normalize_frequency,
    normalize_open_type,
    parse_datetime,
    parse_formats,
    split_list,
    unit_days,
)
from subscribe.catalog.text import visible_length

EU = "http://publications.europa.eu/resource/authority/frequency/"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("每日", "daily"),
        ("每天", "daily"),
        ("每日更新", "daily"),
        ("按天更新", "daily"),
        ("实时", "realtime"),
        ("实时更新", "realtime"),
        ("每小时", "realtime"),
        ("每5分钟", "realtime"),
        ("每周", "weekly"),
        ("每周一", "weekly"),
        ("每月", "monthly"),
        ("按月", "monthly"),
        ("每半月", "biweekly"),
        ("每十天", "biweekly"),
        ("双周", "biweekly"),
        ("季度", "quarterly"),
        ("每季度", "quarterly"),
        ("每三个月", "quarterly"),
        ("每半年", "semiannual"),
        ("每年", "yearly"),
        ("按年更新", "yearly"),
        ("每12个月", "yearly"),
        ("每两年", "biennial"),
        ("每十年", "irregular"),
        ("不定期", "irregular"),
        ("其他", "irregular"),
        ("一次性", "irregular"),
        ("", "unknown"),
        (None, "unknown"),
        ("-", "unknown"),
        ("见备注", "unknown"),
        ("asdf 123", "unknown"),
        ("R/P1D", "daily"),
        ("R/PT1H", "realtime"),
        ("P1W", "weekly"),
        ("R/P1M", "monthly"),
        ("P3M", "quarterly"),
        ("R/P1Y", "yearly"),
        ("daily", "daily"),
        ("Semimonthly", "biweekly"),
        ("irregular", "irregular"),
        (EU + "DAILY", "daily"),
        (EU + "WEEKLY", "weekly"),
        (EU + "MONTHLY", "monthly"),
        (EU + "QUARTERLY", "quarterly"),
        (EU + "ANNUAL", "yearly"),
        (EU + "ANNUAL_2", "semiannual"),
        (EU + "MONTHLY_2", "biweekly"),
        (EU + "DAILY_2", "realtime"),
        (EU + "CONT", "realtime"),
        (EU + "UPDATE_CONT", "realtime"),
        (EU + "BIENNIAL", "biennial"),
        (EU + "IRREG", "irregular"),
        (EU + "NEVER", "irregular"),
        (EU + "UNKNOWN", "unknown"),
        (EU + "OP_DATPRO", "unknown"),
        ("http://purl.org/cld/freq/weekly", "weekly"),
        # Column names that reached the value (a repeated header row, a shifted column):
        # 周期/日期/时间 name no period (QA: "更新周期" was read as 每周).
        ("更新周期", "unknown"),
        ("更新日期", "unknown"),
        ("更新时间", "unknown"),
        ("数据更新周期：每月", "monthly"),
        ("每周", "weekly"),
        ("T+1", "daily"),  # QA: settlement-style daily updates
        ("t+1", "daily"),
        ("T+0", "daily"),
    ],
)
def test_normalize_frequency(value, expected):
    assert normalize_frequency(value) == (expected, clean_text(value))


def test_frequency_keeps_the_raw_text():
    assert normalize_frequency("  按年 更新 ") == ("yearly", "按年 更新")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("无条件开放", "unconditional"),
        ("开放", "unconditional"),
        ("普遍开放", "unconditional"),
        ("公开", "unconditional"),
        ("无需申请", "unconditional"),
        ("有条件开放", "conditional"),
        ("条件开放", "conditional"),
        ("受限开放", "conditional"),
        ("依申请开放", "on_request"),
        ("申请后开放", "on_request"),
        ("不予开放", "not_open"),
        ("暂不开放", "not_open"),
        ("未开放", "not_open"),
        ("非公开", "not_open"),
        ("public", "unconditional"),
        ("Public", "unconditional"),
        ("restricted public", "conditional"),
        ("Restricted Public", "conditional"),
        ("non-public", "not_open"),
        ("Non Public", "not_open"),
        ("unconditional", "unconditional"),
        ("conditional", "conditional"),
        ("reopen", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
        ("见说明", "unknown"),
        # Column names, not values (QA: a repeated header row was "unconditionally open").
        ("开放属性", "unknown"),
        ("开放类型", "unknown"),
        ("公开方式", "unknown"),
        ("开放状态", "unknown"),
        ("有条件开放类型", "conditional"),  # a value word still wins
        ("部分开放", "conditional"),  # QA: partially open was "unconditionally open"
        ("半开放", "conditional"),  # acceptance run 4: semi-open read as open
        ("定向开放", "conditional"),
        ("授权开放", "conditional"),
        ("无需授权", "unconditional"),
        ("semi-open", "conditional"),
        ("部分公开", "conditional"),
        ("部分不开放", "not_open"),
        ("partially open", "conditional"),
    ],
)
def test_normalize_open_type(value, expected):
    assert normalize_open_type(value) == (expected, clean_text(value))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("['xls']", ["XLS"]),
        ("['xls', 'xlsx']", ["XLS", "XLSX"]),
        ("[xml,xls,csv,json]", ["XML", "XLS", "CSV", "JSON"]),
        ('["csv", "json"]', ["CSV", "JSON"]),
        ("CSV、JSON", ["CSV", "JSON"]),
        ("xls，xlsx", ["XLS", "XLSX"]),
        ("XLS；CSV", ["XLS", "CSV"]),
        ("csv/json", ["CSV", "JSON"]),
        ("csv json", ["CSV", "JSON"]),
        ("csv, CSV", ["CSV"]),
        (".CSV", ["CSV"]),
        ("excel", ["XLS"]),
        ("接口", ["API"]),
        ("Web Service", ["API"]),
        ("ESRI Shapefile", ["ESRI SHAPEFILE"]),
        ("text/csv", ["CSV"]),
        ("TEXT/CSV;charset=GBK", ["CSV"]),
        ("application/json; charset=utf-8", ["JSON"]),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ["XLSX"]),
        ("application/vnd.ms-excel", ["XLS"]),
        (["csv", None, "Json"], ["CSV", "JSON"]),
        ("[]", []),
        ("['']", []),
        ("", []),
        (None, []),
    ],
)
def test_parse_formats(value, expected):
    assert parse_formats(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("csv", "CSV"), (".geojson", "GEOJSON"), ("application/geo+json", "GEOJSON"), ("", "")],
)
def test_normalize_format(value, expected):
    assert normalize_format(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2023年1月5日", datetime(2023, 1, 5)),
        ("2023年01月05日 08时30分", datetime(2023, 1, 5, 8, 30)),
        ("2023年1月5日 8:30", datetime(2023, 1, 5, 8, 30)),
        ("2023/1/5", datetime(2023, 1, 5)),
        ("2023/01/05 08:30", datetime(2023, 1, 5, 8, 30)),
        ("2023.01.05", datetime(2023, 1, 5)),
        ("2023-1-5 8:30:15", datetime(2023, 1, 5, 8, 30, 15)),
        ("2023-01-05", datetime(2023, 1, 5)),
        ("2023-01-05T08:30:00+08:00", datetime(2023, 1, 5, 0, 30)),
        ("2023-01-05T08:30:00Z", datetime(2023, 1, 5, 8, 30)),
        ("2023-01-05T08:30:00.000+0800", datetime(2023, 1, 5, 0, 30)),
        ("2023-01-05 08:30:00.123", datetime(2023, 1, 5, 8, 30, 0, 123000)),
        ("20230105", datetime(2023, 1, 5)),
        ("2023年1月", datetime(2023, 1, 1)),
        ("2023-01", datetime(2023, 1, 1)),
        ("2023年", datetime(2023, 1, 1)),
        ("2023", datetime(2023, 1, 1)),
        ("Jan 5, 2023", datetime(2023, 1, 5)),
        (1672907400000, datetime(2023, 1, 5, 8, 30)),
        (1672907400, datetime(2023, 1, 5, 8, 30)),
        ("1672907400000", datetime(2023, 1, 5, 8, 30)),
        (date(2023, 1, 5), datetime(2023, 1, 5)),
        (datetime(2023, 1, 5, 8, 30), datetime(2023, 1, 5, 8, 30)),
        ("\ufeff2023-01-05", datetime(2023, 1, 5)),
        ("2023-13-45", None),
        ("2023年2月30日", None),
        ("Jan 5", None),
        ("12", None),
        ("junk", None),
        ("不详", None),
        ("", None),
        (None, None),
        (0, None),
        (True, None),
    ],
)
def test_parse_datetime(value, expected):
    assert parse_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("交通,教育", ["交通", "教育"]),
        ("交通、教育；交通", ["交通", "教育"]),
        ("['交通', '教育']", ["交通", "教育"]),
        ("[交通]", ["交通"]),
        ("教育/科技", ["教育", "科技"]),
        ("health care", ["health care"]),
        (["a", "b, c", "TIGER/Line"], ["a", "b, c", "TIGER/Line"]),  # list items are whole values
        ([{"name": "x", "display_name": "X"}], ["X"]),
        ("", []),
        (None, []),
    ],
)
def test_split_list(value, expected):
    assert split_list(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("  a \n b ", "a b"),
        ("\u3000标题\u3000", "标题"),
        ("\ufeff标题\u200b", "标题"),
        ("数据\x00目录", "数据目录"),
        ("None", ""),
        ("NaN", ""),
        ("无", ""),
        ("-", ""),
        (None, ""),
        (0, "0"),
    ],
)
def test_clean_text(value, expected):
    assert clean_text(value) == expected


def test_visible_length_counts_what_a_reader_sees():
    assert visible_length("\u200b" * 6) == 0
    assert visible_length(" \u3000\ufeff\u200d\u2060\u200e\t\n") == 0
    assert visible_length("数据 错误") == 4
    assert visible_length("PM2.5") == 5


@pytest.mark.parametrize(
    "text",
    ["2019-03-05", "2019-03-05 10:30:00", "2019-03-05T23:59:59", "2019-01-01 00:36:03",
     "2019-02-30", "2019-13-01", "2019-03-05 24:00:00", "0999-01-01", "3000-01-01",
     "2019-03-05 10:61:00", "0000-00-00"],
)  # fmt: skip
def test_plain_iso_dates_read_as_the_general_path_reads_them(text):
    # Surrounding spaces keep a text off the fast path; cleaned, it is the same text.
    assert normalize_date(text) == normalize_date(f" {text} ")
    assert normalize_date(text, latest=True) == normalize_date(f" {text} ", latest=True)


@pytest.mark.parametrize(
    ("text", "start", "precision", "latest"),
    [
        # Chinese numerals (formal documents): digit by digit years, 十 for months and days.
        ("二〇一八年五月", datetime(2018, 5, 1), "month", datetime(2018, 5, 1)),
        ("二零一九年十二月三十一日", datetime(2019, 12, 31), "day", datetime(2019, 12, 31)),
        ("二〇一九年三月五日", datetime(2019, 3, 5), "day", datetime(2019, 3, 5)),
        ("二〇一九年十月", datetime(2019, 10, 1), "month", datetime(2019, 10, 1)),
        ("二〇一九年", datetime(2019, 1, 1), "year", datetime(2019, 1, 1)),
        # A part of a month or year keeps the month's or year's precision (no made-up day).
        ("2019年5月上旬", datetime(2019, 5, 1), "month", datetime(2019, 5, 1)),
        ("2019年3月底", datetime(2019, 3, 1), "month", datetime(2019, 3, 1)),
        ("2019年末", datetime(2019, 1, 1), "year", datetime(2019, 1, 1)),
        # Year ranges: with a slash, or with 年 on each side.
        ("2019/2020", datetime(2019, 1, 1), "year", datetime(2020, 1, 1)),
        ("2019年-2020年", datetime(2019, 1, 1), "year", datetime(2020, 1, 1)),
    ],
)
def test_chinese_numeral_dates_parts_of_periods_and_year_ranges(text, start, precision, latest):
    found = normalize_date(text)
    assert (found.value, found.precision, found.raw) == (start, precision, text)
    assert normalize_date(text, latest=True).value == latest


@pytest.mark.parametrize("text", ["2019年二十月", "一九年", "2019年5月下面", "2019年十三月"])
def test_what_only_looks_like_a_chinese_date_is_none(text):
    assert normalize_date(text).value is None


@pytest.mark.parametrize(
    ("value", "unit", "rate", "expected"),
    [
        # A bare number counts days unless the field names its unit (HDX's convention,
        # and that of 更新周期 columns): each bucket's usual counts.
        ("1", DAY, False, "daily"),
        ("7", DAY, False, "weekly"),
        ("14", DAY, False, "biweekly"),
        ("30", DAY, False, "monthly"),
        ("31", DAY, False, "monthly"),
        (30, DAY, False, "monthly"),  # a spreadsheet's number cell
        (30.0, DAY, False, "monthly"),
        ("90", DAY, False, "quarterly"),
        ("92", DAY, False, "quarterly"),
        ("180", DAY, False, "semiannual"),
        ("183", DAY, False, "semiannual"),
        ("365", DAY, False, "yearly"),
        ("366", DAY, False, "yearly"),
        ("３０", DAY, False, "monthly"),  # full-width digits
        ("0", DAY, False, "unknown"),  # no period (HDX's 0/-1/-2 codes: ckan reads them)
        ("-1", DAY, False, "unknown"),
        # The header's unit: 月, 小时, 周, 年.
        ("1", 30, False, "monthly"),
        ("3", 30, False, "quarterly"),
        ("6", 30, False, "semiannual"),
        ("12", 30, False, "yearly"),
        ("24", 1 / 24, False, "daily"),
        ("1", 1 / 24, False, "realtime"),
        ("2", 7, False, "biweekly"),
        ("1", 365, False, "yearly"),
        # A rate header (次/年): updates per unit.
        ("4", 365, True, "quarterly"),
        ("12", 365, True, "monthly"),
        ("1", 365, True, "yearly"),
        # A unit in the cell wins over the header's.
        ("30天", 30, False, "monthly"),
        ("每30天", DAY, False, "monthly"),
        ("3个月", DAY, False, "quarterly"),
        ("30 days", DAY, False, "monthly"),
        ("3 months", DAY, False, "quarterly"),
        ("每周一次", 30, False, "weekly"),
    ],
)
def test_a_bare_number_counts_the_fields_unit(value, unit, rate, expected):
    assert normalize_frequency(value, unit, rate) == (expected, clean_text(value))


def test_a_bare_number_without_a_unit_counts_days_and_keeps_its_text():
    assert normalize_frequency(" 90 ") == ("quarterly", "90")
    assert is_bare_number("90") and is_bare_number("１.5") and not is_bare_number("90天")


@pytest.mark.parametrize(
    ("word", "days"),
    [("天", 1), ("日", 1), ("days", 1), ("Day", 1), ("周", 7), ("weeks", 7), ("月", 30),
     ("个月", 30), ("months", 30), ("季度", 91), ("年", 365), ("years", 365),
     ("小时", 1 / 24), ("hours", 1 / 24), ("必填", None), ("", None)],
)  # fmt: skip
def test_unit_days(word, days):
    assert unit_days(word) == days
