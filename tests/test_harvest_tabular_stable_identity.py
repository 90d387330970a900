"""Rows that share an identity keep the stored ones across harvests (keep_stored).

A duplicate id appended to an export must not move the existing row to a new identity,
and rows told apart only by their 更新时间 must be updated, not deleted and recreated,
when that date is edited. Real tabular export on loopback, real database.
"""

from __future__ import annotations

from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.models import CatalogEvent, Dataset
from subscribe.extensions import db
from tests.search_helpers import harvest, serve

ID_HEADER = "目录编号,数据名称,提供部门,更新时间"
ID_ROWS = [
    f"A00{n},{title},市{dept}局,2023-0{n}-01"
    for n, (title, dept) in enumerate(
        [("人口统计", "统计"), ("公交线路", "交通"), ("空气质量", "环境"),
         ("医院名录", "卫健"), ("公园名录", "园林"), ("学校名录", "教育")], start=1)
]  # fmt: skip


def export(httpserver, header: str, rows: list[str]) -> str:
    httpserver.clear()
    body = ("\ufeff" + header + "\n" + "\n".join(rows) + "\n").encode("utf-8")
    return serve(httpserver, "/catalog.csv", body, "text/csv")


def active() -> dict[str, str]:
    query = select(Dataset.identifier, Dataset.title).where(Dataset.deleted_at.is_(None))
    return dict(db.session.execute(query).all())


def events() -> list[tuple[str, str]]:
    query = select(CatalogEvent.type, Dataset.title).join(Dataset).order_by(CatalogEvent.id)
    return [tuple(row) for row in db.session.execute(query).all()]


def counts(run) -> tuple[int, int, int, int]:
    return run.created, run.updated, run.deleted, run.unchanged


def test_an_appended_duplicate_id_leaves_the_existing_row_its_identity(app, httpserver):
    source = services.create_source("city", "tabular", export(httpserver, ID_HEADER, ID_ROWS))
    assert harvest(source).created == 6
    assert active()["A006"] == "学校名录"
    before = len(events())

    export(httpserver, ID_HEADER, [*ID_ROWS, "A006,幼儿园名录,市教育局,2023-07-01"])
    run = harvest(source)
    assert counts(run) == (1, 0, 0, 6)
    stored = active()
    assert stored["A006"] == "学校名录"  # the row that was there keeps it
    (new,) = [i for i, title in stored.items() if title == "幼儿园名录"]
    assert new.startswith("A006#")
    assert run.mapping_report["identity"]["kept_stored"] == 1
    assert events()[before:] == [("dataset.created", "幼儿园名录")]

    export(httpserver, ID_HEADER, ID_ROWS)  # the original file again
    run = harvest(source)
    assert counts(run) == (0, 0, 1, 6)
    assert active()["A006"] == "学校名录" and "幼儿园名录" not in active().values()
    assert events()[before:] == [
        ("dataset.created", "幼儿园名录"),
        ("dataset.deleted", "幼儿园名录"),
    ]


def test_a_duplicate_id_inserted_before_the_existing_row_is_the_one_told_apart(app, httpserver):
    """File order does not decide: the stored row's content does."""
    source = services.create_source("city", "tabular", export(httpserver, ID_HEADER, ID_ROWS))
    harvest(source)
    export(httpserver, ID_HEADER, ["A006,幼儿园名录,市教育局,2023-07-01", *ID_ROWS])
    run = harvest(source)
    assert counts(run) == (1, 0, 0, 6)
    assert active()["A006"] == "学校名录"


NO_ID_HEADER = "数据名称,提供部门,更新时间"
NO_ID_ROWS = [
    "道路运输企业名录,市交通运输局,2023-07-01",
    "道路运输企业名录,市交通运输局,2023-06-01",
    "公交线路,市交通运输局,2023-05-01",
]


def test_rows_told_apart_only_by_their_date_are_updated_when_it_changes(app, httpserver):
    source = services.create_source("city", "tabular",
                                    export(httpserver, NO_ID_HEADER, NO_ID_ROWS))  # fmt: skip
    assert harvest(source).created == 3
    identities = set(active())
    before = len(events())

    edited = [NO_ID_ROWS[0].replace("2023-07-01", "2023-08-01"), *NO_ID_ROWS[1:]]
    export(httpserver, NO_ID_HEADER, edited)
    run = harvest(source)
    assert counts(run) == (0, 1, 0, 2)
    assert set(active()) == identities
    assert events()[before:] == [("dataset.updated", "道路运输企业名录")]
    event = db.session.scalars(select(CatalogEvent).order_by(CatalogEvent.id.desc())).first()
    assert event.changes[0]["fields"]["modified_raw"] == {"old": "2023-07-01", "new": "2023-08-01"}

    # The other one's date too, and the rows swapped: still updates of the same two.
    export(httpserver, NO_ID_HEADER, [edited[1].replace("2023-06-01", "2023-09-01"), edited[0],
                                      edited[2]])  # fmt: skip
    run = harvest(source)
    assert counts(run) == (0, 1, 0, 2)
    assert set(active()) == identities


def test_a_third_row_with_the_same_title_is_the_only_new_one(app, httpserver):
    source = services.create_source("city", "tabular",
                                    export(httpserver, NO_ID_HEADER, NO_ID_ROWS))  # fmt: skip
    harvest(source)
    identities = set(active())
    export(httpserver, NO_ID_HEADER, [*NO_ID_ROWS, "道路运输企业名录,市交通运输局,2023-01-01"])
    run = harvest(source)
    assert counts(run) == (1, 0, 0, 3)
    assert identities < set(active())


def test_the_told_apart_row_alone_again_keeps_its_identity(app, httpserver):
    """The row that was there goes away, the one appended with its id stays: the stayer
    keeps A006#…, and only the dataset of the removed row is deleted."""
    source = services.create_source("city", "tabular", export(httpserver, ID_HEADER, ID_ROWS))
    harvest(source)
    export(httpserver, ID_HEADER, [*ID_ROWS, "A006,幼儿园名录,市教育局,2023-07-01"])
    harvest(source)
    (told_apart,) = [i for i, title in active().items() if title == "幼儿园名录"]
    before = len(events())

    export(httpserver, ID_HEADER, [*ID_ROWS[:5], "A006,幼儿园名录,市教育局,2023-07-01"])
    run = harvest(source)
    assert counts(run) == (0, 0, 1, 6)
    assert active()[told_apart] == "幼儿园名录" and "A006" not in active()
    assert events()[before:] == [("dataset.deleted", "学校名录")]
