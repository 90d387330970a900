"""Which row of a tabular export is the header, and which column becomes which field.

Headers are classified by tabular_headers.classify (rules over the folded header); the
values then confirm or overrule the header, as csv-detective pairs header keywords with
value tests: a "地址" column of street addresses is not a landing page, a "提供方" column
of phone numbers is a contact point, an unnamed column of URLs is the landing page.
Where several columns claim one field they are scored (how the header matched, share of
values that parse, position) and the best one wins; the others stay as fallbacks for
rows where the winner is empty. Every decision is written into the mapping report.
The operator's explicit mapping (source.mapping["fields"]) always overrides the rules.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from urllib.parse import urlsplit

from subscribe.catalog.harvesters.tabular_headers import FIELDS, classify, fold_header, header_unit
from subscribe.catalog.harvesters.tabular_identity import column_label
from subscribe.catalog.normalize import (
    KNOWN_FORMATS,
    clean_text,
    is_bare_number,
    normalize_frequency,
    normalize_open_type,
    parse_datetime,
    parse_formats,
    url_suffix_format,
)
from subscribe.catalog.records import HarvestError, MappingError

MAPPING_KEYS = ("fields", "id_column", "sheet", "encoding", "delimiter")
HEADER_SEARCH_ROWS = 10  # banner rows ("XX市公共数据开放目录") may sit above the header
VALUE_SAMPLE = 500  # rows whose values the value tests read
LEVEL_POINTS = {"explicit": 100, "exact": 50, "rule": 35, "value": 20}
VALUE_WEIGHT = 40  # points for a column whose every sampled value passes the field's test
# A modified column whose header says the last update (最后更新时间, 最近更新日期, last
# updated) beats a bare 更新时间 beside it (bb8 F24: the first 更新时间 won by position and
# the record looked months staler than it was): more than a known name's lead over a rule.
LAST_UPDATE_POINTS = 20
LAST_UPDATE_WHY = "names the last update: preferred over a bare update date"
_LAST_UPDATE = re.compile(
    r"(最后|最近|最新|last|latest)(一次|的)?(更新|修改|变更|update|modif|change)"
)
POSITION_WEIGHT = 5  # the leftmost column gets these; exports put the main columns first
MISFIT_SHARE = 0.3  # fewer values than this pass a URL/date test: the header misled
VALUE_ONLY_SHARE = 0.8  # an unnamed column is placed by its values only above this

_URL = re.compile(r"^(?:(?:https?|ftp)://|www\.)\S+$|^/[\w%./?=&#-]+$", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# A phone: a mainland mobile, or a number led by +country, (area) or a 0 trunk prefix, in
# groups (020-12345678, 0755 8888 6666, 02-27256888, (02)2311-7722#2386, +886-2-2725-6888).
# Never a bare run of digits, so counts, dates and codes are not phones.
_PHONE = re.compile(r"(?<!\d)(?:(?:\+?86[- ]?)?1[3-9]\d{9}"
                    r"|(?:\+\d{1,3}[- .]?\(?0?\d{1,4}\)?|\(0\d{1,4}\)|0\d{1,4})"
                    r"[- .]?\d{3,4}[- .]?\d{3,5})(?!\d)")  # fmt: skip
_COUNT = re.compile(r"^\d[\d,]*(?:\.\d+)?\s*(?:万|亿)?\s*(?:条|行|项|个|records?|rows?)?$", re.I)


_SERIAL_TEXT = re.compile(r"\s*[2-7]\d{4}(?:\.\d+)?\s*")  # excel_serial_date's range as text


def excel_serial_date(value) -> datetime | None:
    """An Excel date serial (45078 → 2023-06-01) in the years 1954-2119, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 20000 <= value < 80000:
        return None
    from openpyxl.utils.datetime import from_excel  # only tabular runs pay for openpyxl

    return from_excel(value)


