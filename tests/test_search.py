"""Search over real catalogs: relevance, folding, phrases, exclusion, facets, follower."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from subscribe.catalog.models import Dataset, Source
from subscribe.extensions import db
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.conftest import make_token
from tests.search_helpers import load_catalogs

ERROR_KEYS = {"code", "status", "message", "errors"}


@pytest.fixture
def catalog(app, httpserver):
    load_catalogs(httpserver)


def search(client, **params):
    response = client.get("/api/v1/datasets", query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def titles(body) -> list[str]:
    return [item["title"] for item in body["items"]]


@pytest.mark.parametrize(
    ("q", "expected_first"),
    [
        ("公交 站点", "示例市公交线路站点信息"),
        ("空气质量", "示例市空气质量日报"),
        ("出租车", "示例市出租车运营数据"),
        ("疫苗", "示例市疫苗接种门诊信息"),
        ("公车站牌", "臺北市公車站牌位置"),  # simplified query, traditional record
        ("空氣質量", "示例市空气质量日报"),  # traditional query, simplified record
        ("air quality", "Air Quality Index Daily Report"),
        (
            "vocational rehabilitation performance",
            "Vocational Rehabilitation Programs - Performance Monitoring",
        ),
        ("Promise Neighborhoods", "ED Grants: Promise Neighborhoods Fund"),
    ],
)
def test_the_expected_dataset_comes_first(client, catalog, q, expected_first):
    body = search(client, q=q)
    assert body["total"] >= 1
    assert titles(body)[0] == expected_first


def test_simplified_and_traditional_find_each_other(client, catalog):
    simplified = titles(search(client, q="公共数据"))
    traditional = titles(search(client, q="公共數據"))
    assert sorted(simplified) == sorted(traditional)  # the same datasets
    # The whole word ranks first in either script, the title written in the query's
    # script before the other's (engine.SCRIPT_WEIGHT); text with 公共 … 数据 apart follows.
    assert simplified[:2] == ["示例市公共数据开放目录", "公共數據開放平台使用統計"]
    assert traditional[:2] == ["公共數據開放平台使用統計", "示例市公共数据开放目录"]


def test_a_long_word_also_matches_its_parts_apart(client, catalog):
    assert titles(search(client, q="公交站点"))[0] == "示例市公交线路站点信息"


def test_unknown_words_match_as_character_phrases(client, catalog):
    assert titles(search(client, q="泊位")) == ["示例市停车场泊位实时数据"]
    assert search(client, q="位泊")["total"] == 0  # the characters, but not in this order


def test_invisible_characters_in_a_query_are_not_there(client, catalog):
    """Pasted text carries zero-width spaces and the like (acceptance run 3 #12: 公交\u200b站
    gave 35 partial matches where 公交站 gave 4 exact ones)."""
    plain = search(client, q="停车场泊位", per_page=100)
    assert plain["total"] > 0 and not plain.get("partial")
    for pasted in ("停车场泊\u200b位", "\ufeff停车场泊位", "停\u00ad车场泊位", "停车场泊\u2060位"):
        found = search(client, q=pasted, per_page=100)
        assert (titles(found), found.get("partial")) == (titles(plain), plain.get("partial"))


def test_words_are_anded(client, catalog):
    both = set(titles(search(client, q="监测 站点", per_page=100)))
    assert "示例市空气质量日报" in both and "示例市站点监测设备清单" in both
    assert "示例市公交线路站点信息" not in both  # has 站点 but not 监测


def test_phrase_needs_the_words_in_order(client, catalog):
    phrase = titles(search(client, q='"监测 站点"'))
    assert phrase == ["示例市空气质量日报"]  # 站点监测 (reversed) does not match
    assert titles(search(client, q='"质量日报"')) == ["示例市空气质量日报"]  # inside 空气质量


def test_exclusion(client, catalog):
    with_bus = set(titles(search(client, q="交通", per_page=100)))
    without = set(titles(search(client, q="交通 -公交", per_page=100)))
    assert "示例市公交线路站点信息" in with_bus - without
    assert "示例市出租车运营数据" in without
    assert "示例市空气质量日报" not in set(
        titles(search(client, q='空气 -"质量日报"', per_page=100))
    )


def test_stop_words_do_not_narrow_a_search(client, catalog):
    assert search(client, q="公交 的")["total"] == search(client, q="公交")["total"]


def test_highlights_mark_the_query_words(client, catalog):
    item = search(client, q="公交 站点")["items"][0]
    assert item["highlights"]["title"] == "示例市<mark>公交</mark>线路<mark>站点</mark>信息"
    traditional = search(client, q="公车")["items"][0]
    assert traditional["highlights"]["title"] == "臺北市<mark>公車</mark>站牌位置"


@pytest.mark.parametrize(
    ("q", "title", "marked"),
    [("students", "Federal Student Loan Program Data", "Federal <mark>Student</mark> Loan Program Data"),
     ("GRANTS", "Grant Program Data for Federal Student Aid",
      "<mark>Grant</mark> Program Data for Federal Student Aid"),
     ("loan", "Federal Student Loan Program Data", "Federal Student <mark>Loan</mark> Program Data")],
)  # fmt: skip
def test_english_words_are_marked_as_the_index_matched_them(client, catalog, q, title, marked):
    """An English hit came back unmarked when the text held another form of the word
    than typed (Student for students, Grant for GRANTS): the highlight looked for the
    folded word as typed, the index matched its stem. Marked in the API and the page."""
    hit = next(i for i in search(client, q=q, per_page=100)["items"] if i["title"] == title)
    assert hit["highlights"]["title"] == marked
    if q == "loan":  # its description says Loan twice
        assert hit["highlights"]["description"].count("<mark>Loan</mark>") == 2
    page = client.get("/", query_string={"q": q, "per_page": 100}).get_data(as_text=True)
    assert marked in page


def test_english_highlights_mark_whole_words_and_survive_expanding_characters():
    from subscribe.search.highlight import mark, snippet

    # Whole words as the index reads them: not "air" inside Repair, Air any case, its
    # plural; a joined token whole when typed whole, else the piece typed.
    assert mark("Repair AIR Qualities, airs", ["air", "quality"]) == (
        "Repair <mark>AIR</mark> <mark>Qualities</mark>, <mark>airs</mark>"
    )
    assert mark("COVID-19 cases", ["covid-19"]) == "<mark>COVID-19</mark> cases"
    assert mark("COVID-19 cases", ["covid"]) == "<mark>COVID</mark>-19 cases"
    # A character whose NFKC form is longer (… is ..., ½ is 1⁄2) left the whole text
    # unmarked, Chinese too: its offsets no longer lined up with the folded text's.
    assert mark("Traffic… counts ½", ["traffic"]) == "<mark>Traffic</mark>… counts ½"
    assert mark("空氣品質…日報", ["空气品质"]) == "<mark>空氣品質</mark>…日報"
    assert "<mark>Traffic</mark>" in snippet("ﬁrst " * 60 + "Traffic counts", ["traffic"])


def test_facet_counts_agree_with_the_database(client, catalog):
    body = search(client, per_page=1)
    live = db.session.scalars(select(Dataset).where(Dataset.deleted_at.is_(None))).all()
    assert body["total"] == len(live)
    facets = {
        name: {f["value"]: f["count"] for f in values} for name, values in body["facets"].items()
    }
    assert facets["publisher"] == top(Counter(d.publisher for d in live if d.publisher))
    assert facets["theme"] == top(Counter(t for d in live for t in d.themes))
    assert facets["format"] == top(Counter(f for d in live for f in d.formats))
    assert facets["open_type"] == dict(Counter(d.open_type for d in live if d.open_type))
    assert facets["frequency"] == dict(Counter(d.frequency for d in live))
    names = dict(db.session.execute(select(Source.id, Source.name)).all())
    assert facets["source"] == dict(Counter(names[d.source_id] for d in live))


def top(counter: Counter, limit: int = 20) -> dict:
    """The API's rule: most frequent first, ties by value, at most 20."""
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:limit])


