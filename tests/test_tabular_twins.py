"""Twins (rows told apart by a column no field holds, such as 所属区县) keep that value.

The acceptance tester's export (tests/data/tabular-twins/SOURCE.md): three 公交站点 rows
of one publisher differing only in 所属区县 became three datasets nobody could tell
apart. The value is kept on each (``distinguished_by``), shown by the API, the dataset
page and search, searchable, and a change of it is an update; its appearing on datasets
stored before is not news. Real export on loopback, real database.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from subscribe.auth import services as auth
from subscribe.catalog import services
from subscribe.catalog.diff import diff_snapshots
from subscribe.catalog.harvesters.tabular_identity import (
    describing_columns,
    differing_twins,
    distinguish_twins,
)
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion
from subscribe.catalog.records import DatasetRecord, canonical_hash
from subscribe.extensions import db
from subscribe.notify import digest, payloads
from subscribe.scenarios import services as scenario_services
from subscribe.scenarios.matching import PercolatorCache, match_pending_events
from subscribe.search import indexer
from subscribe.search.service import get_service
from subscribe.web.filters import told_apart, twin_title
from tests.search_helpers import harvest, serve
from tests.test_web import PASSWORD, login
from tests.test_web_operators import operator, registered  # noqa: F401 (fixtures)

BOM_V1 = Path(__file__).parent / "data" / "tabular-twins" / "bom_v1.csv"
BOM_V4 = Path(__file__).parent / "data" / "tabular-twins" / "bom_v4_idcol.csv"  # 目录编号 added
DISTRICT = "所属区县"


def export(httpserver, body: bytes) -> str:
    httpserver.clear()
    return serve(httpserver, "/bom.csv", body, "text/csv")


def edited(old: str, new: str) -> bytes:
    text = BOM_V1.read_bytes().decode("utf-8")
    assert old in text
    return text.replace(old, new, 1).encode("utf-8")


def twins() -> dict[str, Dataset]:
    """The active 公交站点 datasets by their district."""
    found = db.session.scalars(
        select(Dataset).where(Dataset.title == "公交站点", Dataset.deleted_at.is_(None))
    ).all()
    return {d.distinguished_by.get(DISTRICT, ""): d for d in found}


def event_count() -> int:
    return len(db.session.scalars(select(CatalogEvent.id)).all())


def last_event_id() -> int:
    return max(db.session.scalars(select(CatalogEvent.id)).all(), default=0)


def counts(run) -> tuple[int, int, int, int]:
    return run.created, run.updated, run.deleted, run.unchanged


def search(client, q: str) -> list[dict]:
    """The hits holding every word ([] when there are only partial matches)."""
    indexer.apply_changes(get_service().store)
    get_service().refresh(force=True)
    response = client.get("/api/v1/datasets", query_string={"q": q})
    assert response.status_code == 200, response.json
    return [] if response.json["partial"] else response.json["items"]


def test_twins_show_their_district_in_the_api_the_page_and_search(app, client, httpserver):
    source = services.create_source("bom", "tabular", export(httpserver, BOM_V1.read_bytes()))
    run = harvest(source)
    assert counts(run) == (5, 0, 0, 0) and run.bad == 1  # 停车场泊位 twice: an exact duplicate
    found = twins()
    assert sorted(found) == ["五华区", "官渡区", "盘龙区"]
    # Only rows with twins carry values: the others (most rows) store nothing.
    others = db.session.scalars(select(Dataset).where(Dataset.title != "公交站点")).all()
    assert [d.distinguished_by for d in others] == [{}, {}]

    panlong = found["盘龙区"]
    body = client.get(f"/api/v1/datasets/{panlong.id}").json
    assert body["distinguished_by"] == {DISTRICT: "盘龙区"}
    page = client.get(f"/datasets/{panlong.id}").get_data(as_text=True)
    assert '公交站点<span class="told-apart"> · 盘龙区</span>' in page
    assert f'<dt class="told-apart">{DISTRICT}</dt><dd class="told-apart">盘龙区</dd>' in page

    items = search(client, "公交站点 盘龙区")
    assert [item["id"] for item in items][:1] == [panlong.id]
    assert items[0]["distinguished_by"] == {DISTRICT: "盘龙区"}
    results = client.get("/?q=公交站点").get_data(as_text=True)
    for district in ("五华区", "盘龙区", "官渡区"):
        assert f"> · {district}</span>" in results


def test_a_reharvest_of_the_same_file_makes_no_events(app, httpserver):
    source = services.create_source("bom", "tabular", export(httpserver, BOM_V1.read_bytes()))
    harvest(source)
    before = event_count()
    ids = {district: d.id for district, d in twins().items()}
    run = harvest(source)
    assert counts(run) == (0, 0, 0, 5)
    assert event_count() == before
    assert {district: d.id for district, d in twins().items()} == ids


def test_datasets_stored_before_get_their_district_without_an_event(app, client, httpserver):
    """As a release without the field left them: no values, snapshots and hashes
    without the key, the fingerprint of other code. The next harvest fills them in
    quietly (no version, no event) and the index learns them."""
    source = services.create_source("bom", "tabular", export(httpserver, BOM_V1.read_bytes()))
    harvest(source)
    for dataset in db.session.scalars(select(Dataset)).all():
        version = db.session.scalars(
            select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
        ).one()
        snapshot = dict(version.snapshot)
        snapshot.pop("distinguished_by", None)
        version.snapshot = snapshot
        dataset.distinguished_by = {}
        dataset.content_hash = canonical_hash(snapshot)
        dataset.source_fingerprint = "0" * 40  # built by an older release
    db.session.commit()
    assert search(client, "公交站点 盘龙区") == []
    before, seq = event_count(), max(db.session.scalars(select(Dataset.change_seq)).all())

    run = harvest(source)
    assert counts(run) == (0, 0, 0, 5)
    assert event_count() == before
    found = twins()
    assert sorted(found) == ["五华区", "官渡区", "盘龙区"]
    assert all(d.version == 1 and d.change_seq > seq for d in found.values())
    latest = db.session.scalars(
        select(DatasetVersion.snapshot).where(DatasetVersion.dataset_id == found["盘龙区"].id)
    ).one()
    assert latest["distinguished_by"] == {DISTRICT: "盘龙区"}  # the next change diffs on it
    assert [item["id"] for item in search(client, "公交站点 盘龙区")] == [found["盘龙区"].id]
    assert counts(harvest(source)) == (0, 0, 0, 5)


def test_a_district_edit_is_an_update_with_a_field_diff(app, client, httpserver):
    source = services.create_source("bom", "tabular", export(httpserver, BOM_V1.read_bytes()))
    harvest(source)
    ids = {district: d.id for district, d in twins().items()}
    before = last_event_id()

    export(httpserver, edited("市交通运输局,盘龙区", "市交通运输局,西山区"))
    run = harvest(source)
    assert counts(run) == (0, 1, 0, 4)
    found = twins()
    assert sorted(found) == ["五华区", "官渡区", "西山区"]
    assert found["西山区"].id == ids["盘龙区"]  # the same dataset: pins hold
    assert found["五华区"].id == ids["五华区"] and found["官渡区"].id == ids["官渡区"]
    (event,) = db.session.scalars(select(CatalogEvent).where(CatalogEvent.id > before)).all()
    assert (event.type, event.dataset_id) == ("dataset.updated", ids["盘龙区"])
    version = db.session.scalars(
        select(DatasetVersion).where(DatasetVersion.dataset_id == ids["盘龙区"],
                                     DatasetVersion.number == 2)
    ).one()  # fmt: skip
    assert version.diff == {"fields": {"distinguished_by": {
        "old": {DISTRICT: "盘龙区"}, "new": {DISTRICT: "西山区"}}}}  # fmt: skip
    page = client.get(f"/datasets/{ids['盘龙区']}").get_data(as_text=True)
    assert "盘龙区 → 西山区" in page  # the history names the column's change

    items = search(client, "公交站点 西山区")
    assert items[0]["id"] == ids["盘龙区"]
    assert search(client, "公交站点 盘龙区") == []


def test_a_twin_appearing_or_going_away_is_no_news_for_the_other(app, httpserver):
    rows = BOM_V1.read_bytes().decode("utf-8").splitlines()
    alone = "\n".join(line for line in rows if "盘龙区" not in line and "官渡区" not in line)
    source = services.create_source("bom", "tabular", export(httpserver, alone.encode()))
    harvest(source)
    (wuhua,) = twins().values()
    assert wuhua.distinguished_by == {}
    before, last = event_count(), last_event_id()

    export(httpserver, "\n".join(line for line in rows if "官渡区" not in line).encode())
    run = harvest(source)
    assert counts(run) == (1, 0, 0, 3)
    found = twins()
    assert found["五华区"].id == wuhua.id and found["五华区"].version == 1
    assert found["盘龙区"].distinguished_by == {DISTRICT: "盘龙区"}
    assert event_count() == before + 1  # the new twin's creation only

    export(httpserver, alone.encode())
    run = harvest(source)
    assert counts(run) == (0, 0, 1, 3)
    (left,) = twins().values()
    assert (left.id, left.version, left.distinguished_by) == (wuhua.id, 1, {})
    types = db.session.scalars(select(CatalogEvent.type).where(CatalogEvent.id > last)).all()
    assert types == ["dataset.created", "dataset.deleted"]


def test_twins_with_ids_of_their_own_still_show_their_district(app, client, operator,  # noqa: F811
                                                               httpserver):  # fmt: skip
    """An id column tells the rows apart to the harvest, not to a person: the district
    stays, and the switch to ids keeps each dataset with its district (no field diff)."""
    source = services.create_source("bom", "tabular", export(httpserver, BOM_V1.read_bytes()))
    harvest(source)
    ids = {district: d.id for district, d in twins().items()}
    last = last_event_id()

    export(httpserver, BOM_V4.read_bytes())
    run = harvest(source)
    assert run.mapping_report["identity"]["distinguished"] == {
        "rows": 3, "by": [{"columns": [DISTRICT], "rows": 3}]}  # fmt: skip
    found = twins()
    assert {district: d.id for district, d in found.items()} == ids
    changed = db.session.scalars(select(CatalogEvent).where(CatalogEvent.id > last)).all()
    assert all("distinguished_by" not in json.dumps(e.changes) for e in changed)
    # 停车场泊位 B004/B005: twins no column no field holds tells apart: nothing kept.
    parking = db.session.scalars(select(Dataset).where(Dataset.title == "停车场泊位")).all()
    assert len(parking) >= 2 and all(d.distinguished_by == {} for d in parking)
    page = client.get(f"/operators/sources/{source.id}").get_data(as_text=True)
    assert f"<strong>{DISTRICT}</strong> (3)" in page  # the operator sees which column


def test_told_apart_columns_are_news_only_when_a_value_changes():
    def snapshot(values: dict) -> dict:
        return DatasetRecord("x", "公交站点", distinguished_by=values).canonical()

    assert "distinguished_by" not in snapshot({})  # no stored hash changes without twins
    assert diff_snapshots(snapshot({}), snapshot({DISTRICT: "五华区"})) == {}
    assert diff_snapshots(snapshot({DISTRICT: "五华区"}), snapshot({})) == {}
    assert diff_snapshots(snapshot({DISTRICT: "五华区"}),
                          snapshot({DISTRICT: "五华区", "年份": "2023"})) == {}  # fmt: skip
    changed = diff_snapshots(snapshot({DISTRICT: "五华区"}), snapshot({DISTRICT: ""}))
    assert changed["fields"]["distinguished_by"]["new"] == {DISTRICT: ""}
    # Before the field existed: the snapshot has no key, filling it in is no change.
    old = json.loads(json.dumps(snapshot({})))
    assert diff_snapshots(old, snapshot({DISTRICT: "西山区"})) == {}


def test_rows_told_apart_by_a_field_keep_no_values(app, httpserver):
    """An id repeated on two titles is told apart by the title: stored already."""
    body = "目录编号,数据名称,提供部门\nA001,学校名录,市教育局\nA001,幼儿园名录,市教育局\n"
    source = services.create_source("ids", "tabular", export(httpserver, body.encode()))
    assert harvest(source).created == 2
    values = db.session.scalars(select(Dataset.distinguished_by)).all()
    assert values == [{}, {}]


@pytest.mark.parametrize(
    ("body", "told_by", "values"),
    [
        # 摘要 is description's fallback: the record holds 描述 ("同"), 摘要 nowhere
        ("数据名称,提供部门,描述,摘要\n公交站点,交通局,同,甲\n公交站点,交通局,同,乙\n",
         "摘要", ["甲", "乙"]),
        # a second publisher column behind the one that won
        ("数据名称,提供部门,提供单位\n公交站点,交通局,交通局甲\n公交站点,交通局,交通局乙\n",
         "提供单位", ["交通局甲", "交通局乙"]),
        # a 4th cell on rows under a 3-column header: unnamed, named by its position
        ("数据名称,提供部门,更新频率\n公交站点,交通局,每月,甲\n公交站点,交通局,每月,乙\n",
         "(4)", ["甲", "乙"]),
    ],
    ids=["fallback-description", "fallback-publisher", "past-the-header"],
)  # fmt: skip
def test_twins_told_apart_by_a_column_no_field_shows_name_it(app, client, httpserver, body,
                                                            told_by, values):  # fmt: skip
    """Twins told apart only by a column whose value the record does not hold (a field's
    fallback column, used only where the winner is empty; a cell past the header) showed
    `distinguished_by: {}` in the API: two datasets nobody could tell apart. Each now
    names that column and its value."""
    source = services.create_source("fallback", "tabular", export(httpserver, body.encode()))
    run = harvest(source)
    assert (run.created, run.bad) == (2, 0)
    shown = [client.get(f"/api/v1/datasets/{dataset_id}").json["distinguished_by"]
             for dataset_id in db.session.scalars(select(Dataset.id).order_by(Dataset.id))]  # fmt: skip
    assert shown == [{told_by: value} for value in values]
    distinguished = run.mapping_report["identity"]["distinguished"]
    assert distinguished["by"] == [{"columns": [told_by], "rows": 2}]


def test_header_less_column_named_by_position(app, client, httpserver, operator):  # noqa: F811
    """Twins sharing an id (A1), told apart by a column whose header cell is empty: the
    mapping report said `told_apart: [{"by": [""]}]` and `ignored: [""]`, a name nobody
    can find. Every name a report gives such a column is its position, "(4)", as twins'
    values are shown (distinguish_twins), and so is the mapping table's cell."""
    body = (
        "编号,数据名称,提供部门,,更新频率\nA1,公交站点,交通局,甲,每月\nA1,公交站点,交通局,乙,每月\n"
    )
    source = services.create_source("blank", "tabular", export(httpserver, body.encode()))
    run = harvest(source)
    assert (run.created, run.bad) == (2, 0)
    report = run.mapping_report
    assert report["identity"]["told_apart"] == [{"rows": ["row 2", "row 3"], "by": ["(4)"]}]
    assert report["identity"]["distinguished"]["by"] == [{"columns": ["(4)"], "rows": 2}]
    assert report["ignored"] == ["(4)"]
    assert '""' not in json.dumps(report, ensure_ascii=False)  # columns[].column too
    shown = [client.get(f"/api/v1/datasets/{dataset_id}").json["distinguished_by"]
             for dataset_id in db.session.scalars(select(Dataset.id).order_by(Dataset.id))]  # fmt: skip
    assert shown == [{"(4)": "甲"}, {"(4)": "乙"}]
    page = client.get(f"/operators/sources/{source.id}").get_data(as_text=True)
    cell = re.search(r'<tr data-column="\(4\)" [^>]*>\s*<td>([^<]*)</td>', page)
    assert cell and cell.group(1) == "(4)"


