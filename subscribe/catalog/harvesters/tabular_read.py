"""Reading a tabular export from disk: CSV, XLSX, XLS or JSON, as rows that can be read again.

The download is streamed to a temporary file; each reader returns a Table whose
``body()`` reads the rows from that file again at every call, so the harvest can look
at the whole file (to choose identities) and then turn rows into records without ever
holding the export in memory. A CSV is read by the csv module, an XLSX by openpyxl in
read-only mode (one workbook kept open, its sheet streamed at each pass), a legacy XLS
(BIFF, still what many Chinese portals' 目录导出 gives) by xlrd (at most 65,536 rows, read
into memory once; merged cells and date cells as in an XLSX), a JSON array
by ijson (one record object at a time, wrapped arrays found by a first pass over its
events).
"""

from __future__ import annotations

import codecs
import collections
import contextlib
import csv
import functools
import io
import itertools
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import PurePosixPath
from typing import IO
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

import ijson
import requests

from subscribe import (
    csvfield,  # noqa: F401 (sets csv's field limit)
    xls,
)
from subscribe.catalog.harvesters.base import HarvestContext, fetch, json_error_line
from subscribe.catalog.harvesters.json_lines import is_json_lines, read_lines
from subscribe.catalog.harvesters.tabular_columns import (
    SHEET_STRIDE,
    VALUE_SAMPLE,
    Table,
    cell_text,
    describe,
    find_header,
    header_score,
    in_sheet,
    no_title_error,
)
from subscribe.catalog.records import HarvestError
from subscribe.transport_errors import transport_reason

CHUNK = 1 << 20
JSON_WRAPPER_KEYS = ("data", "records", "result", "list", "rows", "items", "datasets")
SUFFIX_KINDS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
                ".xls": "xls", ".json": "json", ".jsonl": "json", ".ndjson": "json"}  # fmt: skip
CONTENT_TYPE_KINDS = (("json", "json"), ("spreadsheetml", "xlsx"), ("ms-excel", "xls"),
                      ("csv", "csv"), ("tab-separated", "csv"))  # fmt: skip
# GBK and GB2312 files are valid GB18030, which also decodes the characters they lack.
ENCODING_UPGRADES = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030"}
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}
_SCALAR_TYPES = {"string": "str", "number": "float", "boolean": "bool", "null": "NoneType"}


def read_table(
    ctx: HarvestContext, file: IO[bytes], mapping: dict, configured: dict,
    stack: contextlib.ExitStack,
) -> Table:  # fmt: skip
    """Download ctx.url into ``file`` (a temporary file the caller keeps open) and open it
    as a Table. ``stack`` closes what the readers keep open (an XLSX workbook)."""
    response = fetch(ctx, ctx.url, stream=True)
    try:
        with response:
            for chunk in response.iter_content(CHUNK):
                file.write(chunk)
    except requests.RequestException as exc:
        raise HarvestError(
            f"could not read {ctx.url}: {transport_reason(exc, ctx.timeout)}"
        ) from exc
    file.seek(0)
    head = file.read(2048)
    file.seek(0)
    kind = _detect_kind(ctx.url, response.headers, head)
    if kind == "html":
        table = _read_html_table(file, mapping, configured)
    elif kind == "json":
        table = _read_json(file, mapping, configured, stack, _named_lines(ctx.url, response))
    else:
        reader = {"csv": _read_csv, "xlsx": _read_xlsx, "xls": _read_xls}[kind]
        table = reader(file, mapping, configured, stack)
    table.kind = kind
    return table


