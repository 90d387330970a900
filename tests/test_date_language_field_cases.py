"""Field cases 02 (DCAT-US odd `modified` values) and 07 (DCAT-AP titles in several
languages), harvested over loopback into the database and read back through the API,
the search and the pages. Each test asserts its case.json `expected`."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion
from subscribe.catalog.overdue import detect_overdue
from subscribe.extensions import db
from subscribe.models_base import epoch_seconds
from subscribe.scenarios.report import freshness
from subscribe.search import indexer
from subscribe.search.engine import EXACT_BONUS
from subscribe.search.service import get_service
from tests.search_helpers import harvest, serve
from tests.test_quarter_dates import dated_dataset

DATA = Path(__file__).resolve().parent / "data"
CASE_02 = DATA / "02-dcatus-modified-odd-formats"
CASE_07 = DATA / "07-dcatap-multilingual-title"


def _by_identifier() -> dict[str, Dataset]:
    return {d.identifier: d for d in db.session.scalars(select(Dataset))}


def _page(client, dataset_id: int, lang: str) -> str:
    response = client.get(f"/datasets/{dataset_id}?lang={lang}", follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _event_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CatalogEvent))


# --- 02: DCAT-US modified ------------------------------------------------------------


@pytest.fixture
def case_02(app, httpserver):
    url = serve(httpserver, "/data.json", (CASE_02 / "data.json").read_bytes(), "application/json")
    source = services.create_source("dkan", "dcat", url)
    return source, harvest(source)


def test_02_every_dataset_in_with_precision_and_raw_text(case_02):
    _source, run = case_02
    assert (run.created, run.bad, run.status) == (7, 0, "succeeded")  # temporal never aborts
    got = _by_identifier()
    raw = json.loads((CASE_02 / "data.json").read_text())
    for item in raw["dataset"]:  # the raw `modified` string is preserved, every one
        assert got[item["identifier"]].modified_raw == item["modified"]
    expected = {
        "mod-002": (datetime(2018, 5, 1), "month"),  # never a made-up day
        "mod-003": (datetime(2019, 1, 1), "year"),
        "mod-004": (datetime(2018, 8, 9, 17, 49, 15, 225557), "datetime"),  # naive: UTC
        "mod-005": (datetime(2019, 1, 1), "datetime"),  # +0000
        "mod-006": (datetime(2020, 3, 15), "day"),
        "mod-007": (datetime(2019, 6, 30), "day"),
    }
    for identifier, (value, precision) in expected.items():
        assert (got[identifier].modified, got[identifier].modified_precision) == (value, precision)
    # R/P1D is a daily repeat rule: the frequency, not a timestamp.
    daily = got["mod-001"]
    assert (daily.modified, daily.modified_precision, daily.frequency) == (None, "", "daily")


def test_02_harvesting_again_is_no_change(case_02):
    source, _run = case_02
    events = _event_count()
    again = harvest(source)
    assert (again.created, again.updated, again.unchanged, again.bad) == (0, 0, 7, 0)
    assert _event_count() == events  # R/P1D does not make an "updated" every harvest


def test_02_api_shows_value_precision_and_raw(case_02, client):
    month = _by_identifier()["mod-002"]
    body = client.get(f"/api/v1/datasets/{month.id}").json
    assert body["modified"].startswith("2018-05-01T00:00:00")
    assert (body["modified_precision"], body["modified_raw"]) == ("month", "2018-05")
    daily = client.get(f"/api/v1/datasets/{_by_identifier()['mod-001'].id}").json
    assert (daily["modified"], daily["modified_precision"], daily["modified_raw"]) == (
        None, "", "R/P1D",
    )  # fmt: skip


def test_02_sort_and_filter_over_mixed_precisions(case_02, client):
    indexer.apply_changes(get_service().store)
    newest = client.get("/api/v1/datasets", query_string={"sort": "newest", "per_page": 10})
    assert newest.status_code == 200
    dated = [item["modified"][:10] for item in newest.json["items"] if item["modified"]]
    assert dated == sorted(dated, reverse=True) and len(dated) == 6
    # Undated datasets come last in both directions: "oldest" lists the oldest dated first.
    for sort, reverse in (("newest", True), ("oldest", False)):
        items = client.get("/api/v1/datasets", query_string={"sort": sort, "per_page": 10}).json
        modified = [item["modified"] for item in items["items"]]
        assert modified[-1] is None and None not in modified[:6], (sort, modified)
        assert [m[:10] for m in modified[:6]] == sorted(dated, reverse=reverse)
    # The comparable instant is the start of the period: "2019" is in a 2019-01 filter.
    january = client.get(
        "/api/v1/datasets",
        query_string={"modified_from": "2019-01-01T00:00:00", "modified_to": "2019-01-31T00:00:00"},
    ).json
    assert {i["modified_precision"] for i in january["items"]} == {"year", "datetime"}
    assert january["total"] == 2  # mod-003 (2019) and mod-005 (2019-01-01T00:00Z)


@pytest.mark.parametrize(
    ("lang", "month", "year"), [("zh", "2018年5月", "2019年"), ("en", "May 2018", "2019")]
)
def test_02_pages_show_the_date_at_its_precision(case_02, client, lang, month, year):
    got = _by_identifier()
    page = _page(client, got["mod-002"].id, lang)
    assert month in page and "2018年5月1日" not in page and "May 1, 2018" not in page
    page = _page(client, got["mod-003"].id, lang)
    assert f"<dd>{year}</dd>" in page
    page = _page(client, got["mod-001"].id, lang)
    # no date: the catalog's own text, muted, and why it is none
    assert 'R/P1D</span> <span class="muted date-note">' in page
    assert ("重复规则或时长" if lang == "zh" else "a repeat rule or duration") in page


# --- lateness counts from the end of the period ---------------------------------------


def test_a_month_date_is_late_only_after_the_month_plus_its_gap(app):
    dataset = dated_dataset("monthly", "2019-03", updated_at=datetime(2019, 4, 2))
    # Monthly allows 31 days + 15 days of grace. From 1 March that would be late on
    # 17 April; "2019-03" may mean 31 March, so it is late only after 16 May.
    assert detect_overdue(now=datetime(2019, 4, 20)) == 0
    assert detect_overdue(now=datetime(2019, 5, 16)) == 0
    assert detect_overdue(now=datetime(2019, 5, 18)) == 1
    event = db.session.scalar(select(CatalogEvent).where(CatalogEvent.type == "dataset.overdue"))
    assert event.changes[0]["due"] == "2019-05-02T00:00:00"  # end of March + one period

    columns = get_service().columns
    columns.catch_up()
    ids = np.asarray([dataset.id])
    assert columns.modified[dataset.id] == epoch_seconds(datetime(2019, 3, 1))  # sorts here
    for day, state in ((datetime(2019, 4, 20), "on_time"), (datetime(2019, 5, 18), "overdue")):
        counts = freshness(columns, ids, now=epoch_seconds(day))
        assert counts[state] == 1, counts


# --- 07: DCAT-AP languages -----------------------------------------------------------


@pytest.fixture
def case_07(app, httpserver):
    body = (CASE_07 / "catalog.jsonld").read_bytes()
    url = serve(httpserver, "/catalog.jsonld", body, "application/ld+json")
    source = services.create_source("eu", "dcat", url)
    return source, harvest(source), httpserver


TITLES_07 = {
    "air-quality": "空气质量监测数据",
    "traffic-counts": "Traffic counts",
    "public-bikes": "公共自行车站点",  # zh-Hans before zh-Hant
}


def test_07_titles_by_fixed_preference_and_every_translation_kept(case_07):
    _source, run, _server = case_07
    assert (run.created, run.bad) == (3, 0)
    got = _by_identifier()
    assert {k: d.title for k, d in got.items()} == TITLES_07
    air = got["air-quality"]
    assert air.description == "PM2.5、PM10、NO2 小时浓度。"
    assert air.publisher == "环境署"
    assert air.translations["en"]["title"] == "Air quality measurements"
    assert air.translations["fr"]["title"] == "Mesures de la qualité de l'air"
    assert air.translations["en"]["description"] == "Hourly concentrations of PM2.5, PM10 and NO2."
    assert air.keywords == ["空气"]  # the shown language's keywords, 'air' not doubled
    assert air.translations["en"]["keywords"] == ["air"] == air.translations["fr"]["keywords"]
    bikes = got["public-bikes"]
    assert bikes.translations["zh-Hant"]["title"] == "公共自行車站點"
    assert bikes.description == "站点位置与车位数。"
    assert got["traffic-counts"].translations["de"]["title"] == "Verkehrszählungen"
    # A single distribution object, and a list of two.
    assert len(air.resources) == 1 and len(got["traffic-counts"].resources) == 2


@pytest.mark.parametrize(
    ("q", "identifier"),
    [("Air quality", "air-quality"), ("空气质量", "air-quality"),
     ("Verkehrszählungen", "traffic-counts"), ("自行車", "public-bikes"),
     ("Mesures", "air-quality"), ("Messstellen", "traffic-counts")],
)  # fmt: skip
def test_07_every_translation_is_searchable(case_07, client, q, identifier):
    indexer.apply_changes(get_service().store)
    body = client.get("/api/v1/datasets", query_string={"q": q}).json
    assert [item["title"] for item in body["items"]] == [TITLES_07[identifier]]


def _with_near_titles(httpserver, titles: list[str]) -> None:
    """Datasets whose shown titles hold the query (the phrase-in-title bonus) beside case 07."""
    rows = [{"标题": t, "提供单位": "市生态环境局", "更新时间": "2024-03-01"} for t in titles]
    url = serve(httpserver, "/near.json", json.dumps(rows).encode(), "application/json")
    harvest(services.create_source("near", "tabular", url))
    indexer.apply_changes(get_service().store)


@pytest.mark.parametrize(
    ("q", "identifier"),
    [("Air quality measurements", "air-quality"),
     ("air quality, measurements", "air-quality"),  # compared as the shown title is
     ("Mesures de la qualité de l'air", "air-quality"),
     ("Verkehrszählungen", "traffic-counts"),
     ("公共自行車站點", "public-bikes")],  # its zh-Hant title, typed in its script
)  # fmt: skip
def test_07_a_translated_title_typed_whole_ranks_as_an_exact_title(
    case_07, client, httpserver, q, identifier
):
    """A translation's title was body text only, and the exact-title bonus read the shown
    title alone: 'Air quality measurements' ranked under longer English titles holding
    it. Every translated title now counts as the dataset's title for that bonus."""
    _with_near_titles(httpserver, ["Air quality measurements network stations",
                                   "Mesures de la qualité de l'air 2023 (archive)",
                                   "Verkehrszählungen 2023 Messstellen",
                                   "公共自行車站點位置"])  # fmt: skip
    body = client.get("/api/v1/datasets", query_string={"q": q}).json
    titles = [item["title"] for item in body["items"]]
    assert len(titles) >= 2 and titles[0] == TITLES_07[identifier], titles
    assert body["items"][0]["score"] >= EXACT_BONUS


