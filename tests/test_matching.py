"""Change matching: scenarios gain, change and lose members with exactly the right events."""

from __future__ import annotations

from datetime import timedelta
from xml.etree import ElementTree

import pytest
from sqlalchemy import func, select

from subscribe.auth.services import create_user
from subscribe.catalog import services as catalog
from subscribe.catalog.models import CatalogEvent, Dataset
from subscribe.catalog.overdue import detect_overdue
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.scenarios import services as scenarios
from subscribe.scenarios.matching import PercolatorCache, match_pending_events
from subscribe.scenarios.models import ScenarioEvent
from subscribe.search import indexer
from subscribe.search.docmatch import MatchSpec
from subscribe.search.engine import Filters
from subscribe.search.query import parse
from subscribe.search.service import get_service
from tests.catalog_helpers import serve_csv_rows
from tests.search_helpers import CHINESE_CSV, harvest

HEADER, *ROWS = CHINESE_CSV.read_text(encoding="utf-8").splitlines()
BY_ID = {row.split(",", 1)[0]: row for row in ROWS}


def serve(httpserver, rows: list[str]) -> str:
    return serve_csv_rows(httpserver, HEADER, rows)


def events_of(scenario) -> set[tuple]:
    rows = db.session.scalars(
        select(ScenarioEvent).where(ScenarioEvent.scenario_id == scenario.id)
    ).all()
    return {(e.type, e.payload["reason"], e.dataset["title"]) for e in rows}


def clear_events() -> None:
    db.session.execute(ScenarioEvent.__table__.delete())
    db.session.commit()


@pytest.fixture
def user(app):
    return create_user("analyst@example.org", "long password")


def test_a_scenario_gains_changes_and_loses_members(app, httpserver, user):
    url = serve(httpserver, [BY_ID["HJ-001"]])
    source = catalog.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    scenario = scenarios.create_scenario(
        user, {"name": "交通", "q": "交通", "filters": {}, "include": [], "exclude": []}
    )
    harvest(source)  # the source's first harvest: the catalog's starting state
    cache = PercolatorCache()
    assert match_pending_events(cache=cache) == 1
    assert events_of(scenario) == set()
    serve(httpserver, [BY_ID[k] for k in ("JT-001", "JT-002", "JT-003", "HJ-001", "WS-001")])
    harvest(source)  # published after the scenario was made: new to it
    assert match_pending_events(cache=cache) == 4
    assert events_of(scenario) == {
        ("dataset.created", "published", "示例市公交线路站点信息"),
        ("dataset.created", "published", "示例市出租车运营数据"),
        ("dataset.created", "published", "示例市停车场泊位实时数据"),
    }

    clear_events()
    rows = [
        BY_ID["JT-001"].replace(
            "全市公交线路", "全市公交线路（含夜班线）"
        ),  # still matches: changed
        BY_ID["JT-002"]
        .replace("市交通运输局", "市客运管理处")
        .replace("交通出行", "客运服务"),  # leaves
        # JT-003 removed upstream: deleted
        BY_ID["HJ-001"],  # never matched, unchanged
        BY_ID["WS-001"].replace("医疗卫生", "交通出行"),  # a theme word now matches: enters
        BY_ID["JT-004"],  # newly published and matching
    ]
    serve(httpserver, rows)
    harvest(source)
    match_pending_events(cache=cache)
    assert events_of(scenario) == {
        ("dataset.updated", "changed", "示例市公交线路站点信息"),
        ("dataset.deleted", "no_longer_matches", "示例市出租车运营数据"),
        ("dataset.deleted", "deleted_upstream", "示例市停车场泊位实时数据"),
        ("dataset.created", "now_matches", "示例市医疗机构名录"),
        ("dataset.created", "published", "示例市交通违法高发路段"),
    }
    updated = db.session.scalar(
        select(ScenarioEvent).where(ScenarioEvent.type == "dataset.updated")
    )
    assert [c["kind"] for c in updated.changes] == ["metadata"]
    assert updated.payload["matched_because"] == {"words": ["交通"]}
    assert match_pending_events(cache=cache) == 0  # the cursor moved: nothing twice


