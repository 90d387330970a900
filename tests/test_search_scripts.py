"""Both readings of traditional text, and equal titles across scripts.

A Taiwan title is indexed by its characters folded (t2s: the same words in simplified
characters) and by OpenCC's phrase reading (tw2sp: the mainland's words). The first is
what the title says and weighs in full; the second is a guess made from a programmer's
vocabulary (檔案 read 文件, 介面 界面) and weighs regional.READING_WEIGHT, in the index
and in a query typed in traditional characters alike. A title equal to the query once
folded (script, width, case) ranks with the exact titles.
"""

from __future__ import annotations

import opencc
import pytest

from subscribe.catalog import services as catalog
from subscribe.search import analysis, indexer
from subscribe.search.engine import SCRIPT_WEIGHT
from subscribe.search.service import get_service
from tests.search_helpers import harvest, serve

# Taiwan's titles first: lower ids, so a tie (the same weight) would put them first.
TAIWAN = ["檔案歸檔清單", "資訊目錄", "公共自行車", "臺北市公共自行車租賃站資料", "甲開放資料",
          "ＹｏｕＢｉｋｅ站點"]  # fmt: skip
MAINLAND = [f"{city}市公共自行车站点信息" for city in "东西南北中甲乙丙丁戊"] + [
    "公共自行车站点", "公共自行车租赁点", "文件归档清单", "档案归档清单", "资讯目录", "信息目录",
    "档案馆馆藏档案统计", "城建档案查询", "人事档案目录清单", "开放数据目录", "开放资料",
]  # fmt: skip
# (title, description): a word in the descriptions only, so no title bonus tells them apart.
DESCRIBED = [("臺北甲公告", "檔案下載"), ("臺北乙公告", "介面說明"),
             ("某市甲公告", "文件下载"), ("某市乙公告", "界面说明")]  # fmt: skip


@pytest.fixture
def mixed(app, httpserver) -> None:
    rows = [("目录名称", "数源单位", "更新时间", "描述")]
    rows += [(t, "某局", "2024-03-01", d) for t, d in DESCRIBED[:2]]
    rows += [(t, "某局", "2024-03-01", "") for t in TAIWAN + MAINLAND]
    rows += [(t, "某局", "2024-03-01", d) for t, d in DESCRIBED[2:]]
    text = "\n".join(",".join(row) for row in rows)
    url = serve(httpserver, "/mixed.csv", text.encode("utf-8"), "text/csv")
    harvest(catalog.create_source("mixed", "tabular", url))
    indexer.apply_changes(get_service().store)


def ranked(client, q: str) -> list[tuple[str, float]]:
    response = client.get("/api/v1/datasets", query_string={"q": q, "per_page": 50})
    assert response.status_code == 200, response.json
    return [(item["title"], item["score"]) for item in response.json["items"]]


def titles(client, q: str) -> list[str]:
    return [title for title, _score in ranked(client, q)]


@pytest.mark.parametrize(
    ("q", "first", "second"),
    [("公共自行车", "公共自行车租赁点", None), ("公共自行車", "公共自行車", None),
     ("youbike站点", "ＹｏｕＢｉｋｅ站點", None), ("YOUBIKE 站點", "ＹｏｕＢｉｋｅ站點", None),
     ("开放资料", "开放资料", "甲開放資料"), ("開放資料", "开放资料", "甲開放資料")],
)  # fmt: skip
def test_a_title_equal_once_folded_ranks_as_an_exact_title(client, mixed, q, first, second):
    """Script (traditional/simplified), width and case folded, a title equal to the query
    is an exact title whichever script either is written in: above every title merely
    holding the query, the query's own script's exact title first."""
    found = titles(client, q)
    exact = {"公共自行车": "公共自行車"}.get(q, first)  # only the Taipei one is exact
    assert found[0] == exact, found[:5]
    if second:
        assert found[1] == second, found[:5]


