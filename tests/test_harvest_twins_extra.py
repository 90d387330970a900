"""A third row sharing a twin's id keeps the source's datasets (black-box run bb9 F5c,
file in tests/data/twins-extra-bb9, see SOURCE.md).

A006 公交站点 twice (西山区/五华区) in a 13-row export identified by 目录编号. A third A006
row (官渡区) puts one value on 3 of 14 rows, so the id column is rejected and rows are
identified by title and publisher: every identity changes. Carrying the stored
identities over paired the 11 plain rows by title and publisher but not the twins (three
rows, two stored datasets, one title and publisher: ambiguous), so both stored twins
were deleted and three created; removing the row again gave five events more. The twins
pair by what told them apart (所属区县), so only the new row is created, then deleted.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from tests.test_harvest_bad_row_keeps import events_since, execute, last_event_id, serve_csv
from tests.test_harvest_twins_kept import twins

BASE = (Path(__file__).resolve().parent / "data" / "twins-extra-bb9" / "cat.csv").read_text("utf-8")
THIRD = "A006,公交站点,市交通局,官渡区,2026-01-01,第三个双胞胎\n"


def others() -> dict[str, tuple[int, str, int]]:
    """Title -> (dataset id, identifier, version) of the other active datasets."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Dataset.title, Dataset.id, Dataset.identifier, Dataset.version).where(
            Dataset.title != "公交站点", Dataset.deleted_at.is_(None)
        )
    ).all()
    return {title: (id_, identifier, version) for title, id_, identifier, version in rows}


@pytest.mark.parametrize("where", ["end", "between"])
def test_a_third_twin_row_creates_only_itself_and_its_removal_deletes_only_it(
    app, httpserver, where
):
    source = services.create_source("bb9", "tabular", serve_csv(httpserver, BASE))
    first = execute(source)
    assert (first.status, first.created) == ("succeeded", 13)
    stored, rest = twins(), others()
    assert set(stored) == {"西山区", "五华区"}
    assert all(identifier.startswith("A006#") for _, identifier in stored.values())
    before = last_event_id()

    wuhua = "A006,公交站点,市交通局,五华区,2026-01-01,常规描述\n"
    extra = BASE + THIRD if where == "end" else BASE.replace(wuhua, THIRD + wuhua)
    serve_csv(httpserver, extra)
    run = execute(source)
    assert run.mapping_report["identity"]["method"] == "hash"  # 目录编号 rejected
    assert (run.created, run.updated, run.deleted, run.bad) == (1, 0, 0, 0)
    now = twins()
    assert {k: v for k, v in now.items() if k != "官渡区"} == stored
    assert set(now) == {"西山区", "五华区", "官渡区"}
    assert others() == rest
    assert events_since(before) == [("dataset.created", now["官渡区"][1])]

    serve_csv(httpserver, BASE)
    back = execute(source)
    assert (back.created, back.updated, back.deleted, back.bad) == (0, 0, 1, 0)
    assert twins() == stored
    assert others() == rest
    assert sorted(events_since(before)) == sorted(
        [("dataset.created", now["官渡区"][1]), ("dataset.deleted", now["官渡区"][1])]
    )
