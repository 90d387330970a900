"""Tabular catalog export harvester: one dataset per row of a CSV, XLSX or JSON array.

The source's ``mapping`` (every key optional)::

    {
        "fields": {"title": "数据名称", "publisher": ["部门", "单位"], "identifier": null},
        "id_column": "目录编号",
        "sheet": "Sheet1",
        "encoding": "gbk",
        "delimiter": ","
    }

- ``fields``: target field -> one column name or a list of them (in a row, the first with a
  value wins). It overrides the rules for that field only; ``null`` or ``[]`` switches the
  field off. Targets: title, description, publisher, themes, keywords, formats, open_type,
  frequency, issued, modified, landing_page, license, identifier, download_url,
  contact_point, record_count. An unknown target, an unknown key, or a named column
  missing from the file is a HarvestError.
- ``id_column``: the column that identifies a dataset (shorthand for ``fields.identifier``).
- ``sheet``: the XLSX worksheet; by default the first whose header has a title column.
- ``encoding``: text encoding of a CSV or JSON; by default UTF-8 (BOM or not), else GB18030.
- ``delimiter``: CSV delimiter; by default a comma, or what csv.Sniffer finds when the file
  clearly does not use commas.

Every other column is recognised by rule (tabular_headers: the folded header's words) and
checked against its values (tabular_columns); in a JSON export the object keys are the
columns. The header is the row naming most fields (a title among them) of the first ten
non-blank rows, so sheet titles and merged group-header rows above it are skipped. In an
XLSX, merged cells are filled into every cell they cover, rows that are one merged text
or a "注：" footnote are skipped, and Excel date serials in date columns are dates.

Identity is chosen on evidence from the whole file (tabular_identity). A row without a
title, an exact duplicate of an earlier row, or a row that cannot be read is a BadRecord
referenced "row N" (as a spreadsheet numbers it) or "record N" (JSON). A file that cannot
be read at all, has no title column or has no rows is a HarvestError.

The run's mapping report (``ctx.report``; stored on the harvest run) says which column
became which field and why, which were ignored, and how identity was chosen.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import time
from functools import lru_cache
from pathlib import PurePosixPath
from typing import IO
from urllib.parse import unquote, urljoin, urlsplit
from xml.etree import ElementTree

import openpyxl
import requests
from openpyxl.utils.cell import range_boundaries

from subscribe.catalog.harvesters.base import HarvestContext, RecordStream, fetch
from subscribe.catalog.harvesters.tabular_columns import (
    ColumnPlan,
    Table,
    cell_text,
    check_mapping,
    describe,
    find_header,
    header_score,
    parse_cell_date,
    plan_columns,
)
from subscribe.catalog.harvesters.tabular_identity import Row, assign_identities
from subscribe.catalog.normalize import (
    KNOWN_FORMATS,
    PartialDate,
    clean_text,
    normalize_date,
    normalize_format,
    normalize_frequency,
    normalize_open_type,
    parse_formats,
    split_list,
)
from subscribe.catalog.records import (
    BadRecord,
    DatasetRecord,
    HarvestError,
    RawRecord,
    ResourceRecord,
)
from subscribe.catalog.text import clean_line

CHUNK = 1 << 20
JSON_WRAPPER_KEYS = ("data", "records", "result", "list", "rows", "items", "datasets")
SUFFIX_KINDS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
                ".json": "json"}  # fmt: skip
CONTENT_TYPE_KINDS = (("json", "json"), ("spreadsheetml", "xlsx"), ("csv", "csv"),
                      ("tab-separated", "csv"))  # fmt: skip
# GBK and GB2312 files are valid GB18030, which also decodes the characters they lack.
ENCODING_UPGRADES = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030"}
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}
NOTE_START = re.compile(r"^(?:注|备注|说明|注释|数据来源|资料来源|制表|填报|来源|note|source)\s*[:：]|^[*※]",
                        re.I)  # fmt: skip
# One http(s)/ftp URL with no separator, space, quote or bracket: _urls gives it as is.
_PLAIN_URL = re.compile(r"(?:https?|ftp)://[^\s、，；;|,'\"<>\[\]()]+", re.I)
URL_SPLIT = re.compile(r"[\s、，；;|]+|,(?=\s*(?:[a-z][a-z0-9+.-]*://|/|www\.))", re.I)


def harvest(ctx: HarvestContext) -> RecordStream:
    """Read the whole export, decide columns and identities, then yield the rows in order."""
    mapping = ctx.mapping or {}
    configured = check_mapping(mapping)
    table = _read(ctx, mapping, configured)
    if not table.rows:  # a glitch answering an empty export must not delete the catalog
        raise HarvestError(f"{ctx.url} has a header but no rows")
    plan = plan_columns(table, configured)
    ctx.on_total(len(table.rows))
    results, report = map_rows(table, plan, configured, ctx.url, raw=ctx.raw_rows)
    ctx.report = report
    yield from (item for _, item in results)
    ctx.full_listing = True


def map_rows(
    table: Table, plan: ColumnPlan, configured: dict, base_url: str, raw: bool = False
) -> tuple[list[tuple[str, DatasetRecord | RawRecord | BadRecord]], dict]:
    """Every body row as a record or a bad record (in file order), and the mapping report.

    ``raw``: rows become RawRecords (parsed only if the writer needs them); identity is
    chosen exactly as for records, from the row's clean texts.
    """
    header = [cell_text(name) for name in table.header]
    width = len(header)
    results: list[tuple[str, DatasetRecord | RawRecord | BadRecord]] = []
    rows: list[Row] = []
    first_seen: dict[tuple, str] = {}
    skipped = list(table.skipped)
    for reference, cells in table.rows:
        try:
            if isinstance(cells, Exception):  # the file reader could not split this row
                raise cells
            # clean_text directly for text cells (all of a CSV's): one call less per cell.
            texts = [clean_text(c) if type(c) is str else cell_text(c) for c in cells]
            if note := _note_row(texts, width):
                skipped.append({"reference": reference, "reason": note})
                continue
            record = (
                _RowStub.of(cells, texts, plan.columns)
                if raw
                else _record(cells, texts, plan.columns, base_url)
            )
        except Exception as exc:  # one unreadable row never sinks the harvest
            results.append((reference, BadRecord(f"unreadable row: {exc}", reference)))
            continue
        if record is None:
            titles = " / ".join(header[i] for i in plan.columns.get("title", ()))
            results.append((reference, BadRecord(f"missing title (column {titles} is empty)",
                                                 reference)))  # fmt: skip
            continue
        texts += [""] * (width - len(texts))
        key = tuple(texts[: max(width, len(texts))])
        if key in first_seen:
            reason = f"exact duplicate of {first_seen[key]}"
            results.append((reference, BadRecord(reason, reference)))
            continue
        first_seen[key] = reference
        rows.append(Row(reference, texts, record))
        results.append((reference, record))
    winners = {target: indexes[0] for target, indexes in plan.columns.items()}

    def first_url(row: Row, index: int, target: str) -> str:
        if not row.texts[index]:
            return ""
        if raw and index == winners.get(target):  # as _record reads it
            cell = row.record.cells[index]
            if isinstance(cell, str):
                return _first_url(row.texts[index], base_url)
            return next(iter(_urls(cell, base_url)), "")
        if index == winners.get(target):  # already read for the record
            record = row.record
            return (
                record.landing_page
                if target == "landing_page"
                else (record.resources[0].url if record.resources else "")
            )
        return _first_url(row.texts[index], base_url)

    identity = assign_identities(
        rows, plan.columns, header, explicit=bool(configured.get("identifier")),
        values={"identifier": lambda row, i: row.texts[i],
                "landing_page": lambda row, i: first_url(row, i, "landing_page"),
                "download_url": lambda row, i: first_url(row, i, "download_url")},
    )  # fmt: skip
    if raw:
        prefix = _fingerprint_prefix(header, plan.columns, base_url)
        results = [
            (reference, item if isinstance(item, BadRecord) else item.raw(prefix, plan.columns,
                                                                          base_url, reference))
            for reference, item in results
        ]  # fmt: skip
    bad = [item for _, item in results if isinstance(item, BadRecord)]
    report = {
        "format": table.kind,
        "sheet": table.sheet,
        "header_row": table.header_row,
        "rows": len(table.rows),
        "fields": {target: header[indexes[0]] for target, indexes in plan.columns.items()},
        "columns": plan.report,
        "ignored": [e["column"] for e in plan.report if e["role"] == "ignored"],
        "identity": identity,
        "duplicates": sum(1 for b in bad if b.reason.startswith("exact duplicate")),
        "missing_title": sum(1 for b in bad if b.reason.startswith("missing title")),
        "skipped_rows": skipped[:50],
    }
    return results, report


# Bump when the code that turns a row into a record changes its output (a new field,
# another normalisation): every stored fingerprint then differs once and each row is
# parsed and compared again.
FINGERPRINT_VERSION = "tabular-1"


def _fingerprint_prefix(header: list[str], columns: dict[str, list[int]], base_url: str) -> bytes:
    """What every row's record depends on besides the row: the code version, the header,
    which columns feed which field (the mapping, decided or configured) and the URL that
    relative links resolve against."""
    plan = json.dumps([FINGERPRINT_VERSION, header, columns, base_url], sort_keys=True,
                      ensure_ascii=False)  # fmt: skip
    return hashlib.sha1(plan.encode()).digest()


class _RowStub:
    """What identity needs of a row before it is parsed: the title and publisher as the
    record would hold them, the raw cells; ``identifier`` is set by assign_identities."""

    __slots__ = ("identifier", "title", "publisher", "cells", "texts")

    @classmethod
    def of(cls, cells: list, texts: list[str], columns: dict[str, list[int]]) -> _RowStub | None:
        def text(field: str) -> str:
            for index in columns.get(field, ()):
                if index < len(texts) and texts[index]:
                    return texts[index]
            return ""

        title = clean_line(text("title"))
        if not title:
            return None
        stub = cls()
        stub.identifier, stub.title, stub.publisher = "", title, clean_line(text("publisher"))
        stub.cells, stub.texts = cells, list(texts)
        return stub

    def raw(self, prefix: bytes, columns: dict[str, list[int]], base_url: str,
            reference: str) -> RawRecord:  # fmt: skip
        cells, texts, identifier = self.cells, self.texts, self.identifier
        try:  # a CSV row: all text
            row = "\x1f".join(cells)
        except TypeError:  # XLSX/JSON cells: their type matters too (45078 vs "45078")
            row = "\x00" + "\x1f".join(repr(cell) for cell in cells)
        digest = hashlib.sha1(prefix + row.encode())

        def build() -> DatasetRecord:
            record = _record(cells, texts, columns, base_url)
            record.identifier = identifier
            return record

        return RawRecord(identifier, digest.hexdigest(), build, reference)


def _note_row(texts: list[str], width: int) -> str:
    """Why a body row is a title, note or footnote rather than a dataset ("" if it is one).

    A merged cell spread over the row (filled into every cell) repeats one text across
    the columns; a lone first cell starting 注：/备注/说明/数据来源 is a footnote.
    """
    present = [t for t in texts if t]
    if len(present) >= max(3, width // 2) and len(set(present)) == 1:
        return "one text across the row (a merged title or footnote)"
    if len(present) == 1 and texts[0] and NOTE_START.match(texts[0]):
        return "a note or footnote"
    return ""


# --- reading -------------------------------------------------------------------------


def _read(ctx: HarvestContext, mapping: dict, configured: dict) -> Table:
    # Streamed to a temp file: an export can be large, and XLSX needs a seekable file anyway.
    with tempfile.TemporaryFile() as file:
        response = fetch(ctx, ctx.url, stream=True)
        try:
            with response:
                for chunk in response.iter_content(CHUNK):
                    file.write(chunk)
        except requests.RequestException as exc:
            raise HarvestError(f"could not read {ctx.url}: {exc}") from exc
        file.seek(0)
        head = file.read(2048)
        file.seek(0)
        kind = _detect_kind(ctx.url, response.headers, head)
        reader = {"csv": _read_csv, "xlsx": _read_xlsx, "json": _read_json}[kind]
        table = reader(file, mapping, configured)
        table.kind = kind
        return table


def _detect_kind(url: str, headers, head: bytes) -> str:
    body = head.removeprefix(codecs.BOM_UTF8).lstrip()
    content_type = headers.get("Content-Type", "").lower()
    if body[:1] == b"<":  # portals answer login and error pages with 200, even for ".csv"
        raise HarvestError(
            f"{url} answered an HTML/XML page ({content_type or 'no Content-Type'}), "
            "not a CSV, XLSX or JSON catalog export"
        )
    disposition = re.search(r"filename\*?=(?:[\w-]+'[^']*')?\"?([^\";]+)",
                            headers.get("Content-Disposition", ""))  # fmt: skip
    for name in (urlsplit(url).path, disposition[1] if disposition else ""):
        suffix = PurePosixPath(unquote(name)).suffix.lower()
        if suffix in SUFFIX_KINDS:
            return SUFFIX_KINDS[suffix]
    for marker, kind in CONTENT_TYPE_KINDS:
        if marker in content_type:
            return kind
    if body.startswith(b"PK"):
        return "xlsx"
    if body[:1] in (b"[", b"{"):
        return "json"
    if body.startswith(b"\xd0\xcf\x11\xe0"):
        raise HarvestError(f"{url} is a legacy .xls workbook; export it as XLSX or CSV")
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise HarvestError(f"{url} is a binary file, not a CSV, XLSX or JSON catalog export")
    return "csv"


def _read_csv(file: IO[bytes], mapping: dict, configured: dict) -> Table:
    encoding = _encoding(file, mapping.get("encoding"))
    with io.TextIOWrapper(file, encoding=encoding, errors="replace", newline="") as text:
        delimiter = mapping.get("delimiter")
        delimiter = DELIMITER_NAMES.get(delimiter, delimiter) or _sniff_delimiter(text.read(CHUNK))
        if len(delimiter) != 1:
            raise HarvestError(f"tabular mapping delimiter must be one character: {delimiter!r}")
        text.seek(0)
        return find_header(_csv_rows(csv.reader(text, delimiter=delimiter)), configured)


def _encoding(file: IO[bytes], configured: str | None) -> str:
    if configured:
        try:
            name = codecs.lookup(configured).name
        except LookupError as exc:
            raise HarvestError(f"tabular mapping names unknown encoding {configured!r}") from exc
        return ENCODING_UPGRADES.get(name, name)
    if file.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):  # Excel's "Unicode text"
        file.seek(0)
        return "utf-16"
    file.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := file.read(CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "gb18030"  # the usual encoding of Chinese platforms' exports
    finally:
        file.seek(0)
    return "utf-8-sig"


def _sniff_delimiter(sample: str) -> str:
    lines = [line for line in sample.splitlines() if line.strip()][:20]
    counts = {d: sum(line.count(d) for line in lines) for d in ",\t;|"}
    if counts[","] >= max(counts.values()):
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters="\t;|").delimiter
    except csv.Error:
        return max(counts, key=counts.__getitem__)


def _csv_rows(reader) -> Iterator[tuple[int, list | Exception]]:
    """Number rows as a spreadsheet shows them; a broken row is reported, not fatal."""
    number = 0
    while True:
        number += 1
        try:
            yield number, next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield number, exc


def _read_xlsx(file: IO[bytes], mapping: dict, configured: dict) -> Table:
    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors alike
        raise HarvestError(f"not a readable XLSX workbook: {exc}") from exc
    try:
        wanted = mapping.get("sheet")
        if wanted and wanted not in workbook.sheetnames:
            raise HarvestError(
                f"sheet {wanted!r} not found; sheets: {', '.join(workbook.sheetnames)}"
            )
        sheets = [workbook[wanted]] if wanted else workbook.worksheets
        error = HarvestError("the workbook has no worksheet")
        for sheet in sheets:
            sheet.reset_dimensions()  # exporters often write a wrong <dimension>; read it all
            merged = _merged_ranges(file, getattr(sheet, "_worksheet_path", ""))
            rows = _filled(enumerate(sheet.iter_rows(values_only=True), 1), merged)
            try:
                table = find_header(rows, configured)
            except HarvestError as exc:
                error = HarvestError(f"sheet {sheet.title!r}: {exc}")
                continue
            table.sheet = sheet.title
            return table
        raise error
    finally:
        workbook.close()


def _merged_ranges(file: IO[bytes], sheet_path: str) -> list[tuple[int, int, int, int]]:
    """The sheet's merged cells as (min_row, min_col, max_row, max_col), 1-based.

    openpyxl's read-only mode (flat memory on large workbooks) does not expose them, so
    the <mergeCell ref="B4:B6"/> elements are streamed from the sheet's XML part.
    """
    if not sheet_path:
        return []
    ranges = []
    try:
        with zipfile.ZipFile(file) as archive, archive.open(sheet_path.lstrip("/")) as part:
            for _, element in ElementTree.iterparse(part):
                if element.tag.endswith("}mergeCell") and element.get("ref"):
                    ranges.append(range_boundaries(element.get("ref")))
                element.clear()
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError, ValueError, TypeError):
        return []  # no merges readable: the cells are read as they are
    finally:
        file.seek(0)
    return [(r[1], r[0], r[3], r[2]) for r in ranges if None not in r]


def _filled(rows, merged: list[tuple[int, int, int, int]]):
    """Rows with every merged range's value copied into each cell it covers."""
    if not merged:
        yield from rows
        return
    by_row: dict[int, list[tuple[int, int, int, int]]] = {}
    for box in merged:
        for number in range(box[0], box[2] + 1):
            by_row.setdefault(number, []).append(box)
    top_values: dict[tuple[int, int, int, int], object] = {}
    for number, cells in rows:
        boxes = by_row.get(number)
        if boxes:
            cells = list(cells)
            for box in boxes:
                min_row, min_col, _, max_col = box
                if number == min_row:
                    top_values[box] = cells[min_col - 1] if min_col <= len(cells) else None
                value = top_values.get(box)
                if len(cells) < max_col:
                    cells += [None] * (max_col - len(cells))
                for col in range(min_col, max_col + 1):
                    cells[col - 1] = value
        yield number, cells


