"""Tabular identity: row numbers are no identity, edits of derived identities are updates.

The acceptance tester's exports of black-box run bb5 (tests/data/bb5-identity/SOURCE.md),
served on loopback to a real harvest into the real database (SQLite, or PostgreSQL with
SUBSCRIBE_TEST_DATABASE_URL):

- a 编号 column of row numbers (1…7; 1, 4, 5 … 10) is a running number, not the identity:
  deleting a row deletes that dataset only, the others keep their dataset ids;
- an export without an id column whose title is edited keeps the dataset (an update,
  paired by its download URL), on every later run too;
- rows equal apart from their running number (序号) are one dataset and a bad record.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.harvesters.tabular_identity import row_number, row_number_value
from subscribe.catalog.models import CatalogEvent, Dataset
from subscribe.extensions import db
from tests.search_helpers import harvest, serve

DATA = Path(__file__).parent / "data" / "bb5-identity"


def export(httpserver, name: str) -> str:
    httpserver.clear()
    return serve(httpserver, "/export.csv", (DATA / name).read_bytes(), "text/csv")


def ids_by_title() -> dict[str, int]:
    query = select(Dataset.title, Dataset.id).where(Dataset.deleted_at.is_(None))
    return dict(db.session.execute(query).all())


def events() -> list[tuple[str, str]]:
    query = select(CatalogEvent.type, Dataset.title).join(Dataset).order_by(CatalogEvent.id)
    return [tuple(row) for row in db.session.execute(query).all()]


def counts(run) -> tuple[int, int, int, int, int]:
    return run.created, run.updated, run.deleted, run.unchanged, run.bad


@pytest.mark.parametrize(
    ("first", "second", "gone"),
    [
        ("gbk_seq_v1.csv", "gbk_seq_v2.csv", "空气质量实时监测数据"),  # 1…7, renumbered 1…6
        ("export_gbk_v1.csv", "export_gbk_v2.csv", "空气质量实时监测数据"),  # 1, 4 … 10: gaps
    ],
)
def test_deleting_a_numbered_row_deletes_only_its_dataset(app, httpserver, first, second, gone):
    source = services.create_source("bb5", "tabular", export(httpserver, first))
    run = harvest(source)
    rejected = run.mapping_report["identity"]["rejected"]
    assert [r["column"] for r in rejected if "running number" in r["reason"]] == ["编号"]
    assert run.mapping_report["identity"].get("column") != "编号"
    entry = next(e for e in run.mapping_report["columns"] if e["column"] == "编号")
    assert (entry["role"], entry["suggested"]) == ("ignored", "identifier")
    before, seen = ids_by_title(), len(events())
    assert gone in before

    export(httpserver, second)
    run = harvest(source)
    # the 学校名录 twin (equal apart from 编号) is a bad record in both files
    assert counts(run)[:4] == (0, 0, 1, len(before) - 1)
    after = ids_by_title()
    assert after == {title: i for title, i in before.items() if title != gone}
    assert events()[seen:] == [("dataset.deleted", gone)]


def test_real_short_ids_out_of_file_order_still_identify(app, httpserver):
    body = (
        "编号,数据名称,提供单位\n17,地铁客流,市交通局\n3,出租车运营,市交通局\n9,公园名录,市园林局\n"
    )
    source = services.create_source("ids", "tabular",
                                     serve(httpserver, "/ids.csv", body.encode(), "text/csv"))  # fmt: skip
    run = harvest(source)
    assert run.mapping_report["identity"]["column"] == "编号"
    identifiers = set(db.session.scalars(select(Dataset.identifier)).all())
    assert identifiers == {"17", "3", "9"}


@pytest.mark.parametrize(
    ("cells", "running"),
    [
        (["1", "2", "3", "4"], True),
        (["1.", "2.", "3.", "4."], True),  # a list mark
        (["001", "002", "003"], True),  # zero-padded
        (["1", "4", "5", "6", "8", "9", "10"], True),  # gaps where rows were deleted
        (["1", "", "3", "4"], True),  # an empty cell
        (["2", "3", "4"], True),  # the first row deleted, not renumbered
        (["7", "3", "12"], False),  # not in file order: assigned ids
        (["1001", "1002", "1003"], False),  # large: 3 numbers up to 1003
        (["1", "20", "40", "60"], False),  # sparse
        (["1", "2", "A3"], False),  # not all numbers
        (["0", "1", "2"], False),  # 0 is no row number
        (["1234567890", "1234567891"], False),  # ten digits: a code
    ],
)
def test_what_a_row_number_looks_like(cells, running):
    numbers = np.array([row_number_value(c) for c in cells], dtype=np.int64)
    assert bool(row_number(numbers)) is running


@pytest.mark.parametrize("edited", ["clean_v2_title_only.csv", "export_stepB.csv"])
def test_the_testers_title_edit_is_an_update(app, httpserver, edited):
    """空气质量实时→小时 on the row whose download URL (aqi.csv) is unique; step B also
    deletes the 公共自行车 row."""
    source = services.create_source("bb5", "tabular", export(httpserver, "export_v1.csv"))
    harvest(source)
    before, seen = ids_by_title(), len(events())

    export(httpserver, edited)
    run = harvest(source)
    gone = set(before) - {"空气质量实时监测数据"} - set(ids_by_title())
    assert (run.created, run.updated, run.deleted) == (0, 1, len(gone))
    after = ids_by_title()
    assert after["空气质量小时监测数据"] == before["空气质量实时监测数据"]
    assert ("dataset.updated", "空气质量小时监测数据") in events()[seen:]
    assert not [e for e in events()[seen:] if e[0] == "dataset.created"]

    run = harvest(source)  # the same file again
    assert (run.created, run.updated, run.deleted) == (0, 0, 0)
    assert ids_by_title() == after


DERIVED = "数据名称,提供单位,下载地址\n{title},市环境局,http://x.test/aqi.csv\n企业登记,市监局,\n学校名录,市教育局,\n医院名录,市卫健委,\n"


@pytest.mark.parametrize("url_column", ["下载地址", "详情页网址"])
def test_a_title_edit_of_a_hash_identified_row_is_paired_by_its_url(app, httpserver, url_column):
    """Identity by title and publisher (the URL column is empty on most rows, so no
    identity): the edited title is a new hash, found by its URL among the unlisted."""

    def served(title: str) -> str:
        httpserver.clear()
        body = DERIVED.replace("下载地址", url_column).format(title=title)
        return serve(httpserver, "/derived.csv", body.encode(), "text/csv")

    source = services.create_source("derived", "tabular", served("空气质量实时"))
    run = harvest(source)
    assert run.mapping_report["identity"]["method"] == "hash"
    before = ids_by_title()
    served("空气质量小时")
    run = harvest(source)
    assert counts(run)[:4] == (0, 1, 0, 3)
    carried = run.mapping_report["identity"]["carried_over"]
    by = "download URL" if url_column == "下载地址" else "landing page"
    assert carried["by"] == {by: 1} and "derived from content" in carried["why"]
    assert ids_by_title()["空气质量小时"] == before["空气质量实时"]
    run = harvest(source)  # again: the carried identity is carried again, no events
    assert counts(run)[:3] == (0, 0, 0)
    assert ids_by_title()["空气质量小时"] == before["空气质量实时"]


def test_an_unchanged_derived_identity_export_does_not_look_for_carry_overs(app, httpserver):
    source = services.create_source("bb5", "tabular", export(httpserver, "export_v1.csv"))
    harvest(source)
    run = harvest(source)
    assert counts(run)[:3] == (0, 0, 0)
    assert "carried_over" not in run.mapping_report["identity"]


def test_rows_equal_apart_from_their_running_number_are_one_dataset(app, httpserver):
    source = services.create_source("bb5", "tabular", export(httpserver, "export_v1.csv"))
    run = harvest(source)
    titles = db.session.scalars(select(Dataset.title).where(Dataset.deleted_at.is_(None))).all()
    assert titles.count("学校名录") == 1
    assert {"reference": "row 10",
            "reason": "exact duplicate of row 7 apart from its running number (序号)"} in run.errors  # fmt: skip
    assert not [g for g in run.mapping_report["identity"]["told_apart"]
                if "序号" in g["by"]]  # fmt: skip


def test_the_new_reasons_read_in_chinese_on_the_operators_pages(app, httpserver):
    """The running number's verdicts, the duplicate apart from it and a derived
    identity's carry-over: each has its message (web/reasons), none left English."""
    from subscribe.web.reasons import harvest_reason, mapping_reason
    from tests.test_mapping_reasons_i18n import _translated_fully

    source = services.create_source("bb5", "tabular", export(httpserver, "gbk_seq_v1.csv"))
    report = harvest(source).mapping_report
    (rejected,) = [r["reason"] for r in report["identity"]["rejected"] if r["column"] == "编号"]
    (column,) = [e["reason"] for e in report["columns"] if e["column"] == "编号"]
    carry = services.create_source("derived", "tabular", export(httpserver, "export_v1.csv"))
    run = harvest(carry)
    duplicate = next(e["reason"] for e in run.errors if "apart from" in e["reason"])
    why = "identity derived from content (a hash of title and publisher): 1 rows not found"
    with app.test_request_context():  # Chinese: the default
        for reason in (rejected, column, why):
            _translated_fully(reason, mapping_reason(reason))
        _translated_fully(duplicate, harvest_reason(duplicate))
        assert "流水号（序号）" in harvest_reason(duplicate)