def parse_cell_date(value) -> datetime | None:
    """A date cell: a datetime, an Excel serial, 20230105 as a number, or date text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 19000101 <= value <= 29991231:
            value = str(int(value))  # 20230105 typed as a number is a date, not an epoch
        elif serial := excel_serial_date(value):
            return serial
    elif isinstance(value, str) and _SERIAL_TEXT.fullmatch(value):
        # A serial that went through a CSV: 44197 is 2021-01-01; a fraction is the time
        # of day (44197.5 is noon), kept as a spreadsheet's number cell keeps it.
        return excel_serial_date(float(value))
    return parse_datetime(value)


def _is_url(text: str) -> bool:
    return bool(_URL.match(text))


def _is_contact(text: str) -> bool:
    return bool(_EMAIL.search(text) or _PHONE.search(text))


def _is_format_list(text: str) -> bool:
    formats = parse_formats(text)
    return bool(formats) and all(f in KNOWN_FORMATS for f in formats)


# Field -> does this cell's text look like the field's value (csv-detective's value tests).
VALUE_TESTS = {
    "landing_page": _is_url,
    "download_url": lambda t: all(_is_url(p) for p in re.split(r"[\s,，;；、|]+", t) if p),
    "issued": lambda t: parse_cell_date(t) is not None,
    "modified": lambda t: parse_cell_date(t) is not None,
    "open_type": lambda t: normalize_open_type(t)[0] != "unknown",
    # Words only: a column of bare numbers (counts, years) is no frequency by its values;
    # under a frequency header they count the header's unit (tabular.frequency_units).
    "frequency": lambda t: not is_bare_number(t) and normalize_frequency(t)[0] != "unknown",
    "formats": _is_format_list,
    "contact_point": _is_contact,
    "record_count": lambda t: bool(_COUNT.match(t)),
    "publisher": lambda t: not (_is_contact(t) or _is_url(t)),
    "title": lambda t: not _is_url(t) and parse_cell_date(t) is None,
}
# Headers that claim these fields are overruled when their values clearly are not that.
STRICT = ("landing_page", "download_url", "issued", "modified", "record_count")

# Headers that name an address without saying whose (访问地址: "access address"): portals
# put the dataset's page there as often as its file. Their values decide (_url_kind).
_ACCESS_HEADER = re.compile(r"^(访问|訪問|access)(地址|链接|鏈接|網址|网址|url)$")
URL_KIND_SHARE = 0.8  # of a column's URL values, to say it holds pages or files


def _url_kind(text: str) -> str | None:
    """ "file", "page" or None (not a URL, or nothing to tell) by the URL's last segment:
    a data format's suffix, a page's suffix or none at all (url_suffix_format)."""
    if not _is_url(text):
        return None
    found = url_suffix_format(text if "://" in text else f"http://{text}")
    if found == "HTML" or (not found and "." not in _last_segment(text)):
        return "page"
    return "file" if found in KNOWN_FORMATS else None


def _last_segment(url: str) -> str:
    return urlsplit(url if "://" in url else f"http://{url}").path.rstrip("/").rsplit("/", 1)[-1]


def _url_kind_shares(values: list) -> tuple[float, float, int]:
    """(share of pages, share of files, how many URLs) among a column's URL values."""
    kinds = [_url_kind(t) for v in values if (t := cell_text(v))]
    urls = [k for k in kinds if k is not None]
    if not urls:
        return 0.0, 0.0, 0
    return urls.count("page") / len(urls), urls.count("file") / len(urls), len(urls)


def _retarget_by_url_kind(target: str, header: str, values: list) -> tuple[str, str] | None:
    """(field, why) when a URL column's values say the header chose the wrong URL field:
    a 访问地址 column (download URL by its header) of web pages is the dataset's page; a
    网址/链接 column (landing page by its header) of data files is its download URL. At
    least 3 URLs, URL_KIND_SHARE of them of the other kind; None otherwise. A download
    header that names a file, API or service (下载地址, 接口地址) is never a page: an API's
    URLs have no file extension."""
    pages, files, count = _url_kind_shares(values)
    if count < 3:
        return None
    if (
        target == "download_url"
        and _ACCESS_HEADER.match(fold_header(header))
        and (pages >= URL_KIND_SHARE)
    ):
        return "landing_page", (
            f"header names an access address; {pages:.0%} of its URLs are web pages (no data "
            "file extension): the dataset's page"
        )
    if target == "landing_page" and files >= URL_KIND_SHARE:
        return "download_url", (
            f"header names a web address; {files:.0%} of its URLs end in a data file's "
            "extension: the download URL"
        )
    return None


def check_mapping(mapping: dict) -> dict[str, tuple[str, ...]]:
    """Validate a source's mapping; return the fields it names columns for (may be ())."""
    unknown_keys = sorted(set(mapping) - set(MAPPING_KEYS))
    if unknown_keys:
        raise MappingError(
            f"tabular mapping has unknown key(s) {', '.join(unknown_keys)}; "
            f"known keys: {', '.join(MAPPING_KEYS)}"
        )
    overrides = mapping.get("fields") or {}
    if not isinstance(overrides, dict):
        raise MappingError('tabular mapping "fields" must be an object {field: column(s)}')
    unknown_fields = sorted(set(overrides) - set(FIELDS))
    if unknown_fields:
        raise MappingError(
            f"tabular mapping names unknown field(s) {', '.join(unknown_fields)}; "
            f"known fields: {', '.join(FIELDS)}"
        )
    configured = {}
    for target, columns in overrides.items():
        if not isinstance(columns, str | list | tuple | None):
            raise MappingError(f"tabular mapping for {target} must be a column name or a list")
        names = [columns] if isinstance(columns, str) else columns or ()
        configured[target] = tuple(str(name) for name in names if str(name).strip())
    _check_settings(mapping)
    if mapping.get("id_column"):
        configured["identifier"] = (str(mapping["id_column"]),)
    return configured


def _check_settings(mapping: dict) -> None:
    """The mapping's single settings have the form the reader takes (MappingError): a
    column name for ``id_column`` ("" for none), a sheet's name for ``sheet``, a
    codec Python knows for ``encoding``, one character (or tab/comma/semicolon) for
    ``delimiter``. Checked when the source is saved (a 422), not at its next harvest.
    Whether the named columns are in the file shows in a preview, which reads it."""
    import codecs

    from subscribe.catalog.harvesters.tabular_read import DELIMITER_NAMES

    id_column = mapping.get("id_column")
    if id_column not in (None, "") and not (isinstance(id_column, str) and id_column.strip()):
        raise MappingError("tabular mapping id_column must be a column name (text)")
    sheet = mapping.get("sheet")
    if sheet is not None and not isinstance(sheet, str):
        raise MappingError("tabular mapping sheet must be a sheet's name")
    encoding = mapping.get("encoding")
    if encoding is not None:
        try:
            codecs.lookup(encoding if isinstance(encoding, str) else "")
        except LookupError:
            raise MappingError(f"tabular mapping names unknown encoding {encoding!r}") from None
    delimiter = mapping.get("delimiter")
    if delimiter is not None:
        named = DELIMITER_NAMES.get(delimiter, delimiter) if isinstance(delimiter, str) else None
        if not (isinstance(named, str) and len(named) == 1):
            raise MappingError(
                f"tabular mapping delimiter must be one character (or tab, comma, semicolon):"
                f" {delimiter!r}"
            )


# --- cells ---------------------------------------------------------------------------


def cell_text(value) -> str:
    """A cell of any reader (CSV text, XLSX number or date, JSON value) as clean text."""
    if type(value) is str:  # every CSV cell: skip the type tests
        return clean_text(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # spreadsheets store ids and years as floats: 12345.0
    elif isinstance(value, datetime | date):
        value = value.isoformat()
    elif isinstance(value, dict):
        value = value.get("name") or value.get("title") or value.get("display_name")
    elif isinstance(value, list):
        value = ", ".join(filter(None, map(cell_text, value)))
    return clean_text(value)


def is_blank(cells) -> bool:
    return all(not cell_text(cell) for cell in cells)


# --- the header ----------------------------------------------------------------------


@dataclass
class Table:
    """A tabular export: its header, its first body rows, and how to read every body row.

    ``sample``: the first body rows (at most VALUE_SAMPLE, blank rows left out), what the
    value tests read; ``body()``: every body row again from the file, as (number, cells or
    read error), numbered as a spreadsheet shows rows ("row N") or records ("record N",
    ``word``); blank rows are left to the caller. Without ``body`` the sample is all.
    """

    header: list
    sample: list[tuple[str, list | Exception]]  # (reference for people, cells or read error)
    header_row: int | None = None  # as a spreadsheet numbers it; None for JSON
    sheet: str | None = None
    skipped: list[dict] = field(default_factory=list)  # title/note rows: {reference, reason}
    kind: str = ""  # csv | xlsx | json
    body: Callable[[], Iterator[tuple[int, list | Exception]]] | None = None
    word: str = "row"
    # A text file holding bytes its encoding cannot read (a damaged or cut GBK export):
    # they read as U+FFFD, and the rows holding one are reported (not dropped).
    undecodable: str = ""  # the encoding those bytes were not valid in; "" when none
    # A workbook read over several sheets of one header (tabular_read._sheets_table): their
    # names, the first's rows numbered as they are and each later sheet's past
    # SHEET_STRIDE more; the sheets left out ({sheet, reason}).
    sheets: list[str] = field(default_factory=list)
    sheets_left_out: list[dict] = field(default_factory=list)

    def reference(self, number: int) -> str:
        """Where a body row is, for people: "row 7", or "sheet '市教育局' row 7"."""
        if number < SHEET_STRIDE or not self.sheets:
            return f"{self.word} {number}"
        index, number = divmod(number, SHEET_STRIDE)
        return in_sheet(self.sheets[index], f"{self.word} {number}")


def in_sheet(sheet: str, reference: str) -> str:
    """A reference ("row 7") within a named sheet of a workbook read whole."""
    return f"sheet {sheet!r} {reference}"


# Rows of a workbook's later sheets are numbered past this per sheet (Table.sheets): more
# than a sheet holds (XLSX 1,048,576 rows).
SHEET_STRIDE = 10_000_000


def header_score(cells: list, configured: dict[str, tuple[str, ...]]) -> int:
    """How many fields the row's cells name; 0 when it has no title column (not a header)."""
    folded = [fold_header(cell_text(c)) for c in cells]
    titles = configured.get("title")
    if titles is not None:
        has_title = any(fold_header(name) in folded for name in titles)
    else:
        has_title = any((c := classify(cell_text(cell))) and c.field == "title" for cell in cells)
    if not has_title:
        return 0
    return len({c.field for cell in cells if (c := classify(cell_text(cell))) and c.field})


def no_title_error(
    header: list,
    configured: dict[str, tuple[str, ...]],
    found: str = "columns",
    row: int | None = None,
) -> HarvestError:
    """No row has a title column: the mapped one named when the operator named it (a
    typo there is the likely cause; a MappingError), as a missing mapped column of any
    other field is. ``row``: the file row whose cells are listed (a sheet's first row
    may be its title, not its header: bb6), None for a JSON export's keys."""
    titles = configured.get("title")
    why = f"the first non-blank row; none of the first {HEADER_SEARCH_ROWS} has a title column"
    listed = describe(header, row, why)
    if titles:
        return MappingError(f"mapped column(s) not found: title ({' / '.join(titles)}); "
                            f"{found} found: {listed}")  # fmt: skip
    return HarvestError(f"no title column found; {found} found: {listed}")


def find_header(
    rows: Callable[[], Iterable[tuple[int, list | Exception]]],
    configured: dict[str, tuple[str, ...]],
) -> Table:
    """The header is the row naming most fields (with a title) among the first non-blank
    rows, so a sheet title and a merged group-header row above it are skipped.

    ``rows()`` reads the file's rows from the start, numbered; it is called again for
    every pass over the body (Table.body)."""
    looked_at: list[tuple[int, list]] = []
    sample: list[tuple[str, list | Exception]] = []
    with contextlib.closing(iter(rows())) as stream:
        for number, cells in stream:
            if isinstance(cells, Exception) or is_blank(cells):
                continue
            looked_at.append((number, list(cells)))
            if len(looked_at) == HEADER_SEARCH_ROWS:
                break
        if not looked_at:
            raise HarvestError("the file is empty or not a CSV, XLSX or JSON catalog export")
        scores = [header_score(cells, configured) for _, cells in looked_at]
        if max(scores) == 0:
            raise no_title_error(looked_at[0][1], configured, row=looked_at[0][0])
        at = scores.index(max(scores))
        number, header = looked_at[at]
        sample = [(f"row {n}", row) for n, row in looked_at[at + 1 :]]
        for n, row in stream:
            if len(sample) >= VALUE_SAMPLE:
                break
            if isinstance(row, Exception) or not is_blank(row):
                sample.append((f"row {n}", row if isinstance(row, Exception) else list(row)))
    skipped = [{"reference": f"row {n}", "reason": "above the header (a title or group row)"}
               for n, _ in looked_at[:at]]  # fmt: skip
    # Rows above the header (a read error there too) are the sheet's title, not records;
    # a row below it that could not be read is a bad record, counted with its reason,
    # also among the rows the header search looked at (a short file lost such a row
    # silently: 23 rows, one with a cell over the CSV field limit, gave 22 created, 0 bad).
    header_number = number

    def body() -> Iterator[tuple[int, list | Exception]]:
        with contextlib.closing(iter(rows())) as stream:
            for n, cells in stream:
                if n <= header_number:
                    continue
                yield (
                    n,
                    cells if type(cells) is list or isinstance(cells, Exception) else list(cells),
                )

    return Table(header, sample, header_row=number, skipped=skipped, body=body)


def describe(header: list, row: int | None = None, why: str = "taken as the header") -> str:
    """The header's names (the first 40), then which file row they are from and why
    that row, so an error naming them says which row was read as the header."""
    names = [cell_text(name) for name in header if cell_text(name)]
    listed = ", ".join(names[:40]) or "(none)"
    return listed if row is None else f"{listed} (row {row}, {why})"


# --- the columns ---------------------------------------------------------------------


@dataclass
class ColumnPlan:
    """Field -> column indexes (winner first), and the report of every decision."""

    columns: dict[str, list[int]]
    report: list[dict]  # one entry per header column, in file order


def _sample(rows: list, index: int) -> list:
    values = []
    for _, cells in rows[:VALUE_SAMPLE]:
        if not isinstance(cells, Exception) and index < len(cells):
            values.append(cells[index])
    return values


def _value_share(target: str, values: list, name: str = "") -> tuple[float | None, float]:
    """(share of non-empty values passing the field's test or None, share non-empty).
    ``name``: the column's header; a frequency header naming a unit (更新周期（天）:
    header_unit) makes a bare number fit, as the harvest reads it (tabular.frequency_units)."""
    texts = [(v, cell_text(v)) for v in values]
    present = [(v, t) for v, t in texts if t]
    fill = len(present) / len(values) if values else 0.0
    test = VALUE_TESTS.get(target)
    if test is None or not present:
        return None, fill
    if target in ("issued", "modified"):  # the raw cell: Excel dates arrive as datetime
        passed = sum(parse_cell_date(v) is not None for v, _ in present)
    elif target == "frequency" and (unit := header_unit(name)) is not None:
        passed = sum(normalize_frequency(t, *unit)[0] != "unknown" for _, t in present)
    else:
        passed = sum(bool(test(t)) for _, t in present)
    return passed / len(present), fill


def plan_columns(table: Table, configured: dict[str, tuple[str, ...]]) -> ColumnPlan:
    """Decide every column's field; explicit mapping first, then header rules, then values."""
    header = [cell_text(name) for name in table.header]
    folded = [fold_header(name) for name in header]
    entries: list[dict] = [{"index": i, "column": column_label(header, i), "field": None,
                            "role": "ignored"} for i in range(len(header))]  # fmt: skip
    claims: dict[str, list[tuple[float, int, str, str]]] = {}  # field -> (score, i, level, why)
    width = max(len(header), 1)

    check_configured_columns(configured, folded, header, table.header_row)
    taken = {
        folded.index(fold_header(name))
        for names in configured.values()
        for name in names
        if fold_header(name) in folded
    }
    for target, names in configured.items():
        present = [name for name in names if fold_header(name) in folded]
        for rank, name in enumerate(present):  # alternatives: the first with a value wins
            i = folded.index(fold_header(name))
            claims.setdefault(target, []).append(
                (LEVEL_POINTS["explicit"] - rank, i, "explicit", "named in the source's mapping")
            )

    for i, name in enumerate(header):
        if i in taken:
            entries[i]["reason"] = "named for another field in the mapping"
            continue
        values = _sample(table.sample, i)
        if not name:  # an unnamed column: placed by its values when they are URLs
            target = _unnamed_url_field(values)
            if target is None:
                entries[i]["reason"] = "no header text"
                continue
            share, fill = _value_share(target, values)
            level, why = "value", f"no header text; its values are {target}"
        else:
            claim = classify(name)
            if claim is not None and claim.field is None:
                entries[i]["reason"] = claim.reason
                continue
            target, level, why = (
                (claim.field, claim.level, claim.reason) if claim else (None, "", "")
            )
            if target in ("download_url", "landing_page"):
                retarget = _retarget_by_url_kind(target, name, values)
                if retarget is not None:
                    target, why = retarget[0], f"{why}; but {retarget[1]}"
            if target is not None:
                share, fill = _value_share(target, values, name)
                if target == "publisher" and share is not None and share < MISFIT_SHARE:
                    contact_share, _ = _value_share("contact_point", values)
                    if contact_share and contact_share >= 0.5:  # never a phone/e-mail column
                        target, why = "contact_point", f"{why}; but its values are phones/e-mails"
                        share = contact_share
                elif target == "landing_page" and (same := _constant(values)):
                    entries[i]["reason"] = (
                        f"header suggests landing_page ({why}), but every row holds {same[:80]}: "
                        "a portal page, not each dataset's own"
                    )
                    entries[i]["suggested"] = target
                    continue
                elif (
                    target in STRICT
                    and share is not None
                    and share < MISFIT_SHARE
                    and (sum(1 for v in values if cell_text(v)) >= 3)
                ):
                    entries[i]["reason"] = (
                        f"header suggests {target} ({why}), but only {share:.0%} of its values fit"
                    )
                    entries[i]["suggested"] = target
                    continue
            else:
                target, share, fill, level, why = _by_values(values, claims)
                if target is None:
                    entries[i]["reason"] = "no rule recognises this header"
                    continue
        if target in configured:  # the mapping decides this field alone
            entries[i]["reason"] = f"{why}; the mapping names another column for {target}"
            continue
        last_update = target == "modified" and bool(_LAST_UPDATE.search(folded[i]))
        if last_update:
            why = f"{why}; {LAST_UPDATE_WHY}"
        detail = f"{why}; {share:.0%} of values fit" if share is not None else why
        value_points = share if share is not None else fill
        if target == "landing_page" and share is not None:
            # Each dataset has its own page: a column repeating a few pages scores low.
            distinct = _distinct_share(values)
            value_points *= distinct
            detail += f", {distinct:.0%} distinct"
        score = (
            LEVEL_POINTS[level] + VALUE_WEIGHT * value_points + POSITION_WEIGHT * (1 - i / width)
            + LAST_UPDATE_POINTS * last_update
        )  # fmt: skip
        claims.setdefault(target, []).append((round(score, 1), i, level, detail))

    columns: dict[str, list[int]] = {}
    for target, candidates in claims.items():
        candidates.sort(key=lambda c: (-c[0], c[1]))
        columns[target] = [i for _, i, _, _ in candidates]
        winner = candidates[0]
        for rank, (score, i, level, why) in enumerate(candidates):
            entry = entries[i]
            entry.update(field=target, level=level, score=score, reason=why,
                         role="used" if rank == 0 else "fallback")  # fmt: skip
            if rank:
                entry["reason"] = (
                    f"{why}; {column_label(header, winner[1])} won ({winner[0]} > {score}): used only "
                    "where it is empty"
                )
    return ColumnPlan(columns, entries)


def _constant(values: list) -> str:
    """The one text a column holds on every row (3 or more rows), else ""."""
    texts = {cell_text(v) for v in values}
    return texts.pop() if len(values) >= 3 and len(texts) == 1 else ""


def _distinct_share(values: list) -> float:
    present = [t for v in values if (t := cell_text(v))]
    return len(set(present)) / len(present) if present else 1.0


def _unnamed_url_field(values: list) -> str | None:
    """The field of an unnamed column (an empty header cell) by its values, only when
    they are URLs (VALUE_ONLY_SHARE of them, on half the rows): the download URL when
    URL_KIND_SHARE of them are data files (.csv, .xlsx …), else the landing page (unless
    one page on every row: the portal's). Other values (所属区县 …) leave it unplaced,
    to tell twins apart (tabular_identity.describing_columns)."""
    share, fill = _value_share("landing_page", values)
    if share is None or share < VALUE_ONLY_SHARE or fill < 0.5:
        return None
    _, files, count = _url_kind_shares(values)
    if count and files >= URL_KIND_SHARE:
        return "download_url"
    return None if _constant(values) else "landing_page"


def _by_values(values: list, claims: dict) -> tuple:
    """A header no rule places: its values may still say what it is."""
    for target in ("landing_page", "download_url", "contact_point", "open_type", "frequency"):
        if target in ("landing_page", "download_url") and target in claims:
            continue
        share, fill = _value_share(target, values)
        if share is not None and share >= VALUE_ONLY_SHARE and fill >= 0.5:
            return target, share, fill, "value", f"header unknown; its values are {target}"
    return None, None, 0.0, "", ""


def check_configured_columns(
    configured: dict[str, tuple[str, ...]],
    folded: list[str],
    header: list,
    row: int | None = None,
) -> None:
    """A column the operator named explicitly must exist: a typo should fail loudly."""
    missing = [
        f"{target} ({' / '.join(names)})"
        for target, names in configured.items()
        if names and not any(fold_header(name) in folded for name in names)
    ]
    if missing:
        raise MappingError(f"mapped column(s) not found: {'; '.join(missing)}; "
                           f"columns found: {describe(header, row)}")  # fmt: skip
