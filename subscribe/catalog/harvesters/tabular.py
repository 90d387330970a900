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
  value wins). It replaces the default synonyms (tabular_columns.SYNONYMS) of that field
  only; ``null`` or ``[]`` switches the field off. Targets: title, description, publisher,
  themes, keywords, formats, open_type, frequency, issued, modified, landing_page, license,
  identifier, download_url. An unknown target, an unknown key, or a named column missing
  from the file is a HarvestError.
- ``id_column``: the column that identifies a dataset (shorthand for ``fields.identifier``).
- ``sheet``: the XLSX worksheet; by default the first whose header has a title column.
- ``encoding``: text encoding of a CSV or JSON; by default UTF-8 (BOM or not), else GB18030.
- ``delimiter``: CSV delimiter; by default a comma, or what csv.Sniffer finds when the file
  clearly does not use commas.

Column names match ignoring case, spaces (full-width too), "_"/"-" and a trailing "*" or
"（必填）"-style decoration; in a JSON export the object keys are the columns. The header is
the first row (of the first ten non-blank) that has a title column, so banner rows and blank
lines above it are skipped.

Identity, so that a re-harvest updates rather than duplicates: the identifier column, else
the landing page URL, else "sha1:" + a hash of normalized title and publisher. A row without
a title, with an identity seen earlier in the file, or that cannot be read is a BadRecord
referenced "row N" (as a spreadsheet numbers it) or "record N" (JSON). A file that cannot be
read at all, has no title column or has no rows is a HarvestError.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from pathlib import PurePosixPath
from typing import IO
from urllib.parse import unquote, urljoin, urlsplit

import openpyxl
import requests

from subscribe.catalog.harvesters.base import HarvestContext, RecordStream, fetch
from subscribe.catalog.harvesters.tabular_columns import (
    Table,
    cell_text,
    check_mapping,
    describe,
    find_table,
    header_columns,
)
from subscribe.catalog.normalize import (
    KNOWN_FORMATS,
    normalize_format,
    normalize_frequency,
    normalize_open_type,
    parse_datetime,
    parse_formats,
    split_list,
)
from subscribe.catalog.records import BadRecord, DatasetRecord, HarvestError, ResourceRecord

CHUNK = 1 << 20
JSON_WRAPPER_KEYS = ("data", "records", "result", "list", "rows", "items", "datasets")
SUFFIX_KINDS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".xlsm": "xlsx",
                ".json": "json"}  # fmt: skip
CONTENT_TYPE_KINDS = (("json", "json"), ("spreadsheetml", "xlsx"), ("csv", "csv"),
                      ("tab-separated", "csv"))  # fmt: skip
# GBK and GB2312 files are valid GB18030, which also decodes the characters they lack.
ENCODING_UPGRADES = {"gbk": "gb18030", "gb2312": "gb18030", "cp936": "gb18030"}
DELIMITER_NAMES = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}
URL_SPLIT = re.compile(r"[\s、，；;|]+|,(?=\s*(?:[a-z][a-z0-9+.-]*://|/|www\.))", re.I)


def harvest(ctx: HarvestContext) -> RecordStream:
    mapping = ctx.mapping or {}
    candidates = check_mapping(mapping)
    table = _read(ctx, mapping, candidates)
    if not table.rows:  # a glitch answering an empty export must not delete the catalog
        raise HarvestError(f"{ctx.url} has a header but no rows")
    ctx.on_total(len(table.rows))
    first_seen: dict[str, str] = {}
    for reference, cells in table.rows:
        try:
            if isinstance(cells, Exception):  # the file reader could not split this row
                raise cells
            record = _record(cells, table.columns, ctx.url)
        except Exception as exc:  # one unreadable row never sinks the harvest
            yield BadRecord(f"unreadable row: {exc}", reference)
            continue
        if record is None:
            yield BadRecord("missing title", reference)
        elif record.identifier in first_seen:
            first = first_seen[record.identifier]
            yield BadRecord(f"duplicate identity {record.identifier} (first at {first})", reference)
        else:
            first_seen[record.identifier] = reference
            yield record
    ctx.full_listing = True


# --- reading -------------------------------------------------------------------------


def _read(ctx: HarvestContext, mapping: dict, candidates: dict) -> Table:
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
        return reader(file, mapping, candidates)


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


