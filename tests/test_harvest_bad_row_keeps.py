"""Bad input loses nothing: a bad record is counted, and the stored dataset it most likely
is stays as it is (not deleted, no events).

Black-box run bb7 (files in tests/data/bad-row-keeps-bb7, see SOURCE.md): a 12-row export
harvested; then line 7 became ``C005,"停车场信息,…`` (a quote never closed). The run said
``deleted: 1, bad: 1`` and subscribers got ``dataset.deleted`` for 停车场信息; once the
quote was fixed the next run sent ``dataset.created``.

The rule (writer.mark_unseen_deleted): a bad record whose identity could be read keeps
its stored dataset; bad records without one hold back deletions they could explain (no
more unseen datasets than unreadable records); more unseen than that are deleted.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.harvesters.tabular_read import BrokenRow, _csv_rows
from subscribe.catalog.models import CatalogEvent, Dataset
from subscribe.extensions import db
from tests.search_helpers import serve

BB7 = Path(__file__).resolve().parent / "data" / "bad-row-keeps-bb7"
GOOD = (BB7 / "four.csv").read_text(encoding="utf-8")
UNCLOSED = (BB7 / "four-unclosed-quote.csv").read_text(encoding="utf-8")


def execute(source):
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    return execute_run(run)


def serve_csv(httpserver, text: str) -> str:
    httpserver.clear()
    return serve(httpserver, "/four.csv", text.encode("utf-8"), "text/csv")


def events_since(event_id: int) -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(CatalogEvent.type, Dataset.identifier)
        .join(Dataset, Dataset.id == CatalogEvent.dataset_id)
        .where(CatalogEvent.id > event_id)
    ).all()
    return sorted((type_, identifier) for type_, identifier in rows)


def last_event_id() -> int:
    return db.session.scalar(select(func.max(CatalogEvent.id))) or 0


def active(identifier: str) -> bool:
    db.session.expire_all()
    dataset = db.session.scalar(select(Dataset).where(Dataset.identifier == identifier))
    return dataset is not None and dataset.deleted_at is None


def lines_of(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


def test_an_unclosed_quote_after_the_id_keeps_its_dataset_as_it_is(app, httpserver):
    """The tester's case: the id cell before the quote is read; C005 is kept, no events,
    and fixing the quote changes nothing."""
    source = services.create_source("bb7", "tabular", serve_csv(httpserver, GOOD))
    first = execute(source)
    assert (first.status, first.created, first.bad) == ("succeeded", 12, 0)
    version = db.session.scalar(select(Dataset.version).where(Dataset.identifier == "C005"))
    before = last_event_id()

    serve_csv(httpserver, UNCLOSED)
    broken = execute(source)
    assert (broken.status, broken.bad, broken.deleted) == ("succeeded", 1, 0)
    assert "unclosed quote" in broken.errors[0]["reason"]
    assert broken.mapping_report["kept_by_bad_records"] == 1
    assert active("C005")
    assert db.session.scalar(select(Dataset.version).where(Dataset.identifier == "C005")) == (
        version
    )
    assert events_since(before) == []

    serve_csv(httpserver, GOOD)
    fixed = execute(source)
    assert (fixed.created, fixed.deleted, fixed.bad) == (0, 0, 0)
    assert events_since(before) == []


def test_a_broken_json_line_with_its_id_read_keeps_its_dataset(app, httpserver):
    records = [{"id": f"J{n}", "title": f"数据集 {n}", "publisher": "市统计局"} for n in range(4)]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    url = serve(httpserver, "/c.jsonl", text.encode(), "application/x-ndjson")
    source = services.create_source("jl", "tabular", url, mapping={"id_column": "id"})
    assert execute(source).created == 4
    before = last_event_id()

    broken = text.replace('"title": "数据集 2"', '"title": "数据集 2', 1)  # a string never closed
    httpserver.clear()
    serve(httpserver, "/c.jsonl", broken.encode(), "application/x-ndjson")
    run = execute(source)
    assert (run.bad, run.deleted) == (1, 0)
    assert run.mapping_report["kept_by_bad_records"] == 1
    assert active("J2")
    assert events_since(before) == []


def test_an_unreadable_row_without_its_id_holds_back_a_deletion_it_may_explain(app, httpserver):
    """The quote opens in the id cell: nothing names the row. One unseen dataset, one
    unreadable row: the row may be it, so nothing is deleted, and the run says why; the
    same while the row stays broken. (A row unreadable in the last full listing too is
    no dataset read then: test_harvest_tabular_row_numbers deletes one beside it.)"""
    source = services.create_source("bb7", "tabular", serve_csv(httpserver, GOOD))
    execute(source)
    before = last_event_id()
    lines = lines_of(GOOD)
    lines[6] = '"' + lines[6]  # "C005,停车场信息,… : the id itself is cut
    serve_csv(httpserver, "\n".join(lines) + "\n")
    run = execute(source)
    assert (run.status, run.bad, run.deleted) == ("succeeded", 1, 0)
    assert run.mapping_report["deletions_held_back"] == {
        "datasets_unseen": 1,
        "records_unreadable": 1,
        "already_unreadable": 0,
    }
    assert active("C005")
    assert events_since(before) == []

    again = execute(source)  # still broken: C005 was not read last run either
    assert (again.bad, again.deleted) == (1, 0)
    assert again.mapping_report["deletions_held_back"]["already_unreadable"] == 0
    assert active("C005")
    assert events_since(before) == []


@pytest.mark.parametrize("removed", [2, 5])
def test_more_unseen_datasets_than_unreadable_rows_are_deleted_as_before(app, httpserver, removed):
    """One unreadable row cannot be several datasets: the rows really removed are."""
    source = services.create_source("bb7", "tabular", serve_csv(httpserver, GOOD))
    execute(source)
    lines = lines_of(GOOD)
    kept = lines[: len(lines) - removed]
    kept[6] = '"' + kept[6]  # C005 unreadable, without its id
    serve_csv(httpserver, "\n".join(kept) + "\n")
    run = execute(source)
    assert (run.bad, run.deleted) == (1, removed + 1)
    assert "deletions_held_back" not in (run.mapping_report or {})
    assert not active("C011")
    assert not active("C005")


TWINS = (
    "目录编号,数据名称,数据提供方,所属区县,更新频率\n"
    + "".join(f"T0{n},数据集 {n},市统计局,全市,每月\n" for n in range(10, 60))
    + "T006,停车场信息,市交通局,海淀区,每月\n"
    + "T006,停车场信息,市交通局,朝阳区,每月\n"
)


def test_a_bad_row_of_a_twin_keeps_the_twin_it_may_be(app, httpserver):
    """Rows sharing an id are told apart (T006#<10 hex>, by 所属区县); a bad row of one
    names only T006 (what told it apart lies past the break). The twin not seen is kept,
    as many as bad records name T006; more unseen than that are deleted."""
    source = services.create_source("twins", "tabular", serve_csv(httpserver, TWINS))
    assert execute(source).created == 52
    twins = sorted(db.session.scalars(select(Dataset.identifier)
                                      .where(Dataset.identifier.like("T006#%"))))  # fmt: skip
    assert len(twins) == 2
    by_district = {db.session.scalar(select(Dataset.distinguished_by)
                                     .where(Dataset.identifier == t))["所属区县"]: t
                   for t in twins}  # fmt: skip
    before = last_event_id()

    broken = TWINS.replace("T006,停车场信息,市交通局,朝阳区", 'T006,"停车场信息,市交通局,朝阳区')
    serve_csv(httpserver, broken)
    run = execute(source)
    assert (run.bad, run.deleted) == (1, 0)
    assert run.mapping_report["kept_by_bad_records"] == 1
    assert all(active(t) for t in twins)
    assert events_since(before) == []

    # 海淀区 removed too: two twins unseen, one bad record naming T006: it cannot be
    # both, so both are deleted (as unreadable rows cannot hold back more than they are).
    serve_csv(httpserver, broken.replace("T006,停车场信息,市交通局,海淀区,每月\n", ""))
    run = execute(source)
    assert (run.bad, run.deleted) == (1, 2)
    assert not active(by_district["海淀区"]) and not active(by_district["朝阳区"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # never closed, on the last line: read at the end of the file
        ('编号,名称,单位\nQ1,公交,交通局\nQ2,"停车场,交通局\n', {0: "Q2"}),
        # "closed" by a later row's quote (bb7 q_midq): the cells before it still whole
        ('编号,名称,单位\nQ2,"停车场,交通局\nQ3,医疗,卫健委\nQ4,"药店,分布",卫健委\n', {0: "Q2"}),
        # the quote opens the id cell: nothing of the row's identity was read
        ('编号,名称,单位\n"Q2,停车场,交通局\nQ3,医疗,卫健委\n', {}),
    ],
)
def test_an_unclosed_quote_row_carries_the_cells_read_before_it(text, expected):
    broken = [cells for _, cells in _csv_rows(iter(text.splitlines(True)), ",")
              if isinstance(cells, Exception)]  # fmt: skip
    assert len(broken) == 1 and isinstance(broken[0], BrokenRow)
    assert broken[0].cells_read == expected