def _detect_kind(url: str, headers, head: bytes) -> str:
    body = head.removeprefix(codecs.BOM_UTF8).lstrip()
    content_type = headers.get("Content-Type", "").lower()
    if body[:1] == b"<":  # portals answer login and error pages with 200, even for ".csv"
        if _spreadsheet_named(url, headers) and _holds_table(head):
            return "html"  # an HTML table saved as ".xls" (导出Excel): read its rows
        raise HarvestError(
            f"{url} answered an HTML/XML page ({content_type or 'no Content-Type'}), "
            "not a CSV, XLSX or JSON catalog export"
        )
    if head.startswith(xls.OLE2_MAGIC):  # whatever its name says (a ".xlsx" saved as XLS)
        return "xls"
    for suffix in _suffixes(url, headers):
        if suffix in SUFFIX_KINDS:
            return _named_kind(SUFFIX_KINDS[suffix], body)
    for marker, kind in CONTENT_TYPE_KINDS:
        if marker in content_type:
            return _named_kind(kind, body)
    if body.startswith(b"PK"):
        return "xlsx"
    if body[:1] in (b"[", b"{"):
        return "json"
    if b"\x00" in head and not head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise HarvestError(f"{url} is a binary file, not a CSV, XLSX or JSON catalog export")
    return "csv"


def _spreadsheet_named(url: str, headers) -> bool:
    """Whether the file's name or Content-Type says a spreadsheet (.xls, .xlsx, .et,
    application/vnd.ms-excel, …spreadsheetml…)."""
    content_type = headers.get("Content-Type", "").lower()
    if "ms-excel" in content_type or "spreadsheetml" in content_type:
        return True
    return any(SUFFIX_KINDS.get(suffix) in ("xls", "xlsx") for suffix in _suffixes(url, headers))


def _holds_table(head: bytes) -> bool:
    """Whether the file's first bytes open an HTML table (<table or <tr)."""
    lowered = head.lower()
    return b"<table" in lowered or b"<tr" in lowered


def _suffixes(url: str, headers) -> list[str]:
    """The file's suffixes (".csv"), lower case: its URL path's, its download name's."""
    disposition = re.search(r"filename\*?=(?:[\w-]+'[^']*')?\"?([^\";]+)",
                            headers.get("Content-Disposition", ""))  # fmt: skip
    names = (urlsplit(url).path, disposition[1] if disposition else "")
    return [PurePosixPath(unquote(name)).suffix.lower() for name in names]


def _named_lines(url: str, response) -> bool:
    """Whether the file's name says JSON Lines (.jsonl, .ndjson)."""
    return any(suffix in (".jsonl", ".ndjson") for suffix in _suffixes(url, response.headers))


def _named_kind(kind: str, body: bytes) -> str:
    """The kind a name or Content-Type gives, unless the bytes say otherwise: portals
    label CSV text and XLSX workbooks ".xls" (no OLE2 header: checked before)."""
    if kind != "xls":
        return kind
    return "xlsx" if body.startswith(b"PK") else "csv"


# --- CSV -----------------------------------------------------------------------------


def _read_csv(file: IO[bytes], mapping: dict, configured: dict, stack) -> Table:
    encoding = _encoding(file, mapping.get("encoding"))
    delimiter = mapping.get("delimiter")
    delimiter = DELIMITER_NAMES.get(delimiter, delimiter)
    if not delimiter:
        with _text(file, encoding) as text:
            delimiter = _sniff_delimiter(text.read(CHUNK))
    if len(delimiter) != 1:
        raise HarvestError(f"tabular mapping delimiter must be one character: {delimiter!r}")

    def rows() -> Iterator[tuple[int, list | Exception]]:
        with _text(file, encoding) as text:
            yield from _csv_rows(text, delimiter)

    table = find_header(rows, configured)
    if encoding != "utf-8-sig" and not _decodes(file, encoding):  # UTF-8: _encoding read it
        table.undecodable = encoding
    return table


def _decodes(file: IO[bytes], encoding: str) -> bool:
    """Whether the whole file is valid in `encoding` (read in chunks; back to the start)."""
    file.seek(0)
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        while chunk := file.read(CHUNK):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        file.seek(0)
    return True


@contextlib.contextmanager
def _text(file: IO[bytes], encoding: str) -> Iterator[io.TextIOWrapper]:
    """The file from its start as text; detached after, so the file stays open."""
    file.seek(0)
    text = io.TextIOWrapper(file, encoding=encoding, errors="replace", newline="")
    try:
        yield text
    finally:
        text.detach()


