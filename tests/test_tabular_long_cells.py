"""Long CSV cells and unreadable rows below the header are never lost silently.

Found beside black-box run 5's M1 (a 200,000-character title): Python's csv refuses a
field over 131,072 characters by default, and a row it could not read was passed over
unreported when the file had fewer rows than the header search reads (23 rows gave 22
created, 0 bad). A long cell now reads; a cell past
subscribe.csvfield.CSV_FIELD_LIMIT makes its row a counted bad record.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.models import Dataset
from subscribe.csvfield import CSV_FIELD_LIMIT
from subscribe.extensions import db
from tests.conftest import DATA
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


def titles_and_descriptions() -> dict[str, str]:
    return dict(db.session.execute(select(Dataset.title, Dataset.description)).all())


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
@pytest.mark.parametrize("after", [1, 30])  # rows swallowed: within and past the header search
def test_an_unclosed_quote_is_a_bad_row_and_the_rows_after_it_are_their_own(
    app, httpserver, ending, after
):
    """bb6 longcell.csv: '坏行数据集,测试局,"未闭合引号\\x00,每年' swallowed the next row into
    its description (3 datasets, 0 bad). The broken row is a counted bad record; the rows
    it swallowed are datasets."""
    header = "数据名称,提供单位,数据描述,更新频率"
    lines = [header, "普通数据集,测试局,短描述,每年", '坏行数据集,测试局,"未闭合引号\x00,每年']
    lines += [f"第{n}个数据集,测试局,正常,每月" for n in range(after)]
    run = harvest(httpserver, ending.join(lines) + ending)
    assert (run.status, run.created, run.bad) == ("succeeded", 1 + after, 1), run.errors
    assert [(e["reference"], "unclosed quote" in e["reason"]) for e in run.errors] == [
        ("row 3", True)
    ]
    stored = titles_and_descriptions()
    assert "坏行数据集" not in stored
    assert all(stored[f"第{n}个数据集"] == "正常" for n in range(after))


def test_quoted_cells_over_several_lines_stay_whole(app, httpserver):
    """Real exports hold descriptions over several lines, some with commas, even a line
    that would read as a whole row: a closed quote keeps its row full width, never split."""
    header = "数据名称,提供单位,数据描述,更新频率"
    body = "\n".join([
        header,
        '多行数据集,测试局,"第一行\n第二行，含逗号, 和英文逗号\n",每月',
        '像一行的描述,测试局,"字段说明：\n名称,单位,描述,频率\n见附件",每年',
        '末列多行,测试局,摘要,"每月\n（月初）"',
        "最后一个,测试局,正常,每日",
    ]) + "\n"  # fmt: skip
    run = harvest(httpserver, body)
    assert (run.status, run.created, run.bad) == ("succeeded", 4, 0), run.errors
    stored = titles_and_descriptions()
    assert stored["多行数据集"].startswith("第一行\n第二行，含逗号, 和英文逗号")
    assert stored["像一行的描述"] == "字段说明：\n名称,单位,描述,频率\n见附件"
    assert stored["最后一个"] == "正常"


def test_an_unclosed_quote_opening_the_last_column_is_a_bad_row_too(app, httpserver):
    """The quote opens the LAST column (tests/data/unclosed-quote): the row keeps the
    header's width, which the rule for a row ending short missed, and the three rows it
    swallowed were one dataset's 更新频率 (4 datasets, 0 bad). The broken row is a bad
    record that says the line it starts on; the swallowed rows are datasets; the closed
    multi-line cells in the same column (one with a line that reads as a whole row)
    stay whole."""
    body = (DATA / "unclosed-quote" / "last_column.csv").read_text(encoding="utf-8")
    run = harvest(httpserver, body)
    assert (run.status, run.created, run.bad) == ("succeeded", 6, 1), run.errors
    [error] = run.errors
    assert error["reference"] == "row 5" and "unclosed quote" in error["reason"]
    assert "starts on line 8" in error["reason"]  # rows 3 and 4 take two and three lines
    stored = dict(db.session.execute(select(Dataset.title, Dataset.frequency_raw)).all())
    assert set(stored) == {"普通数据集", "末列多行", "末列像行", "第1个数据集", "第2个数据集",
                           "第3个数据集"}  # fmt: skip
    assert stored["末列像行"].startswith("说明：") and stored["末列像行"].endswith("见附件")
    assert titles_and_descriptions()["第2个数据集"] == "正常，含全角逗号"
