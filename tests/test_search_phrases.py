"""Quoted phrases do not run across punctuation or from one value to the next, and a
phrase of punctuation only is treated as nothing typed (every dataset, with a notice)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subscribe.catalog.models import Dataset, DatasetVersion
from subscribe.extensions import db
from subscribe.search import analysis
from subscribe.search.docmatch import MatchSpec, analyse, text_matches
from subscribe.search.engine import Filters
from subscribe.search.percolate import ChangedDocs, slots
from subscribe.search.query import parse
from tests.search_helpers import index_rows

ROWS = [
    ("P-1", "示例市空气质量日报", "各监测站点的日报数据", "空气;日报"),
    ("P-2", "空气质量，日报汇总", "逗号隔开的标题", "汇总"),
    ("P-3", "公交线路信息", "线路与站牌", "公交;站点"),
    ("P-4", "Air Quality Index", "Daily readings", "air"),
    ("P-5", "Air, Quality Report", "A comma in the title", "report"),
    ("P-6", "北京市统计局人口数据", "人口", "人口"),
    ("P-7", "北京市 统计局 经济数据", "经济", "经济"),
]


@pytest.fixture
def catalog(app, httpserver):
    index_rows(httpserver, "p", ROWS)


def titles(client, q: str) -> set[str]:
    body = client.get("/api/v1/datasets", query_string={"q": q, "per_page": 50}).json
    return {item["title"] for item in body["items"]}


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('"质量日报"', {"示例市空气质量日报"}),  # not 空气质量，日报汇总
        ('"air quality"', {"Air Quality Index"}),  # not "Air, Quality Report"
        ('"公交站点"', set()),  # two keywords side by side are not a phrase
        # Punctuation typed inside the quotes splits the phrase: each part in order.
        ('"空气质量，日报汇总"', {"空气质量，日报汇总"}),
        ('"Air, Quality Report"', {"Air, Quality Report"}),
        # Spaces between Chinese words, typed or in the text, do not matter.
        ('"北京 市"', {"北京市统计局人口数据", "北京市 统计局 经济数据"}),
        ('"北京市 统计局"', {"北京市统计局人口数据", "北京市 统计局 经济数据"}),
        ('"统计局经济"', {"北京市 统计局 经济数据"}),
        # However the segmenter cut the title: a typed Chinese phrase is a substring.
        ('"市统计局"', {"北京市统计局人口数据", "北京市 统计局 经济数据"}),
        ('"局人口"', {"北京市统计局人口数据"}),
        ('"人口统计"', set()),  # the characters, not in this order
    ],
)
def test_a_phrase_stops_at_punctuation(client, catalog, q, expected):
    assert titles(client, q) == expected


def test_only_punctuation_leaves_a_gap(app):
    """Words after a comma are consecutive again: '日报 AQI 指数' after '空气质量，'."""
    doc = analyse(1, 1, "p", {"title": "空气质量，日报 AQI 指数"})
    assert text_matches(parse('"日报 AQI 指数"'), doc)
    assert not text_matches(parse('"质量 日报"'), doc)


def test_scenario_matching_agrees_on_phrases(app):
    """Event matching (docmatch) reads phrases as the search does."""
    comma = analyse(1, 1, "p", {"title": "空气质量，日报汇总", "keywords": ["公交", "站点"]})
    plain = analyse(2, 1, "p", {"title": "示例市空气质量日报"})
    assert not text_matches(parse('"质量日报"'), comma)
    assert text_matches(parse('"质量日报"'), plain)
    assert not text_matches(parse('"公交站点"'), comma)
    assert text_matches(parse('"空气质量，日报"'), comma)


@pytest.mark.parametrize("q", ['"，，"', '"!!"', '" ! "', '"。" "……"'])
def test_a_phrase_of_punctuation_only_is_nothing_typed(client, catalog, q):
    everything = client.get("/api/v1/datasets").json["total"]
    body = client.get("/api/v1/datasets", query_string={"q": q}).json
    assert body["total"] == everything and body["ignored"], body["ignored"]
    page = client.get("/", query_string={"q": q, "lang": "en"}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert "as it holds no letters or digits" in text and "Showing every dataset." in text


def test_an_index_of_the_older_analysis_is_rebuilt(tmp_path):
    """Positions changed (gaps at punctuation): an index written before must not answer
    phrases the old way, so the follower rebuilds it (indexer.apply_changes)."""
    from whoosh import index

    from subscribe.search.store import is_current_schema, make_schema

    for name in ("new", "old"):
        (tmp_path / name).mkdir()
    schema = make_schema()
    assert is_current_schema(index.create_in(tmp_path / "new", schema))
    del schema["title"].analyzer.version  # as pickled by the version before
    assert not is_current_schema(index.create_in(tmp_path / "old", schema))


EXCLUDED = ['"空气质量，日报汇总"', '"Air, Quality Report"', '"空气质量，日报"', '"市统计局"',
            '"局人口"', '"质量日报"', '"北京 市"', '"air quality"', '"统计局经济"',
            # unquoted words: the same rule (质量日 and 局人口 are title substrings only)
            "质量日", "局人口", "市统计局", "公交站点", "quality", "空气质量，日报", "的"]  # fmt: skip


@pytest.mark.parametrize("phrase", EXCLUDED)
def test_an_exclusion_leaves_out_exactly_what_its_text_finds(client, catalog, phrase):
    """-"甲，乙" drops what "甲，乙" finds (each part between punctuation present), and a
    Chinese -"phrase" or -word drops titles holding it however they were segmented: in
    the search, in event matching (docmatch) and in the percolator alike."""
    everything = titles(client, "")
    found = titles(client, phrase)
    assert found, phrase  # the case means something
    assert titles(client, f"-{phrase}") == everything - found

    rows = db.session.execute(
        select(Dataset.id, Dataset.source_id, DatasetVersion.snapshot).join(
            DatasetVersion,
            (DatasetVersion.dataset_id == Dataset.id) & (DatasetVersion.number == Dataset.version),
        )
    ).all()
    docs = [analyse(r.id, r.source_id, "p", r.snapshot) for r in rows]
    title_of = {r.id: r.snapshot["title"] for r in rows}
    spec = MatchSpec(parse(f"-{phrase}"), Filters(), scenario=False)
    assert {title_of[d.id] for d in docs if text_matches(spec.query, d)} == everything - found
    kept = ChangedDocs(docs).evaluate(spec)
    assert {title_of[docs[slot].id] for slot in slots(kept)} == everything - found


def test_matched_because_names_phrases_as_typed(app):
    """Timelines, e-mails, feeds and webhooks say which phrase matched: as the user
    typed it, not its stemmed terms ("school locat")."""
    spec = MatchSpec(parse('"School  Locations" "Air, Quality Report" 公交'), Filters())
    assert spec.because["phrases"] == ["school locations", "air", "quality report"]  # folded


@pytest.mark.parametrize(
    "text",
    [
        "空气质量，日报 北京市 统计局\t公交站点 监测站点",
        "PM2.5 ＰＭ１０ covid-19 GB/T 2260-2007 c++ c# running -a- .x. a_b",
        "， ,数据;; 数据\n\n数据 — 的 和 與 〇",
        "",
        "，臺灣地區空氣品質監測資料。軟體 ABC 資料\n計程車、腳踏車",  # with a regional reading
        "資料",
    ],
)
def test_term_positions_are_the_tokens_grouped_by_term(text):
    """The indexer's and matcher's fast path gives what `tokens` gives, term by term,
    with the text's regional reading too."""
    folded, reading = analysis.fold_and_reading(text)
    assert folded == analysis.fold(text)
    expected: dict[str, list[int]] = {}
    for term, position, _start, _end in analysis.tokens(folded, reading=reading):
        expected.setdefault(term, []).append(position)
    assert analysis.term_positions(folded, reading) == expected
    assert analysis.index_terms(text) == expected


def test_a_taiwan_text_also_holds_its_mainland_words_after_its_own():
    found = analysis.index_terms("臺灣地區空氣品質監測資料")
    assert {"空气", "品质", "资料"} <= set(found)  # its own words, folded to simplified
    assert {"空气质量", "质量", "数据"} <= set(found)  # and the mainland's
    own_end = max(p for term in ("品质", "资料") for p in found[term])
    assert min(found["空气质量"]) > own_end + 1  # after a gap: no phrase runs across
    # A word of both readings is at its place in each (the reading's words in order:
    # a quoted "空气质量监测" meets them), but weighed once (analysis.counted).
    assert found["空气"] == [1, min(found["空气质量"])]
    assert found["监测"] == [3, min(found["空气质量"]) + 1]
    start = analysis.reading_positions(*analysis.fold_and_reading("臺灣地區空氣品質監測資料"))[1]
    assert start == own_end + 2 and analysis.counted(found["空气"], start) == 1
    assert analysis.fold_and_reading("档案资料 程式") == ("档案资料 程式", "")  # simplified: none