def test_07_a_changed_translated_title_is_the_exact_title_instead(case_07, client, httpserver):
    """The search columns follow a translation's change: the new title is exact, the old
    one no longer."""
    source, _run, server = case_07
    _with_near_titles(httpserver, ["Verkehrszählungen 2023 Messstellen"])
    document = json.loads((CASE_07 / "catalog.jsonld").read_text())
    traffic = next(n for n in document["@graph"] if n.get("dct:identifier") == "traffic-counts")
    traffic["dct:title"][0]["@value"] = "Verkehrsmessungen"
    server.clear()
    serve(server, "/catalog.jsonld", json.dumps(document).encode(), "application/ld+json")
    assert harvest(source).updated == 1
    indexer.apply_changes(get_service().store)
    found = client.get("/api/v1/datasets", query_string={"q": "Verkehrsmessungen"}).json
    assert found["items"][0]["score"] >= EXACT_BONUS
    old = client.get("/api/v1/datasets", query_string={"q": "Verkehrszählungen"}).json
    assert old["items"][0]["title"] == "Verkehrszählungen 2023 Messstellen"
    assert all(item["score"] < EXACT_BONUS for item in old["items"])


def test_07_api_exposes_translations(case_07, client):
    air = _by_identifier()["air-quality"]
    body = client.get(f"/api/v1/datasets/{air.id}").json
    assert set(body["translations"]) == {"zh", "en", "fr"}
    assert body["translations"]["en"]["title"] == "Air quality measurements"


