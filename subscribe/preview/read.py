"""Reading a fetched file as a table: what kind it is, its encoding, its first rows.

No network and no database here. Every reader streams from a file on disk and stops
after `max_rows` data rows, so memory holds those rows and one buffer, never the file:
CSV through the csv module over a decoded text stream, XLSX through openpyxl's
read-only mode (rows streamed from the sheet XML), JSON through ijson (one record at a
time); a legacy XLS through xlrd, which reads the whole (capped) file. A file that is no table raises PreviewProblem with a reason code and a detail.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

import ijson
from charset_normalizer import from_bytes

from subscribe import (
    csvfield,  # noqa: F401 (sets csv's field limit, as the harvest has it)
    xls,
)

SNIFF_BYTES = 64 * 1024
_HTML = re.compile(rb"^\s*(?:<!doctype\s+html|<html|<head|<body|<!--|<script|<meta)", re.I)
_ZIP = b"PK\x03\x04"
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls, .doc
_MAGIC = {  # other binary files people link as "data"
    b"%PDF": "PDF",
    b"\x89PNG": "PNG image",
    b"\xff\xd8\xff": "JPEG image",
    b"GIF8": "GIF image",
    b"\x1f\x8b": "gzip archive",
    b"Rar!": "RAR archive",
    b"7z\xbc\xaf": "7z archive",
    b"PAR1": "Parquet file",
}
NULLS = frozenset({"", "null", "none", "nan", "n/a", "na", "-", "--", "—", "/", "\\n"})


_replaced = threading.local()
_COUNT_REPLACED = "subscribe-preview-replace"


def _count_replaced(error: UnicodeDecodeError) -> tuple[str, int]:
    """errors="replace" that also counts, per thread, the bytes it replaced."""
    _replaced.count = getattr(_replaced, "count", 0) + (error.end - error.start)
    return "\ufffd", error.end


codecs.register_error(_COUNT_REPLACED, _count_replaced)


class PreviewProblem(Exception):
    """Why a file cannot be previewed: `reason` is a stable code, `detail` for people."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class Table:
    kind: str  # csv | xlsx | xls | json
    columns: list[str]
    rows: list[list[str]]  # at most max_rows, every row as long as columns
    encoding: str | None = None
    complete: bool = True  # every row of the file (as fetched) was read
    notes: list[str] = field(default_factory=list)


def cell_text(value) -> str:
    """A spreadsheet or JSON value as the text a CSV would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    if isinstance(value, datetime):
        return value.isoformat(sep=" ") if value.time() != time() else value.date().isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)[:1000]
    return str(value).strip()


def sniff_kind(head: bytes, declared: str, media_type: str) -> str:
    """csv | xlsx | xls | json from the first bytes; PreviewProblem for HTML or binary."""
    if not head.strip():
        raise PreviewProblem("empty", "the file is empty")
    if head.startswith(_ZIP):
        return "xlsx"
    if head.startswith(_OLE2):
        return "xls"  # or another Office file: read_xls says so
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            raise PreviewProblem("binary", f"a {what}, not a table")
    body = head.removeprefix(codecs.BOM_UTF8)
    if _HTML.match(body) or media_type == "text/html":
        raise PreviewProblem(
            "html", "the address answers with a web page (HTML), not the data file"
        )
    if b"\x00" in head[:8192]:
        raise PreviewProblem("binary", "the file holds binary data (NUL bytes), not text")
    first = body.lstrip()[:1]
    if first in (b"[", b"{") and declared.upper() != "CSV":
        return "json"
    if declared.upper() in ("JSON", "API") and first in (b"[", b"{"):
        return "json"
    return "csv"


def detect_encoding(head: bytes) -> str:
    """utf-8 (BOM or not), gbk or gb18030 by strict decoding; otherwise charset-normalizer's
    best guess. PreviewProblem when no encoding reads the first bytes."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for name in ("utf-8", "gbk", "gb18030"):
        try:
            # Not final: the sample may end inside a multi-byte character.
            codecs.getincrementaldecoder(name)().decode(head, final=False)
            return name
        except UnicodeDecodeError:
            continue
    best = from_bytes(head[:SNIFF_BYTES]).best()
    if best is None:
        raise PreviewProblem("bad_encoding", "no text encoding reads this file")
    return best.encoding


