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


def test_users_whose_scenarios_held_a_deleted_sources_datasets_are_told_once(
    client, httpserver, operator_headers
):
    """bb8 F25: the datasets vanished from scenarios with no event or notice. Now one inbox
    item per user who held some (query members, pins, dataset subscriptions), in their
    language, with how many; nobody else is told."""
    from sqlalchemy import select

    from subscribe.auth import services as auth
    from subscribe.catalog.models import Dataset
    from subscribe.extensions import db
    from subscribe.notify.models import Notification, Subscription
    from subscribe.scenarios import services as scenarios

    kept = services.create_source("kept", "tabular",
                                  export(httpserver, "/a.csv", ["人口统计年报", "交通年报"]))  # fmt: skip
    gone = services.create_source("gone", "tabular",
                                  export(httpserver, "/b.csv", ["人口流动数据", "出生人口", "公交线路"]))  # fmt: skip
    harvest(kept), harvest(gone)
    indexer.apply_changes(get_service().store)
    get_service().refresh(force=True)
    ids = dict(db.session.execute(select(Dataset.title, Dataset.id)).all())
    alice = auth.create_user("alice@example.org", "x" * 12)
    bob = auth.create_user("bob@example.org", "x" * 12)
    bob.locale = "en"
    carol = auth.create_user("carol@example.org", "x" * 12)
    body = {"filters": {}, "include": [], "exclude": []}
    scenarios.create_scenario(alice, {**body, "name": "人口", "q": "人口"})  # 1 kept + 2 gone
    scenarios.create_scenario(alice, {**body, "name": "出生", "q": "出生"})  # one of those 2
    scenarios.create_scenario(bob, {**body, "name": "pins", "q": "",
                                    "include": [ids["公交线路"], ids["交通年报"]]})  # fmt: skip
    db.session.add(Subscription(user_id=bob.id, dataset_id=ids["人口流动数据"], channel="inbox",
                                dedupe_key=f"u{bob.id}:d{ids['人口流动数据']}:inbox:"))  # fmt: skip
    scenarios.create_scenario(carol, {**body, "name": "交通", "q": "交通"})  # kept only
    db.session.commit()
    gone_id = gone.id

    assert client.delete(f"/api/v1/sources/{gone_id}", headers=operator_headers).status_code == 204

    told = {n.user_id: n for n in db.session.scalars(select(Notification))}
    assert set(told) == {alice.id, bob.id}
    assert told[alice.id].type == "source.removed"
    assert told[alice.id].title == "数据源 gone 已移除：您关注的 2 个数据集随之删除"
    assert told[alice.id].payload["data"]["datasets"] == 2
    assert [s["datasets"] for s in told[alice.id].payload["data"]["scenarios"]] == [2, 1]
    assert told[bob.id].title == "Source gone was removed: 2 datasets you follow are gone"
    assert told[bob.id].payload["data"]["subscribed_datasets"] == 1
    assert told[bob.id].payload["data"]["source"] == {"id": gone_id, "name": "gone"}
