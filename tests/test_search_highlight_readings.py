"""Highlights show why a hit matched, through every reading the index holds.

A traditional-script title is indexed by its characters folded (t2s) and by OpenCC's
phrase reading (tw2sp: 檔案 read 文件, 物件 对象, 機車 摩托车): a query meeting the
reading marks the source text whose reading matched, and a word marks exactly the text
it matched (black-box findings bb6 L7: 檔案館 marked 檔案館館 of 檔案館館藏目錄, and 文件
found that title with nothing marked).

Titles are of the kind Taiwan's and Hong Kong's open data portals publish (data.gov.tw,
data.gov.hk), written for these tests.
"""

from __future__ import annotations

import pytest

from subscribe.catalog import services as catalog
from subscribe.search import indexer
from subscribe.search.highlight import mark, snippet
from subscribe.search.query import parse
from subscribe.search.service import get_service
from tests.search_helpers import harvest, serve

TITLES = [
    "檔案館館藏目錄",
    "臺北市政府機關檔案資料開放清單",
    "不動產實價登錄物件資料",
    "公務機關軟體授權清單",
    "臺北捷運各站進出站人次",
    "機車停車格位置",
    "衞生署診所資料",
    "档案馆馆藏档案统计",
]

# (query, title, the title as marked): the character reading, the phrase reading (same
# length and not: 機車 is read 摩托车), the project's supplement (捷運 地铁), Hong Kong's
# variants (衞), and the words as typed in either script.
CASES = [
    ("檔案館", "檔案館館藏目錄", "<mark>檔案館</mark>館藏目錄"),
    ("档案馆", "檔案館館藏目錄", "<mark>檔案館</mark>館藏目錄"),
    ("文件", "檔案館館藏目錄", "<mark>檔案</mark>館館藏目錄"),
    ("文件", "臺北市政府機關檔案資料開放清單", "臺北市政府機關<mark>檔案</mark>資料開放清單"),
    ("数据", "臺北市政府機關檔案資料開放清單", "臺北市政府機關檔案<mark>資料</mark>開放清單"),
    ("对象", "不動產實價登錄物件資料", "不動產實價登錄<mark>物件</mark>資料"),
    ("软件", "公務機關軟體授權清單", "公務機關<mark>軟體</mark>授權清單"),
    ("地铁", "臺北捷運各站進出站人次", "臺北<mark>捷運</mark>各站進出站人次"),
    ("摩托车", "機車停車格位置", "<mark>機車</mark>停車格位置"),
    ("卫生署", "衞生署診所資料", "<mark>衞生署</mark>診所資料"),
    ("檔案館", "档案馆馆藏档案统计", "<mark>档案馆</mark>馆藏档案统计"),
]


@pytest.fixture
def regional_titles(app, httpserver) -> None:
    rows = [("目录名称", "数源单位", "更新时间", "描述")]
    rows += [(t, "某局", "2024-03-01", "") for t in TITLES]
    text = "\n".join(",".join(row) for row in rows)
    url = serve(httpserver, "/regional.csv", text.encode("utf-8"), "text/csv")
    harvest(catalog.create_source("regional", "tabular", url))
    indexer.apply_changes(get_service().store)


@pytest.mark.parametrize(("q", "title", "marked"), CASES)
def test_the_api_marks_the_text_whose_reading_matched(client, regional_titles, q, title, marked):
    response = client.get("/api/v1/datasets", query_string={"q": q, "per_page": 50})
    assert response.status_code == 200, response.json
    shown = {item["title"]: item["highlights"]["title"] for item in response.json["items"]}
    assert title in shown, sorted(shown)
    assert shown[title] == marked


def test_the_search_page_marks_the_text_whose_reading_matched(client, regional_titles):
    page = client.get("/?q=文件").get_data(as_text=True)
    assert "<mark>檔案</mark>館館藏目錄" in page
    page = client.get("/?q=檔案館").get_data(as_text=True)
    assert "<mark>檔案館</mark>館藏目錄" in page


def marked(text: str, q: str) -> str:
    query = parse(q)
    return mark(text, query.highlight, query.highlight_parts)


def test_a_word_s_parts_are_marked_only_where_the_word_is_not():
    """公交站点 marks 公交 … 站点 where they stand apart (what matched), but where the
    word itself stands its parts add nothing: 馆 of 档案馆 marked the next 館 too."""
    assert marked("示例市公交线路站点信息", "公交站点") == (
        "示例市<mark>公交</mark>线路<mark>站点</mark>信息"
    )
    assert marked("公交站点的站点", "公交站点") == "<mark>公交站点</mark>的站点"
    assert marked("檔案館館藏", "档案馆") == "<mark>檔案館</mark>館藏"


@pytest.mark.parametrize(
    ("text", "q", "shown"),
    [("網路程式介面", "程序", "網路<mark>程式</mark>介面"),
     ("網路程式介面", "界面", "網路程式<mark>介面</mark>"),
     ("機車資料", "数据", "機車<mark>資料</mark>"),
     ("機車資料", "摩托车", "<mark>機車</mark>資料"),
     ("計程車資料下載", "出租车", "<mark>計程車</mark>資料下載")],
)  # fmt: skip
def test_changed_phrases_side_by_side_are_told_apart(text, q, shown):
    """A reading's changed phrases next to each other (程式介面 read 程序界面, 機車資料
    摩托车数据) mark the one that matched, not the stretch of changes."""
    assert marked(text, q) == shown


def test_a_snippet_finds_a_reading_far_into_a_description():
    """The window goes to the first text whose reading matched, as to a word's."""
    text = "本資料集說明。" * 40 + "提供檔案下載服務。"
    query = parse("文件")
    shown = snippet(text, query.highlight, query.highlight_parts)
    assert "<mark>檔案</mark>下載" in shown


def test_other_foldings_keep_marking():
    """NFKC (full width), English stems and expanding characters (…) still mark."""
    assert marked("ＰＭ２．５監測", "pm2.5") == "<mark>ＰＭ２．５</mark>監測"
    assert marked("Repair AIR Qualities…", "air quality") == (
        "Repair <mark>AIR</mark> <mark>Qualities</mark>…"
    )
    assert marked("空氣品質…日報", "空气质量") == "<mark>空氣品質</mark>…日報"
