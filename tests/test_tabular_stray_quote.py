"""A quote never closed is a bad record even when a LATER quote "closes" it.

Black-box run 7 (tests/data/unclosed-quote/q_*.csv): Python's csv, not strict, reads
`"abc"def` as one cell, so a quote left open at one row ran on until the next quoted
cell (`"药店,分布"` three rows down) took its opening quote as the closing one: the rows
between were one dataset's title or 开放类型 (q_midq: 3 datasets, 0 bad), two such quotes
swallowed a row each (q_two), and a quote left open on the file's last line was read
as a good row (q_eof). Each broken row is now one bad record that names its line, and
the rows it swallowed are read again as datasets, whatever the encoding or line ending.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from tests.conftest import DATA
from tests.search_helpers import serve

FILES = DATA / "unclosed-quote"
ALL = {"Q001": "公交站点", "Q002": "停车场信息", "Q003": "医疗机构名录", "Q004": "药店分布",
       "Q005": "幼儿园名录"}  # fmt: skip


def harvest(httpserver, body: bytes):
    url = serve(httpserver, "/export.csv", body, "text/csv")
    run = services.queue_harvest(services.create_source("quotes", "tabular", url))
    assert claim_run(run.id)
    return execute_run(run)


def stored() -> dict[str, tuple[str, str | None, str | None]]:
    rows = db.session.execute(
        select(Dataset.title, Dataset.description, Dataset.open_type_raw)
    ).all()
    return {title: (title, description, open_type) for title, description, open_type in rows}


# file → (the titles of the rows that are datasets, [(bad row, the line it starts on)])
CASES = {
    "q_midq.csv": (["公交站点", "医疗机构名录", "药店,分布", "幼儿园名录"], [(3, 3)]),
    "q_lastq.csv": (["公交站点", "医疗机构名录", "药店分布", "幼儿园名录"], [(3, 3)]),
    "q_two.csv": (["停车场信息", "药店分布"], [(2, 2), (4, 4)]),
    "q_eof.csv": (["公交站点"], [(3, 3)]),
    "q_mid.csv": (["公交站点", "医疗机构名录", "药店分布"], [(3, 3)]),
    "q_last.csv": (["公交站点", "医疗机构名录", "药店分布"], [(3, 3)]),
    # a closed two-line cell first: the broken row starts on line 4
    "q_ml.csv": (["公交站点", "医疗机构名录", "药店分布"], [(3, 4)]),
    "q_crlf.csv": (["公交站点", "医疗机构名录", "药店分布"], [(3, 4)]),  # BOM, CRLF
    "q_gbk.csv": (["公交站点", "医疗机构名录", "药店分布"], [(3, 4)]),  # GBK, CRLF
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_quote_never_closed_is_one_bad_record_and_the_rows_it_took_are_read(
    app, httpserver, name
):
    titles, bad = CASES[name]
    run = harvest(httpserver, (FILES / name).read_bytes())
    assert (run.status, run.created, run.bad) == ("succeeded", len(titles), len(bad)), run.errors
    assert [(e["reference"], "unclosed quote" in e["reason"]) for e in run.errors] == [
        (f"row {row}", True) for row, _ in bad
    ]
    for error, (_, line) in zip(run.errors, bad, strict=True):
        assert f"starts on line {line}" in error["reason"], error
    datasets = stored()
    assert sorted(datasets) == sorted(titles)  # every title exact: nothing run together
    for title, _, open_type in datasets.values():
        assert open_type == "无条件开放", (title, open_type)  # no row run into it


def test_the_quoted_cell_that_closed_the_runaway_quote_is_read_whole(app, httpserver):
    run = harvest(httpserver, (FILES / "q_lastq.csv").read_bytes())
    assert run.bad == 1, run.errors
    assert stored()["药店分布"][1] == "说明,含逗号"


DESCRIPTION = (
    "本数据集收录全市公共停车场的基本信息，包括名称、地址、泊位数。\n"
    "字段说明：名称,地址,泊位数,收费标准,开放时间,类型\n"
    '注：""错峰共享""泊位按""次""计费，详见《停车场管理办法》。'
)


@pytest.mark.parametrize("ending", ["\n", "\r\n"])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_closed_quoted_cells_over_several_lines_stay_whole(app, httpserver, ending, encoding):
    """A real description: line breaks, commas (a line that reads as a whole row of the
    header's width), doubled quotes; and quoted cells after it. Nothing is split."""
    lines = [
        "目录编号,数据名称,数据提供方,数据摘要,更新时间,开放类型",
        f'Q001,停车场信息,市交通运输局,"{DESCRIPTION}",2026-01-01,无条件开放',
        'Q002,"药店,分布",市卫生健康委员会,"多行\n说明",2026-01-01,"无条件开放"',
        "Q003,医疗机构名录,市卫生健康委员会,说明,2026-01-01,无条件开放",
    ]
    body = ending.join(line.replace("\n", ending) for line in lines) + ending
    run = harvest(httpserver, body.encode(encoding))
    assert (run.status, run.created, run.bad) == ("succeeded", 3, 0), run.errors
    datasets = stored()
    assert sorted(datasets) == sorted(["停车场信息", "药店,分布", "医疗机构名录"])
    expected = DESCRIPTION.replace('""', '"')
    assert datasets["停车场信息"][1].replace("\r\n", "\n") == expected
    assert datasets["药店,分布"][1].replace("\r\n", "\n") == "多行\n说明"
