"""Legacy Excel workbooks (.xls: BIFF in an OLE2 compound file), read with xlrd.

Many Chinese portals still export catalogs and data files as .xls. xlrd reads the whole
workbook (at most 65,536 rows a sheet), so callers cap the file's size first. Rows come
back as an XLSX reader gives them, so the rest of the code needs no second path: date
cells as datetimes, blanks and error cells as None, booleans as bool, numbers as float.
"""

from __future__ import annotations

import contextlib

OLE2_MAGIC = b"\xd0\xcf\x11\xe0"  # the first bytes of every .xls (and of .doc, .ppt, .msg)


class XlsError(ValueError):
    """The bytes are not a workbook xlrd can read (a .doc, an encrypted or broken file)."""


def open_xls(data: bytes):
    """An xlrd Book over `data` with merged ranges and date formats read; XlsError if not
    a readable workbook. Release it with `book.release_resources()`."""
    import xlrd  # only a legacy workbook pays for the import

    try:
        return xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True)
    except Exception as exc:  # xlrd raises its own, struct, index and assertion errors
        raise XlsError(str(exc) or type(exc).__name__) from exc


def row_values(row, datemode: int) -> list:
    """One sheet row (xlrd cells) as [value | None]: a date cell (a number with a date
    format) as a datetime, blanks and errors as None."""
    import xlrd

    values = []
    for cell in row:
        kind, value = cell.ctype, cell.value
        if kind == xlrd.XL_CELL_DATE:
            with contextlib.suppress(ValueError, OverflowError, xlrd.xldate.XLDateError):
                value = xlrd.xldate.xldate_as_datetime(value, datemode)  # else the number
        elif kind in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK, xlrd.XL_CELL_ERROR):
            value = None
        elif kind == xlrd.XL_CELL_BOOLEAN:
            value = bool(value)
        values.append(value)
    return values


def merged_boxes(sheet) -> list[tuple[int, int, int, int]]:
    """The sheet's merged ranges as (min_row, min_col, max_row, max_col), 1-based and
    inclusive, as openpyxl's range_boundaries gives them (xlrd's are 0-based, hi
    exclusive)."""
    return [(r0 + 1, c0 + 1, r1, c1) for r0, r1, c0, c1 in sheet.merged_cells]
