"""Field cases 13, 14, 15 and 17 (tests/data/, from public bug reports): each `expected` asserted.

13: letters+digits tokens (PM2.5, COVID-19, N95) kept whole, full-width folded (NFKC).
14: traditional and simplified titles find each other, characters (臺/台 included) and
    regional words (空氣品質/空气质量: should_include), titles shown as written.
15: any query string is literal text: 200 (or a 400 JSON error for NUL / over-long), never 5xx,
    on the API and on the search page.
17: control characters in catalog text: cleaned at harvest, and the Atom feed is strict XML.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from subscribe.auth.services import create_user
from subscribe.catalog import services as catalog
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.scenarios import services as scenarios
from subscribe.scenarios.matching import PercolatorCache, match_pending_events
from subscribe.search import analysis, indexer, regional
from subscribe.search.service import get_service
from tests.search_helpers import harvest, serve

DATA = Path(__file__).parent / "data"
ERROR_KEYS = {"code", "status", "message", "errors"}
ATOM = "{http://www.w3.org/2005/Atom}"


def load_case(httpserver, name: str) -> dict:
    folder = DATA / name
    body = (folder / "export.json").read_bytes()
    url = serve(httpserver, f"/{name}.json", body, "application/json")
    harvest(catalog.create_source(name, "tabular", url))
    indexer.apply_changes(get_service().store)
    return json.loads((folder / "case.json").read_text(encoding="utf-8"))


def queries(name: str) -> list[dict]:
    return json.loads((DATA / name / "queries.json").read_text(encoding="utf-8"))


def top_titles(client, q: str) -> list[str]:
    response = client.get("/api/v1/datasets", query_string={"q": q, "per_page": 10})
    assert response.status_code == 200, response.json
    return [item["title"] for item in response.json["items"]]


# --- 13 ---------------------------------------------------------------------------------
CASE_13 = "13-search-alnum-tokens"


@pytest.mark.parametrize("query", queries(CASE_13), ids=lambda q: q["q"])
def test_case_13_tokens_with_digits_and_full_width_forms(client, httpserver, query):
    load_case(httpserver, CASE_13)
    found = top_titles(client, query["q"])
    assert set(query["must_include"]) <= set(found)
    assert not set(query.get("must_exclude", [])) & set(found)


def test_case_13_displayed_titles_keep_their_original_characters(client, httpserver):
    load_case(httpserver, CASE_13)
    assert "城市ＰＭ２．５日均浓度" in top_titles(client, "pm2.5")


# --- 14 ---------------------------------------------------------------------------------
CASE_14 = "14-tabular-traditional-headers"
TW_MAPPING = {"fields": {"title": "資料集名稱", "publisher": "提供機關名稱", "issued": "上架日"}}


def load_case_14(httpserver) -> None:
    """tw_list.csv with the case's mapping and cn_export.json with the default one."""
    folder = DATA / CASE_14
    tw = serve(httpserver, "/tw_list.csv", (folder / "tw_list.csv").read_bytes(), "text/csv")
    cn = serve(httpserver, "/cn.json", (folder / "cn_export.json").read_bytes(), "application/json")
    harvest(catalog.create_source("tw", "tabular", tw, mapping=TW_MAPPING))
    harvest(catalog.create_source("cn", "tabular", cn))
    indexer.apply_changes(get_service().store)


@pytest.mark.parametrize("query", queries(CASE_14), ids=lambda q: q["q"])
def test_case_14_either_script_and_region_finds_the_other(client, httpserver, query):
    """must_include, and should_include too: 空气质量 finds 臺灣地區空氣品質監測資料 (its
    Taiwan words read as the mainland's, search/regional.py)."""
    load_case_14(httpserver)
    found = top_titles(client, query["q"])
    assert set(query["must_include"]) <= set(found)
    assert set(query.get("should_include", [])) <= set(found)