def test_describing_columns_take_fallbacks_after_the_columns_no_field_holds():
    header = ["数据名称", "提供部门", "描述", "摘要", "所属区县", "编号", "目录编号", "浏览次数"]
    columns = {"title": [0], "publisher": [1], "description": [2, 3], "identifier": [6, 5],
               "keywords": [7, 4]}  # fmt: skip
    # 所属区县 is keywords' fallback here; 编号 an id's (left out)
    assert describing_columns(header, columns) == [3, 4]
    report: dict = {}
    found = distinguish_twins([[(0, ["同", "x"]), (1, ["同", "x", "", "五华区"])]], header,
                              [2, 3], report)  # fmt: skip
    assert found == {0: {"(10)": ""}, 1: {"(10)": "五华区"}}  # past the header: 8 + 2


def test_only_twins_whose_columns_differ_are_read_and_running_numbers_say_nothing():
    header = ["序号", "数据名称", "提供部门", "所属区县", ""]
    columns = {"title": [1], "publisher": [2]}
    assert describing_columns(header, columns) == [3, 4]  # 序号: a running number
    # Usage counts change with use, not with the dataset: a twin told apart by one
    # would "update" on every harvest.
    counted = ["数据名称", "提供部门", "访问量", "下载次数", "Views", "评分", "年份", "所属区县"]
    assert describing_columns(counted, columns | {"title": [0], "publisher": [1]}) == [6, 7]
    pairs = np.array([1, 1, 2, 2, 3], dtype=np.int64)  # rows 0-1 and 2-3 share title+publisher
    texts = np.array([5, 6, 7, 7, 8], dtype=np.int64)  # rows 2-3 hold the same district
    assert differing_twins(pairs, texts).tolist() == [0, 1]
    assert differing_twins(pairs, None).tolist() == []
    report: dict = {}
    found = distinguish_twins([[(0, ["五华区", "x"]), (1, ["盘龙区", "x"])]], header, [3, 4],
                              report)  # fmt: skip
    assert found == {0: {DISTRICT: "五华区"}, 1: {DISTRICT: "盘龙区"}}
    assert report["distinguished"] == {"rows": 2, "by": [{"columns": [DISTRICT], "rows": 2}]}