def test_07_page_lists_other_languages_with_their_tag(case_07, client):
    air = _by_identifier()["air-quality"]
    page = _page(client, air.id, "zh")
    assert '<span lang="en">Air quality measurements</span>' in page
    assert "其他语言" in page


def test_07_a_reordered_file_is_no_change(case_07):
    source, _run, server = case_07
    events = _event_count()
    server.clear()
    reordered = (CASE_07 / "catalog_reordered.jsonld").read_bytes()
    serve(server, "/catalog.jsonld", reordered, "application/ld+json")
    again = harvest(source)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
    assert _event_count() == events
    assert {k: d.title for k, d in _by_identifier().items()} == TITLES_07


def test_a_translation_change_is_a_change_and_stays_searchable(case_07, client):
    source, _run, server = case_07
    document = json.loads((CASE_07 / "catalog.jsonld").read_text())
    traffic = next(n for n in document["@graph"] if n.get("dct:identifier") == "traffic-counts")
    traffic["dct:title"][0]["@value"] = "Verkehrsmessungen"
    server.clear()
    serve(server, "/catalog.jsonld", json.dumps(document).encode(), "application/ld+json")
    again = harvest(source)
    assert again.updated == 1
    event = db.session.scalars(select(CatalogEvent).order_by(CatalogEvent.id.desc())).first()
    assert event.changes[0]["fields"]["translations"]["new"]["de"]["title"] == "Verkehrsmessungen"
    indexer.apply_changes(get_service().store)
    found = client.get("/api/v1/datasets", query_string={"q": "Verkehrsmessungen"}).json
    assert [item["title"] for item in found["items"]] == ["Traffic counts"]


def test_an_upgrade_fills_new_fields_without_a_version(case_07):
    """Datasets stored before precision/translations existed: the next harvest fills
    them in silently (no version, no event), and later real changes are still seen."""
    source, _run, _server = case_07
    air = _by_identifier()["air-quality"]
    version = db.session.scalar(select(DatasetVersion).where(DatasetVersion.dataset_id == air.id))
    old = {k: v for k, v in version.snapshot.items() if k not in ("translations",)}
    old.pop("modified_precision")
    version.snapshot = old
    air.content_hash = "from-before-the-upgrade"
    db.session.commit()
    events = _event_count()
    again = harvest(source)
    assert (again.updated, again.unchanged) == (0, 3)
    assert _event_count() == events
    db.session.refresh(version)
    assert version.snapshot["translations"]["en"]["title"] == "Air quality measurements"
    assert db.session.get(Dataset, air.id).version == 1


def test_02_a_day_is_shown_as_that_calendar_day(case_02, client):
    got = _by_identifier()["mod-006"]  # "2020-03-15": a day, not midnight UTC
    page = _page(client, got.id, "en")
    assert "<dd>Mar 15, 2020</dd>" in page