def test_pins_and_exclusions(app, httpserver, user):
    url = serve(httpserver, [BY_ID[k] for k in ("JT-001", "JT-002", "QX-001")])
    source = catalog.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    harvest(source)
    ids = dict(db.session.execute(select(Dataset.identifier, Dataset.id)).all())
    scenario = scenarios.create_scenario(
        user,
        {
            "name": "s",
            "q": "交通",
            "filters": {},
            "include": [ids["QX-001"]],
            "exclude": [ids["JT-002"]],
        },
    )
    cache = PercolatorCache()
    match_pending_events(cache=cache)
    assert events_of(scenario) == set()  # its first members are its starting state
    serve(httpserver, [BY_ID[k].replace("2024", "2025") for k in ("JT-001", "JT-002", "QX-001")])
    harvest(source)
    match_pending_events(cache=cache)
    assert {title for _t, _r, title in events_of(scenario)} == {
        "示例市公交线路站点信息",
        "示例市天气预报数据",
    }
    pinned = db.session.scalar(
        select(ScenarioEvent).where(
            ScenarioEvent.dataset_id == ids["QX-001"], ScenarioEvent.scenario_id == scenario.id
        )
    )
    assert pinned.payload["matched_because"] == {"pinned": True}


def test_overdue_is_signalled_once_per_lateness(app, httpserver, user):
    today = utcnow().date().isoformat()
    # A daily dataset updated today (on time), and a yearly one.
    url = serve(httpserver, [BY_ID["HJ-001"].replace("2024-03-06", today), BY_ID["JY-001"]])
    source = catalog.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    harvest(source)
    scenario = scenarios.create_scenario(
        user, {"name": "空气", "q": "空气质量", "filters": {}, "include": [], "exclude": []}
    )
    cache = PercolatorCache()
    match_pending_events(cache=cache)
    clear_events()
    daily = db.session.scalar(select(Dataset).where(Dataset.identifier == "HJ-001"))
    assert daily.modified_precision == "day"  # late counts from the end of that day
    now = daily.modified + timedelta(days=3, hours=1)  # a daily dataset 3 days old: late
    assert detect_overdue(now=now) == 1
    assert detect_overdue(now=now + timedelta(days=1)) == 0  # still the same lateness
    match_pending_events(cache=cache)
    assert events_of(scenario) == {("dataset.overdue", "overdue", "示例市空气质量日报")}
    event = db.session.scalar(select(CatalogEvent).where(CatalogEvent.type == "dataset.overdue"))
    assert event.changes[0]["frequency"] == "daily"
    # A new update, then late again: a new overdue event.
    daily.modified, daily.updated_at = now, now
    db.session.commit()
    assert detect_overdue(now=now + timedelta(days=3, hours=1)) == 1


def test_datasets_late_when_first_harvested_are_not_pushed(app, client, httpserver, user):
    """A catalog whose datasets are already late (2023/2024 dates, daily or monthly) gives
    no dataset.overdue at all; they are still reported as overdue (freshness)."""
    scenario = scenarios.create_scenario(
        user, {"name": "全部", "q": "示例市", "filters": {}, "include": [], "exclude": []}
    )
    url = serve(httpserver, ROWS)
    source = catalog.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    harvest(source)
    assert detect_overdue() == 0
    assert detect_overdue() == 0
    assert (
        db.session.scalar(select(CatalogEvent).where(CatalogEvent.type == "dataset.overdue"))
        is None
    )
    late = db.session.scalars(
        select(Dataset).where(Dataset.overdue_notified_for.is_not(None))
    ).all()
    assert len(late) >= 5  # known late, silently
    match_pending_events(cache=PercolatorCache())
    assert events_of(scenario) == set()  # a first harvest is the starting state
    indexer.apply_changes(get_service().store)
    report = scenarios.report(scenario)
    assert report["freshness"]["overdue"] >= 5
    # Still shown as overdue on the dataset (API and page), though never pushed.
    daily = db.session.scalar(select(Dataset).where(Dataset.identifier == "HJ-001"))
    assert client.get(f"/api/v1/datasets/{daily.id}").json["overdue_since"] is not None
    assert 'id="dataset-overdue"' in client.get(f"/datasets/{daily.id}").get_data(as_text=True)