def test_messages_name_a_twin_with_what_tells_it_apart():
    """Webhooks carry distinguished_by; e-mail, chat and inbox titles show it as the pages
    do (公交站点 · 西山区). A dataset without twins: the payload and title as before."""
    snapshot = DatasetRecord("x", "公交站点", distinguished_by={DISTRICT: "西山区"}).canonical()
    body = payloads.message("msg_1", "dataset.updated", datetime(2026, 12, 1), "http://h",
                            dataset_id=7, snapshot=snapshot, version=2, changes=[])  # fmt: skip
    assert body["data"]["dataset"]["distinguished_by"] == {DISTRICT: "西山区"}
    assert digest.item_view(body)["title"] == "公交站点 · 西山区"
    plain = DatasetRecord("y", "医疗机构名录").canonical()
    body = payloads.message("msg_2", "dataset.updated", datetime(2026, 12, 1), "http://h",
                            dataset_id=8, snapshot=plain, version=2, changes=[])  # fmt: skip
    assert "distinguished_by" not in body["data"]["dataset"]
    assert digest.item_view(body)["title"] == "医疗机构名录"


def test_a_long_value_is_shortened_beside_the_title_only():
    dataset = {"title": "公交站点", "distinguished_by": {"备注": "长" * 100, "年份": "2023"}}
    assert twin_title(dataset) == "公交站点 · " + "长" * 39 + "… · 2023"
    assert told_apart({"title": "医疗机构名录", "distinguished_by": {}}) == ""