@pytest.mark.parametrize(
    ("q", "titles"),
    [
        ("空氣品質", ["臺灣地區空氣品質監測資料", "环境空气质量监测数据"]),  # its own words first
        ("空气质量", ["环境空气质量监测数据", "臺灣地區空氣品質監測資料"]),
        (
            "监测数据",
            ["环境空气质量监测数据", "臺灣地區空氣品質監測資料"],
        ),  # 資料 is 数据 in Taiwan
    ],
)
def test_case_14_regional_words_rank_below_the_same_region_words(client, httpserver, q, titles):
    load_case_14(httpserver)
    assert top_titles(client, q)[:2] == titles


def test_case_14_mainland_text_is_not_read_as_taiwan_text(client, httpserver):
    """资料 in simplified text is the mainland's "materials": only a text written in
    traditional characters has 資料 read as 数据, so 数据 finds no mainland 资料."""
    load_case_14(httpserver)
    body = [{"标题": "档案资料目录", "提供单位": "市档案馆", "更新时间": "2024-03-01"}]
    url = serve(httpserver, "/archive.json", json.dumps(body).encode(), "application/json")
    harvest(catalog.create_source("archive", "tabular", url))
    indexer.apply_changes(get_service().store)
    assert "档案资料目录" not in top_titles(client, "数据")
    assert "档案资料目录" in top_titles(client, "资料")
    assert "醫療機構基本資料" in top_titles(client, "资料")  # characters fold as before


def test_case_14_titles_are_shown_in_their_own_script(client, httpserver):
    load_case_14(httpserver)
    assert top_titles(client, "公共自行车")[0] == "臺北市公共自行車租賃站資料"
    response = client.get("/", query_string={"q": "空气质量"})
    page = html.unescape(re.sub(r"<[^>]+>", "", response.get_data(as_text=True)))
    assert "臺灣地區空氣品質監測資料" in page and "台湾地区空气质量" not in page


@pytest.mark.parametrize(
    ("q", "wanted", "unwanted"),
    [('"醫療機構"', {"醫療機構基本資料", "医疗机构执业登记信息"}, set()),
     ('"人口統計"', {"各縣市人口統計資料", "人口统计年鉴"}, set()),
     ('"人口统计"', {"各縣市人口統計資料", "人口统计年鉴"}, set()),
     # Each region's words for the phrase, in order: as unquoted words do.
     ('"空氣品質"', {"臺灣地區空氣品質監測資料", "环境空气质量监测数据"}, set()),
     ('"空气质量"', {"环境空气质量监测数据", "臺灣地區空氣品質監測資料"}, set()),
     ('"空氣品質監測"', {"臺灣地區空氣品質監測資料", "环境空气质量监测数据"}, set()),
     ('"品質監測空氣"', set(), {"臺灣地區空氣品質監測資料", "环境空气质量监测数据"}),
     # A simplified phrase running on past the regional word (bb4: missed the Taiwan title).
     ('"空气质量监测"', {"环境空气质量监测数据", "臺灣地區空氣品質監測資料"}, set()),
     ('"台湾地区空气质量监测数据"', {"臺灣地區空氣品質監測資料"}, set()),
     ('-"空氣品質" 监测', {"環境監測站點位置"},
      {"臺灣地區空氣品質監測資料", "环境空气质量监测数据"})],
)  # fmt: skip
def test_case_14_quoted_phrases_find_both_scripts_and_regions(
    client, httpserver, q, wanted, unwanted
):
    """A quoted phrase in either script finds the other script's titles (character
    folding) and the other region's words for it (regional reading, in order): a quoted
    空气质量 found 臺灣地區空氣品質監測資料 by that title's reading, but a quoted
    空氣品質 missed 环境空气质量监测数据. Order still counts, and -"phrase" leaves out
    what the phrase finds."""
    load_case_14(httpserver)
    got = set(top_titles(client, q))
    assert wanted <= got and not unwanted & got, got