def test_a_taiwan_title_is_weighed_once_for_a_traditional_query(client, mixed):
    """A query typed in traditional characters is met by its own words (t2s) or its
    phrase reading's (開放資料: 开放 资料, or 开放 数据); a Taiwan title holds both, its
    reading indexed beside its words, and was weighed by both: 甲開放資料 scored 1.68
    times its score for 开放资料, not the script factor's 1.2."""
    traditional = dict(ranked(client, "開放資料"))["甲開放資料"]
    simplified = dict(ranked(client, "开放资料"))["甲開放資料"]
    assert traditional == pytest.approx(simplified * SCRIPT_WEIGHT)


@pytest.mark.parametrize(
    ("q", "own", "read"),
    [("檔案 清單", "档案归档清单", "文件归档清单"), ("資訊", "资讯目录", "信息目录")],
)  # fmt: skip
def test_a_traditional_query_ranks_its_own_words_above_its_phrase_reading(
    client, mixed, q, own, read
):
    """檔案 is read 文件 by OpenCC's Taiwan phrases (a file, where a catalog's 檔案 are
    mostly archives: 檔案管理局): 文件归档清单 (文件 rarer, so weightier) ranked above
    档案归档清单, the words typed. The phrase reading still finds, below."""
    found = titles(client, q)
    assert own in found and read in found, found
    assert found.index(own) < found.index(read), found


@pytest.mark.parametrize(
    ("q", "own", "taiwan"),
    [("文件", "某市甲公告", "臺北甲公告"), ("界面", "某市乙公告", "臺北乙公告")],
)  # fmt: skip
def test_a_query_ranks_its_words_above_a_taiwan_texts_phrase_reading(client, mixed, q, own, taiwan):
    """檔案下載 is indexed as 档案下载 (its characters) and 文件下载 (OpenCC's phrase
    reading): 文件 met it at full weight, tied with 文件下载 and first by its lower id.
    A word only the phrase reading holds weighs READING_WEIGHT an occurrence: found,
    below the words as written."""
    found = titles(client, q)
    assert own in found and taiwan in found, found
    assert found.index(own) < found.index(taiwan), found


def test_each_reader_finds_the_taiwan_title_by_its_characters(client, mixed):
    """The character-level reading keeps full weight: a mainland reader typing 档案
    finds 檔案歸檔清單 as 档案归档清单 (the same words), beside the title that equals it."""
    found = titles(client, "档案归档清单")
    assert found[:2] == ["档案归档清单", "檔案歸檔清單"], found
    assert titles(client, "檔案歸檔清單")[:2] == ["檔案歸檔清單", "档案归档清单"]


def test_the_simplified_only_characters_are_opencc_s_as_installed():
    """The characters `script` calls simplified-only are kept in a file (deriving them
    loads OpenCC's s2t, ~26 MB that stayed in every process loading search columns):
    still what the installed OpenCC gives. On failure after an OpenCC upgrade, rewrite
    the file: `python -m subscribe.search.analysis`."""
    kept = analysis.SIMPLIFIED_ONLY_FILE.read_text(encoding="utf-8").strip()
    assert kept == analysis.derive_simplified_only()
    assert {"数", "资", "车"} <= set(kept) and not {"台", "后", "公"} & set(kept)


def test_telling_scripts_apart_loads_no_s2t_dictionary(monkeypatch):
    """A title's script is told without OpenCC's s2t dictionaries (what search columns
    cost `flask bundles build` and each web worker in memory)."""
    real = opencc.OpenCC

    def refuse_s2t(config="t2s", *args, **kwargs):
        assert "s2t" not in str(config), "s2t loaded to tell scripts apart"
        return real(config, *args, **kwargs)

    monkeypatch.setattr(opencc, "OpenCC", refuse_s2t)
    analysis._simplified_only.cache_clear()
    try:
        assert analysis.script("公共数据") == analysis.SIMPLIFIED
        assert analysis.script("公共數據") == analysis.TRADITIONAL
        assert analysis.script("台北 PM2.5") == 0
    finally:
        analysis._simplified_only.cache_clear()