def test_a_twins_change_names_its_district_in_the_timeline_feed_and_events(app, client,
                                                                           httpserver):  # fmt: skip
    """Acceptance run 4 #1: the scenario's timeline page, Atom feed and events API named
    the changed twin by its bare title, as the other two are named."""

    source = services.create_source("bom", "tabular", export(httpserver, BOM_V1.read_bytes()))
    harvest(source)
    user = auth.create_user("twins@example.org", PASSWORD)
    scenario = scenario_services.create_scenario(
        user, {"name": "公交", "q": "公交站点", "filters": {}, "include": [], "exclude": []}
    )
    export(httpserver, edited("市交通运输局,盘龙区", "市交通运输局,西山区"))
    harvest(source)
    indexer.apply_changes(get_service().store)
    while match_pending_events(cache=PercolatorCache()):
        pass

    feed = client.get(f"/api/v1/scenarios/{scenario.id}/feed.atom",
                      query_string={"token": scenario.feed_token}).get_data(as_text=True)  # fmt: skip
    assert "公交站点 · 西山区</title>" in feed
    login(client, "twins@example.org")
    events = client.get(f"/api/v1/scenarios/{scenario.id}/events").json["items"]
    assert [e["dataset"].get("distinguished_by") for e in events] == [{DISTRICT: "西山区"}]
    page = client.get(f"/scenarios/{scenario.id}/timeline").get_data(as_text=True)
    assert "公交站点 · 西山区" in page