def read_csv(path: Path, head: bytes, max_rows: int) -> Table:
    encoding = detect_encoding(head)
    text_head = head.decode(encoding, errors="ignore")
    dialect = _dialect(text_head)
    _replaced.count = 0
    try:
        with open(path, encoding=encoding, errors=_COUNT_REPLACED, newline="") as handle:
            strip = str.strip
            records = (list(map(strip, record)) for record in csv.reader(handle, dialect))
            header, rows, complete = _header_and_rows(records, max_rows)
    except csv.Error as exc:
        raise PreviewProblem("parse_error", f"not a readable CSV: {exc}") from None
    if header is None:
        raise PreviewProblem("empty", "the file has no rows")
    table = Table("csv", header, rows, encoding=encoding.replace("-sig", ""), complete=complete)
    replaced = _replaced.count
    if replaced:
        table.notes.append(f"{replaced} bytes were not {encoding} and were replaced")
    return _rectangular(table)


def _dialect(sample: str) -> type[csv.Dialect] | csv.Dialect:
    lines = sample.splitlines()[:20]
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|")
    except csv.Error:
        return csv.excel


def read_xlsx(path: Path, max_rows: int) -> Table:
    # openpyxl is imported here: it is slow to import and only XLSX files need it.
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    handle = open(path, "rb")  # noqa: SIM115 - closed below; a path would need an .xlsx suffix
    try:
        book = load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError, ValueError,
            TypeError) as exc:  # fmt: skip
        handle.close()
        raise PreviewProblem("parse_error", f"not a readable XLSX workbook: {exc}"[:300]) from None
    try:
        if not book.worksheets:
            raise PreviewProblem("empty", "the workbook has no sheet")
        sheet = book.worksheets[0]
        try:
            cells = ([cell_text(v) for v in values] for values in sheet.iter_rows(values_only=True))
            header, rows, complete = _header_and_rows(cells, max_rows)
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
            raise PreviewProblem("parse_error", f"the sheet cannot be read: {exc}"[:300]) from None
        if header is None:
            raise PreviewProblem("empty", "the first sheet has no rows")
        table = Table("xlsx", header, rows, complete=complete)
        if len(book.worksheets) > 1:
            table.notes.append(f"first of {len(book.worksheets)} sheets: {sheet.title}")
        return _rectangular(table)
    finally:
        book.close()
        handle.close()


def _header_and_rows(cell_rows, max_rows: int) -> tuple[list[str] | None, list[list[str]], bool]:
    """The first non-blank row as the header, then up to `max_rows` non-blank rows, and
    whether that was every row (read lazily: the rest of the file is never read)."""
    header: list[str] | None = None
    rows: list[list[str]] = []
    for cells in cell_rows:
        if not any(cells):
            continue
        if header is None:
            header = cells
        elif len(rows) >= max_rows:
            return header, rows, False
        else:
            rows.append(cells)
    return header, rows, True


def read_xls(path: Path, max_rows: int) -> Table:
    """The first sheet of a legacy .xls (xlrd reads the whole file: callers cap it)."""
    try:
        book = xls.open_xls(path.read_bytes())
    except xls.XlsError as exc:
        raise PreviewProblem(
            "parse_error", f"not a readable XLS workbook (or another Office file): {exc}"[:300]
        ) from None
    try:
        names = book.sheet_names()
        if not names:
            raise PreviewProblem("empty", "the workbook has no sheet")
        sheet = book.sheet_by_index(0)
        cells = ([cell_text(v) for v in xls.row_values(sheet.row(n), book.datemode)]
                 for n in range(sheet.nrows))  # fmt: skip
        header, rows, complete = _header_and_rows(cells, max_rows)
        if header is None:
            raise PreviewProblem("empty", "the first sheet has no rows")
        table = Table("xls", header, rows, complete=complete)
        if len(names) > 1:
            table.notes.append(f"first of {len(names)} sheets: {names[0]}")
        return _rectangular(table)
    finally:
        book.release_resources()