def test_filters_agree_with_the_database(client, catalog):
    live = db.session.scalars(select(Dataset).where(Dataset.deleted_at.is_(None))).all()
    body = search(client, publisher="市生态环境局", per_page=100)
    assert body["total"] == sum(d.publisher == "市生态环境局" for d in live) == 5
    body = search(client, theme=["交通出行", "医疗卫生"], open_type="unconditional", per_page=100)
    expected = {
        d.title
        for d in live
        if {"交通出行", "医疗卫生"} & set(d.themes) and d.open_type == "unconditional"
    }
    assert set(titles(body)) == expected and len(expected) >= 4
    body = search(client, q="数据", format="JSON", frequency="daily", per_page=100)
    assert body["total"] >= 1
    assert all("JSON" in item["formats"] and item["frequency"] == "daily" for item in body["items"])
    body = search(client, source="ed", per_page=100)
    assert (
        body["total"] == sum(d.source.name == "ed" for d in live) == 89
    )  # 89 listed, one id shared by two surveys: told apart
    body = search(
        client, modified_from="2024-03-05T00:00:00", modified_to="2024-03-06T23:59:59", per_page=100
    )
    assert set(titles(body)) == {
        d.title
        for d in live
        if d.modified and "2024-03-05" <= d.modified.isoformat()[:10] <= "2024-03-06"
    }