def _encoding(file: IO[bytes], configured: str | None) -> str:
    """The configured encoding, else UTF-16 by its BOM, UTF-8 when the whole file is
    valid UTF-8 ("utf-8-sig": a BOM is dropped), else GB 18030."""
    if configured:
        try:
            name = codecs.lookup(configured).name
        except LookupError as exc:
            raise HarvestError(f"tabular mapping names unknown encoding {configured!r}") from exc
        name = ENCODING_UPGRADES.get(name, name)
        return "utf-8-sig" if name == "utf-8" and _decodes(file, name) else name
    if file.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):  # Excel's "Unicode text"
        file.seek(0)
        return "utf-16"
    file.seek(0)
    if not _decodes(file, "utf-8"):
        return "gb18030"  # the usual encoding of Chinese platforms' exports
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


UNCLOSED_QUOTE = (
    "unclosed quote: a quoted cell runs on over the rows after it (they are read as rows)"
)
# Raw lines of the rows read so far are kept (a tee buffer) for at most this many lines.
RAW_LINES_KEPT = 4096


class BrokenRow(csv.Error):
    """A row the reader could not split whole. ``cells_read``: {column index: cell} of
    the cells read whole before the break (a row cut by an unclosed quote still has its
    leading cells: often its id), so that the row's identity may still be read."""

    def __init__(self, message: str, cells_read: dict[int, object]):
        super().__init__(message)
        self.cells_read = cells_read


def _csv_rows(lines: Iterator[str], delimiter: str) -> Iterator[tuple[int, list | Exception]]:
    """Number rows as a spreadsheet shows them; a broken row is reported, not fatal.

    ``lines``: the file's text, physical line by physical line (newline="").
    A quoted cell may span lines (real descriptions do). One whose quote is never closed
    swallows the rows after it into itself, its line breaks and all: up to the end of
    the file, or up to a LATER quote that csv (not strict) takes for its closing one,
    ``"abc"def`` reading as the cell ``abcdef`` (bb7: the quote opening ``"药店,分布"``
    three rows down closed it). Such a row is told by these rules, the first that holds:
    - its raw text has a quoted cell that is never closed, or whose closing quote is
      followed by neither a delimiter nor a line end and which spans a line break
      (_broken_quote_at): a closed cell ends at a delimiter or line end, so that quote was
      some later cell's; a one-line ``"abc"def`` hides nothing and is read as csv does;
    - (the quote opens a cell that a quote followed by a delimiter "closes") the row ends
      short of the widest one-line row so far (the header: ``width``) with the
      multi-line cell last, and the line after its first break is itself a row of that
      width; or it has full width and the text after that break reads, row by row, as
      rows of ``width`` cells or more (_swallowed_rows).
    The row is then one bad record (UNCLOSED_QUOTE, with the line it starts on) and
    reading starts again at the physical line after the one its broken quote opens on,
    so the rows it swallowed are read as rows. A closed multi-line cell (line breaks,
    delimiters, doubled quotes, even a line that reads as a whole row) is never split.
    The last row of the file, one line with a quote still open at the end, is bad too.
    Cost: the raw text is only looked at for rows over several lines and for the last
    row; other rows pay a line count and a one-row delay (the last row is known only
    when the next read ends the file)."""
    number = width = start = 0  # start: physical lines before the current reader's first
    pending: collections.deque[str] = collections.deque()  # lines to read again first
    base = iter(lines)
    held = None  # the last one-line row read, yielded when the next read shows it is not last
    while True:  # one reader per stretch; a broken row starts the next one
        source, raw = itertools.tee(itertools.chain(_drain(pending), base))
        reader = csv.reader(source, delimiter=delimiter)
        line = passed = 0  # this reader's physical lines: read; passed over in raw
        while True:
            try:
                row = next(reader)
            except StopIteration:
                if held is not None:
                    last = _raw(raw, passed, line - 1, line)
                    offset = _broken_quote_at(last, delimiter)
                    yield (
                        held
                        if offset is None
                        else _unclosed(
                            held[0], start + line, _cells_before(last, offset, delimiter)
                        )
                    )
                return
            except csv.Error as exc:
                if held is not None:
                    yield held
                    held = None
                number += 1
                yield number, exc
                line = reader.line_num
                continue
            number += 1
            if reader.line_num == line + 1:  # one line: the usual row
                line += 1
                if len(row) > width:
                    width = len(row)
                if held is not None:
                    yield held
                held = (number, row)
                if line - passed > RAW_LINES_KEPT:  # keep the tee's buffer short
                    _raw(raw, passed, line - 1, line - 1)
                    passed = line - 1
                continue
            if held is not None:
                yield held
                held = None
            first, line = line, reader.line_num
            physical = _raw(raw, passed, first, line)
            passed = line
            offset = _broken_quote_at(physical, delimiter)
            if offset is not None:
                opening = _line_of(physical, offset)
                cells_read = _cells_before(physical, offset, delimiter)
            elif _swallowed_rows(row, width, reader.dialect) is not None:
                opening = sum(cell.count("\n") for cell in row[:-1])  # the last cell's line
                cells_read = dict(enumerate(row[:-1]))  # the cells before it are whole
            else:
                yield number, row
                continue
            yield _unclosed(number, start + first + 1, cells_read)
            # the reader took its lines one by one: what it left of `pending` is unread
            pending.extendleft(reversed(physical[opening + 1 :]))
            start += first + opening + 1
            break


