"""FastSegmentWriter writes the same index as Whoosh's own SegmentWriter."""

from __future__ import annotations

import multiprocessing
import os
import re
from pathlib import Path

from whoosh import index, multiproc
from whoosh.writing import SegmentWriter

from subscribe.search import fastwrite
from subscribe.search.fastwrite import FastSegmentWriter
from subscribe.search.indexer import body_text
from subscribe.search.store import make_schema

DOCUMENTS = [
    ("云台县公交线路站点信息", "公交站点 实时 数据，每日更新。", ["公交", "交通"], "云台县交通运输局"),
    ("空氣質量監測數據", "全市空氣質量日報 PM2.5 ＰＭ１０ covid-19", ["空气质量"], "生态环境局"),
    ("Air Quality Index (AQI) data", "Hourly readings of the air quality. C++ and C# parsers.",
     [], "Environment Agency"),
    ("", "", [], ""),
    ("数据数据数据 统计 统计", "的 的 和 与 GB/T 2260-2007 行政区划代码", ["统计"], "统计局"),
    ("臺灣地區空氣品質監測資料", "軟體、網路與計程車資料。捷運站", ["空氣品質"], "環境部"),  # regional.py
    ("医疗机构名录_2023", "医疗机构\n名录\t（含 社区卫生服务中心）", ["医疗", "名录"], "卫生健康委员会"),
]  # fmt: skip


def build(folder, writer_class, documents=DOCUMENTS):
    ix = index.create_in(folder, make_schema())
    writer = writer_class(ix, compound=False)
    for number, (title, description, keywords, publisher) in enumerate(documents, 1):
        body = body_text(description, keywords, publisher, [])
        writer.add_document(id=number, title=title, body=body, grams=title)
    writer.commit()
    reader = ix.reader()
    try:
        return contents(reader)
    finally:
        reader.close()


def contents(reader) -> dict:
    found = {}
    for field in ("title", "body", "grams"):
        terms = [t for f, t in reader.all_terms() if f == field]
        found[field] = {term: list(reader.postings(field, term).all_items()) for term in terms}
        found[field + ":weights"] = {
            term: [w for _, w in reader.postings(field, term).items_as("weight")] for term in terms
        }
        found[field + ":lengths"] = [
            reader.doc_field_length(n, field) for n in range(reader.doc_count_all())
        ]
        found[field + ":total"] = reader.field_length(field)
        found[field + ":min,max"] = (reader.min_field_length(field), reader.max_field_length(field))
    found["id"] = list(reader.column_reader("id"))
    return found


def segment_files(folder: Path) -> dict[str, bytes]:
    """Every segment file's bytes by its name without the random segment id."""
    return {
        re.sub(r"^MAIN_[a-z0-9]+", "", path.name): path.read_bytes()
        for path in folder.iterdir()
        if path.name.startswith("MAIN_") and path.name != "MAIN_WRITELOCK"
    }


def test_the_fast_writer_writes_the_same_postings_lengths_and_columns(tmp_path):
    (tmp_path / "whoosh").mkdir()
    (tmp_path / "fast").mkdir()
    expected = build(tmp_path / "whoosh", SegmentWriter)
    actual = build(tmp_path / "fast", FastSegmentWriter)
    assert expected["body"] and expected["grams"]  # something was indexed
    assert actual == expected


def test_long_posting_lists_are_cut_into_the_same_blocks(tmp_path):
    """More documents than a block holds (Whoosh's blocklimit is 128): several blocks per term."""
    (tmp_path / "whoosh").mkdir()
    (tmp_path / "fast").mkdir()
    expected = build(tmp_path / "whoosh", SegmentWriter, DOCUMENTS * 300)
    actual = build(tmp_path / "fast", FastSegmentWriter, DOCUMENTS * 300)
    assert len(expected["body"]["统计".encode()]) > 2 * 128
    assert actual == expected
    # Block statistics (max weight, min/max length) too: the files are byte for byte equal.
    expected_files = segment_files(tmp_path / "whoosh")
    assert {".pst", ".trm", "._body_len.col", "._grams_len.col"} <= set(expected_files)
    assert segment_files(tmp_path / "fast") == expected_files


def _spilling(ix, **kwargs):
    """A fast writer whose pool spills to disk every few documents."""
    writer = FastSegmentWriter(ix, **kwargs)
    writer.pool.limit = 20_000  # bytes: a few documents' postings
    return writer


def test_a_pool_that_spills_to_disk_writes_the_same_files(tmp_path):
    """Postings grouped in memory, then spilled as Whoosh's sorted runs: same bytes."""
    (tmp_path / "whoosh").mkdir()
    (tmp_path / "fast").mkdir()
    expected = build(tmp_path / "whoosh", SegmentWriter, DOCUMENTS * 40)
    actual = build(tmp_path / "fast", _spilling, DOCUMENTS * 40)
    assert actual == expected
    assert segment_files(tmp_path / "fast") == segment_files(tmp_path / "whoosh")


def test_a_commit_that_merges_segments_writes_the_same_files(tmp_path):
    """A merge adds the old segments' postings to the pool item by item (Whoosh's way)
    beside the new documents' grouped ones: the merged segment is still Whoosh's."""
    for name, writer_class in (("whoosh", SegmentWriter), ("fast", FastSegmentWriter)):
        folder = tmp_path / name
        folder.mkdir()
        ix = index.create_in(folder, make_schema())
        for round_ in range(3):
            writer = writer_class(ix, compound=False)
            for number, (title, description, keywords, publisher) in enumerate(DOCUMENTS, 1):
                body = body_text(description, keywords, publisher, [])
                writer.add_document(id=round_ * 100 + number, title=title, body=body, grams=title)
            writer.commit(optimize=round_ == 2)
    readers = [index.open_dir(tmp_path / name).reader() for name in ("whoosh", "fast")]
    try:
        assert [len(reader.leaf_readers()) for reader in readers] == [1, 1]
        assert contents(readers[1]) == contents(readers[0])
    finally:
        for reader in readers:
            reader.close()
    assert segment_files(tmp_path / "fast") == segment_files(tmp_path / "whoosh")


def _report_priority(queue) -> None:
    queue.put(os.nice(0))


def test_segment_writer_processes_run_below_the_harvest():
    """Whoosh's segment writer processes (SubWriterTask.run) start by lowering their
    priority by SEGMENT_WRITER_NICE, so a harvest beside them gets the cores first."""
    assert multiproc.SubWriterTask.run.__wrapped__ is not None
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    task = context.Process(target=fastwrite._niced(lambda _self: _report_priority(queue)),
                           args=(None,))  # fmt: skip
    task.start()
    task.join(30)
    assert queue.get(timeout=5) == min(19, os.nice(0) + fastwrite.SEGMENT_WRITER_NICE)