@pytest.mark.parametrize(
    ("q", "wanted", "unwanted"),
    [('"空气质量监测"', {"空氣品質監測", "空气质量监测站点"}, {"空氣品質指標（AQI）"}),
     ('"空气质量指标"', {"空氣品質指標（AQI）"}, {"空氣品質監測"}),
     ('"空氣品質指標"', {"空氣品質指標（AQI）"}, {"空氣品質監測"}),
     ('"指标空气质量"', set(), {"空氣品質指標（AQI）"}),
     ('"质量监测"', {"空氣品質監測", "空气质量监测站点"}, set()),
     ('"品質監測"', {"空氣品質監測", "空气质量监测站点"}, set())],
)  # fmt: skip
def test_a_quoted_phrase_meets_a_taiwan_title_read_as_the_mainland_writes_it(
    client, httpserver, q, wanted, unwanted
):
    """bb4: "空气质量监测" quoted found 1 title, not 空氣品質監測, which the words unquoted
    found: the title's reading (空气质量 监测) was indexed as the terms the title lacked
    (空气质量), not in order with the rest (监测 only at its own position, after 品质).
    Every term of the reading now follows the title's own, in order. And tw2sp read
    指標 as the programmer's 指针, so "空气质量指标" found none (regional.SUPPLEMENT)."""
    rows = [{"标题": t, "提供单位": "環境部", "更新时间": "2024-03-01"}
            for t in ("空氣品質監測", "空氣品質指標（AQI）", "空气质量监测站点")]  # fmt: skip
    url = serve(httpserver, "/tw2.json", json.dumps(rows).encode(), "application/json")
    harvest(catalog.create_source("tw2", "tabular", url))
    indexer.apply_changes(get_service().store)
    got = set(top_titles(client, q))
    assert wanted <= got and not unwanted & got, got


def test_a_word_of_both_readings_weighs_as_once():
    """The reading's terms at their positions do not weigh a Taiwan title's words twice:
    监测 counts once in 空氣品質監測 (its posting's weight), as in 空气质量监测."""
    folded, reading = analysis.fold_and_reading("空氣品質監測")
    found, start = analysis.reading_positions(folded, reading)
    assert len(found["监测"]) == 2 and analysis.counted(found["监测"], start) == 1
    # The reading's own word weighs READING_WEIGHT an occurrence (OpenCC's guess).
    assert analysis.counted(found["空气质量"], start) == regional.READING_WEIGHT == 0.5
    assert analysis.counted(found["品质"], start) == 1


@pytest.mark.parametrize(
    ("q", "title"),
    [("卫生署", "衞生署轄下診所名單"), ("衛生署", "衞生署轄下診所名單"),
     ("衞生", "卫生健康委员会名录"), ('"衞生署"', "衞生署轄下診所名單"),
     ("敍述統計", "叙述统计表"), ("枱號", "台号"), ("衹限", "只限会员")],
)  # fmt: skip
def test_hong_kong_variant_characters_fold_as_traditional_ones(client, httpserver, q, title):
    """Hong Kong writes 衞 敍 枱 粧 糭 衹 where Taiwan writes 衛 敘 檯 妝 糉 (and 衹 as
    只): OpenCC's t2s left them as they were, so 卫生署 missed 衞生署 (hk2s differs from
    t2s on these characters only, no words: HK vocabulary such as 的士 has no OpenCC table)."""
    rows = [{"标题": t, "提供单位": "衞生署", "更新时间": "2024-03-01"}
            for t in ("衞生署轄下診所名單", "卫生健康委员会名录", "叙述统计表", "台号", "只限会员")]  # fmt: skip
    url = serve(httpserver, "/hk.json", json.dumps(rows).encode(), "application/json")
    harvest(catalog.create_source("hk", "tabular", url))
    indexer.apply_changes(get_service().store)
    assert title in top_titles(client, q)