def _drain(pending: collections.deque[str]) -> Iterator[str]:
    """The lines in ``pending``, each taken out as it is read (no copy at a restart)."""
    while pending:
        yield pending.popleft()


def _unclosed(number: int, first_line: int, cells_read: dict[int, object]
              ) -> tuple[int, csv.Error]:  # fmt: skip
    return number, BrokenRow(f"{UNCLOSED_QUOTE}; the row starts on line {first_line}",
                             cells_read)  # fmt: skip


def _cells_before(physical: list[str], offset: int, delimiter: str) -> dict[int, object]:
    """{index: cell} of a row's cells before the broken quote at ``offset`` of its raw
    text (the quote opens a cell: the text before it ends with a delimiter)."""
    head = "".join(physical)[:offset]
    if not head:
        return {}
    try:
        cells = next(csv.reader(io.StringIO(head, newline=""), delimiter=delimiter), [])
    except csv.Error:
        return {}
    return dict(enumerate(cells[:-1]))  # the last: the empty text after the delimiter


def _raw(raw: Iterator[str], passed: int, begin: int, end: int) -> list[str]:
    """Physical lines [begin, end) of a reader's text, ``raw`` having passed ``passed``."""
    next(itertools.islice(raw, begin - passed, begin - passed), None)
    return list(itertools.islice(raw, end - begin))


def _broken_quote_at(physical: list[str], delimiter: str, quote: str = '"') -> int | None:
    """The offset in the joined ``physical`` (a row's raw lines) of a broken quoted
    cell's opening quote, or None: a quote never closed, or closed by a quote followed
    by neither a delimiter nor a line end (spaces allowed) after a line break inside the
    cell. Fields are walked as csv (not strict) reads them, a regular expression a
    field."""
    text = "".join(physical)
    if quote not in text:
        return None
    quoted, lenient, unquoted, end = _quote_patterns(delimiter, quote)
    pos, size = 0, len(text)
    while pos < size:
        if text.startswith(quote, pos):
            if match := quoted.match(text, pos):
                pos = match.end()
            else:
                cell = lenient.match(text, pos)
                if not cell[1] or "\n" in cell[0] or "\r" in cell[0]:
                    return pos
                pos = unquoted.match(text, cell.end()).end()  # `"abc"def`: on one line
        else:
            pos = unquoted.match(text, pos).end()
        if separator := end.match(text, pos):
            pos = separator.end()
        else:
            pos += 1  # not reached: a field stops at a delimiter or line end
    return None


