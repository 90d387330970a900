"""Long CSV cells and unreadable rows below the header are never lost silently.

Found beside black-box run 5's M1 (a 200,000-character title): Python's csv refuses a
field over 131,072 characters by default, and a row it could not read was passed over
unreported when the file had fewer rows than the header search reads (23 rows gave 22
created, 0 bad). A long cell now reads; a cell past
tabular_read.CSV_FIELD_LIMIT makes its row a counted bad record.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.harvesters.tabular_read import CSV_FIELD_LIMIT
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from tests.search_helpers import serve

HEADER = "资源名称,资源摘要,数源单位\n"


def harvest(httpserver, body: str):
    url = serve(httpserver, "/export.csv", body.encode("utf-8"), "text/csv")
    run = services.queue_harvest(services.create_source("long", "tabular", url))
    assert claim_run(run.id)
    return execute_run(run)


def rows(count: int, long_at: int, length: int) -> str:
    lines = [HEADER]
    for n in range(count):
        summary = "长" * length if n == long_at else f"摘要{n}"
        lines.append(f"数据集{n},{summary},示例局\n")
    return "".join(lines)


@pytest.mark.parametrize("count", [5, 23, 80])  # fewer and more rows than the header search
def test_a_cell_past_the_default_csv_limit_is_read(app, httpserver, count):
    run = harvest(httpserver, rows(count, long_at=2, length=200_000))
    assert (run.status, run.created, run.bad) == ("succeeded", count, 0), run.errors
    description = db.session.scalar(select(Dataset.description).where(Dataset.title == "数据集2"))
    assert description == "长" * 200_000  # read whole: descriptions are not cut


@pytest.mark.parametrize("count", [5, 23, 80])
def test_a_row_that_cannot_be_read_is_a_counted_bad_record(app, httpserver, count):
    run = harvest(httpserver, rows(count, long_at=2, length=CSV_FIELD_LIMIT + 10))
    assert (run.status, run.created, run.bad) == ("succeeded", count - 1, 1)
    [error] = run.errors
    assert error["reference"] == "row 4"  # header on row 1; the third record
    assert "field larger than field limit" in error["reason"]
    titles = set(db.session.scalars(select(Dataset.title)))
    assert "数据集2" not in titles and "数据集1" in titles and "数据集3" in titles