def _read_json(file: IO[bytes], mapping: dict, configured: dict) -> Table:
    encoding = _encoding(file, mapping.get("encoding"))
    with io.TextIOWrapper(file, encoding=encoding, errors="replace") as text:
        try:
            document = json.load(text)
        except ValueError as exc:
            raise HarvestError(f"not valid JSON: {exc}") from exc
    items = _json_items(document)
    if not items:
        raise HarvestError("the JSON record array is empty")
    header = list(dict.fromkeys(key for item in items if isinstance(item, dict) for key in item))
    if not header_score(header, configured):
        raise HarvestError(f"no title column found; keys found: {describe(header)}")
    rows = [
        (f"record {n}", [item.get(key) for key in header] if isinstance(item, dict)
         else TypeError(f"not an object: {str(item)[:80]}"))
        for n, item in enumerate(items, 1)
    ]  # fmt: skip
    return Table(header, rows)


def _json_items(document) -> list:
    """The record array: bare, or wrapped up to two levels deep ({"result": {"records": …}})."""
    top_keys = describe(list(document)) if isinstance(document, dict) else type(document).__name__
    for level in range(3):
        if isinstance(document, list):
            return document
        if not isinstance(document, dict) or level == 2:
            break
        keys = {str(key).lower(): key for key in document}
        wrapped = [document[keys[name]] for name in JSON_WRAPPER_KEYS if name in keys]
        arrays = [value for value in wrapped if isinstance(value, list)]
        objects = [value for value in wrapped if isinstance(value, dict)]
        document = arrays[0] if arrays else objects[0] if objects else None
    raise HarvestError(
        f"JSON holds no record array (bare, or under {', '.join(JSON_WRAPPER_KEYS)}); "
        f"top level: {top_keys}"
    )