@functools.cache
def _quote_patterns(delimiter: str, quote: str) -> tuple[re.Pattern, ...]:
    d, q = re.escape(delimiter), re.escape(quote)
    body = f"{q}[^{q}]*(?:{q}{q}[^{q}]*)*"
    return (
        re.compile(f"{body}{q}(?=[ \\t]*(?:{d}|\\r|\\n|\\Z))"),  # a closed quoted cell
        re.compile(f"{body}({q}?)"),  # up to the quote csv takes for its end (if any)
        re.compile(f"[^{d}\\r\\n]*"),
        re.compile(f"{d}|\\r\\n|\\r|\\n"),
    )


def _line_of(physical: list[str], offset: int) -> int:
    for index, text in enumerate(physical):
        if offset < len(text):
            return index
        offset -= len(text)
    return len(physical) - 1


def _swallowed_rows(row: list[str], width: int, dialect) -> str | None:
    """The text after the first line break of ``row``'s last cell when that cell is an
    unclosed quote (see _csv_rows: the row short of ``width`` and the next line a row
    of ``width`` cells or more; or the row of full width and every row of that text
    one of ``width`` cells or more); else None."""
    if not width or len(row) > width or not row:
        return None
    _, brk, swallowed = row[-1].partition("\n")
    if not brk:
        return None
    first = swallowed.split("\n", 1)[0].rstrip("\r")
    if len(next(csv.reader([first], dialect=dialect), [])) < width:
        return None
    if len(row) < width:
        return swallowed
    rows = csv.reader(io.StringIO(swallowed, newline=""), dialect=dialect)
    try:
        full = all(len(cells) >= width for cells in rows if cells)  # blank lines are no rows
    except csv.Error:  # a cell past the field limit, a NUL: not plainly rows
        return None
    return swallowed if full else None


# --- XLSX ----------------------------------------------------------------------------


def _read_xlsx(file: IO[bytes], mapping: dict, configured: dict, stack) -> Table:
    import openpyxl  # ~10 MB: imported when a workbook is read, not by every process

    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises zip, XML and key errors alike
        raise HarvestError(f"not a readable XLSX workbook: {exc}") from exc
    stack.callback(workbook.close)  # the sheet is streamed again at each pass
    wanted = mapping.get("sheet")
    if wanted and wanted not in workbook.sheetnames:
        raise HarvestError(f"sheet {wanted!r} not found; sheets: {', '.join(workbook.sheetnames)}")
    sheets = [workbook[wanted]] if wanted else workbook.worksheets
    found: list[tuple[str, Callable]] = []
    for sheet in sheets:
        sheet.reset_dimensions()  # exporters often write a wrong <dimension>; read it all
        merged = _merged_ranges(file, getattr(sheet, "_worksheet_path", ""))

        def rows(sheet=sheet, merged=merged):
            return _filled(enumerate(sheet.iter_rows(values_only=True), 1), merged)

        found.append((sheet.title, rows))
    return _sheets_table(found, configured, "the workbook has no worksheet")


def _sheets_table(sheets: list[tuple[str, Callable]], configured: dict,
                  empty: str) -> Table:  # fmt: skip
    """One Table of a workbook's sheets (name, rows()): the first sheet with a header,
    and every later sheet whose header names the same columns (a catalog exported one
    sheet per department), its cells put in the first's column order. A sheet with
    another header, or none, is left out and reported (``Table.sheets_left_out``). Rows
    of the sheets after the first are numbered past SHEET_STRIDE per sheet and shown as
    "sheet 'X' row N" (Table.reference)."""
    error, tables, left_out = HarvestError(empty), [], []
    for name, rows in sheets:
        try:
            table = find_header(rows, configured)
        except HarvestError as exc:
            if not tables:
                error = HarvestError(f"sheet {name!r}: {exc}")
            left_out.append({"sheet": name, "reason": str(exc)[:300]})
            continue
        table.sheet = name
        tables.append(table)
    if not tables:
        raise error
    first = tables[0]
    names = [cell_text(cell) for cell in first.header]
    joined: list[tuple[str, Table, list[int] | None]] = [(first.sheet, first, None)]
    for table in tables[1:]:
        order = _column_order(names, [cell_text(cell) for cell in table.header])
        if order is None:
            left_out.append({"sheet": table.sheet,
                             "reason": f"its header differs from sheet {first.sheet!r}'s"})  # fmt: skip
            continue
        joined.append((table.sheet, table, order))
    if len(joined) > 1:
        first.body = _joined_bodies(joined)
        first.sheets = [sheet for sheet, _, _ in joined]
        for sheet, table, _order in joined[1:]:
            first.skipped += [{**entry, "reference": in_sheet(sheet, entry["reference"])}
                              for entry in table.skipped]  # fmt: skip
    first.sheets_left_out = left_out
    return first


