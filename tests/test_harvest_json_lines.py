"""JSON Lines with a broken line: the line is one bad record, the others harvest.

Black-box run 5, finding H3 (files in tests/data/json-lines-bb5, see SOURCE.md): a
tabular export of three good lines and ``{broken json line`` failed whole ("not valid
JSON", created 0), and so did a ``ckanapi dump`` with one broken line ("neither JSON
nor JSON lines"). A broken single JSON document still fails: nothing in it is readable.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.harvesters.json_lines import SAMPLE_LINES, is_json_lines, read_lines
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from tests.search_helpers import serve

BB5 = Path(__file__).resolve().parent / "data" / "json-lines-bb5"
NDJSON = "application/x-ndjson"


def execute(source):
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    return execute_run(run)


# --- the rule: JSON Lines or one JSON document ----------------------------------------

PRETTY = json.dumps({"data": [{"title": "a"}, {"title": "b"}]}, indent=2)
ONE_A_LINE = '[\n{"title": "a"},\n{"title": "b"},\n{"title": "c"}\n]\n'  # an array
JSONL = '{"title": "a"}\n{"title": "b"}\n{broken\n{"title": "c"}\n'


@pytest.mark.parametrize(
    ("text", "named", "expected"),
    [
        (JSONL, False, True),  # 3 of 4 lines are objects: most
        ('{"title": "a"}\n{not json\n{"title": "c"}\n', False, True),  # 2 of 3
        ('{"title": "a"}\n\n\n{"title": "b"}\n', False, True),  # blank lines not counted
        ('{"title": "a"}\n{broken\n', False, False),  # 1 of 2 is not most
        (PRETTY, False, False),  # fragments: {, "data": [, "title": "a"
        (PRETTY[:-5], False, False),  # the same, cut: a broken document
        (ONE_A_LINE, False, False),  # every line but the last ends in a comma
        ('[{"title": "a"}, {"title": "b"}]', True, False),  # one line, not an object
        ('{"data": [{"title": "a"}]}', False, False),  # one object line: a document…
        ('{"title": "a"}\n', True, True),  # …unless its name says .jsonl
        ("", True, False),
    ],
)
def test_json_lines_is_told_from_a_json_document_by_its_lines(text, named, expected):
    assert is_json_lines(io.StringIO(text), named)[0] is expected


def test_the_rule_reads_the_first_lines_only():
    """A JSON Lines file whose broken lines all come after the sample is still one."""
    good = '{"title": "a"}\n' * SAMPLE_LINES
    text = io.StringIO(good + "{broken\n" * (SAMPLE_LINES * 3))
    assert is_json_lines(text)[0] is True
    assert text.tell() == len(good)  # not read past the sample


def test_each_line_is_read_with_its_number():
    read = list(read_lines(io.StringIO(JSONL)))
    assert [n for n, _ in read] == [1, 2, 3, 4]
    assert read[0][1] == {"title": "a"}
    assert isinstance(read[2][1], ValueError)
    assert str(read[2][1]).startswith("not valid JSON: Expecting property name")


@pytest.mark.parametrize(
    "line, reason",
    [('{"title": "a", "note": "cut', "Unterminated string starting at column 24"),
     ('{"title": "a",}', "Expecting property name enclosed in double quotes at column 15"),
     ('{"title" "a"}', "Expecting ':' delimiter at column 10")],
)  # fmt: skip
def test_a_bad_line_says_why_once(line, reason):
    """bb6: "Unterminated string starting at at column 23": the decoder's message for an
    open string ends in "at" (its own text goes on ": line 1 column 23")."""
    [(_, error)] = list(read_lines(io.StringIO(line)))
    assert str(error) == f"not valid JSON: {reason}"


# --- tabular ------------------------------------------------------------------------


def test_a_tabular_json_lines_export_keeps_its_good_lines(app, httpserver):
    """bb5 H3: three datasets and line 4 a bad record, as the file without it gives."""
    url = serve(httpserver, "/catalog.jsonl", (BB5 / "catalog.jsonl").read_bytes(), NDJSON)
    run = execute(services.create_source("jsonl", "tabular", url))
    assert (run.status, run.created, run.bad) == ("succeeded", 3, 1), run.error
    [error] = run.errors
    assert error["reference"] == "line 4"
    assert "not valid JSON" in error["reason"]

    ok = serve(httpserver, "/ok.jsonl", (BB5 / "catalog_ok.jsonl").read_bytes(), NDJSON)
    clean = execute(services.create_source("jsonl-ok", "tabular", ok))
    assert (clean.status, clean.created, clean.bad) == ("succeeded", 3, 0)
    assert (
        titles(run.source_id)
        == titles(clean.source_id)
        == {"道路桥梁名录", "停车场信息", "旅馆业信息"}
    )


def titles(source_id: int) -> set[str]:
    return set(db.session.scalars(select(Dataset.title).where(Dataset.source_id == source_id)))


def test_a_broken_json_document_fails_the_tabular_harvest_saying_why(app, httpserver):
    """Pretty-printed, cut short: not JSON Lines, and nothing in it can be read."""
    body = json.dumps([{"目录名称": "公交站点"}, {"目录名称": "空气质量"}], indent=2)
    url = serve(httpserver, "/catalog.json", body[:-8].encode(), "application/json")
    run = execute(services.create_source("cut", "tabular", url))
    assert run.status == "failed" and run.created == 0
    assert run.error.startswith("not valid JSON")


def test_a_json_lines_file_mostly_broken_is_read_as_a_document_and_says_so(app, httpserver):
    body = '{"目录名称": "公交站点"}\n{"目录名称": \n'.encode()
    url = serve(httpserver, "/catalog.json", body, "application/json")
    run = execute(services.create_source("half", "tabular", url))
    assert run.status == "failed"
    assert "1 of the first 2 lines are JSON objects" in run.error


def write_lines(path: Path, count: int) -> int:
    """``count`` record lines of ~1.9 kB and one broken line; the file's size in bytes."""
    with path.open("w") as file:
        for n in range(count):
            record = {"目录名称": f"数据集 {n}", "提供单位": f"单位 {n % 50}",
                      "描述": "说明" * 300, "编号": f"ID-{n}"}  # fmt: skip
            file.write(json.dumps(record, ensure_ascii=False) + "\n")
        file.write("{broken\n")
    return path.stat().st_size


def peak_harvesting(url: str, warm_up: str) -> tuple[int, int, int]:
    """(records, bad records, peak traced bytes) of a raw tabular harvest of ``url``,
    in a fresh interpreter after a warm-up harvest (imports and caches not counted)."""
    script = f"""
import tracemalloc
from subscribe.catalog.harvesters import tabular
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.catalog.records import BadRecord
from subscribe.notify.ssrf import OutboundPolicy
LOOPBACK = OutboundPolicy("127.0.0.1")
warm_up = HarvestContext(url={warm_up!r}, session=make_session(LOOPBACK, retries=0), timeout=30)
assert sum(1 for _ in tabular.harvest(warm_up)) == 4
tracemalloc.start()
count = bad = 0
ctx = HarvestContext(url={url!r}, session=make_session(LOOPBACK, retries=0), timeout=30)
ctx.raw_rows = True
for record in tabular.harvest(ctx):
    count += 1
    bad += isinstance(record, BadRecord)
print(count, bad, tracemalloc.get_traced_memory()[1])
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    count, bad, peak = map(int, result.stdout.split())
    return count, bad, peak


def test_a_json_lines_export_is_streamed(httpserver, tmp_path):
    """Memory flat in file size: the lines are read one at a time at each pass; what is
    kept is a few hashes a line and the first VALUE_SAMPLE lines' cells (the value
    tests), beside buffers of a fixed size. A file 3 times longer (~6 to ~17 MB) peaks
    less than a tenth of the added bytes higher (read whole: more than all of them)."""
    warm_up = serve(httpserver, "/small.jsonl", (BB5 / "catalog.jsonl").read_bytes(), NDJSON)
    peaks, sizes = [], []
    for count in (3_000, 9_000):
        path = tmp_path / f"{count}.jsonl"
        sizes.append(write_lines(path, count))
        url = serve(httpserver, f"/{count}.jsonl", path.read_bytes(), NDJSON)
        records, bad, peak = peak_harvesting(url, warm_up)
        assert (records, bad) == (count + 1, 1)
        peaks.append(peak)
    assert peaks[1] - peaks[0] < (sizes[1] - sizes[0]) / 10, f"peaks {peaks}, sizes {sizes}"


# --- CKAN dump ----------------------------------------------------------------------


def test_a_ckan_dump_keeps_its_good_lines(app, httpserver):
    """bb5 H3: two packages and line 2 a bad record."""
    body = (BB5 / "ckan_dump_broken.jsonl").read_bytes()
    url = serve(httpserver, "/dump.jsonl", body, NDJSON)
    run = execute(services.create_source("dump", "ckan", url))
    assert (run.status, run.created, run.bad) == ("succeeded", 2, 1), run.error
    [error] = run.errors
    assert error["reference"] == f"line 2 of {url}"
    assert "not valid JSON" in error["reason"]


def test_a_broken_ckan_json_document_fails_saying_where(app, httpserver):
    packages = [{"id": "c1", "name": "ok1", "title": "一"}, {"id": "c2", "name": "ok2"}]
    body = json.dumps({"success": True, "result": packages}, indent=2)[:-10]
    url = serve(httpserver, "/search.json", body.encode(), "application/json")
    run = execute(services.create_source("cut", "ckan", url))
    assert run.status == "failed" and run.created == 0
    assert run.error.startswith(f"{url} is not valid JSON:") and "line" in run.error
