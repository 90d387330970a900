"""A renamed dataset in an export identified by title and publisher is an update.

Field case 17's export (tabular JSON, no id and no URL column: rows are identified by
a hash of title and publisher) harvested, then the acceptance tester's second version
(black-box run bb6): 企业信用修复名单 renamed 企业信用修复名单（第二版）, one row added.
Served on loopback to a real harvest into the real database (SQLite, or PostgreSQL
with SUBSCRIBE_TEST_DATABASE_URL). Then variants of a small CSV: what is a rename
(suffix, version), what is not (another year, two candidates, another publisher).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from subscribe.auth import services as auth
from subscribe.catalog import services
from subscribe.catalog.harvesters.tabular_rename import (
    ADDED,
    CONTAINED,
    CONTAINS,
    pair_renamed,
    renamed,
)
from subscribe.catalog.models import CatalogEvent, Dataset
from subscribe.extensions import db
from tests.search_helpers import harvest, serve
from tests.test_web import PASSWORD, login

CASE = Path(__file__).parent / "data" / "17-feed-atom-control-chars"


def ids_by_title() -> dict[str, int]:
    query = select(Dataset.title, Dataset.id).where(Dataset.deleted_at.is_(None))
    return dict(db.session.execute(query).all())


def events_since(first: int) -> list[CatalogEvent]:
    query = select(CatalogEvent).where(CatalogEvent.id > first).order_by(CatalogEvent.id)
    return list(db.session.scalars(query))


def last_event_id() -> int:
    return max(db.session.scalars(select(CatalogEvent.id)).all(), default=0)


def counts(run) -> tuple[int, int, int]:
    return run.created, run.updated, run.deleted


# The export's title is 企业信用修复名单\x10（第二版）\ufffe: the control character reads
# as a space, the noncharacter is dropped (subscribe.catalog.text.clean_line).
RENAMED = "企业信用修复名单 （第二版）"


def test_the_field_case_rename_is_an_update_of_the_same_dataset(app, httpserver):
    url = serve(httpserver, "/fc17.json", (CASE / "export.json").read_bytes(), "application/json")
    source = services.create_source("fc17", "tabular", url)
    run = harvest(source)
    assert run.mapping_report["identity"]["method"] == "hash"
    before = ids_by_title()
    old_id = before["企业信用修复名单"]
    seen = last_event_id()

    httpserver.clear()
    serve(httpserver, "/fc17.json", (CASE / "export_renamed.json").read_bytes(), "application/json")
    run = harvest(source)
    assert counts(run) == (1, 3, 0)  # the new row; the rename, an edited summary and date
    after = ids_by_title()
    assert after[RENAMED] == old_id
    carried = run.mapping_report["identity"]["carried_over"]
    assert carried["by"] == {"renamed title": 1} and carried["datasets"] == 1
    assert carried["renamed"] == [{"title": RENAMED,
                                   "stored_title": "企业信用修复名单", "reason": CONTAINS}]  # fmt: skip
    new = events_since(seen)
    assert not [e for e in new if e.type == "dataset.deleted"]
    (update,) = [e for e in new if e.dataset_id == old_id]
    assert update.type == "dataset.updated"
    assert update.before["title"] == "企业信用修复名单"
    assert update.after["title"] == RENAMED

    # the operators' source page says how (not only the API's report)
    client = app.test_client()
    auth.create_user("ops@example.org", PASSWORD, role="operator")
    db.session.commit()
    assert login(client, "ops@example.org").status_code == 302
    page = client.get(f"/operators/sources/{source.id}").get_data(as_text=True)
    assert 'data-carried="1"' in page and "按 标题改名 1" in page

    seen = last_event_id()
    run = harvest(source)  # the same file again: the carried identity holds, no events
    assert counts(run) == (0, 0, 0) and not events_since(seen)
    assert ids_by_title()[RENAMED] == old_id


BASE = "数据名称,提供单位,数据格式\n{rows}企业登记信息,市市场监管局,CSV\n医院名录,市卫健委,XLSX\n"


def csv(rows: list[tuple[str, str]]) -> bytes:
    lines = "".join(f"{title},{publisher},CSV\n" for title, publisher in rows)
    return BASE.format(rows=lines).encode()


def harvest_twice(httpserver, first: list, second: list):
    """Harvest a CSV with ``first``'s rows (and two fixed ones), then with ``second``'s;
    returns the second run and {title: dataset id} before it."""
    httpserver.clear()
    url = serve(httpserver, "/list.csv", csv(first), "text/csv")
    source = services.create_source("list", "tabular", url)
    harvest(source)
    before = ids_by_title()
    httpserver.clear()
    serve(httpserver, "/list.csv", csv(second), "text/csv")
    return harvest(source), before


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("企业信用修复名单", "企业信用修复名单（2024年修订版）"),  # a suffix with a year
        ("企业信用修复名单", "企业信用修复名单 (第二版)"),  # half-width brackets, a space
        ("全市公共厕所分布", "全市公共厕所点位分布"),  # characters inserted
        ("企业信用修复名单（试行）", "企业信用修复名单"),  # a qualifier dropped
    ],
)
def test_a_renamed_title_is_paired_with_its_stored_dataset(app, httpserver, old, new):
    run, before = harvest_twice(httpserver, [(old, "市发展改革委")], [(new, "市发展改革委")])
    assert counts(run) == (0, 1, 0)
    assert ids_by_title()[new] == before[old]
    assert run.mapping_report["identity"]["carried_over"]["by"] == {"renamed title": 1}


@pytest.mark.parametrize(
    ("first", "second"),
    [
        # another year: a new period's dataset, the old one withdrawn
        ([("2023年企业信用修复名单", "市发展改革委")], [("2024年企业信用修复名单", "市发展改革委")]),
        ([("企业名单（2024年第一季度）", "市发展改革委")], [("企业名单（2024年第二季度）", "市发展改革委")]),
        ([("企业信用修复名单（2023年）", "市发展改革委")],
         [("企业信用修复名单（2023-2024年）", "市发展改革委")]),
        # a replaced character: another dataset, however long the common part
        ([("北京市朝阳区小学学校名录信息", "市教委")], [("北京市朝阳区中学学校名录信息", "市教委")]),
        # another publisher
        ([("企业信用修复名单", "市发展改革委")], [("企业信用修复名单（第二版）", "市信用办")]),
        # two candidates each way: ambiguous, no pairing
        ([("企业信用修复名单", "市发展改革委")],
         [("企业信用修复名单（第二版）", "市发展改革委"), ("企业信用修复名单（第三版）", "市发展改革委")]),
        ([("信用修复名单", "市发展改革委"), ("企业信用修复名单（试行）", "市发展改革委")],
         [("企业信用修复名单", "市发展改革委")]),
    ],
)  # fmt: skip
def test_what_is_not_a_rename_stays_a_deletion_and_a_creation(app, httpserver, first, second):
    run, before = harvest_twice(httpserver, first, second)
    assert counts(run) == (len(second), 0, len(first))
    after = ids_by_title()
    assert not {after[title] for title, _ in second} & set(before.values())
    assert "renamed title" not in run.mapping_report["identity"]["carried_over"]["by"]


def test_an_unchanged_export_does_not_read_titles_again(app, httpserver, monkeypatch):
    """The usual re-harvest: every row found, no rename round (nothing read again)."""
    from subscribe.catalog.harvesters import tabular

    rows = [("企业信用修复名单", "市发展改革委")]
    url = serve(httpserver, "/list.csv", csv(rows), "text/csv")
    source = services.create_source("list", "tabular", url)
    harvest(source)
    called = []
    monkeypatch.setattr(tabular.RowMapper, "titles", lambda *a: called.append(a) or [])
    run = harvest(source)
    assert counts(run) == (0, 0, 0) and not called
    assert "carried_over" not in run.mapping_report["identity"]


@pytest.mark.parametrize(
    ("title", "stored", "reason"),
    [
        ("企业信用修复名单（第二版）", "企业信用修复名单", CONTAINS),
        ("企业信用修复名单", "企业信用修复名单（修订版）", CONTAINED),
        ("企业名单（2024年）", "企业名单", CONTAINS),  # a period added to an undated title
        ("全市公共厕所点位分布", "全市公共厕所分布", ADDED),
        ("2024年企业名单", "2023年企业名单", ""),  # another year
        ("企业名单", "企业名单（2023年）", ""),  # the period dropped
        ("企业名单（2023-2024年）", "企业名单（2023年）", ""),  # another period, only added
        ("2023年企业名单（2024年更新）", "2023年企业名单", ""),
        ("2024年3月企业名单", "2024年2月企业名单", ""),  # another month
        ("企业名单上半年", "企业名单下半年", ""),
        ("市级中学名录", "市级小学名录", ""),  # a replaced character
        ("学校名单", "名单", ""),  # too short to be contained (2 characters)
        ("企业信用修复名单及其法定代表人与修复日期", "企业信用修复", CONTAINS),
        ("企业法人与修复名单", "企业信用修复名单", ""),  # removals and additions
        ("Enterprise List", "enterprise list", ""),  # equal folded: not this round's
    ],
)
def test_rename_rule(title, stored, reason):
    assert renamed(title, stored) == reason


def test_pairing_is_one_to_one_within_a_publisher():
    rows = {0: ("企业名单（第二版）", "市发改委"), 1: ("学校名录（第二版）", "市 发改委"),
            2: ("医院名录（新）", "市卫健委"), 3: ("医院名录（旧）", "市卫健委")}  # fmt: skip
    stored = {10: ("企业名单", "市发改委"), 11: ("学校名录", "市发改委"), 12: ("医院名录", "市卫健委"),
              13: ("企业名单", "市信用办")}  # fmt: skip
    assert pair_renamed(rows, stored) == {0: (10, CONTAINS), 1: (11, CONTAINS)}


def test_a_wholesale_retitling_is_not_guessed(monkeypatch):
    from subscribe.catalog.harvesters import tabular_rename

    rows = {0: ("企业名单（第二版）", "市发改委"), 1: ("学校名录（第二版）", "市发改委")}
    stored = {10: ("企业名单", "市发改委"), 11: ("学校名录", "市发改委")}
    assert len(pair_renamed(rows, stored)) == 2
    monkeypatch.setattr(tabular_rename, "MAX_COMPARISONS", 3)  # 2 × 2 pairs: too many
    assert pair_renamed(rows, stored) == {}