def _column_order(names: list[str], other: list[str]) -> list[int] | None:
    """For each of ``names`` (a header), the index of the same column in ``other``: the
    same name, or for an unnamed column the unnamed one of the same rank (the 2nd blank
    header cell is the 2nd blank's; -1, no cell, past ``other``'s blanks); None when the
    two do not name the same columns (each name once)."""
    named = [name for name in names if name]
    if sorted(named) != sorted(name for name in other if name) or len(set(named)) != len(named):
        return None
    where = {name: index for index, name in enumerate(other) if name}
    unnamed = iter([index for index, name in enumerate(other) if not name])
    return [where[name] if name else next(unnamed, -1) for name in names]


def _joined_bodies(joined: list[tuple[str, Table, list[int] | None]]):
    """Table.body over several sheets: the later sheets' rows renumbered by sheet."""

    bodies = [(table.body, order) for _sheet, table, order in joined]  # the sheets' own

    def body():
        for index, (sheet_body, order) in enumerate(bodies):
            offset = index * SHEET_STRIDE
            for number, cells in sheet_body():
                if order is not None and not isinstance(cells, Exception):
                    cells = [cells[i] if 0 <= i < len(cells) else None for i in order]
                yield offset + number, cells

    return body


def _merged_ranges(file: IO[bytes], sheet_path: str) -> list[tuple[int, int, int, int]]:
    """The sheet's merged cells as (min_row, min_col, max_row, max_col), 1-based.

    openpyxl's read-only mode (flat memory on large workbooks) does not expose them, so
    the <mergeCell ref="B4:B6"/> elements are streamed from the sheet's XML part.
    """
    if not sheet_path:
        return []
    from openpyxl.utils.cell import range_boundaries

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


# --- XLS (legacy BIFF) ---------------------------------------------------------------


def _read_xls(file: IO[bytes], mapping: dict, configured: dict, stack) -> Table:
    try:
        book = xls.open_xls(file.read())
    except xls.XlsError as exc:
        raise HarvestError(f"not a readable XLS workbook: {exc}") from exc
    finally:
        file.seek(0)
    stack.callback(book.release_resources)
    names = book.sheet_names()
    wanted = mapping.get("sheet")
    if wanted and wanted not in names:
        raise HarvestError(f"sheet {wanted!r} not found; sheets: {', '.join(names)}")
    found: list[tuple[str, Callable]] = []
    for name in [wanted] if wanted else names:
        sheet = book.sheet_by_name(name)

        def rows(sheet=sheet):
            numbered = ((n + 1, xls.row_values(sheet.row(n), book.datemode))
                        for n in range(sheet.nrows))  # fmt: skip
            return _filled(numbered, xls.merged_boxes(sheet))

        found.append((name, rows))
    return _sheets_table(found, configured, "the workbook has no worksheet")


# --- HTML table saved as a spreadsheet ---------------------------------------------
# Many portals' "导出Excel" buttons answer an HTML page holding one <table>, named .xls
# and labelled application/vnd.ms-excel (Excel opens it). Its rows are read as a sheet's:
# streamed <tr> by <tr> (lxml's iterparse), colspan/rowspan filled like merged cells.

_SPAN_LIMIT = 1000  # a colspan/rowspan past this is a typo, not a span