def test_history_and_feed(app, client, httpserver, user):
    url = serve(httpserver, [BY_ID["JT-001"]])
    source = catalog.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    harvest(source)
    scenario = scenarios.create_scenario(
        user, {"name": "公交", "q": "公交", "filters": {}, "include": [], "exclude": []}
    )
    serve(httpserver, [BY_ID["JT-001"].replace("每月", "每日")])
    harvest(source)
    dataset = db.session.scalar(select(Dataset))
    history = client.get(f"/api/v1/datasets/{dataset.id}/history").json
    assert [v["number"] for v in history["items"]] == [2, 1]
    change = history["items"][0]["changes"][0]
    assert change["kind"] == "metadata" and change["fields"]["frequency"] == {
        "old": "monthly",
        "new": "daily",
    }
    assert client.get("/api/v1/datasets/999999/history").status_code == 404

    match_pending_events(cache=PercolatorCache())
    feed = client.get(
        f"/api/v1/scenarios/{scenario.id}/feed.atom", query_string={"token": scenario.feed_token}
    )
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    assert "示例市公交线路站点信息" in feed.get_data(as_text=True)
    # A reader of the feed gets sentences and the dataset's page, not internals and JSON.
    atom_ns = "{http://www.w3.org/2005/Atom}"
    [entry] = ElementTree.fromstring(feed.data).iter(f"{atom_ns}entry")
    [link] = entry.iter(f"{atom_ns}link")
    assert link.get("href").endswith(f"/datasets/{dataset.id}") and "/api/" not in link.get("href")
    assert entry.findtext(f"{atom_ns}content").splitlines() == [
        "有变化",
        "- 元数据变更：更新周期",
        "命中原因：关键词 公交",
    ]
    assert (
        client.get(
            f"/api/v1/scenarios/{scenario.id}/feed.atom", query_string={"token": "wrong"}
        ).status_code
        == 404
    )
    assert (
        client.get(f"/api/v1/scenarios/{scenario.id}/feed.atom").status_code == 404
    )  # no token, no login


def test_only_subscribed_scenarios_matches_reach_the_outbox(app, httpserver, user, monkeypatch):
    """Every member gets its scenario event; the outbox is handed the matches of the
    scenarios someone subscribed to (the others' would only take the worker's memory)."""
    from subscribe.notify import outbox
    from subscribe.notify.services import create_subscription
    from subscribe.scenarios import matching

    url = serve(httpserver, [BY_ID["HJ-001"]])
    source = catalog.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    watched, unwatched = (
        scenarios.create_scenario(user, {"name": name, "q": "交通", "filters": {},
                                         "include": [], "exclude": []})
        for name in ("watched", "unwatched")
    )  # fmt: skip
    harvest(source)
    cache = PercolatorCache()
    match_pending_events(cache=cache)
    create_subscription(user, {"scenario_id": watched.id, "events": ["dataset.created"],
                               "channel": "inbox", "cadence": "immediate"})  # fmt: skip
    handed = []
    real = outbox.enqueue_changes
    monkeypatch.setattr(
        matching.outbox, "enqueue_changes", lambda m, e: handed.extend(m) or real(m, e)
    )
    serve(httpserver, [BY_ID[k] for k in ("JT-001", "JT-002", "HJ-001")])
    harvest(source)
    match_pending_events(cache=cache)

    assert len(events_of(watched)) == len(events_of(unwatched)) == 2
    assert {m[0] for m in handed} == {watched.id} and len(handed) == 2


