"""A description column is evidence for and against pairing a renamed title
(subscribe/catalog/harvesters/tabular_rename.py): clearly different texts keep a
delete + create, an equal distinctive text pairs a title that only a weaker similarity
links. Two versions of a small export (tests/data/rename-descriptions, SOURCE.md says
what each publisher's rows test) served on loopback to a real harvest into the real
database (SQLite, or PostgreSQL with SUBSCRIBE_TEST_DATABASE_URL); then the rule alone.
"""

from __future__ import annotations

from pathlib import Path

from subscribe.catalog import services
from subscribe.catalog.harvesters.tabular_rename import (
    CONTAINS,
    SAME_DESCRIPTION,
    pair_renamed,
)
from tests.search_helpers import harvest, serve
from tests.test_harvest_tabular_rename import ids_by_title

DATA = Path(__file__).parent / "data" / "rename-descriptions"


def test_descriptions_decide_what_a_renamed_title_is(app, httpserver):
    url = serve(httpserver, "/list.csv", (DATA / "first.csv").read_bytes(), "text/csv")
    source = services.create_source("city", "tabular", url)
    first = harvest(source)
    assert first.created == 7
    assert first.mapping_report["identity"]["method"] == "hash"
    before = ids_by_title()
    httpserver.clear()
    serve(httpserver, "/list.csv", (DATA / "second.csv").read_bytes(), "text/csv")
    run = harvest(source)

    after = ids_by_title()
    # paired: the same paragraph under a retitled name; a title suffix with a close text
    assert after["全市公厕点位分布表"] == before["全市公共厕所分布"]
    assert after["医院名录（修订）"] == before["医院名录"]
    # not paired: another dataset's text; a placeholder text; one boilerplate text for two
    for old, new in (("企业信用修复名单", "企业信用修复名单（第二版）"), ("市级中学名录", "市级小学名录"),
                     ("公共图书馆名录", "公共图书馆一览"), ("博物馆名录", "博物馆一览")):  # fmt: skip
        assert after[new] not in before.values() and old not in after, (old, new)
    assert (run.created, run.updated, run.deleted) == (4, 2, 4)
    carried = run.mapping_report["identity"]["carried_over"]
    assert carried["by"] == {"renamed title": 2}
    assert sorted((r["stored_title"], r["title"], r["reason"]) for r in carried["renamed"]) == [
        ("全市公共厕所分布", "全市公厕点位分布表", SAME_DESCRIPTION),
        ("医院名录", "医院名录（修订）", CONTAINS),
    ]


PUBLISHER = "市城管委"
TEXT = "全市公共厕所的名称、所在区、详细地址、经纬度坐标、开放时间及无障碍设施情况。"
OTHER = "本数据集收录本市执业律师的姓名、执业证号、所属律师事务所和执业状态，供公众查询核验。"


def pair(new: str, old: str, new_text: str | None, old_text: str | None):
    rows, stored = {0: (new, PUBLISHER)}, {10: (old, PUBLISHER)}
    row_texts = None if new_text is None else {0: new_text}
    stored_texts = None if old_text is None else {10: old_text}
    return pair_renamed(rows, stored, row_texts, stored_texts)


def test_clearly_different_descriptions_are_not_a_rename():
    assert pair("企业信用修复名单（第二版）", "企业信用修复名单", OTHER, TEXT) == {}
    # close texts (a sentence added), one side empty or none given: the title decides
    assert pair("企业信用修复名单（第二版）", "企业信用修复名单", TEXT + "按月更新。", TEXT) == {
        0: (10, CONTAINS)}  # fmt: skip
    assert pair("企业信用修复名单（第二版）", "企业信用修复名单", "", TEXT) == {0: (10, CONTAINS)}
    assert pair("企业信用修复名单（第二版）", "企业信用修复名单", None, None) == {0: (10, CONTAINS)}


def test_an_equal_distinctive_description_pairs_a_weaker_title():
    assert pair("全市公厕点位分布表", "全市公共厕所分布", TEXT, TEXT) == {0: (10, SAME_DESCRIPTION)}
    # not without the text, not with a different or a short one, not across periods,
    # not when the titles are far apart
    assert pair("全市公厕点位分布表", "全市公共厕所分布", None, None) == {}
    assert pair("全市公厕点位分布表", "全市公共厕所分布", TEXT, OTHER) == {}
    assert pair("全市公厕点位分布表", "全市公共厕所分布", "暂无描述", "暂无描述") == {}
    assert pair("2024年全市公厕点位分布", "2023年全市公共厕所分布", TEXT, TEXT) == {}
    assert pair("城市道路照明设施", "全市公共厕所分布", TEXT, TEXT) == {}


def test_a_shared_description_names_no_one_dataset():
    rows = {0: ("公共图书馆一览", PUBLISHER), 1: ("博物馆一览", PUBLISHER)}
    stored = {10: ("公共图书馆名录", PUBLISHER), 11: ("博物馆名录", PUBLISHER)}
    texts = {0: TEXT, 1: TEXT}
    assert pair_renamed(rows, stored, texts, {10: TEXT, 11: TEXT}) == {}
    # each its own text: each pairs with its own
    own = {0: TEXT, 1: OTHER}
    assert pair_renamed(rows, stored, own, {10: TEXT, 11: OTHER}) == {
        0: (10, SAME_DESCRIPTION), 1: (11, SAME_DESCRIPTION)}  # fmt: skip


def test_a_description_tells_two_title_candidates_apart():
    """Two stored titles the row's title contains: ambiguous by title alone; the one
    whose text is another dataset's is no candidate, so the other pairs."""
    rows = {0: ("企业信用修复名单（第二版）", PUBLISHER)}
    stored = {10: ("企业信用修复名单", PUBLISHER), 11: ("企业信用修复", PUBLISHER)}
    assert pair_renamed(rows, stored) == {}
    assert pair_renamed(rows, stored, {0: TEXT}, {10: TEXT, 11: OTHER}) == {0: (10, CONTAINS)}