def _read_html_table(file: IO[bytes], mapping: dict, configured: dict) -> Table:
    encoding = None if _declares_charset(file) else _encoding(file, mapping.get("encoding"))

    def rows():
        file.seek(0)
        return _html_rows(file, encoding)

    return find_header(rows, configured)


def _declares_charset(file: IO[bytes]) -> bool:
    """Whether the page's head names its encoding (<meta charset> or http-equiv)."""
    file.seek(0)
    head = file.read(4096).lower()
    file.seek(0)
    return b"charset=" in head or b"charset =" in head


def _html_rows(file: IO[bytes], encoding: str | None) -> Iterator[tuple[int, list]]:
    """(row number, cell texts) of every <tr>, in order; a cell spanning columns or rows
    fills each position it covers."""
    from lxml import etree  # imported where an HTML table is read (its module is ~6 MB)

    spans: dict[int, list] = {}  # column -> [rows left, text] of a rowspan above
    parse = etree.iterparse(file, events=("end",), tag="tr", html=True, recover=True,
                            encoding=encoding.removesuffix("-sig") if encoding else None)  # fmt: skip
    for number, (_event, row) in enumerate(parse, 1):
        cells: list[str] = []
        column = 0
        for cell in row:
            if not isinstance(cell.tag, str) or cell.tag.lower() not in ("td", "th"):
                continue
            column = _spanned_down(spans, cells, column)
            for line_break in cell.iter("br"):
                line_break.tail = "\n" + (line_break.tail or "")
            text = "".join(cell.itertext()).strip()
            width, height = _span(cell.get("colspan")), _span(cell.get("rowspan"))
            for _ in range(width):
                cells.append(text)
                if height > 1:
                    spans[column] = [height - 1, text]
                column += 1
        _spanned_down(spans, cells, column)
        row.clear()  # memory flat in the file's size: rows read are dropped
        while row.getprevious() is not None:
            del row.getparent()[0]
        yield number, cells


def _spanned_down(spans: dict[int, list], cells: list[str], column: int) -> int:
    """Append the texts of rowspans from above that cover ``column`` onwards; the next
    column free."""
    while column in spans:
        left = spans[column]
        cells.append(left[1])
        left[0] -= 1
        if not left[0]:
            del spans[column]
        column += 1
    return column


def _span(value: str | None) -> int:
    try:
        return min(max(int(value or 1), 1), _SPAN_LIMIT)
    except ValueError:
        return 1


# --- JSON ----------------------------------------------------------------------------


class _Utf8:
    """A file's text (any encoding, undecodable bytes replaced) as UTF-8 bytes for ijson."""

    def __init__(self, text: io.TextIOWrapper):
        self.text = text

    def read(self, size: int = -1) -> bytes:
        return self.text.read(CHUNK if size is None or size < 0 else size).encode()


def _read_json(file: IO[bytes], mapping: dict, configured: dict, stack,
               named_lines: bool = False) -> Table:  # fmt: skip
    """A JSON record array (bare or wrapped) or JSON Lines, by json_lines' rule on the
    first lines (``named_lines``: the file's name says .jsonl/.ndjson). A JSON Lines
    line that is no JSON is a bad record ("line N"); a broken JSON document fails the
    harvest, nothing in it being readable."""
    encoding = _encoding(file, mapping.get("encoding"))
    with _text(file, encoding) as text:
        lines, sniffed = is_json_lines(text, named_lines)
    if lines:
        return _read_json_lines(file, encoding, configured)

    @contextlib.contextmanager
    def utf8() -> Iterator[_Utf8]:
        with _text(file, encoding) as text:
            try:
                yield _Utf8(text)
            except ijson.JSONError as exc:
                raise HarvestError(
                    f"not valid JSON: {json_error_line(exc)}{sniffed.hint()}"
                ) from exc

    with utf8() as stream:
        prefix = _json_prefix(stream)
    keys: dict = {}  # the columns: every key of every record, in order of appearance
    count = 0
    with utf8() as stream:
        for item in ijson.items(stream, prefix, use_float=True):
            count += 1
            if isinstance(item, dict):
                keys.update(dict.fromkeys(item))
    if not count:
        raise HarvestError("the JSON record array is empty")
    header = _json_header(keys, configured)

    def body() -> Iterator[tuple[int, list | Exception]]:
        with utf8() as stream:
            items = ijson.items(stream, prefix, use_float=True)
            yield from ((n, _json_cells(item, header)) for n, item in enumerate(items, 1))

    return _json_table(header, body, "record")