def _records_prefix(path: Path) -> str:
    """Where the records are: the top-level array ("item"), or the first array of
    objects or arrays one level down ({"data": [...]}, CKAN's {"result": {"records": …}})."""
    with open(path, "rb") as handle:
        previous = None
        for prefix, event, _value in ijson.parse(handle):
            if event == "start_array" and prefix.count(".") <= 1:
                return f"{prefix}.item" if prefix else "item"
            if previous is not None and previous.count(".") > 2:
                break
            previous = prefix
    raise PreviewProblem("no_table", "the JSON holds no array of records")


def read_json(path: Path, max_rows: int, truncated: bool) -> Table:
    try:
        prefix = _records_prefix(path)
    except ijson.JSONError as exc:
        raise PreviewProblem("parse_error", f"not valid JSON: {exc}"[:300]) from None
    columns: dict[str, None] = {}
    records: list = []
    complete = True
    try:
        with open(path, "rb") as handle:
            for item in ijson.items(handle, prefix, use_float=True):
                if len(records) >= max_rows:
                    complete = False
                    break
                records.append(item)
                if isinstance(item, dict):
                    columns.update(dict.fromkeys(map(str, item)))
    except ijson.IncompleteJSONError:
        if not truncated:
            raise PreviewProblem("parse_error", "the JSON ends early (broken file)") from None
        complete = False  # cut at the byte cap: the records before the cut stand
    except ijson.JSONError as exc:
        raise PreviewProblem("parse_error", f"not valid JSON: {exc}"[:300]) from None
    if not records:
        raise PreviewProblem("empty", "the JSON array has no records")
    if columns:
        names = list(columns)
        rows = [
            [cell_text(r.get(n)) if isinstance(r, dict) else "" for n in names] for r in records
        ]
    else:
        width = max(len(r) if isinstance(r, list) else 1 for r in records)
        names = [f"column_{n + 1}" for n in range(width)]
        rows = [[cell_text(v) for v in (r if isinstance(r, list) else [r])] for r in records]
    return _rectangular(Table("json", names, rows, complete=complete))


def _rectangular(table: Table) -> Table:
    """Every row as long as the header; unnamed or repeated headers made unique."""
    width = max([len(table.columns), *(len(r) for r in table.rows)])
    seen: dict[str, int] = {}
    names = []
    for n in range(width):
        name = table.columns[n].strip() if n < len(table.columns) else ""
        name = name or f"column_{n + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}_{seen[name]}"
        else:
            seen[name] = 1
        names.append(name)
    ragged = sum(1 for r in table.rows if len(r) != len(table.columns))
    if ragged:
        table.notes.append(f"{ragged} rows have more or fewer cells than the header")
    table.columns = names
    table.rows = [r + [""] * (width - len(r)) if len(r) < width else r for r in table.rows]
    return table


def read_table(path: Path, *, declared: str, media_type: str, max_rows: int,
               truncated: bool) -> Table:  # fmt: skip
    """The table in a fetched file (see the module docstring); PreviewProblem if none."""
    with open(path, "rb") as handle:
        head = handle.read(SNIFF_BYTES)
    kind = sniff_kind(head, declared, media_type)
    if kind == "xlsx":
        if truncated:
            raise PreviewProblem(
                "too_large", "the workbook is larger than the preview cap (a zip is read whole)"
            )
        return read_xlsx(path, max_rows)
    if kind == "xls":
        if truncated:
            raise PreviewProblem(
                "too_large", "the workbook is larger than the preview cap (it is read whole)"
            )
        return read_xls(path, max_rows)
    if kind == "json":
        return read_json(path, max_rows, truncated)
    table = read_csv(path, head, max_rows)
    if truncated:
        table.complete = False
    return table


def count_lines(path: Path) -> int:
    """Newlines in the file: an estimate of CSV rows at disk speed (quoted newlines count)."""
    lines = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines
