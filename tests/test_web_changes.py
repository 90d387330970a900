"""Changes said as sentences (web/changes.py): every change kind, in Chinese and English,
with names instead of ids, display-zone dates to the minute, no raw keys."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from flask_babel import refresh

from subscribe.catalog.models import Dataset, Resource, Source
from subscribe.extensions import db
from subscribe.web import changes
from subscribe.web.changes import ResourceNames, describe, describe_event, describe_version

RAW = ("resource_id", "found_by", "sha256", "rows:", "{", "content_length", ".123456")

SIZE = {"old": 9830, "new": 11162}  # 9.6 KB → 10.9 KB
SHA = {"old": "a099" * 16, "new": "5d37" * 16}
URL = "http://portal.example/files/442a5fec-d5d6-5b92-a179-bcf02722289f.csv"

# (change, Chinese, English): one row per change kind and shape.
CASES = [
    (
        {"kind": "metadata", "fields": {"modified": {"old": "2019-10-31T13:03:59.519877",
                                                     "new": "2026-11-29T23:06:42.011540"}}},
        "元数据变更：更新日期 2019年10月31日 21:03 → 2026年11月30日 07:06",
        "Metadata changed: Modified Oct 31, 2019 21:03 → Nov 30, 2026 07:06",
    ),
    (
        {"kind": "metadata", "fields": {
            "modified": {"old": "2018-05-01T00:00:00", "new": "2019-03-05T00:00:00"},
            "modified_precision": {"old": "month", "new": "day"}}},
        "元数据变更：更新日期 2018年5月 → 2019年3月5日",
        "Metadata changed: Modified May 2018 → Mar 5, 2019",
    ),
    (  # as harvested from a CKAN portal: the date, and its raw text, changed together
        {"kind": "metadata", "fields": {
            "modified": {"old": "2019-10-31T13:03:59.519877", "new": "2026-11-29T23:06:42.011540"},
            "modified_raw": {"old": "2019-10-31T13:03:59.519877",
                             "new": "2026-11-29T23:06:42.011540"}}},
        "元数据变更：更新日期 2019年10月31日 21:03 → 2026年11月30日 07:06",
        "Metadata changed: Modified Oct 31, 2019 21:03 → Nov 30, 2026 07:06",
    ),
    (
        {"kind": "metadata", "fields": {"title": {"old": "空气质量", "new": "空气质量日报"}}},
        "元数据变更：标题 空气质量 → 空气质量日报",
        "Metadata changed: Title 空气质量 → 空气质量日报",
    ),
    (
        {"kind": "metadata", "fields": {"keywords": {"old": ["空气"], "new": ["空气", "PM2.5"]}}},
        "元数据变更：关键字：新增 PM2.5",
        "Metadata changed: Keywords: added PM2.5",
    ),
    (  # a tag list's diff since bb8 F8 (diff.TAG_FIELDS): only the tags added and removed
        {"kind": "metadata",
         "fields": {"keywords": {"added": ["PM2.5", "臭氧"], "removed": ["空气"]}}},
        "元数据变更：关键字：新增 PM2.5、臭氧，删除 空气",
        "Metadata changed: Keywords: added PM2.5, 臭氧, removed 空气",
    ),
    (
        {"kind": "metadata", "fields": {"frequency": {"old": "daily", "new": "monthly"}}},
        "元数据变更：更新周期 每日 → 每月",
        "Metadata changed: Update frequency Daily → Monthly",
    ),
    (
        {"kind": "metadata", "fields": {"license": {"old": "", "new": "CC-BY-4.0"}}},
        "元数据变更：许可协议设为 CC-BY-4.0",
        "Metadata changed: License set to CC-BY-4.0",
    ),
    (
        {"kind": "metadata", "fields": {"description": {"old": "旧" * 80, "new": "新" * 80}}},
        "元数据变更：描述已修改",
        "Metadata changed: Description edited",
    ),
    (
        {"kind": "metadata", "key": "442a5fec-d5d6-5b92-a179-bcf02722289f",
         "fields": {"size": {"old": 5566, "new": 8244}}},
        "文件信息变更：空气质量日报（CSV）：大小 5.4 KB → 8.1 KB",
        "File details changed: 空气质量日报 (CSV): Size 5.4 KB → 8.1 KB",
    ),
    (
        {"kind": "resource_added", "resource": {"name": "站点名录", "format": "XLSX", "url": URL}},
        "新增资源：站点名录（XLSX）",
        "Resource added: 站点名录 (XLSX)",
    ),
    (
        {"kind": "resource_removed", "resource": {"name": "", "format": "", "url": URL}},
        "移除资源：442a5fec-d5d6-5b92-a179-bcf02722289f.csv",
        "Resource removed: 442a5fec-d5d6-5b92-a179-bcf02722289f.csv",
    ),
    (
        {"kind": "content", "resource_id": 138, "url": URL, "found_by": "content_length",
         "size": SIZE, "sha256": SHA, "rows": {"old": 99, "new": 147}},
        "文件内容变化：空气质量日报（CSV），9.6 KB → 10.9 KB，99 行 → 147 行（通过文件大小发现）",
        "File content changed: 空气质量日报 (CSV), 9.6 KB → 10.9 KB, 99 rows → 147 rows"
        " (found by the file size)",
    ),
    (
        {"kind": "content", "resource_id": 138, "url": URL, "found_by": "sha256",
         "size": {"old": 100, "new": 100}, "sha256": SHA},
        "文件内容变化：空气质量日报（CSV）（通过内容校验值（SHA-256）发现）",
        "File content changed: 空气质量日报 (CSV) (found by the content checksum (SHA-256))",
    ),
    (
        {"kind": "schema", "resource_id": 138, "url": URL, "found_by": "sha256",
         "columns": {"old": ["城市", "AQI"], "new": ["城市", "AQI", "数据更新时间"]},
         "added": ["数据更新时间"], "removed": [], "size": SIZE, "sha256": SHA},
        "表结构变更：空气质量日报（CSV）：新增列 数据更新时间（通过内容校验值（SHA-256）发现）",
        "Table columns changed: 空气质量日报 (CSV): added columns 数据更新时间"
        " (found by the content checksum (SHA-256))",
    ),
    (
        {"kind": "schema", "resource_id": 138, "url": URL, "found_by": "sha256",
         "added": [], "removed": ["PM10", "SO2"]},
        "表结构变更：空气质量日报（CSV）：删除列 PM10、SO2（通过内容校验值（SHA-256）发现）",
        "Table columns changed: 空气质量日报 (CSV): removed columns PM10, SO2"
        " (found by the content checksum (SHA-256))",
    ),
    (
        {"kind": "resource_unavailable", "resource_id": 138, "url": URL, "found_by": "http_status",
         "status": 404, "error": "HTTP 404 Not Found", "failures": 3},
        "文件无法访问：空气质量日报（CSV）（HTTP 404，连续 3 次检查失败）",
        "File unavailable: 空气质量日报 (CSV) (HTTP 404, 3 failed checks in a row)",
    ),
    (
        {"kind": "resource_unavailable", "resource_id": 138, "url": URL, "found_by": "connection",
         "status": None, "error": "ConnectionError: refused", "failures": 3},
        "文件无法访问：空气质量日报（CSV）（连接失败，连续 3 次检查失败）",
        "File unavailable: 空气质量日报 (CSV) (connection failed, 3 failed checks in a row)",
    ),
    (
        {"kind": "content", "resource_id": 138, "url": URL, "found_by": "http_status",
         "restored": True, "changed": False},
        "文件恢复可访问：空气质量日报（CSV），内容未变",
        "File available again: 空气质量日报 (CSV), content unchanged",
    ),
    (
        {"kind": "content", "resource_id": 138, "url": URL, "found_by": "content_length",
         "restored": True, "changed": True, "size": SIZE, "sha256": SHA},
        "文件恢复可访问：空气质量日报（CSV），内容已变化，9.6 KB → 10.9 KB",
        "File available again: 空气质量日报 (CSV), content changed, 9.6 KB → 10.9 KB",
    ),
    (
        {"kind": "resource_available", "resource_id": 138, "url": URL},
        "文件恢复可访问：空气质量日报（CSV）",
        "File available again: 空气质量日报 (CSV)",
    ),
    ({"kind": "restored"}, "数据集已在源平台恢复", "Dataset restored at the source"),
    (
        {"kind": "overdue", "frequency": "daily", "modified": "2024-08-12T16:06:46.388058",
         "due": "2024-08-13T16:06:46.388058"},
        "逾期未更新：最近更新于 2024年8月13日 00:06，更新周期为“每日”，应在 2024年8月14日 00:06 前更新",
        "Overdue: last updated Aug 13, 2024 00:06; with the update frequency “Daily” it was due"
        " by Aug 14, 2024 00:06",
    ),
    ({"kind": "something_new"}, "其他变更：something_new", "Other change: something_new"),
]  # fmt: skip


@pytest.fixture
def names(app):
    """The resource the changes name, as the database knows it today."""
    source = Source(name="s", type="ckan", url="http://portal.example/")
    db.session.add(source)
    db.session.flush()
    dataset = Dataset(source_id=source.id, identifier="d1", title="空气质量", content_hash="x")
    db.session.add(dataset)
    db.session.flush()
    db.session.add(
        Resource(id=138, dataset_id=dataset.id, name="空气质量日报", format="CSV", url=URL,
                 identifier="442a5fec-d5d6-5b92-a179-bcf02722289f")
    )  # fmt: skip
    db.session.commit()
    return ResourceNames.of_datasets([dataset.id])


@contextmanager
def in_language(app, language: str):
    with app.test_request_context("/", headers={"Cookie": f"lang={language}"}):
        refresh()  # Flask-Babel keeps the locale in g, which outlives one request here
        yield


@pytest.mark.parametrize(("change", "zh", "en"), CASES, ids=[c[0]["kind"] for c in CASES])
def test_every_change_kind_reads_as_a_sentence_in_both_languages(app, names, change, zh, en):
    for language, expected in (("zh", zh), ("en", en)):
        with in_language(app, language):
            sentences = describe(change, names)
            assert [s.text for s in sentences] == [expected]
            assert not any(raw in sentences[0].text for raw in RAW), sentences[0].text


def test_hashes_and_addresses_go_to_the_technical_details(app, names):
    change = next(c[0] for c in CASES if c[0].get("found_by") == "content_length")
    with in_language(app, "zh"):
        (sentence,) = describe(change, names)
    details = dict(sentence.details)
    assert details["修改前的 SHA-256"] == SHA["old"]
    assert details["修改后的 SHA-256"] == SHA["new"]
    assert details["地址"] == URL
    assert details["检查方式"] == "content_length"


def test_a_metadata_change_of_several_fields_is_one_sentence_per_field(app):
    change = {"kind": "metadata", "fields": {"title": {"old": "A", "new": "B"},
                                             "open_type": {"old": "unknown", "new": "conditional"}}}  # fmt: skip
    with in_language(app, "zh"):
        texts = [s.text for s in describe(change)]
    assert texts == ["元数据变更：标题 A → B", "元数据变更：开放属性 未知 → 有条件开放"]


def test_without_a_name_anywhere_a_change_names_the_file_from_its_address(app):
    change = {"kind": "content", "resource_id": 999, "url": URL, "found_by": "sha256"}
    with in_language(app, "en"):
        (sentence,) = describe(change, ResourceNames())
    assert sentence.text.startswith(
        "File content changed: 442a5fec-d5d6-5b92-a179-bcf02722289f.csv"
    )


def test_old_payload_shapes_never_raise(app):
    odd = [{"kind": "content", "size": "big", "rows": [1]}, {"kind": "schema", "added": "x"},
           {"kind": "metadata", "fields": {"title": "not a dict"}}, {}, "text", None]  # fmt: skip
    with in_language(app, "zh"):
        texts = [s.text for s in changes.describe_all(odd)]
    assert texts[0] == "文件内容变化：某个文件"
    assert texts[1] == "表结构变更：某个文件：列顺序调整"
    assert len(texts) == 6


def test_versions_without_changes_and_scenario_events(app):
    with in_language(app, "zh"):
        assert [s.text for s in describe_version({"kind": "deleted", "changes": []}, ResourceNames())] == [
            "源平台已删除或下架此数据集"
        ]  # fmt: skip
        assert describe_event("dataset.created", "now_matches") == "进入场景：现在符合查询条件"
        assert (
            describe_event("dataset.deleted", "no_longer_matches") == "离开场景：不再符合查询条件"
        )
    with in_language(app, "en"):
        assert describe_event("dataset.overdue", "overdue") == (
            "Overdue: not updated within its declared frequency"
        )


def test_times_are_in_the_display_zone_to_the_minute(app):
    with in_language(app, "zh"):
        assert changes.when("2026-11-29T23:06:42.011540") == "2026年11月30日 07:06"
        assert changes.when("2026-11-29") == "2026年11月29日"
        assert changes.when("not a date") == "not a date"
