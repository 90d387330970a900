"""The tabular export is read from disk in passes (never held whole): what the passes
must agree on — JSON read as a stream, duplicates and identities decided over the file."""

from __future__ import annotations

import codecs
import json

import pytest

from subscribe.catalog.harvesters import tabular
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.catalog.records import BadRecord, DatasetRecord, HarvestError, RawRecord
from tests.catalog_helpers import LOOPBACK


@pytest.fixture
def serve(httpserver):
    def serve(path: str, body: bytes, content_type: str) -> str:
        httpserver.expect_request(path).respond_with_data(body, content_type=content_type)
        return httpserver.url_for(path)

    return serve


def harvest(url: str, raw: bool = False) -> tuple[HarvestContext, list]:
    with make_session(LOOPBACK, retries=0) as session:
        ctx = HarvestContext(url=url, session=session, timeout=5, raw_rows=raw)
        return ctx, list(tabular.harvest(ctx))


def test_invalid_json_fails_the_run_before_any_record(serve):
    body = b'[{"title": "Parks", "publisher": "City"}, {"title": "Roads", '
    url = serve("/catalog.json", body, "application/json")
    with make_session(LOOPBACK, retries=0) as session:
        stream = tabular.harvest(HarvestContext(url=url, session=session, timeout=5))
        with pytest.raises(HarvestError, match="^not valid JSON: "):
            next(stream)


def test_json_in_gb18030_with_records_two_levels_down(serve):
    document = {
        "code": 0,
        "result": {"total": 2, "page": {"n": 1},
                   "records": [{"名称": "公园名录", "部门": "市园林局", "编号": "A1"},
                               {"名称": "道路名录", "部门": "市交通局", "编号": "A2", "格式": "CSV"}]},
    }  # fmt: skip
    url = serve("/list", json.dumps(document, ensure_ascii=False).encode("gb18030"), "text/json")
    ctx, records = harvest(url)
    assert [(r.title, r.publisher, r.identifier, r.formats) for r in records] == [
        ("公园名录", "市园林局", "A1", []),
        ("道路名录", "市交通局", "A2", ["CSV"]),
    ]
    assert ctx.report["rows"] == 2


def test_utf8_bom_json_array_is_read(serve):
    body = codecs.BOM_UTF8 + json.dumps([{"title": "Parks", "publisher": "City"}]).encode()
    _, records = harvest(serve("/c.json", body, "application/json"))
    assert [r.title for r in records] == ["Parks"]


def test_rows_equal_after_cleaning_are_duplicates_and_raw_rows_agree(serve):
    # (ids, not row numbers: 1, 1, 2, 3 would be a running number, and row 6 a
    # duplicate of row 2 apart from it: test_harvest_tabular_row_numbers)
    lines = ["资源名称,提供方,编号", "公园名录,市园林局,P1", "公园名录 , 市园林局,P1",
             "道路名录,市交通局,R2", "", "公园名录,市园林局,P3"]  # fmt: skip
    url = serve("/c.csv", ("\n".join(lines) + "\n").encode(), "text/csv")
    ctx, records = harvest(url)
    _, raw = harvest(url, raw=True)
    bad = [(b.reference, b.reason) for b in records if isinstance(b, BadRecord)]
    assert bad == [("row 3", "exact duplicate of row 2")]
    good = [r for r in records if isinstance(r, DatasetRecord)]
    assert [r.identifier for r in good] == ["P1", "R2", "P3"]
    assert [r.identifier for r in raw if isinstance(r, RawRecord)] == ["P1", "R2", "P3"]
    assert [r.build().title for r in raw if isinstance(r, RawRecord)] == [r.title for r in good]
    assert (ctx.report["rows"], ctx.report["duplicates"]) == (4, 1)