def test_filters_read_values_as_the_search_box_reads_words(client, catalog):
    """A hand-typed filter value matches the catalog's spelling (QA: `format=csv` found
    nothing beside a facet of CSV): case, full width, 繁→简 and spaces are folded."""
    exact = search(client, publisher="市生态环境局", per_page=100)["total"]
    assert exact == 5
    for typed in ("市生態環境局", " 市生态环境局 ", "市生态环境局\u3000"):
        assert (
            search(client, publisher=typed.replace("\\u3000", "\u3000"), per_page=100)["total"]
            == exact
        )
    csv = search(client, format="CSV", per_page=100)["total"]
    assert csv > 0
    assert search(client, format="csv", per_page=100)["total"] == csv
    assert search(client, format="ＣＳＶ", per_page=100)["total"] == csv
    assert search(client, publisher="没有这个单位", per_page=100)["total"] == 0
    # Vocabulary filters read as the harvest reads a catalog's values (acceptance run 3).
    unconditional = search(client, open_type="unconditional", per_page=100)["total"]
    assert unconditional > 0
    for typed in ("UNCONDITIONAL", " Unconditional ", "无条件开放", "無條件開放"):
        assert search(client, open_type=typed, per_page=100)["total"] == unconditional
    daily = search(client, frequency="daily", per_page=100)["total"]
    assert daily > 0
    for typed in ("每日", "DAILY", "R/P1D"):
        assert search(client, frequency=typed, per_page=100)["total"] == daily
    source = search(client, source="city", per_page=100)
    assert source["total"] > 0
    assert search(client, source=" City ", per_page=100)["total"] == source["total"]


def test_date_filters_take_a_year_month_or_day_as_catalogs_write_them(client, catalog):
    """`modified_to=2024-03-06` keeps all of that day, `2024` all of the year (QA: a year
    was a 400 although catalog dates of that precision are first-class)."""
    live = db.session.scalars(select(Dataset).where(Dataset.deleted_at.is_(None))).all()

    def between(low: str, high: str) -> set[str]:
        return {d.title for d in live if d.modified and low <= d.modified.isoformat()[:10] <= high}

    days = search(client, modified_from="2024-03-05", modified_to="2024-03-06", per_page=100)
    assert set(titles(days)) == between("2024-03-05", "2024-03-06") != set()
    month = search(client, modified_from="2024-03", modified_to="2024-03", per_page=100)
    assert set(titles(month)) == between("2024-03-01", "2024-03-31")
    year = search(client, modified_from="2024", modified_to="2024", per_page=100)
    assert year["total"] == len(between("2024-01-01", "2024-12-31"))
    for bad in ("2024-13", "2024-02-30", "next week"):
        response = client.get("/api/v1/datasets", query_string={"modified_from": bad})
        assert response.status_code == 400, (bad, response.json)
        assert "modified_from" in str(response.json["errors"])


@pytest.mark.parametrize("end", ["9999", "9999-12", "9999-12-31"])
def test_the_last_period_there_is_ends_without_overflow(client, catalog, end):
    """`modified_to=9999` (its end is past datetime.max) was a 500 on the API, the search
    page and a scenario's filters; it is the last moment there is."""
    everything = search(client, per_page=1)["total"]
    dated = search(client, modified_to=end, per_page=1)["total"]
    assert 0 < dated <= everything
    assert search(client, modified_from="0001-01-01", modified_to=end, per_page=1)["total"] == dated
    assert client.get("/", query_string={"modified_to": end}).status_code == 200
    token = make_token(f"dates-{end}@example.org")
    created = client.post("/api/v1/scenarios", headers={"Authorization": f"Bearer {token}"},
                          json={"name": "all time", "filters": {"modified_to": end}})  # fmt: skip
    assert created.status_code == 201, created.json


EDGES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]  # UTC is off the calendar


@pytest.mark.parametrize("when", EDGES)
def test_a_time_whose_utc_is_off_the_calendar_is_its_end(client, catalog, when):
    """Such a time was an OverflowError when turned into UTC: a 500 on every argument
    holding one, and a scenario filter holding one failed `match-events` for everyone."""
    from subscribe.jobs import jobs

    headers = {"Authorization": f"Bearer {make_token('edges@example.org', 'operator')}"}
    for name in ("modified_from", "modified_to"):
        assert client.get("/api/v1/datasets", query_string={name: when}).status_code == 200
    for name in ("since", "until"):
        assert (
            client.get("/api/v1/audit", query_string={name: when}, headers=headers).status_code
            == 200
        )
    hook = client.post("/api/v1/webhooks", json={"url": "https://hooks.example.org/in"},
                       headers=headers).json  # fmt: skip
    recovered = client.post(f"/api/v1/webhooks/{hook['id']}/recover", json={"since": when},
                            headers=headers)  # fmt: skip
    assert recovered.status_code == 202, recovered.json
    scenario = client.post("/api/v1/scenarios", headers=headers,
                           json={"name": "edge", "filters": {"modified_from": when}}).json  # fmt: skip
    members = client.get(f"/api/v1/scenarios/{scenario['id']}/datasets", headers=headers)
    assert members.status_code == 200
    jobs.match_events()  # the catalog's events against every scenario: no OverflowError