def _read_csv(file: IO[bytes], mapping: dict, candidates: dict) -> Table:
    encoding = _encoding(file, mapping.get("encoding"))
    with io.TextIOWrapper(file, encoding=encoding, errors="replace", newline="") as text:
        delimiter = mapping.get("delimiter")
        delimiter = DELIMITER_NAMES.get(delimiter, delimiter) or _sniff_delimiter(text.read(CHUNK))
        if len(delimiter) != 1:
            raise HarvestError(f"tabular mapping delimiter must be one character: {delimiter!r}")
        text.seek(0)
        return find_table(_csv_rows(csv.reader(text, delimiter=delimiter)), mapping, candidates)


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


def _read_xlsx(file: IO[bytes], mapping: dict, candidates: dict) -> Table:
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
            try:
                return find_table(
                    enumerate(sheet.iter_rows(values_only=True), 1), mapping, candidates
                )
            except HarvestError as exc:
                error = HarvestError(f"sheet {sheet.title!r}: {exc}")
        raise error
    finally:
        workbook.close()


def _read_json(file: IO[bytes], mapping: dict, candidates: dict) -> Table:
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
    columns = header_columns(header, mapping, candidates)
    if columns is None:
        raise HarvestError(f"no title column found; keys found: {describe(header)}")
    rows = [
        (f"record {n}", [item.get(key) for key in header] if isinstance(item, dict)
         else TypeError(f"not an object: {str(item)[:80]}"))
        for n, item in enumerate(items, 1)
    ]  # fmt: skip
    return Table(header, columns, rows)


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


def _record(cells: list, columns: dict[str, list[int]], base_url: str) -> DatasetRecord | None:
    def value(field: str):
        for index in columns.get(field, ()):
            if index < len(cells) and cell_text(cells[index]):  # ragged rows are short
                return cells[index]
        return None

    title = cell_text(value("title"))
    if not title:
        return None
    publisher = cell_text(value("publisher"))
    formats = parse_formats(value("formats"))
    frequency, frequency_raw = normalize_frequency(cell_text(value("frequency")))
    open_type, open_type_raw = normalize_open_type(cell_text(value("open_type")))
    landing_page = next(iter(_urls(value("landing_page"), base_url)), "")
    resources = [
        ResourceRecord(url=url, name=_file_name(url) or title, format=_url_format(url, formats))
        for url in _urls(value("download_url"), base_url)
    ]
    identifier = (
        cell_text(value("identifier")) or landing_page or _derived_identity(title, publisher)
    )
    return DatasetRecord(
        identifier=identifier,
        title=title,
        description=cell_text(value("description")),
        publisher=publisher,
        themes=split_list(value("themes")),
        keywords=split_list(value("keywords")),
        formats=formats,
        open_type=open_type,
        open_type_raw=open_type_raw,
        frequency=frequency,
        frequency_raw=frequency_raw,
        issued=_date(value("issued")),
        modified=_date(value("modified")),
        landing_page=landing_page,
        license=cell_text(value("license")),
        resources=resources,
    )


def _date(value) -> datetime | None:
    if isinstance(value, int | float) and 19000101 <= value <= 29991231:
        value = str(int(value))  # 20230105 typed as a number is a date, not an epoch
    return parse_datetime(value)


def _urls(value, base_url: str) -> list[str]:
    if isinstance(value, list):
        items = [
            item.get("url") or item.get("download_url") or item.get("downloadURL")
            if isinstance(item, dict) else item
            for item in value
        ]  # fmt: skip
        tokens = [t for item in items for t in URL_SPLIT.split(cell_text(item))]
    else:
        tokens = URL_SPLIT.split(cell_text(value))
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


def _file_name(url: str) -> str:
    name = unquote(PurePosixPath(urlsplit(url).path).name)
    return name if "." in name else ""


def _url_format(url: str, formats: list[str]) -> str:
    suffix = normalize_format(PurePosixPath(urlsplit(url).path).suffix)
    if suffix in KNOWN_FORMATS:
        return suffix
    return formats[0] if len(formats) == 1 else ""  # several formats: which one is unknown


def _derived_identity(title: str, publisher: str) -> str:
    def normalized(text: str) -> str:
        return "".join(unicodedata.normalize("NFKC", text).casefold().split())

    digest = hashlib.sha1(f"{normalized(title)}\x1f{normalized(publisher)}".encode())
    return "sha1:" + digest.hexdigest()[:20]
