"""A Chinese tabular export harvested twice into the database: updates, never duplicates."""

from __future__ import annotations

from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.catalog_helpers import serve_csv_rows

HEADER = "目录名称,数源单位,数据领域,更新周期,开放属性,资源格式,更新时间,详情页\n"
ROWS = {
    "bus": '示例市公交线路站点信息,市交通运输局,交通出行,每日,无条件开放,"[csv,json]",2024/3/1,',
    "air": "示例市空气质量日报,市生态环境局,生态环境,每天,无条件开放,CSV、JSON,2024年3月2日,",
    "school": "示例市中小学名录,市教育局,教育文化,按年更新,有条件开放,['xls'],2024-01-05,https://data.example.cn/d/school",
    "clinic": "示例市医疗机构名录,市卫生健康委员会,医疗卫生,季度,依申请开放,XLSX,2024-02-01,",
}


def serve(httpserver, rows: list[str]) -> str:
    return serve_csv_rows(httpserver, HEADER, rows, bom=True)


def harvest(source):
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    return execute_run(run)


def test_reharvest_of_an_export_without_ids(app, httpserver):
    url = serve(
        httpserver, [ROWS["bus"], ROWS["air"], ROWS["school"], "", ",市民政局,社会保障,每月,,,,"]
    )
    source = services.create_source("city", "tabular", url)
    run = harvest(source)
    assert (run.status, run.created, run.bad) == ("succeeded", 3, 1)
    assert run.errors[0]["reference"].startswith("row ")
    bus = db_dataset("示例市公交线路站点信息")
    assert (bus.frequency, bus.frequency_raw, bus.open_type) == ("daily", "每日", "unconditional")
    assert bus.formats == ["CSV", "JSON"]

    edited_air = ROWS["air"].replace("每天", "实时")
    serve(httpserver, [ROWS["clinic"], edited_air, ROWS["bus"]])  # reordered, school gone
    run = harvest(source)
    assert (run.status, run.created, run.updated, run.unchanged, run.deleted) == (
        "succeeded",
        1,
        1,
        1,
        1,
    )
    assert db_dataset("示例市空气质量日报").frequency == "realtime"
    assert db_dataset("示例市中小学名录").deleted_at is not None
    total = db.session.scalar(select(func.count()).select_from(Dataset))
    assert total == 4  # no duplicates: identities are stable without an id column


def db_dataset(title: str) -> Dataset:
    return db.session.scalar(select(Dataset).where(Dataset.title == title))


def test_a_reharvest_writes_no_unchanged_row_and_still_finds_deletions(app, httpserver):
    """Unchanged rows are not stamped with the run (a rewrite of every row of the
    catalog each run); what the run saw is kept in memory, and an unseen dataset is
    still marked deleted, a changed one updated, both by this run."""
    url = serve(httpserver, [ROWS["bus"], ROWS["air"], ROWS["school"]])
    source = services.create_source("city", "tabular", url)
    first = harvest(source)
    serve(httpserver, [ROWS["bus"], ROWS["air"].replace("每天", "实时")])  # school gone
    second = harvest(source)
    assert (second.updated, second.unchanged, second.deleted) == (1, 1, 1)
    db.session.expire_all()
    assert db_dataset("示例市公交线路站点信息").last_seen_run_id == first.id  # not written
    assert db_dataset("示例市空气质量日报").last_seen_run_id == second.id
    assert db_dataset("示例市中小学名录").deleted_at is not None


def test_seen_ids_hold_any_id():
    from subscribe.catalog.writer import SeenIds

    seen = SeenIds()
    seen.update([1, 9, 70_001])
    assert [i for i in (0, 1, 2, 8, 9, 10, 70_000, 70_001, 10**6) if i in seen] == [1, 9, 70_001]


def test_a_frequency_in_days_is_stored_and_filtered(app, client, httpserver):
    """bb6: 更新周期(天) = 30 was stored as "unknown"; stored as monthly, its text kept,
    and found by the frequency filter (SQLite and PostgreSQL)."""
    url = serve_csv_rows(httpserver, "资源名称,提供单位,更新周期(天)\n",
                         ["井盖,市政处,30", "厕所,园林局,365", "夜市,商务局,每周一次"])  # fmt: skip
    run = harvest(services.create_source("days", "tabular", url))
    assert (run.status, run.created, run.bad) == ("succeeded", 3, 0)
    stored = {d.title: (d.frequency, d.frequency_raw) for d in db.session.scalars(select(Dataset))}
    assert stored == {"井盖": ("monthly", "30"), "厕所": ("yearly", "365"),
                      "夜市": ("weekly", "每周一次")}  # fmt: skip
    indexer.apply_changes(get_service().store)
    get_service().refresh(force=True)
    found = client.get("/api/v1/datasets?frequency=monthly").get_json()
    assert [d["title"] for d in found["items"]] == ["井盖"]
