"""Deleting a source takes its datasets out of search at once, without a reindex.

The database deletes them with the source (ON DELETE CASCADE), so no dataset row is left
to carry a change sequence for the search followers; they used to keep counting them:
totals and facets included the deleted source, and result pages came back empty (the
page's ids had no rows any more). Real tabular exports on loopback, real database.
"""

from __future__ import annotations

from subscribe.catalog import services
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.search_helpers import harvest, serve

HEADER = "目录名称,提供单位,更新周期\n"


def export(httpserver, path: str, titles: list[str]) -> str:
    body = HEADER + "".join(f"{title},市统计局,每月\n" for title in titles)
    return serve(httpserver, path, body.encode(), "text/csv")


def search(client, **args) -> dict:
    return client.get("/api/v1/datasets", query_string={"per_page": 100, **args}).json


def test_a_deleted_sources_datasets_leave_search_at_once(client, httpserver, operator_headers):
    kept = services.create_source("kept", "tabular",
                                  export(httpserver, "/a.csv", ["人口统计年报", "人口普查数据"]))  # fmt: skip
    gone = services.create_source("gone", "tabular",
                                  export(httpserver, "/b.csv", ["人口流动数据", "最新人口数据", "出生人口"]))  # fmt: skip
    harvest(kept), harvest(gone)
    gone_id = gone.id
    indexer.apply_changes(get_service().store)
    get_service().refresh(force=True)
    before = search(client, q="人口")
    assert before["total"] == 5
    assert {f["value"] for f in before["facets"]["source"]} == {"kept", "gone"}

    deleted = client.delete(f"/api/v1/sources/{gone_id}", headers=operator_headers)
    assert deleted.status_code == 204
    get_service().refresh(force=True)  # what every process does each second

    for args in ({"q": "人口"}, {}, {"sort": "newest"}, {"q": "流动"}, {"source": "gone"}):
        after = search(client, **args)
        assert all(item["source_id"] != gone_id for item in after["items"]), args
        assert after["total"] == len(after["items"]), args  # no ghost counted, none missing
        assert all(f["value"] != "gone" for f in after["facets"]["source"]), args
    assert search(client, q="人口")["total"] == 2
    assert search(client, q="流动")["total"] == 0
