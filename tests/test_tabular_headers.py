"""Column recognition by rule: real-style header sets from Chinese, Taiwanese and English
catalog exports, each column's field asserted; value tests and scoring; the mapping override."""

from __future__ import annotations

import pytest

from subscribe.catalog.harvesters.tabular_columns import (
    VALUE_TESTS,
    Table,
    check_mapping,
    plan_columns,
)
from subscribe.catalog.harvesters.tabular_headers import classify, fold_header, header_unit
from subscribe.catalog.records import HarvestError

T, D, P, TH = "title", "description", "publisher", "themes"
KW, FMT, OT, FQ = "keywords", "formats", "open_type", "frequency"
ISS, MOD, LP, LIC = "issued", "modified", "landing_page", "license"
ID, DL, CP, RC = "identifier", "download_url", "contact_point", "record_count"
IGNORED = None

# (name, [(header, field)]): each a header row as some export writes it.
HEADER_SETS = [
    ("issue-13 largest export", [("资源名称", T), ("资源提供方", P), ("资源摘要", D),
        ("数据主题", TH), ("数据更新时间", MOD), ("开放状态", OT), ("详情页网址", LP)]),
    ("issue-13 摘要信息 / 提供方 / 领域名称", [("数据名称", T), ("提供方", P), ("摘要信息", D),
        ("领域名称", TH), ("发布日期", ISS), ("url", LP)]),
    ("data.gov.tw list", [("資料集名稱", T), ("提供機關名稱", P), ("上架日", ISS)]),
    ("data.gov.tw full", [("資料集識別碼", ID), ("資料集名稱", T), ("資料集描述", D),
        ("主要欄位說明", D), ("提供機關", P), ("更新頻率", FQ), ("授權方式", LIC),
        ("檔案格式", FMT), ("資料量", RC), ("詮釋資料更新時間", MOD),
        ("提供機關聯絡人電話", CP), ("服務分類", TH), ("資料下載網址", DL)]),
    # The columns about a dataset that name no field of it (its listing method, its type,
    # the files' character encoding) are not a title or formats, and the contact person's
    # name is a contact, not a second publisher (data.gov.tw's full export, 23 columns).
    ("data.gov.tw export, the other columns", [("資料集名稱", T), ("資料集上架方式", IGNORED),
        ("資料集類型", IGNORED), ("編碼格式", IGNORED), ("提供機關聯絡人姓名", CP),
        ("資料提供屬性", IGNORED), ("計費方式", IGNORED), ("品質檢測", IGNORED),
        ("下載網址", DL), ("檔案格式", FMT)]),
    ("Hong Kong style", [("數據集名稱", T), ("數據提供者", P), ("類別", TH),
        ("最後更新日期", MOD), ("格式", FMT), ("網址", LP)]),
    ("decorated required marks", [("数据目录名称（必填）", T), ("发布单位*", P), ("行业分类", TH),
        ("更新频率【必填】", FQ), ("开放方式：", OT), ("文件格式 ", FMT)]),
    ("numbered columns", [("1、目录名称", T), ("2.来源部门", P), ("3、所属领域", TH),
        ("(4)更新周期", FQ), ("五、开放属性", OT), ("6. 更新时间（yyyy-mm-dd）", MOD)]),
    ("full-width and spaces", [("　目录名称　", T), ("数 源 单 位", P), ("ＵＲＬ", LP),
        ("数据量（条）", RC), ("联系方式", CP)]),
    ("units and brackets", [("名称", T), ("数据量(单位:条)", RC), ("数据容量[MB]", IGNORED),
        ("更新时间<北京时间>", MOD), ("格式（多个用、分隔）", FMT)]),
    ("contact columns are never publishers", [("目录名称", T), ("提供单位", P),
        ("提供单位联系电话", CP), ("提供单位地址", IGNORED), ("联系邮箱", CP), ("联系人", CP)]),
    ("download vs landing", [("标题", T), ("下载地址", DL), ("详情链接", LP), ("接口地址", DL),
        ("下载次数", IGNORED), ("访问量", IGNORED)]),
    ("running numbers and codes", [("序号", IGNORED), ("目录编号", ID), ("资源名称", T),
        ("统一社会信用代码", IGNORED), ("行政区划代码", IGNORED), ("部门编码", IGNORED)]),
    ("open-type variants", [("数据集名称", T), ("开放类型", OT), ("公开属性", OT),
        ("共享类型", OT), ("开放条件", OT)]),
    ("issued variants", [("资源名称", T), ("创建时间", ISS), ("上架时间", ISS), ("上线日期", ISS),
        ("首次发布时间", ISS)]),
    ("modified variants", [("资源名称", T), ("修改时间", MOD), ("最近更新", MOD), ("变更日期", MOD),
        ("数据更新日期", MOD)]),
    ("description variants", [("资源名称", T), ("资源描述", D), ("数据简介", D), ("目录说明", D),
        ("内容概述", D)]),
    ("themes variants", [("资源名称", T), ("主题分类", TH), ("所属行业", TH), ("数据分类", TH),
        ("专题", TH)]),
    ("publisher variants", [("资源名称", T), ("数据来源", P), ("责任单位", P), ("主管部门", P),
        ("数源机构", P)]),
    ("keywords and license", [("数据集名称", T), ("关键字", KW), ("标签", KW), ("开放协议", LIC),
        ("使用许可", LIC)]),
    ("a bare date column", [("名称", T), ("日期", MOD), ("备注", IGNORED)]),
    ("ckan-like english", [("name", T), ("title", T), ("notes", D), ("organization", P),
        ("tags", KW), ("metadata_modified", MOD), ("metadata_created", ISS), ("url", LP),
        ("license_title", LIC), ("id", ID)]),
    ("dcat-us-like english", [("Title", T), ("Description", D), ("Publisher", P),
        ("Keyword", KW), ("Modified", MOD), ("Issued", ISS), ("Access Level", OT),
        ("Accrual Periodicity", FQ), ("Landing Page", LP), ("Download URL", DL),
        ("Identifier", ID), ("License", LIC), ("Contact Point", CP), ("Theme", TH)]),
    ("english spreadsheet", [("Dataset Name", T), ("Publisher Name", P), ("Date Published", ISS),
        ("Last Updated", MOD), ("Update Frequency", FQ), ("File Format", FMT),
        ("Contact Email", CP), ("Record Count", RC), ("Dataset URL", LP), ("Category", TH)]),
    ("snake and camel case", [("dataset_title", T), ("publisherName", P), ("created_at", ISS),
        ("updatedAt", MOD), ("landingPage", LP), ("downloadURL", DL), ("recordCount", RC)]),
    ("demo export", [("目录名称", T), ("数源单位", P), ("数据领域", TH), ("更新周期", FQ),
        ("开放属性", OT), ("资源格式", FMT), ("发布时间", ISS), ("更新时间", MOD), ("详情页", LP),
        ("下载地址", DL)]),
    ("unknown extra columns", [("目录名称", T), ("所属区县", IGNORED), ("数据年份", IGNORED),
        ("审核意见", IGNORED)]),
    ("traditional contact and count", [("資料名稱", T), ("聯絡電話", CP), ("電子郵件", CP),
        ("資料筆數", RC), ("記錄數", RC), ("詳情頁網址", LP)]),
]  # fmt: skip