def test_matching_that_queues_deliveries_wakes_the_deliverer(app, httpserver, user):
    """The worker's deliverer, lingering for its next poll, starts as soon as matching has
    committed deliveries (and is not woken by a batch that queued none)."""
    from subscribe.notify import sender
    from subscribe.notify.services import create_subscription

    url = serve(httpserver, [BY_ID["HJ-001"]])
    source = catalog.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    watched = scenarios.create_scenario(user, {"name": "watched", "q": "交通", "filters": {},
                                               "include": [], "exclude": []})  # fmt: skip
    harvest(source)
    cache = PercolatorCache()
    sender.wait_for_queued(0)  # nothing left from earlier tests
    match_pending_events(cache=cache)
    assert not sender.wait_for_queued(0)  # the first harvest: nothing to send
    create_subscription(user, {"scenario_id": watched.id, "events": ["dataset.created"],
                               "channel": "inbox", "cadence": "immediate"})  # fmt: skip
    serve(httpserver, [BY_ID[k] for k in ("JT-001", "JT-002", "HJ-001")])
    harvest(source)
    match_pending_events(cache=cache)
    assert sender.wait_for_queued(0)


def test_a_scenario_made_within_a_batch_gets_only_the_changes_after_it(app, httpserver, user):
    """Two scenarios with the same rules (one group): the second is made between two
    changes that are matched in one batch, so the first change is its starting state
    (matching.Started, compared in microseconds) and the second is news to both."""
    source = catalog.create_source("city", "tabular", serve(httpserver, [BY_ID["JT-001"]]),
                                   mapping={"id_column": "目录编号"})  # fmt: skip
    harvest(source)
    cache = PercolatorCache()
    match_pending_events(cache=cache)
    rules = {"q": "公交", "filters": {}}
    early = scenarios.create_scenario(user, {"name": "early", **rules})
    serve(httpserver, [BY_ID["JT-001"].replace("2024", "2025")])
    harvest(source)
    first = db.session.scalar(select(CatalogEvent.id).order_by(CatalogEvent.id.desc()))
    late = scenarios.create_scenario(user, {"name": "late", **rules})
    serve(httpserver, [BY_ID["JT-001"].replace("2024", "2026")])
    harvest(source)
    second = db.session.scalar(select(CatalogEvent.id).order_by(CatalogEvent.id.desc()))
    assert first != second
    match_pending_events(cache=cache)  # both changes in one batch

    def changes_seen(scenario) -> list[int]:
        return list(db.session.scalars(
            select(ScenarioEvent.catalog_event_id)
            .where(ScenarioEvent.scenario_id == scenario.id).order_by(ScenarioEvent.id)
        ))  # fmt: skip

    assert changes_seen(early) == [first, second]
    assert changes_seen(late) == [second]


def test_a_batch_of_starting_state_and_news_matches_only_the_news(app, httpserver, user):
    """A source's first harvest and a later one matched in one batch: the first's
    dataset.created events (read without their snapshots) make no scenario event, the
    later ones do, in catalog-event order, and the cursor passes them all."""
    scenario = scenarios.create_scenario(
        user, {"name": "交通", "q": "交通", "filters": {}, "include": [], "exclude": []}
    )
    source = catalog.create_source("city", "tabular", serve(httpserver, [BY_ID["JT-001"]]),
                                   mapping={"id_column": "目录编号"})  # fmt: skip
    harvest(source)  # the starting state, not matched yet
    serve(httpserver, [BY_ID[k] for k in ("JT-001", "JT-002", "HJ-001", "JT-003")])
    harvest(source)
    cache = PercolatorCache()
    assert match_pending_events(cache=cache) == 4  # one batch: 1 starting state + 3 news
    rows = db.session.execute(
        select(ScenarioEvent.catalog_event_id, ScenarioEvent.type)
        .where(ScenarioEvent.scenario_id == scenario.id).order_by(ScenarioEvent.id)
    ).all()  # fmt: skip
    news = db.session.scalars(
        select(CatalogEvent.id)
        .join(Dataset, Dataset.id == CatalogEvent.dataset_id)
        .where(Dataset.identifier.in_(("JT-002", "JT-003")))
        .order_by(CatalogEvent.id)
    ).all()  # JT-001 is the starting state; HJ-001 does not match 交通
    assert len(news) == 2
    assert rows == [(i, "dataset.created") for i in news]
    assert events_of(scenario) == {
        ("dataset.created", "published", "示例市出租车运营数据"),
        ("dataset.created", "published", "示例市停车场泊位实时数据"),
    }
    assert match_pending_events(cache=cache) == 0


def test_sqlite_batch_writes_without_per_row_key_checks_and_checks_references(
    app, httpserver, user, database_url, monkeypatch
):
    """On SQLite a batch writes its scenario events without SQLite's per-row foreign-key
    checks (matching._batch_transaction) and checks the references itself: a scenario
    deleted after the percolator read it (by another process) gets no rows, as its
    deletion's cascade would have done, the other scenario gets its own; and the
    connection has its checks on again once the batch is over, committed or failed."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's own PRAGMA foreign_keys; PostgreSQL keeps its checks")
    from sqlalchemy import delete, text

    from subscribe.scenarios import matching
    from subscribe.scenarios.models import Scenario

    source = catalog.create_source("city", "tabular", serve(httpserver, [BY_ID["HJ-001"]]),
                                   mapping={"id_column": "目录编号"})  # fmt: skip
    kept, gone = (
        scenarios.create_scenario(user, {"name": name, "q": q, "filters": {}})
        for name, q in (("kept", "交通"), ("gone", "公交"))
    )
    gone_id = gone.id
    harvest(source)
    cache = PercolatorCache()
    match_pending_events(cache=cache)
    percolator = cache.get()
    assert any(gone_id in members for members in percolator.members)
    monkeypatch.setattr(cache, "get", lambda: percolator)  # read before the deletion
    with db.engine.begin() as other:  # the web process deletes a scenario meanwhile
        other.execute(delete(Scenario).where(Scenario.id == gone_id))
    seen = {}
    real_write = matching._Rows.write

    def write(rows):
        pooled = db.session.connection().connection
        seen["raw"] = pooled.dbapi_connection
        seen["checks"] = seen["raw"].execute("PRAGMA foreign_keys").fetchone()[0]
        real_write(rows)

    monkeypatch.setattr(matching._Rows, "write", write)
    serve(httpserver, [BY_ID[k] for k in ("JT-001", "JT-002", "HJ-001")])
    harvest(source)
    assert match_pending_events(cache=cache) == 2
    assert seen["checks"] == 0  # the batch ran without SQLite's per-row checks
    assert events_of(kept) == {("dataset.created", "published", "示例市公交线路站点信息"),
                               ("dataset.created", "published", "示例市出租车运营数据")}  # fmt: skip
    orphans = db.session.scalar(
        select(func.count()).select_from(ScenarioEvent).where(ScenarioEvent.scenario_id == gone_id)
    )
    assert orphans == 0
    assert seen.pop("raw").execute("PRAGMA foreign_keys").fetchone()[0] == 1

    # A batch that fails after its write rolls back, and its connection checks keys again.
    def fail(*_args):
        raise RuntimeError("outbox down")

    monkeypatch.setattr(matching.outbox, "enqueue_changes", fail)
    serve(httpserver, [BY_ID[k] for k in ("JT-001", "HJ-001")])
    harvest(source)
    with pytest.raises(RuntimeError, match="outbox down"):
        match_pending_events(cache=cache)
    assert seen["checks"] == 0
    assert seen["raw"].execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert len(events_of(kept)) == 2  # the failed batch wrote nothing


@pytest.mark.parametrize(
    ("q", "words"),
    [("公共停车场信息", ["公共停车场信息"]), ("空气质量 日报", ["空气质量", "日报"]),
     ('"空氣品質" 监测', ["空气质量", "空气品质", "监测"]), ("school locations", ["school", "locations"])],
)  # fmt: skip
def test_matched_because_names_the_words_as_typed(q, words):
    """Acceptance run 4 #8: e-mails, feeds and webhooks read "关键词 公共停车场信息、停车、场":
    the parts the highlight marks too, a lone 场 among them."""
    assert MatchSpec(parse(q), Filters()).because == {"words": words}