# --- 15 ---------------------------------------------------------------------------------
CASE_15 = "15-search-query-syntax"
QUERIES_15 = queries(CASE_15)


def _must_be_refused(q: str) -> bool:
    return "\x00" in q or len(q) > 500


def test_case_15_every_query_is_answered_by_the_api_without_a_server_error(client, httpserver):
    load_case(httpserver, CASE_15)
    for query in QUERIES_15:
        q = query["q"]
        response = client.get("/api/v1/datasets", query_string={"q": q})
        if _must_be_refused(q):
            assert response.status_code == 400, q
            assert set(response.json) == ERROR_KEYS, q
            continue
        assert response.status_code == 200, (q, response.json)
        assert isinstance(response.json["items"], list)
        if "must_include" in query:
            assert set(query["must_include"]) <= set(top_titles(client, q)), q


@pytest.mark.parametrize("source", ["²", "١", "٣٤", "0", "city", "-1"])
def test_a_source_filter_of_any_digits_is_answered_without_a_server_error(client, httpserver,
                                                                          source):  # fmt: skip
    """str.isdigit() also takes "²" (and int() refuses it): found by the API fuzz test."""
    load_case(httpserver, CASE_15)
    response = client.get("/api/v1/datasets", query_string={"source": source})
    assert response.status_code in (200, 400), (source, response.status_code)
    if response.status_code == 200:
        assert response.json["total"] == 0 or source in ("city", "0")


def test_case_15_the_search_page_answers_every_query_and_echoes_it_escaped(client, httpserver):
    load_case(httpserver, CASE_15)
    for query in QUERIES_15:
        q = query["q"]
        for path in ("/", "/search"):
            response = client.get(path, query_string={"q": q})
            assert response.status_code < 500, q
            page = response.get_data(as_text=True)
            if _must_be_refused(q):
                assert response.status_code == 400, q
                assert 'class="flash flash-error"' in page  # a page with a notice, no trace
            else:
                assert response.status_code == 200, q
            assert "<script>alert(1)</script>" not in page
            if "must_include" in query:
                text = html.unescape(re.sub(r"<[^>]+>", "", page))  # highlights mark words
                assert all(title in text for title in query["must_include"]), q


def test_case_15_raw_nul_bytes_in_the_url_are_a_client_error(client, httpserver):
    load_case(httpserver, CASE_15)
    for path in ("/?q=%00", "/search?q=a%00b", "/api/v1/datasets?q=%00", "/?q=%FF%FE"):
        assert 400 <= client.get(path).status_code < 500 or client.get(path).status_code == 200


def test_punctuation_only_words_are_said_to_be_left_out(client, httpserver):
    """ "%" or "!!" hold no syntax and no words: the answer says they were left out
    (`ignored`) instead of silently listing the whole catalog as if it were a match."""
    load_case(httpserver, CASE_15)
    everything = client.get("/api/v1/datasets").json["total"]
    for q in ("%", "!!", "* ?"):
        body = client.get("/api/v1/datasets", query_string={"q": q}).json
        assert body["ignored"] == q.split() and body["total"] == everything, q
    words = client.get("/api/v1/datasets", query_string={"q": "% 数据"}).json
    assert words["ignored"] == ["%"] and 0 < words["total"] <= everything
    assert client.get("/api/v1/datasets", query_string={"q": "数据"}).json["ignored"] == []
    page = client.get("/?q=%25&lang=en", follow_redirects=True).get_data(as_text=True)
    assert "as it holds no letters or digits: %" in page and "Showing every dataset." in page
    assert "Showing every dataset." not in client.get("/?q=%25+数据").get_data(as_text=True)


# --- 17 ---------------------------------------------------------------------------------
CASE_17 = "17-feed-atom-control-chars"