def _plan(header: list[str], rows: list[list] | None = None, mapping: dict | None = None):
    table = Table(header, [(f"row {n}", row) for n, row in enumerate(rows or [], 2)])
    return plan_columns(table, check_mapping(mapping or {}))


def test_there_are_enough_header_sets():
    assert len(HEADER_SETS) >= 25
    assert sum(len(columns) for _, columns in HEADER_SETS) >= 150


@pytest.mark.parametrize("columns", [c for _, c in HEADER_SETS], ids=[n for n, _ in HEADER_SETS])
def test_header_set_is_recognised(columns):
    plan = _plan([header for header, _ in columns])
    found = {entry["column"]: entry["field"] for entry in plan.report}
    assert found == {header.strip(): target for header, target in columns}
    for entry in plan.report:
        assert entry["reason"]  # every column, used or ignored, says why
        assert (entry["role"] == "ignored") == (entry["field"] is None)


@pytest.mark.parametrize(
    ("header", "folded"),
    [
        ("【必填】資料集名稱(中文)*", "资料集名称"),
        ("3、数据更新时间（yyyy-mm-dd）", "数据更新时间"),
        ("Landing_Page", "landingpage"),
        ("landingPage", "landingpage"),
        ("数据量 单位:条", "数据量"),
        ("\ufeff目录名称", "目录名称"),
        ("（名称）", "名称"),  # only brackets: the bracketed text is the name
    ],
)
def test_fold_header(header, folded):
    assert fold_header(header) == folded


def test_unknown_header_is_none():
    assert classify("审核意见") is None
    assert classify("") is None


# --- values confirm or overrule the header ---------------------------------------


def test_an_address_column_of_street_addresses_is_not_a_landing_page():
    plan = _plan(["名称", "地址"], [["甲", "中山路1号"], ["乙", "解放路2号"], ["丙", "人民路3号"]])
    assert "landing_page" not in plan.columns
    entry = plan.report[1]
    assert (entry["role"], entry["suggested"]) == ("ignored", "landing_page")
    assert "0% of its values fit" in entry["reason"]


def test_a_publisher_column_of_phone_numbers_is_a_contact_point():
    plan = _plan(["名称", "提供方"], [["甲", "0571-87654321"], ["乙", "13812345678"]])
    assert plan.columns == {"title": [0], "contact_point": [1]}


@pytest.mark.parametrize("phone", ["02-27256888", "(02)2311-7722#2386", "020-12345678",
                                   "0755 8888 6666", "+886-2-2725-6888", "13912345678"])  # fmt: skip
def test_phone_numbers_as_written_in_mainland_and_taiwan_exports_are_contacts(phone):
    assert VALUE_TESTS["contact_point"](phone)


@pytest.mark.parametrize("text", ["4520", "2023-05-01", "20230501", "911100001234567890",
                                  "12,345", "2024-07-01 10:22:31", "王小明"])  # fmt: skip
def test_counts_dates_and_codes_are_not_phone_numbers(text):
    assert not VALUE_TESTS["contact_point"](text)


def test_a_column_of_urls_without_a_known_header_is_the_landing_page():
    rows = [["甲", f"https://data.example.cn/d/{n}"] for n in range(5)]
    plan = _plan(["名称", "链"], rows)
    assert plan.columns["landing_page"] == [1]
    assert plan.report[1]["level"] == "value"


def test_a_column_of_open_type_words_without_a_known_header_is_the_open_type():
    rows = [["甲", "无条件开放"], ["乙", "有条件开放"], ["丙", "依申请开放"]]
    assert _plan(["名称", "属性"], rows).columns["open_type"] == [1]


def test_two_columns_claiming_a_field_are_scored_and_the_loser_is_a_fallback():
    rows = [["甲", "", "2023-01-02"], ["乙", "每日", "2023-02-03"], ["丙", "2023-03-04", ""]]
    plan = _plan(["名称", "更新日期", "数据更新时间"], rows)
    # Both are modified by name; the one whose values are dates wins.
    assert plan.columns["modified"] == [2, 1]
    loser = plan.report[1]
    assert loser["role"] == "fallback" and "数据更新时间 won" in loser["reason"]
    assert plan.report[2]["score"] > loser["score"]


def test_exact_name_beats_a_rule_match():
    plan = _plan(["资源提供方", "提供单位", "名称"], [["市局", "市局", "甲"]])
    assert plan.columns["publisher"] == [1, 0]
    assert plan.report[1]["level"] == "exact" and plan.report[0]["level"] == "rule"


# --- the explicit mapping overrides ------------------------------------------------


def test_mapping_overrides_rules_and_frees_other_columns():
    plan = _plan(
        ["数据名称", "单位", "名称"], [["地铁客流", "市地铁集团", "不是标题"]],
        {"fields": {"title": "数据名称", "publisher": ["部门", "单位"]}},
    )  # fmt: skip
    assert plan.columns["title"] == [0] and plan.columns["publisher"] == [1]
    assert plan.report[0]["level"] == "explicit"
    assert plan.report[2]["role"] == "ignored"
    assert "mapping names another column for title" in plan.report[2]["reason"]


def test_mapping_switches_a_field_off():
    plan = _plan(["名称", "编号"], [["甲", "1"]], {"fields": {"identifier": None}})
    assert "identifier" not in plan.columns
    assert plan.report[1]["role"] == "ignored"


def test_mapping_naming_a_missing_column_is_an_error():
    with pytest.raises(HarvestError, match=r"mapped column\(s\) not found: publisher \(部门\)"):
        _plan(["名称"], [["甲"]], {"fields": {"publisher": "部门"}})


@pytest.mark.parametrize(
    ("header", "unit"),
    [
        ("更新周期(天)", (1, False)),
        ("更新周期（天）", (1, False)),
        ("更新周期(日)", (1, False)),
        ("更新周期【天数】", (1, False)),
        ("更新頻率（天）", (1, False)),
        ("Update frequency [days]", (1, False)),
        ("update frequency (in days)", (1, False)),
        ("更新周期(单位：天)", (1, False)),
        ("更新周期 单位:月", (30, False)),
        ("更新周期(月)", (30, False)),
        ("更新周期(小时)", (1 / 24, False)),
        ("更新频率(次/年)", (365, True)),
        ("Frequency (times per year)", (365, True)),
        ("更新周期", None),
        ("更新周期（必填）", None),  # a note, not a unit
    ],
)
def test_header_unit(header, unit):
    assert classify(header).field == "frequency"
    assert header_unit(header) == unit


def test_an_access_address_of_web_pages_is_the_landing_page():
    """访问地址 ("access address") holds the dataset's page as often as its file: a
    column of web pages beside a 下载地址 column was a download URL fallback, and the
    landing page stayed empty (bb7 M9). Its values decide; a download header that names
    a file or an API (下载地址, 接口地址: an API's URLs have no extension) never moves."""
    pages = [f"http://data.example.cn/dataset/detail?id={n}" for n in range(5)]
    files = [f"http://data.example.cn/files/{n}.csv" for n in range(5)]
    apis = [f"http://data.example.cn/api/v1/ds{n}" for n in range(5)]
    rows = [["名称", page, file, api] for page, file, api in zip(pages, files, apis, strict=True)]
    plan = _plan(["数据名称", "访问地址", "下载地址", "接口地址"], rows)
    fields = {entry["column"]: (entry["field"], entry["role"]) for entry in plan.report}
    assert fields["访问地址"] == ("landing_page", "used")
    assert fields["下载地址"] == ("download_url", "used")
    assert fields["接口地址"] == ("download_url", "fallback")
    assert "web pages" in next(e["reason"] for e in plan.report if e["column"] == "访问地址")
    # An access address of files stays a download URL; a 详情链接 column of files is one.
    plan = _plan(["数据名称", "访问地址", "详情链接"], [["名称", f, f] for f in files])
    fields = {entry["column"]: entry["field"] for entry in plan.report}
    assert fields == {"数据名称": "title", "访问地址": "download_url", "详情链接": "download_url"}
    # Too few URLs to tell: the header decides, as before.
    plan = _plan(["数据名称", "访问地址"], [["名称", p] for p in pages[:2]])
    assert {e["column"]: e["field"] for e in plan.report}["访问地址"] == "download_url"