def _read_json_lines(file: IO[bytes], encoding: str, configured: dict) -> Table:
    """JSON Lines, streamed a line at a time at each pass (memory flat in file size)."""
    keys: dict = {}
    with _text(file, encoding) as text:
        for _, item in read_lines(text):
            if isinstance(item, dict):
                keys.update(dict.fromkeys(item))
    header = _json_header(keys, configured)

    def body() -> Iterator[tuple[int, list | Exception]]:
        with _text(file, encoding) as text:
            yield from ((n, _json_cells(item, header)) for n, item in read_lines(text))

    return _json_table(header, body, "line")


def _json_header(keys: dict, configured: dict) -> list:
    header = list(keys)
    if not header_score(header, configured):
        raise no_title_error(header, configured, "keys")
    return header


def _json_cells(item, header: list) -> list | Exception:
    if isinstance(item, Exception):  # a JSON Lines line that is no JSON
        # the members read whole before the break, as cells (BrokenRow.cells_read)
        members = getattr(item, "members_read", None) or {}
        item.cells_read = {i: members[key] for i, key in enumerate(header) if key in members}
        return item
    if isinstance(item, dict):
        return [item.get(key) for key in header]
    return TypeError(f"not an object: {str(item)[:80]}")


def _json_table(header: list, body, word: str) -> Table:
    sample: list = []
    for n, cells in body():
        sample.append((f"{word} {n}", cells))
        if len(sample) == VALUE_SAMPLE:
            break
    return Table(header, sample, body=body, word=word)


def _json_prefix(stream: _Utf8) -> str:
    """The ijson prefix of the record array: bare, or wrapped up to two levels deep
    ({"result": {"records": …}}), the wrapper keys tried in JSON_WRAPPER_KEYS order."""
    events = ijson.parse(stream, use_float=True)
    first = next(events, None)
    if first is None:
        raise HarvestError("not valid JSON: empty document")
    if first[1] == "start_array":
        return "item"
    if first[1] != "start_map":
        raise HarvestError(
            f"JSON holds no record array (bare, or under {', '.join(JSON_WRAPPER_KEYS)}); "
            f"top level: {_SCALAR_TYPES.get(first[1], first[1])}"
        )
    top: dict[str, str] = {}  # key -> the event its value starts with
    nested: dict[str, dict[str, str]] = {}  # an object's keys -> theirs
    depth, key, sub, in_map = 1, "", "", False
    for _, event, value in events:
        if event == "map_key":
            if depth == 1:
                key = value
            elif depth == 2 and in_map:
                sub = value
            continue
        if event in ("end_map", "end_array"):
            depth -= 1
            continue
        if depth == 1:
            top[key] = event
            in_map = event == "start_map"
            if in_map:
                nested[key] = {}
        elif depth == 2 and in_map:
            nested[key][sub] = event
        if event in ("start_map", "start_array"):
            depth += 1
    path: list[str] = []
    level = top
    for _ in range(2):
        keys = {str(k).lower(): k for k in level}
        wrapped = [keys[name] for name in JSON_WRAPPER_KEYS if name in keys]
        arrays = [k for k in wrapped if level[k] == "start_array"]
        objects = [k for k in wrapped if level[k] == "start_map"]
        if arrays:
            return ".".join([*path, arrays[0], "item"])
        if not objects or path:
            break
        path.append(objects[0])
        level = nested[objects[0]]
    raise HarvestError(
        f"JSON holds no record array (bare, or under {', '.join(JSON_WRAPPER_KEYS)}); "
        f"top level: {describe(list(top))}"
    )


Rows = Callable[[], Iterator[tuple[int, list | Exception]]]
