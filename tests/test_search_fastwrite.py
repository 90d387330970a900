"""FastSegmentWriter writes the same index as Whoosh's own SegmentWriter."""

from __future__ import annotations

import re
from pathlib import Path

from whoosh import index
from whoosh.writing import SegmentWriter

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
