"""A broken twin row keeps its own twin, and the other row updates only its own (black-box
run bb9 F5b, files in tests/data/twins-differ-bb9, see SOURCE.md).

Two rows of one id (A006, or J1 in JSON Lines) told apart by 所属区县, each with its own
description. With the 西山区 row broken after its district, the 五华区 row wrote its
description onto the 西山区 dataset (dataset.updated), and fixing the row reverted it (a
second update). The surviving row must keep the twin of its own district; the broken
one's twin is kept as it is; no events either way.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from tests.search_helpers import serve
from tests.test_harvest_bad_row_keeps import events_since, execute, last_event_id

DATA = Path(__file__).resolve().parent / "data" / "twins-differ-bb9"
CSV = (DATA / "cat.csv").read_text("utf-8")
JSONL = (DATA / "cat.jsonl").read_text("utf-8")


def csv_broken(text: str, district: str) -> str:
    """t7.py twdiff: the row of ``district`` with an unclosed quote in its last cell."""
    row = f"A006,公交站点,市交通局,{district},2026-01-01,{district}公交站点描述\n"
    assert row in text
    return text.replace(row, row.replace(f",{district}公交", f',"{district}公交'))


def jsonl_broken(text: str, district: str) -> str:
    """t17.py jsonl2: the line of ``district`` cut short (its last 5 characters)."""
    lines = text.splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if f'"所属区县": "{district}"' in line)
    lines[index] = lines[index].rstrip("\n")[:-5] + "\n"
    return "".join(lines)


# 路灯分布's rows sharing A007 again (t7.py's base): 目录编号 repeats, so identity is the
# title-and-publisher hash, twins told apart by 所属区县 all the same
HASHED = CSV.replace("A017,路灯分布二", "A007,路灯分布").replace("A027,路灯分布三", "A007,路灯分布")

CASES = {
    "csv": ("/cat.csv", "text/csv", CSV, csv_broken, "公交站点", 13),
    "csv-hash": ("/cat.csv", "text/csv", HASHED, csv_broken, "公交站点", 13),
    "jsonl": ("/cat.jsonl", "application/x-ndjson", JSONL, jsonl_broken, "公厕", 5),
}


def twins(title: str) -> dict[str, tuple[int, str, str]]:
    """District -> (dataset id, identifier, description) of the active twins."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Dataset.id, Dataset.identifier, Dataset.description, Dataset.distinguished_by)
        .where(Dataset.title == title, Dataset.deleted_at.is_(None))
    ).all()  # fmt: skip
    return {(shown or {}).get("所属区县", ""): (id_, identifier, description)
            for id_, identifier, description, shown in rows}  # fmt: skip


@pytest.mark.parametrize("kind", CASES)
@pytest.mark.parametrize("broken", ["西山区", "五华区"])
def test_a_broken_twin_keeps_its_own_and_the_other_row_its_own(app, httpserver, kind, broken):
    path, content_type, good, breaking, title, count = CASES[kind]

    def put(text: str) -> str:
        httpserver.clear()
        return serve(httpserver, path, text.encode("utf-8"), content_type)

    source = services.create_source("bb9", "tabular", put(good))
    first = execute(source)
    assert (first.status, first.created) == ("succeeded", count)
    stored = twins(title)
    assert set(stored) == {"西山区", "五华区"}
    assert {district: row[2].startswith(district) for district, row in stored.items()} == {
        "西山区": True, "五华区": True
    }  # fmt: skip
    prefix = "sha1:" if kind == "csv-hash" else ("A006#" if kind == "csv" else "J1#")
    assert all(row[1].startswith(prefix) for row in stored.values())
    before = last_event_id()

    put(breaking(good, broken))
    run = execute(source)
    assert (run.status, run.bad, run.created, run.updated, run.deleted) == (
        "succeeded", 1, 0, 0, 0
    )  # fmt: skip
    assert run.mapping_report["kept_by_bad_records"] == 1
    assert twins(title) == stored
    assert events_since(before) == []

    put(good)
    fixed = execute(source)
    assert (fixed.created, fixed.updated, fixed.deleted, fixed.bad) == (0, 0, 0, 0)
    assert twins(title) == stored
    assert events_since(before) == []


def test_the_other_twins_edit_lands_on_its_own_while_one_is_broken(app, httpserver):
    """t7.py twedit: 西山区 broken and 五华区's description edited published the edit on
    西山区's dataset, and the fix two updates more. Now one update, of 五华区, and the fix
    is quiet."""

    def put(text: str) -> str:
        httpserver.clear()
        return serve(httpserver, "/cat.csv", text.encode("utf-8"), "text/csv")

    source = services.create_source("bb9", "tabular", put(CSV))
    assert execute(source).created == 13
    stored = twins("公交站点")
    before = last_event_id()
    edited = CSV.replace("五华区公交站点描述", "五华区的新描述")
    put(csv_broken(edited, "西山区"))
    run = execute(source)
    assert (run.bad, run.created, run.updated, run.deleted) == (1, 0, 1, 0)
    now = twins("公交站点")
    assert now["西山区"] == stored["西山区"]
    assert now["五华区"] == (*stored["五华区"][:2], "五华区的新描述")
    assert events_since(before) == [("dataset.updated", stored["五华区"][1])]

    put(edited)
    fixed = execute(source)
    assert (fixed.created, fixed.updated, fixed.deleted, fixed.bad) == (0, 0, 0, 0)
    assert twins("公交站点") == now
    assert events_since(before) == [("dataset.updated", stored["五华区"][1])]
