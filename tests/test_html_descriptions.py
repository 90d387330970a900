"""Descriptions written as HTML are stored, shown and indexed as text; line breaks stay.

Every description in healthdata.gov's data.json (Socrata) is HTML (<p>, <br>, <a>, <ol>),
and ArcGIS Hub pages carry Word's <span style=…> soup: shown as HTML source they were
unreadable, and a search for "Calibri" found them. A tabular export's multi-line 摘要
cell lost its line breaks. An upgrade that reads stored HTML as text must not push an
update per dataset. Real files on loopback, real database.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from subscribe.catalog import records, services
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion
from subscribe.catalog.text import clean_description, clean_paragraphs, looks_like_html, same_text
from subscribe.extensions import db
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.conftest import healthdata_bytes
from tests.search_helpers import harvest, serve

ARCGIS = (
    "<div style='text-align:Left;'><p style='margin-bottom:0in'><span style='background:white'>"
    "This data layer produced by the </span>National Center for Education Statistics.</p>"
    "<ul><li><i><span style='font-size:11.0pt;font-family: &quot;Calibri&quot;'>Large City"
    "</span></i> (11): inside a Principal City.<br /></li><li>Town - Fringe (31)</li></ul>"
    "<p>See <a href='https://nces.ed.gov/programs/edge'>the EDGE pages</a>.</p></div>"
)


def test_html_becomes_text_with_its_paragraphs_lists_and_link_addresses():
    text = clean_description(ARCGIS)
    assert not looks_like_html(text)
    assert "style" not in text and "Calibri" not in text and "&quot;" not in text
    assert [line for line in text.splitlines() if line] == [
        "This data layer produced by the National Center for Education Statistics.",
        "* Large City (11): inside a Principal City.",
        "* Town - Fringe (31)",
        "See the EDGE pages (https://nces.ed.gov/programs/edge).",
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Data since 1999 at <https://nces.ed.gov/pubsearch/>.",  # a Markdown autolink
        "PM2.5 <35 μg/m³ is good; a<b and b>c.",
        "第一段\n\n第二段：* 星号 and a_b_c stay as written",
        "<不是标签>的说明",
    ],
)
def test_text_that_is_not_html_is_kept_as_written(text):
    assert not looks_like_html(text)
    assert clean_description(text) == clean_paragraphs(text) == text


def test_markdown_markup_reads_as_text():
    """Markdown's links, bold and headings (CKAN notes; bb8 F18) read as text, a link's
    address after it as for HTML; raw HTML inside Markdown is escaped, never run."""
    text = "第一段\n\n第二段：**Markdown** [说明](https://x.cn/doc) <script>x</script>"
    assert clean_description(text) == (
        "第一段\n\n第二段：Markdown 说明 (https://x.cn/doc) <script>x</script>"
    )


def test_an_autolink_inside_html_keeps_its_address():
    assert clean_description("<p>Older data at <https://nces.ed.gov/timss/>.</p>") == (
        "Older data at https://nces.ed.gov/timss/."
    )


def test_descriptions_read_the_same_across_html_and_reflowed_lines():
    assert same_text("<p>First.</p><p>Second.</p>", "First.\n\nSecond.")
    assert same_text("第一行 第二行", "第一行\n第二行")
    assert not same_text("<p>First.</p>", "First, revised.")
    assert not same_text("", "Now described.")


def _healthdata_sample(count: int) -> bytes:
    catalog = json.loads(healthdata_bytes())
    catalog["dataset"] = catalog["dataset"][:count]
    return json.dumps(catalog).encode()


def test_a_dcat_us_harvest_stores_socrata_html_as_text_and_search_ignores_markup(client,
                                                                                  httpserver):  # fmt: skip
    url = serve(httpserver, "/data.json", _healthdata_sample(60), "application/json")
    run = harvest(services.create_source("health", "dcat", url))
    assert run.created == 60 and run.bad == 0
    descriptions = db.session.scalars(select(Dataset.description)).all()
    assert all(d and not looks_like_html(d) for d in descriptions)
    assert sum("\n\n" in d for d in descriptions) >= 30  # paragraphs kept as blank lines
    indexer.apply_changes(get_service().store)

    assert client.get("/api/v1/datasets", query_string={"q": "href"}).get_json()["total"] == 0
    page = client.get(f"/datasets/{db.session.scalar(select(func.min(Dataset.id)))}").text
    assert "&lt;p&gt;" not in page and "&lt;br" not in page


def test_a_multi_line_description_cell_keeps_its_line_breaks(app, httpserver):
    body = (
        "数据目录名称,数据提供单位,数据摘要\n"
        '南宁市空气质量日报,南宁市生态环境局,"每日空气质量指数\r\n含PM2.5、PM10"\n'
        "南宁市公交站点,南宁市交通运输局,全市公交站点名称\n"
    ).encode()
    harvest(
        services.create_source("nanning", "tabular", serve(httpserver, "/c.csv", body, "text/csv"))
    )
    assert dict(db.session.execute(select(Dataset.title, Dataset.description)).all()) == {
        "南宁市空气质量日报": "每日空气质量指数\n含PM2.5、PM10",
        "南宁市公交站点": "全市公交站点名称",
    }


def _events_and_versions() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(CatalogEvent)),
            db.session.scalar(select(func.count()).select_from(DatasetVersion)))  # fmt: skip


def test_html_stored_before_this_release_becomes_text_without_an_update(app, httpserver,
                                                                        monkeypatch):  # fmt: skip
    url = serve(httpserver, "/data.json", _healthdata_sample(20), "application/json")
    source = services.create_source("health", "dcat", url)
    with monkeypatch.context() as before_this_release:  # descriptions kept as HTML
        before_this_release.setattr(records, "clean_description", clean_paragraphs)
        assert harvest(source).created == 20
    assert all(looks_like_html(d) for d in db.session.scalars(select(Dataset.description)))
    counted = _events_and_versions()

    run = harvest(source)
    assert (run.updated, run.unchanged) == (0, 20)
    assert _events_and_versions() == counted  # no version, no event: upstream said the same
    assert not any(looks_like_html(d) for d in db.session.scalars(select(Dataset.description)))


def test_a_real_description_change_is_still_an_update(app, httpserver):
    body = "数据目录名称,数据提供单位,数据摘要\n公交站点,交通局,{}\n"
    path = "/c.csv"
    source = services.create_source("c", "tabular",
                                    serve(httpserver, path, body.format("旧说明").encode(), "text/csv"))  # fmt: skip
    harvest(source)
    httpserver.clear()
    serve(httpserver, path, body.format('"新说明\n第二行"').encode(), "text/csv")
    assert harvest(source).updated == 1
    assert db.session.scalar(select(Dataset.description)) == "新说明\n第二行"
