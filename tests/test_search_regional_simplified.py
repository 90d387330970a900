"""Taiwan's words typed in simplified characters (black-box bb9 F11).

A Taiwan title is indexed by its characters folded (t2s: 腳踏車 is 脚踏车) and by its
phrase reading (tw2sp: 自行车), so a word typed in simplified characters finds the Taiwan
title that writes it (脚踏车 finds 公共腳踏車租賃站點, marked as written), and a word
typed in traditional characters also finds the other region's word (腳踏車 finds
公共自行车租赁点). A query typed in simplified characters gets no phrase reading: it is
the mainland's own usage, where OpenCC's Taiwan phrases would rewrite everyday words
(文件 read 文档, 程序 进程, 新增 添加, 资料 数据; regional.py), so 脚踏车 does not find
公共自行车租赁点 — the finding's 脚踏车 → 0 was a catalog whose titles said 自行車.
"""

from __future__ import annotations

import pytest

from subscribe.catalog import services as catalog
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.search_helpers import harvest, serve

TAIWAN = ["公共腳踏車租賃站點", "軟體下載統計", "網路服務品質"]
MAINLAND = ["公共自行车租赁点", "软件产品目录", "网络资讯"]


@pytest.fixture
def regions(app, httpserver) -> None:
    rows = [("目录名称", "数源单位", "更新时间", "描述")]
    rows += [(t, "某局", "2024-03-01", "") for t in TAIWAN + MAINLAND]
    text = "\n".join(",".join(row) for row in rows)
    url = serve(httpserver, "/regions.csv", text.encode("utf-8"), "text/csv")
    harvest(catalog.create_source("regions", "tabular", url))
    indexer.apply_changes(get_service().store)


def shown(client, q: str) -> dict[str, str]:
    response = client.get("/api/v1/datasets", query_string={"q": q, "per_page": 50})
    assert response.status_code == 200, response.json
    return {item["title"]: item["highlights"]["title"] for item in response.json["items"]}


@pytest.mark.parametrize(
    ("simplified", "traditional", "taiwan", "marked", "mainland"),
    [("脚踏车", "腳踏車", "公共腳踏車租賃站點", "公共<mark>腳踏車</mark>租賃站點", "公共自行车租赁点"),
     ("软体", "軟體", "軟體下載統計", "<mark>軟體</mark>下載統計", "软件产品目录"),
     ("网路", "網路", "網路服務品質", "<mark>網路</mark>服務品質", "网络资讯")],
)  # fmt: skip
def test_a_taiwan_word_typed_in_simplified_finds_the_taiwan_title(
    client, regions, simplified, traditional, taiwan, marked, mainland
):
    """脚踏车 finds 公共腳踏車租賃站點 (its characters), marked as written, as 腳踏車
    does; only the traditional query also finds the mainland's word (its phrase reading)."""
    found = shown(client, simplified)
    assert found == {taiwan: marked}, found
    found = shown(client, traditional)
    assert found[taiwan] == marked and mainland in found, found
    assert list(shown(client, f'"{simplified}"')) == [taiwan]
