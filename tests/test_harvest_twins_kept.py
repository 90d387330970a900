"""Twins keep their stored identities when one goes away or breaks (black-box run bb9,
files in tests/data/twins-bb9, see SOURCE.md).

Rows of one title and publisher told apart by 所属区县 are stored as told-apart
identities (A006#<10 hex>, or a told-apart title-and-publisher hash when the id column
repeats), each shown with its district (distinguished_by). A row alone again keeps its
own by that district (RowMapper._alone_again); a bad row whose district was read before
the break names its own twin (RowMapper._readable_identity), so only that one is kept.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from tests.test_harvest_bad_row_keeps import events_since, execute, last_event_id, serve_csv

BASE = (Path(__file__).resolve().parent / "data" / "twins-bb9" / "cat.csv").read_text("utf-8")
XISHAN = "A006,公交站点,市交通局,西山区,2026-01-01,常规描述\n"
WUHUA = "A006,公交站点,市交通局,五华区,2026-01-01,常规描述\n"
XISHAN_BROKEN = 'A006,公交站点,市交通局,西山区,2026-01-01,"常规描述\n'  # district read
# A007's rows given ids of their own: 目录编号 identifies, A006's two rows told apart
UNIQUE_IDS = BASE.replace(
    "A007,路灯分布,市交通局,盘龙区", "A017,路灯分布二,市交通局,盘龙区"
).replace("A007,路灯分布,市交通局,呈贡区", "A027,路灯分布三,市交通局,呈贡区")


def twins() -> dict[str, tuple[int, str]]:
    """District -> (dataset id, identifier) of the active 公交站点 datasets (a twin alone
    is shown by nothing: "")."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Dataset.id, Dataset.identifier, Dataset.distinguished_by).where(
            Dataset.title == "公交站点", Dataset.deleted_at.is_(None)
        )
    ).all()
    return {(shown or {}).get("所属区县", ""): (id_, identifier) for id_, identifier, shown in rows}


def start(httpserver, text: str):
    source = services.create_source("bb9", "tabular", serve_csv(httpserver, text))
    first = execute(source)
    assert (first.status, first.created) == ("succeeded", 13)
    stored = twins()
    assert set(stored) == {"西山区", "五华区"}
    return source, stored


def test_a_twin_broken_in_its_last_cell_keeps_both_on_the_hash(app, httpserver):
    """t7.py twins stage 1: created 1, deleted 2, bad 1 before."""
    source, stored = start(httpserver, BASE)
    assert all(identifier.startswith("sha1:") for _, identifier in stored.values())
    before = last_event_id()
    serve_csv(httpserver, BASE.replace(XISHAN, XISHAN_BROKEN))
    run = execute(source)
    assert (run.bad, run.created, run.deleted, run.updated) == (1, 0, 0, 0)
    assert run.mapping_report["kept_by_bad_records"] == 1
    assert sorted(twins().values()) == sorted(stored.values())
    assert events_since(before) == []

    serve_csv(httpserver, BASE)
    fixed = execute(source)
    assert (fixed.created, fixed.deleted, fixed.bad) == (0, 0, 0)
    assert twins() == stored
    assert events_since(before) == []


def test_a_twin_broken_before_its_district_keeps_the_one_no_row_holds(app, httpserver):
    """The district is past the break: the bad row names the hash family's one stored
    twin that no row of the run holds (五华区 keeps its own by its district)."""
    source, stored = start(httpserver, BASE)
    before = last_event_id()
    broken = XISHAN.replace(",西山区", ',"西山区')
    serve_csv(httpserver, BASE.replace(XISHAN, broken))
    run = execute(source)
    assert (run.bad, run.created, run.deleted) == (1, 0, 0)
    assert run.mapping_report["kept_by_bad_records"] == 1
    assert sorted(twins().values()) == sorted(stored.values())
    assert events_since(before) == []


@pytest.mark.parametrize(("removed", "kept"), [("五华区", "西山区"), ("西山区", "五华区")])
def test_one_twin_removed_deletes_only_it_on_the_hash(app, httpserver, removed, kept):
    """t7.py drophash: both deleted and the other created anew before. Either way round:
    the row left keeps the twin of its district, not the one created first."""
    source, stored = start(httpserver, BASE)
    before = last_event_id()
    serve_csv(httpserver, BASE.replace({"五华区": WUHUA, "西山区": XISHAN}[removed], ""))
    run = execute(source)
    assert (run.created, run.deleted) == (0, 1)
    assert list(twins().values()) == [stored[kept]]
    assert events_since(before) == [("dataset.deleted", stored[removed][1])]


def test_a_broken_id_twin_names_its_own_while_the_other_is_removed(app, httpserver):
    """t7.py idtw stages 7/8: both deleted, then 西山区 created anew before."""
    source, stored = start(httpserver, UNIQUE_IDS)
    assert all(identifier.startswith("A006#") for _, identifier in stored.values())
    before = last_event_id()
    serve_csv(httpserver, UNIQUE_IDS.replace(XISHAN, XISHAN_BROKEN).replace(WUHUA, ""))
    run = execute(source)
    assert (run.bad, run.created, run.deleted) == (1, 0, 1)
    assert run.mapping_report["kept_by_bad_records"] == 1
    assert list(twins().values()) == [stored["西山区"]]
    assert events_since(before) == [("dataset.deleted", stored["五华区"][1])]

    serve_csv(httpserver, UNIQUE_IDS.replace(WUHUA, ""))
    fixed = execute(source)
    assert (fixed.created, fixed.deleted, fixed.bad) == (0, 0, 0)
    assert list(twins().values()) == [stored["西山区"]]
    assert events_since(before) == [("dataset.deleted", stored["五华区"][1])]