# --- one row -------------------------------------------------------------------------


# Catalog columns repeat a few values (每月, 无条件开放, CSV、JSON, 市交通局) over thousands of
# rows: normalizing each distinct text once keeps large exports fast. Lists are copied
# out of the cache so no record shares one.
_frequency = lru_cache(4096)(normalize_frequency)
_open_type = lru_cache(4096)(normalize_open_type)
_formats_of_text = lru_cache(4096)(lambda text: tuple(parse_formats(text)))
_list_of_text = lru_cache(8192)(lambda text: tuple(split_list(text)))
_date_of_text = lru_cache(8192)(lambda text: _read_date(text))


def _formats(value) -> list[str]:
    return list(_formats_of_text(value)) if isinstance(value, str) else parse_formats(value)


def _list(value) -> list[str]:
    return list(_list_of_text(value)) if isinstance(value, str) else split_list(value)


def _record(
    cells: list, texts: list[str], columns: dict[str, list[int]], base_url: str
) -> DatasetRecord | None:
    """One row as a record (identifier decided later), or None when it has no title.

    ``texts`` are the cells as clean text (read once per row); the raw cells are used
    where the type matters: dates (Excel dates and serials), lists and numbers.
    """

    def at(field: str) -> int | None:
        for index in columns.get(field, ()):
            if index < len(texts) and texts[index]:  # ragged rows are short
                return index
        return None

    def text(field: str) -> str:
        index = at(field)
        return texts[index] if index is not None else ""

    def raw(field: str):
        index = at(field)
        return cells[index] if index is not None else None

    title = text("title")
    if not title:
        return None
    formats = _formats(raw("formats"))
    frequency, frequency_raw = _frequency(text("frequency"))
    open_type, open_type_raw = _open_type(text("open_type"))
    landing_page = next(iter(_urls(raw("landing_page"), base_url)), "")
    resources = [
        ResourceRecord(url=url, name=_file_name(url) or title, format=_url_format(url, formats))
        for url in _urls(raw("download_url"), base_url)
    ]
    return DatasetRecord(
        identifier="",  # decided over the whole file (tabular_identity)
        title=title,
        description=text("description"),
        publisher=text("publisher"),
        themes=_list(raw("themes")),
        keywords=_list(raw("keywords")),
        formats=formats,
        open_type=open_type,
        open_type_raw=open_type_raw,
        frequency=frequency,
        frequency_raw=frequency_raw,
        issued=_date(raw("issued")),
        modified=_date(raw("modified")),
        landing_page=landing_page,
        license=text("license"),
        resources=resources,
        contact_point=text("contact_point")[:500],
        record_count=_count(raw("record_count")),
    )