def test_case_17_control_characters_are_removed_at_harvest(app, httpserver):
    load_case(httpserver, CASE_17)
    rows = {d.title: d for d in db.session.scalars(select(Dataset))}
    assert set(rows) == {"R&D经费投入<统计>公报", "企业信用修复名单", "公共场所无线网络覆盖点位"}
    for dataset in rows.values():
        text = dataset.title + dataset.description
        assert not any(ord(c) < 32 and c != "\n" for c in text), repr(text)
    assert "（导出时混入单元分隔符）" in rows["企业信用修复名单"].description


CASE_17_PUBLISHERS = ["市统计局", "市发展和改革委员会", "市大数据中心"]
BASELINE_17 = [{"标题": "既有数据集", "提供单位": "其他单位", "更新时间": "2024-01-01"}]


def scenario_then_case_17(httpserver):
    """The feed shows changes after a scenario was saved (a source's first harvest is its
    starting state), so: a first harvest of one unrelated dataset, the scenario over the
    case's three publishers, then the case's export arrives with three new datasets."""
    httpserver.expect_ordered_request(f"/{CASE_17}.json").respond_with_json(BASELINE_17)
    httpserver.expect_ordered_request(f"/{CASE_17}.json").respond_with_data(
        (DATA / CASE_17 / "export.json").read_bytes(), content_type="application/json"
    )
    source = catalog.create_source(CASE_17, "tabular", httpserver.url_for(f"/{CASE_17}.json"))
    harvest(source)
    user = create_user("reader@example.org", "long password")
    filters = {"publisher": CASE_17_PUBLISHERS}
    scenario = scenarios.create_scenario(
        user, {"name": "三家单位", "q": "", "filters": filters, "include": [], "exclude": []}
    )
    harvest(source)
    indexer.apply_changes(get_service().store)
    match_pending_events(cache=PercolatorCache())
    return scenario


def test_case_17_the_atom_feed_is_strict_xml_with_every_entry(client, app, httpserver):
    scenario = scenario_then_case_17(httpserver)
    response = client.get(
        f"/api/v1/scenarios/{scenario.id}/feed.atom", query_string={"token": scenario.feed_token}
    )
    assert response.status_code == 200
    root = ElementTree.fromstring(response.data)  # strict: no recover mode
    assert root.tag == f"{ATOM}feed"
    titles = [e.findtext(f"{ATOM}title") for e in root.iter(f"{ATOM}entry")]
    assert len(titles) == 3
    assert any(t.endswith("R&D经费投入<统计>公报") for t in titles)
    assert any(t.endswith("企业信用修复名单") for t in titles)
    assert b"<\xe7\xbb\x9f" not in response.data  # '<统' never raw
    # RFC 4287: the feed has an author (entries without one inherit it); each entry's is
    # its dataset's publisher. id, title and updated on the feed and on every entry.
    assert root.findtext(f"{ATOM}author/{ATOM}name") == "subscribe"
    authors = {e.findtext(f"{ATOM}author/{ATOM}name") for e in root.iter(f"{ATOM}entry")}
    assert authors == set(CASE_17_PUBLISHERS)
    for element in [root, *root.iter(f"{ATOM}entry")]:
        assert all(element.findtext(f"{ATOM}{name}") for name in ("id", "title", "updated"))


def test_case_17_text_stored_before_cleaning_still_makes_a_valid_feed(client, app, httpserver):
    scenario = scenario_then_case_17(httpserver)
    from subscribe.catalog.models import CatalogEvent

    created = select(CatalogEvent).where(CatalogEvent.type == "dataset.created")
    for event in db.session.scalars(created):  # as stored by an older version
        event.after = {**event.after, "title": event.after["title"] + "\x10\x0b"}
    db.session.commit()
    response = client.get(
        f"/api/v1/scenarios/{scenario.id}/feed.atom", query_string={"token": scenario.feed_token}
    )
    assert response.status_code == 200
    assert len(list(ElementTree.fromstring(response.data).iter(f"{ATOM}entry"))) == 3
