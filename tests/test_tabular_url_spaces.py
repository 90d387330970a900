"""A URL cell whose file name holds a space, written unencoded (bb8 F20): the whole name
is the URL, not the part before the space; a URL and a note after it stay apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.harvesters.tabular import _urls
from subscribe.catalog.models import Dataset, Resource
from subscribe.extensions import db
from tests.search_helpers import harvest, serve

EXPORT = Path(__file__).resolve().parent / "data" / "url-spaces-bb8" / "cn13_urls.csv"
BASE = "http://portal.example.cn/catalog/export.csv"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("http://a.cn/files/公交 站点.csv", ["http://a.cn/files/公交 站点.csv"]),
        ("http://a.cn/files/2024 年 公交 站点.xlsx", ["http://a.cn/files/2024 年 公交 站点.xlsx"]),
        ("/files/公交 站点.csv", ["http://portal.example.cn/files/公交 站点.csv"]),
        (
            "http://a.cn/files/a b.csv、http://a.cn/c.csv",
            ["http://a.cn/files/a b.csv", "http://a.cn/c.csv"],
        ),
        # A URL that has its suffix, then a note: apart.
        ("http://a.cn/x.csv 说明", ["http://a.cn/x.csv"]),
        # Two URLs separated by a space: two.
        ("http://a.cn/x.csv http://a.cn/y.json", ["http://a.cn/x.csv", "http://a.cn/y.json"]),
        (
            "http://a.cn/dataset/1 http://a.cn/dataset/2",
            ["http://a.cn/dataset/1", "http://a.cn/dataset/2"],
        ),
        # Words that end with no file suffix are no file name: a note.
        ("http://a.cn/page 详见 说明", ["http://a.cn/page"]),
    ],
)
def test_a_file_name_with_spaces_stays_whole(cell, expected):
    assert _urls(cell, BASE) == expected


def test_the_export_s_unencoded_file_name_is_the_resource_url(app, httpserver):
    text = EXPORT.read_text(encoding="utf-8")
    portal = httpserver.url_for("/").rstrip("/")
    url = serve(httpserver, "/cn13.csv", text.replace("http://127.0.0.1:8781", portal).encode(),
                "text/csv")  # fmt: skip
    run = harvest(services.create_source("cn13", "tabular", url))
    assert (run.created, run.bad) == (2, 0)
    urls = dict(db.session.execute(
        select(Dataset.title, Resource.url).join(Resource, Resource.dataset_id == Dataset.id)
    ).all())  # fmt: skip
    assert urls["公交站点（中文文件名）"] == f"{portal}/files/公交 站点.csv"
    assert (
        urls["公交站点（已编码）"] == f"{portal}/files/%E5%85%AC%E4%BA%A4%20%E7%AB%99%E7%82%B9.csv"
    )