def test_sorting_and_paging(client, catalog):
    newest = search(client, q="示例市", sort="newest", per_page=100)["items"]
    dates = [item["modified"] for item in newest]
    assert dates == sorted(dates, reverse=True)
    by_title = titles(search(client, source="city", sort="title", per_page=100))
    assert by_title == sorted(by_title)
    first = search(client, q="示例市", sort="title", per_page=5, page=1)
    second = search(client, q="示例市", sort="title", per_page=5, page=2)
    assert first["total"] == second["total"] > 10
    assert not set(titles(first)) & set(titles(second))
    assert titles(first) + titles(second) == by_title_for(client, "示例市")[:10]


def by_title_for(client, q):
    return titles(search(client, q=q, sort="title", per_page=100))


def test_changes_are_searchable_after_the_follower_runs(client, app, catalog):
    dataset = db.session.scalar(select(Dataset).where(Dataset.identifier == "JT-002"))
    from subscribe.catalog import sequence

    dataset.title = "示例市网约车运营数据"
    dataset.change_seq = sequence.allocate(1)[0]
    db.session.commit()
    get_service().refresh(force=True)
    assert "示例市网约车运营数据" not in titles(search(client, q="网约车"))  # not indexed yet
    assert indexer.apply_changes(get_service().store) == 1
    get_service().refresh(force=True)
    assert titles(search(client, q="网约车")) == ["示例市网约车运营数据"]
    assert "示例市出租车运营数据" not in titles(search(client, q="出租车"))  # old title gone


def test_deleted_datasets_leave_results_at_once(client, catalog):
    from subscribe.catalog import sequence
    from subscribe.models_base import utcnow

    dataset = db.session.scalar(select(Dataset).where(Dataset.identifier == "JT-002"))
    dataset.deleted_at, dataset.change_seq = utcnow(), sequence.allocate(1)[0]
    db.session.commit()
    get_service().refresh(force=True)
    assert search(client, q="出租车")["total"] == 0  # before the text index has caught up


@pytest.mark.parametrize(
    "params",
    [
        {"sort": "best"},
        {"per_page": 1000},
        {"page": 0},
        {"open_type": "free"},
        {"modified_from": "yesterday"},
        {"modified_from": "2024-03-06T00:00:00", "modified_to": "2024-01-01T00:00:00"},
        {"colour": "blue"},
        {"q": "x" * 600},
    ],
)
def test_bad_parameters_are_400_with_the_error_shape(client, app, params):
    response = client.get("/api/v1/datasets", query_string=params)
    assert response.status_code == 400
    assert set(response.json) == ERROR_KEYS


def test_one_dataset_and_missing_ones(client, catalog):
    dataset = db.session.scalar(select(Dataset).where(Dataset.identifier == "HJ-001"))
    body = client.get(f"/api/v1/datasets/{dataset.id}").json
    assert body["title"] == "示例市空气质量日报"
    assert (
        body["formats"] == ["CSV", "JSON"]
        and body["frequency"] == "daily"
        and body["deleted"] is False
    )
    missing = client.get("/api/v1/datasets/999999")
    assert missing.status_code == 404 and set(missing.json) == ERROR_KEYS


def test_reindex_swaps_in_a_new_index_that_serves_the_same_results(client, runner, catalog):
    store = get_service().store
    before_dir = store.current_dir()
    before = titles(search(client, q="空气质量"))
    result = runner.invoke(args=["search", "reindex", "--procs", "1"])
    assert result.exit_code == 0, result.output
    assert store.current_dir() != before_dir and not before_dir.exists()
    get_service().refresh(force=True)
    assert titles(search(client, q="空气质量")) == before


def test_before_the_first_index_update_browsing_works_and_nothing_is_created(
    client, app, httpserver
):
    from subscribe.catalog import services
    from tests.search_helpers import CHINESE_CSV, harvest, serve

    url = serve(httpserver, "/catalog.csv", CHINESE_CSV.read_bytes(), "text/csv")
    harvest(services.create_source("city", "tabular", url))
    # One truth: a dataset counts once its text is searchable; the rest are announced.
    body = search(client)
    assert (body["total"], body["indexing"]) == (0, 23)
    assert search(client, q="公交")["total"] == 0  # no text index yet
    assert get_service().store.current_dir() is None  # readers never create one


def test_the_worker_job_indexes_new_changes(client, app, httpserver):
    from subscribe.jobs.jobs import update_search_index

    load_catalogs(httpserver)
    assert update_search_index() == 0  # load_catalogs applied everything already
    assert titles(search(client, q="公交 站点"))[0] == "示例市公交线路站点信息"
