"""Deterministic file contents of demo resources: tables rendered as CSV, JSON, XML or XLSX."""

from __future__ import annotations

import csv
import io
import json
import random
import zipfile
import zlib
from dataclasses import dataclass
from datetime import date, timedelta
from xml.sax.saxutils import escape

from stdnum.cn import uscc as uscc_number

from subscribe.demo.vocab import CITY, INDUSTRIES, REGION_CODES, REGIONS, STREETS, WORDS

MIMETYPES = {
    "CSV": "text/csv",
    "JSON": "application/json",
    "API": "application/json",
    "XML": "application/xml",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EXTENSIONS = {"CSV": "csv", "JSON": "json", "API": "json", "XML": "xml", "XLSX": "xlsx"}

# Columns a schema revision adds, in order, and the renames it applies (real portals do both).
_ADDED_COLUMNS = (
    ("数据更新时间", "date", ()),
    ("备注", "pick", ("无", "已核实", "数据补录", "")),
    ("统计口径", "pick", ("全口径", "规模以上", "法人单位")),
    ("状态", "pick", ("有效", "注销", "暂停")),
)
_RENAMES = {
    "经度": "经度(WGS84)",
    "纬度": "纬度(WGS84)",
    "所属区县": "行政区划",
    "地址": "详细地址",
    "联系电话": "咨询电话",
    "序号": "编号",
    "统一社会信用代码": "社会信用代码",
}


@dataclass(frozen=True, slots=True)
class Column:
    header: str
    kind: str
    args: tuple[str, ...]
    key: str  # seeds the values, so a renamed column keeps its data


@dataclass(frozen=True, slots=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple, ...]


def schema(columns: tuple, schema_rev: int) -> tuple[Column, ...]:
    """The columns of a subject's table after `schema_rev` schema changes."""
    cols = [Column(h, k, a, h) for h, k, a in columns]
    for step in range(1, schema_rev + 1):
        if step % 2:  # odd steps add a column, even steps rename one
            header, kind, args = _ADDED_COLUMNS[(step // 2) % len(_ADDED_COLUMNS)]
            if any(c.header == header for c in cols):
                header = f"{header}{step}"
            cols.append(Column(header, kind, args, header))
        else:
            pos = (step // 2 - 1) % len(cols)
            old = cols[pos]
            new = _RENAMES.get(old.header, f"{old.header}（调整后）")
            cols[pos] = Column(new, old.kind, old.args, old.key)
    return tuple(cols)


def build_table(seed: int, columns: tuple[Column, ...], year: int) -> Table:
    """20–200 plausible rows; each column drawn from its own stream (see Column.key)."""
    n_rows = random.Random(seed).randint(20, 200)
    data = []
    for col in columns:
        # An adcode column follows its district column's stream (same draws, same rows);
        # one without a district column (登记机关) gets a stream of its own.
        key = (
            col.args[0]
            if col.kind == "adcode" and col.args[0] in {c.key for c in columns}
            else col.key
        )
        rng = random.Random(seed ^ zlib.crc32(key.encode("utf-8")))
        make = _GENERATORS[col.kind]
        data.append([make(rng, col.args, row, year) for row in range(n_rows)])
    return Table(tuple(c.header for c in columns), tuple(zip(*data, strict=True)))


def _name(rng, args, row, year):
    return f"{rng.choice(WORDS)}{args[0]}"


def _company(rng, args, row, year):
    return f"{CITY}{rng.choice(WORDS)}{rng.choice(INDUSTRIES)}有限公司"


def _addr(rng, args, row, year):
    return f"{CITY}{rng.choice(REGIONS[1:])[0]}{rng.choice(STREETS)}{rng.randint(1, 999)}号"


def _uscc_pool(size: int = 400) -> tuple[str, ...]:
    """The city's organisations' 统一社会信用代码 (valid check digits): datasets draw from
    one pool, so the same company appears in several files, as on a real portal."""
    rng = random.Random(2260)
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    codes = []
    for _ in range(size):
        region = rng.choice(list(REGION_CODES.values()))
        body = "91" + region + "".join(rng.choice(alphabet) for _ in range(9))
        codes.append(body + uscc_number.calc_check_digit(body))
    return tuple(codes)


_USCC_POOL = _uscc_pool()


def _uscc(rng, args, row, year):
    return rng.choice(_USCC_POOL)


def _adcode(rng, args, row, year):
    """行政区划代码 of the row's district: drawn from the district column's own stream
    (args[0] names it; build_table seeds this column with it), so the two agree."""
    return REGION_CODES[rng.choice(REGIONS[1:])[0]]


def _date(rng, args, row, year):
    return (date(year, 1, 1) + timedelta(days=rng.randrange(365))).isoformat()


def _datetime(rng, args, row, year):
    return f"{_date(rng, args, row, year)} {rng.randrange(24):02d}:{rng.randrange(60):02d}:00"


def _float(rng, args, row, year):
    return round(rng.uniform(float(args[0]), float(args[1])), int(args[2]))


_GENERATORS = {
    "seq": lambda rng, args, row, year: row + 1,
    "name": _name,
    "company": _company,
    "addr": _addr,
    "district": lambda rng, args, row, year: rng.choice(REGIONS[1:])[0],
    "street": lambda rng, args, row, year: f"{rng.choice(WORDS)}街道",
    "phone": lambda rng, args, row, year: f"0999-{rng.randint(6000000, 8999999)}",
    "code": lambda rng, args, row, year: f"{args[0]}{year}{rng.randint(0, 999999):06d}",
    "uscc": _uscc,
    "adcode": _adcode,
    "date": _date,
    "datetime": _datetime,
    "month": lambda rng, args, row, year: f"{year}-{row % 12 + 1:02d}",
    "year": lambda rng, args, row, year: year - row % 3,
    "int": lambda rng, args, row, year: rng.randint(int(args[0]), int(args[1])),
    "float": _float,
    "lng": lambda rng, args, row, year: round(rng.uniform(117.05, 117.45), 6),
    "lat": lambda rng, args, row, year: round(rng.uniform(31.70, 32.00), 6),
    "pick": lambda rng, args, row, year: rng.choice(args),
}


def render(fmt: str, table: Table, encoding: str = "utf-8") -> bytes:
    """The bytes of one resource file in its format; CSV in `encoding` (some portals
    still publish GBK/GB18030)."""
    if fmt == "CSV":
        return _csv(table, encoding)
    if fmt == "XML":
        return _xml(table)
    if fmt == "XLSX":
        return _xlsx(table)
    records = [dict(zip(table.headers, row, strict=True)) for row in table.rows]
    body = {"code": 200, "msg": "操作成功", "total": len(records), "data": records}
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def _csv(table: Table, encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.headers)
    writer.writerows(table.rows)
    return out.getvalue().encode(encoding)


def _xml(table: Table) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<records>']
    for row in table.rows:
        fields = "".join(
            f'<field name="{escape(h, {chr(34): "&quot;"})}">{escape(str(v))}</field>'
            for h, v in zip(table.headers, row, strict=True)
        )
        parts.append(f"<record>{fields}</record>")
    parts.append("</records>\n")
    return "\n".join(parts).encode("utf-8")


_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/workbook.xml": (
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="数据" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        "</Relationships>"
    ),
}


def _xlsx_cell(value) -> str:
    if isinstance(value, int | float):
        return f"<c><v>{value}</v></c>"
    return f'<c t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def _xlsx(table: Table) -> bytes:
    """A minimal valid workbook; fixed zip timestamps keep the bytes (and ETag) stable."""
    rows = "".join(
        "<row>" + "".join(_xlsx_cell(v) for v in row) + "</row>"
        for row in (table.headers, *table.rows)
    )
    sheet = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"<sheetData>{rows}</sheetData></worksheet>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in (*_XLSX_PARTS.items(), ("xl/worksheets/sheet1.xml", sheet)):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(
                info, '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + text
            )
    return out.getvalue()