def _date(value) -> PartialDate:
    """A date cell with its precision and text ("2019年3月" stays a month); an Excel day
    serial (45078 → 2023-06-01), which only a spreadsheet reader can tell, is a day.
    A text is read once per harvest (a date column repeats its values)."""
    return _date_of_text(value) if isinstance(value, str) else _read_date(value)


def _read_date(value) -> PartialDate:
    found = normalize_date(value)
    if found.value is not None:
        return found
    serial = parse_cell_date(value)
    if serial is None:
        return found
    return PartialDate(serial, "day" if serial.time() == time() else "datetime", found.raw)


_COUNT_TEXT = re.compile(r"(\d[\d,]*(?:\.\d+)?)\s*(万|亿)?")


def _count(value) -> int | None:
    """A record count: 1234, "1,234条", "1.2万" (× 10 000); None when there is no number."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value) if 0 <= value < 2**62 else None
    match = _COUNT_TEXT.search(cell_text(value))
    if not match:
        return None
    number = float(match[1].replace(",", "")) * {"万": 10**4, "亿": 10**8}.get(match[2], 1)
    return int(number) if number < 2**62 else None


def _urls(value, base_url: str) -> list[str]:
    if isinstance(value, list):
        items = [
            item.get("url") or item.get("download_url") or item.get("downloadURL")
            if isinstance(item, dict) else item
            for item in value
        ]  # fmt: skip
        tokens = [t for item in items for t in URL_SPLIT.split(cell_text(item))]
    else:
        text = cell_text(value)
        if _PLAIN_URL.fullmatch(text):  # the usual cell: one URL, nothing to split or strip
            return [text]
        tokens = URL_SPLIT.split(text)
    urls = []
    for token in tokens:
        token = token.strip("'\"<>[]()")
        if token.lower().startswith("www."):
            token = "http://" + token
        if token.startswith("/"):  # relative to the portal that published the export
            token = urljoin(base_url, token)
        if urlsplit(token).scheme in ("http", "https", "ftp") and token not in urls:
            urls.append(token)
    return urls


@lru_cache(4096)
def _first_url(text: str, base_url: str) -> str:
    """The first URL of a cell's text (a column repeating one URL is read once)."""
    return next(iter(_urls(text, base_url)), "")


def _path_name(path: str) -> str:
    """PurePosixPath(path).name without building a path object (one per resource URL)."""
    name = path.rstrip("/").rpartition("/")[2]
    return PurePosixPath(path).name if name == "." else name


def _path_suffix(path: str) -> str:
    """PurePosixPath(path).suffix, the same way: ".csv" of "a.b.csv", "" of ".hidden"."""
    name = _path_name(path)
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def _file_name(url: str) -> str:
    name = unquote(_path_name(urlsplit(url).path))
    return name if "." in name else ""


def _url_format(url: str, formats: list[str]) -> str:
    suffix = normalize_format(_path_suffix(urlsplit(url).path))
    if suffix in KNOWN_FORMATS:
        return suffix
    return formats[0] if len(formats) == 1 else ""  # several formats: which one is unknown
