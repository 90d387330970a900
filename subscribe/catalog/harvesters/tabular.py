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
or a "注：" footnote are skipped, and Excel date serials in date columns are dates. A
row with no title whose filled cells are all sign-offs (填报单位：…, 联系电话：…) is the
export's footer, skipped and reported, not a bad record; so are a second header row
right under the header (a bilingual export's Title;Publisher;… under 数据名称;提供单位;…)
and a total row with no publisher (合计 | | 5项).

Identity is chosen on evidence from the whole file (tabular_identity). A row without a
title, an exact duplicate of an earlier row (also one equal to it apart from a running
number: 序号, or an id column of row numbers), or a row that cannot be read is a BadRecord
referenced "row N" (as a spreadsheet numbers it) or "record N" (JSON). A file that cannot
be read at all, has no title column or has no rows is a HarvestError.

The run's mapping report (``ctx.report``; stored on the harvest run) says which column
became which field and why, which were ignored, and how identity was chosen.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import sys
import tempfile
from array import array
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, time
from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qsl, unquote, urljoin, urlsplit

import numpy as np

from subscribe.catalog.harvesters.base import HarvestContext, RecordStream
from subscribe.catalog.harvesters.tabular_carry import HASH_LEVEL, TabularCarryOver
from subscribe.catalog.harvesters.tabular_columns import (
    SHEET_STRIDE,
    ColumnPlan,
    Table,
    cell_text,
    check_mapping,
    parse_cell_date,
    plan_columns,
)
from subscribe.catalog.harvesters.tabular_headers import classify, header_unit
from subscribe.catalog.harvesters.tabular_identity import (
    TOLD_APART,
    TOP_VALUE,
    Identity,
    Row,
    choose_chain,
    column_label,
    describing_columns,
    differing_twins,
    distinguish_twins,
    group_of,
    is_running_number_header,
    keep_stored,
    named_twin,
    normalized,
    row_number,
    row_number_value,
    shared,
    shown_values,
    tell_groups_apart,
    title_publisher_identity,
    told_fingerprint,
)
from subscribe.catalog.harvesters.tabular_read import read_table
from subscribe.catalog.normalize import (
    BLANK_WORDS,
    KNOWN_FORMATS,
    PartialDate,
    clean_text,
    normalize_date,
    normalize_format,
    normalize_frequency,
    normalize_open_type,
    parse_formats,
    split_list,
    url_suffix_format,
)
from subscribe.catalog.records import (
    BadRecord,
    DatasetRecord,
    HarvestError,
    RawRecord,
    ResourceRecord,
)
from subscribe.catalog.text import clean_line

NOTE_START = re.compile(r"^(?:注|备注|说明|注释|数据来源|资料来源|制表|填报|来源|note|source)\s*[:：]|^[*※]",
                        re.I)  # fmt: skip
# A sign-off cell under a table: a short label and a colon, then its value (填报单位：X,
# 填报日期：2024-09-30, 联系人：张三, 联系电话：…, Prepared by: …). A row with no title
# whose every filled cell reads so is the export's footer, not a dataset missing a title.
FOOTER_CELL = re.compile(r"^(?:[\u3400-\u9fff]{1,6}|[a-z]+(?: [a-z]+){0,2})\s*[:：]\s*\S", re.I)
# One http(s)/ftp URL with no separator, space, quote or bracket: _urls gives it as is.
_PLAIN_URL = re.compile(r"(?:https?|ftp)://[^\s、，；;|,'\"<>\[\]()]+", re.I)
URL_SPLIT = re.compile(r"[\s、，；;|]+|,(?=\s*(?:[a-z][a-z0-9+.-]*://|/|www\.))", re.I)
# A file name holding spaces ("…/files/公交 站点.csv"), written into a cell unencoded: the
# words after the space are the rest of the URL when the URL before has no file suffix
# yet and they end with a format's (a URL then a note, "…/x.csv 说明", stays apart).
_NAME_REST = re.compile(r"[^\s、，；;|]+(?: +[^\s、，；;|]+)*\.[A-Za-z0-9]{2,5}")


def harvest(ctx: HarvestContext) -> RecordStream:
    """Download the export to a temporary file, read it once to decide columns and
    identities, then read it again yielding the rows in order (memory flat in its size)."""
    mapping = ctx.mapping or {}
    configured = check_mapping(mapping)
    with tempfile.TemporaryFile() as file, contextlib.ExitStack() as stack:
        table = read_table(ctx, file, mapping, configured, stack)
        if not table.sample:  # a glitch answering an empty export must not delete the catalog
            raise HarvestError(f"{ctx.url} has a header but no rows")
        plan = plan_columns(table, configured)
        rows = RowMapper(table, plan, configured, ctx.url, raw=ctx.raw_rows,
                         stored=ctx.stored_datasets,
                         stored_told_apart=ctx.stored_told_apart,
                         carry=TabularCarryOver.of(ctx))  # fmt: skip
        ctx.report = rows.scan()
        ctx.on_total(ctx.report["rows"])
        yield from rows.records()
    ctx.full_listing = True


# What the first pass found each body row to be (RowMapper.status, one byte a row).
BLANK, NOTE, UNREADABLE, MISSING_TITLE, DUPLICATE, DATASET = range(6)
REPLACED = "\ufffd"  # what a byte the file's encoding cannot read is decoded as


class RowMapper:
    """Every body row of a table as a record or a bad record, in two passes over the file.

    ``scan()`` reads every row once and keeps, per row, one status byte and a few 64-bit
    hashes (the row's clean texts, each identity candidate's value, the title-and-publisher
    identity): enough to find exact duplicates and to choose identities on evidence from
    the whole file (tabular_identity), without the rows. Rows whose hashes collide with
    another's (duplicates, shared identities: few) are read again to decide on their
    texts. ``records()`` then reads the rows again and yields each as it goes: a
    RawRecord (``raw``: parsed only if the writer needs it) or a DatasetRecord.
    """

    def __init__(self, table: Table, plan: ColumnPlan, configured: dict, base_url: str,
                 raw: bool = False, stored=None, stored_told_apart=None,
                 carry: TabularCarryOver | None = None):  # fmt: skip
        self.table, self.plan, self.base_url, self.raw = table, plan, base_url, raw
        self.stored = stored  # HarvestContext.stored_datasets
        self.stored_told_apart = stored_told_apart  # HarvestContext.stored_told_apart
        self.carry = carry  # stored identities carried over a change of identity scheme
        self.columns = plan.columns
        self.header = [cell_text(name) for name in table.header]
        self.width = len(self.header)
        self.explicit = bool(configured.get("identifier"))
        self.winners = {target: indexes[0] for target, indexes in plan.columns.items()}
        # column index -> the field it holds (_second_header)
        self.fields_of = {i: target for target, indexes in plan.columns.items() for i in indexes}
        self.candidates = [(f, i) for f in ("identifier", "landing_page", "download_url")
                           for i in plan.columns.get(f, ())]  # fmt: skip
        self.status = bytearray()  # per body row (blank ones too), by position
        self.reasons: dict[int, str] = {}  # position -> why it is a bad record (unreadable)
        self.duplicate_of: dict[int, str] = {}  # position -> reference of the first
        # position -> identifier decided over the file: rows told apart, stored
        # identities kept (keep_stored) or carried over (tabular_carry)
        self.told_apart: dict[int, str] = {}
        # position -> {header: value} telling a row from its twins (Row.distinguished)
        self.distinguished: dict[int, dict[str, str]] = {}
        # base -> its stored told-apart twins [(identifier, title, distinguished_by)]
        self.families: dict[str, list[tuple[str, str, dict]]] = defaultdict(list)
        self.chain: list[tuple[str, int]] = []
        titles = " / ".join(self.header[i] for i in plan.columns.get("title", ()))
        self.missing_title = f"missing title (column {titles} is empty)"
        # Columns no field holds that may tell twins apart to a person (所属区县)
        self.describing = describing_columns(self.header, plan.columns)
        # Running numbers: by their header (序号), or id columns (编号 1, 2, 3 …) whose
        # values turn out to be one (row_number); rows equal apart from them are
        # duplicates, and they never identify or tell rows apart.
        self.running = [i for i, name in enumerate(self.header) if is_running_number_header(name)]
        self.number_columns = [] if self.explicit else list(plan.columns.get("identifier", ()))
        self.running_ids: dict[int, str] = {}  # id column index -> why it is a row number
        self.prefix = _fingerprint_prefix(self.header, plan.columns, base_url) if raw else b""
        # frequency column index -> (days, rate) its header names ("更新周期(天)")
        self.units = frequency_units(self.header, plan.columns)

    def reference(self, number: int) -> str:
        return self.table.reference(number)

    # --- pass 1 -------------------------------------------------------------------
    def scan(self) -> dict:
        """Read every row; decide duplicates and identities; return the mapping report."""
        status, width, raw, columns = self.status, self.width, self.raw, self.columns
        header = self.header
        header_cells = frozenset(name for name in header if name)
        positions, numbers, row_hashes, pair_hashes = (array("q") for _ in range(4))
        describing, describing_hashes = self.describing, array("q")
        past_header = False  # a row had cells past the header (they may tell twins apart)
        values = {candidate: array("q") for candidate in self.candidates}
        # id column -> row_number_value of each row, while every cell may be a row number
        row_numbers = {index: array("q") for index in self.number_columns}
        running = self.running  # 序号 …: left out of the row's duplicate key
        skipped = list(self.table.skipped)
        count = duplicates = missing = 0
        undecodable = self.table.undecodable  # else no cell can hold a replaced byte
        damaged: list[str] = []
        for position, (number, cells) in enumerate(self.table.body()):
            counted = False
            try:
                if isinstance(cells, Exception):  # the file reader could not split this row
                    raise cells
                texts = _texts(cells)
                if not any(texts):
                    status.append(BLANK)
                    continue
                if undecodable and any(REPLACED in text for text in texts):
                    damaged.append(self.reference(number))
                note = _note_row(texts, width, header, header_cells)
                if not note and not positions and _second_header(texts, self.fields_of):
                    note = "a second header row (its cells name the same fields)"
                if note:  # not counted
                    status.append(NOTE)
                    if len(skipped) < 50:
                        skipped.append({"reference": self.reference(number), "reason": note})
                    continue
                count, counted = count + 1, True
                if raw:
                    title = clean_line(_field_text(texts, columns, "title"))
                    publisher = (
                        clean_line(_field_text(texts, columns, "publisher")) if title else ""
                    )
                else:
                    record = _record(cells, texts, columns, self.base_url, self.units)
                    title, publisher = (record.title, record.publisher) if record else ("", "")
            except Exception as exc:  # one unreadable row never sinks the harvest
                count += not counted
                status.append(UNREADABLE)
                self.reasons[position] = f"unreadable row: {exc}"
                continue
            # The export's sign-off lines (填报单位：…) have no title, or a label in its
            # place; a total row (合计 | | 5项) has no publisher. Neither is counted.
            if (not title or FOOTER_CELL.match(title)) and _footer_row(texts):
                note = "a footer (label: value cells, no title)"
            elif not publisher and _total_row(texts, running):
                note = "a total row (合计, no publisher)"
            if note:
                count -= 1
                status.append(NOTE)
                if len(skipped) < 50:
                    skipped.append({"reference": self.reference(number), "reason": note})
                continue
            if not title:
                status.append(MISSING_TITLE)
                missing += 1
                continue
            texts += [""] * (width - len(texts))
            status.append(DATASET)
            positions.append(position)
            numbers.append(number)
            if running:  # equal apart from a running number: a duplicate (re-read to tell)
                key = texts.copy()
                for index in running:
                    key[index] = ""
                row_hashes.append(hash(tuple(key)))
            else:
                row_hashes.append(hash(tuple(texts)))
            if row_numbers:
                for index, column in list(row_numbers.items()):
                    value = row_number_value(texts[index])
                    if value < 0:  # not a row number: stop reading this column
                        del row_numbers[index]
                    else:
                        column.append(value)
            # The title-and-publisher identity's equality, without its SHA-1 (3x dearer).
            pair_hashes.append(hash((normalized(title), _normalized_publisher(publisher))))
            # What may tell twins apart to a person (distinguish_twins): the describing
            # columns and any cells past the header (no header, so no field holds them).
            if len(texts) > width and (extra := _past_header(texts, width)):
                describing_hashes.append(hash((tuple([texts[i] for i in describing]), extra)))
                past_header = True
            elif describing:
                describing_hashes.append(hash(tuple([texts[i] for i in describing])))
            else:
                describing_hashes.append(0)
            for (target, index), column in values.items():
                column.append(hash(self._value(target, index, cells, texts[index])))

        positions_ = np.array(positions, dtype=np.int64)
        kept = np.ones(len(positions_), dtype=bool)
        for index, column in row_numbers.items():
            if why := row_number(np.array(column, dtype=np.int64)):
                self.running_ids[index] = why
        suspects = shared(np.array(row_hashes, dtype=np.int64))
        if self.running_ids:  # rows equal apart from that number share title and publisher
            suspects = np.union1d(suspects, shared(np.array(pair_hashes, dtype=np.int64)))
        if suspects.size:  # same hash: compare the texts themselves
            self._duplicates(positions_, suspects, kept)
        duplicates = len(self.duplicate_of)
        identity = self._identities(
            positions_[kept],
            {c: np.array(v, dtype=np.int64)[kept] for c, v in values.items()},
            np.array(pair_hashes, dtype=np.int64)[kept],
            np.array(describing_hashes, dtype=np.int64)[kept]
            if describing or past_header
            else None,
        )
        table = self.table
        return {
            "format": table.kind,
            "sheet": table.sheet,
            **({"sheets": table.sheets} if table.sheets else {}),
            **({"sheets_left_out": table.sheets_left_out} if table.sheets_left_out else {}),
            "header_row": table.header_row,
            "rows": count,
            "fields": {target: column_label(self.header, indexes[0])
                       for target, indexes in columns.items()
                       if not (target == "identifier" and indexes[0] in self.running_ids)},
            "columns": self._column_report(),
            "ignored": [column_label(self.header, e["index"]) for e in self._column_report()
                        if e["role"] == "ignored"],
            "identity": identity,
            "duplicates": duplicates,
            "missing_title": missing,
            "skipped_rows": skipped[:50],
            **({"undecodable_rows": {"encoding": undecodable, "rows": len(damaged),
                                     "references": damaged[:20]}} if damaged else {}),
        }  # fmt: skip

    def _column_report(self) -> list[dict]:
        """The plan's column report, an id column of row numbers shown as ignored: the
        header named an identifier, its values overruled it (row_number)."""
        if not self.running_ids:
            return self.plan.report
        entries = []
        for entry in self.plan.report:
            if entry["index"] in self.running_ids:
                entry = {**entry, "role": "ignored", "suggested": entry.get("field"),
                         "field": None,
                         "reason": f"{entry.get('reason')}; but {self.running_ids[entry['index']]}"}  # fmt: skip
            entries.append(entry)
        return entries

    def _duplicates(self, positions: np.ndarray, suspects: np.ndarray, kept: np.ndarray) -> None:
        """Mark as DUPLICATE (and not ``kept``) each suspect row equal to an earlier one,
        apart from its running numbers (序号, an id column of row numbers): copies of one
        dataset however the export numbered them."""
        blank = sorted({*self.running, *self.running_ids})
        first_seen: dict[tuple, tuple[str, list[str]]] = {}
        for index, (number, texts, _) in zip(suspects, self._read_again(positions[suspects]),
                                             strict=True):  # fmt: skip
            key = texts.copy()
            for i in blank:
                key[i] = ""
            key = tuple(key)
            position = int(positions[index])
            if key in first_seen:
                reference, first_texts = first_seen[key]
                if differ := [self.header[i] for i in blank if texts[i] != first_texts[i]]:
                    reference += f" apart from its running number ({'、'.join(differ)})"
                self.duplicate_of[position] = reference
                self.status[position] = DUPLICATE
                kept[index] = False
            else:
                first_seen[key] = (self.reference(number), texts)

    def _identities(self, positions: np.ndarray, values: dict, pairs: np.ndarray,
                    describing: np.ndarray | None = None) -> dict:  # fmt: skip
        """Choose the identity chain; tell apart rows that share an identity (read again).
        ``describing``: per row, a hash of its describing columns' texts (None: none)."""
        chain, report, tops = choose_chain(values, self.columns, self.header, self.explicit,
                                           len(positions), self.running_ids)  # fmt: skip
        self.chain = chain
        identities = pairs
        for candidate in reversed(chain):
            identities = np.where(values[candidate] != 0, values[candidate], identities)
        members = shared(identities)
        # Twins: rows sharing title and publisher (whatever identifies them), to be told
        # apart by a person too (Row.distinguished). Usually few; read in the same pass.
        twins = differing_twins(pairs, describing)
        twin_pairs = dict(zip(positions[twins].tolist(), pairs[twins].tolist(), strict=True))
        wanted = sorted({*positions[members].tolist(), *twin_pairs,
                         *(int(positions[i]) for i in tops)})  # fmt: skip
        rows: list[Row] = []
        top_texts: dict[tuple[str, int], str] = {}
        member_positions = set(positions[members].tolist())
        top_positions = {int(positions[i]): candidates for i, candidates in tops.items()}
        twin_groups: dict[int, list[tuple[int, list[str]]]] = defaultdict(list)
        for position, (number, texts, cells) in zip(wanted, self._read_again(wanted),
                                                    strict=True):  # fmt: skip
            if position in twin_pairs:  # only the describing texts are kept, then those
                twin_groups[twin_pairs[position]].append(  # past the header, if any
                    (position, [texts[i] for i in self.describing]
                     + list(_past_header(texts, self.width)))
                )  # fmt: skip
            for target, index in top_positions.get(position, ()):
                top_texts[(target, index)] = self._value(target, index, cells, texts[index])
            if position in member_positions:
                row = Row(self.reference(number), texts, Identity(self._identifier(cells, texts)),
                          clean_line(_field_text(texts, self.columns, "title")),
                          clean_line(_field_text(texts, self.columns, "publisher")),
                          self._fingerprint(cells) if self.raw else "")  # fmt: skip
                row.position = position
                rows.append(row)
        for rejected in report["rejected"]:
            for (target, index), text in top_texts.items():
                name = column_label(self.header, index)
                if (rejected["field"], rejected["column"]) == (target, name):
                    rejected["reason"] = rejected["reason"].replace(TOP_VALUE, text[:80])
        self.distinguished = distinguish_twins(list(twin_groups.values()), self.header,
                                               self.describing, report)  # fmt: skip
        for row in rows:
            row.distinguished = self.distinguished.get(row.position)
        tell_groups_apart(rows, self.columns, self.header,
                          {*(i for _, i in chain), *self.running_ids}, report,
                          self.stored)  # fmt: skip
        self.told_apart = {row.position: row.record.identifier for row in rows}
        self._alone_again(positions, identities, member_positions, report)
        levels = np.full(len(positions), len(chain), dtype=np.int64)  # len(chain): the hash
        for level in reversed(range(len(chain))):
            levels = np.where(values[chain[level]] != 0, level, levels)
        counts = np.bincount(levels, minlength=len(chain) + 1).tolist()
        names = [column_label(self.header, index) for _, index in chain]
        report["rows_by"] = {
            **{name: counts[level] for level, name in enumerate(names)},
            HASH_LEVEL: counts[len(chain)],
        }
        if self.carry is not None:
            self.carry.run(self, positions, identities, levels == len(chain), pairs, values,
                           report)  # fmt: skip
        return report

    def _alone_again(self, positions, identities, member_positions, report) -> None:
        """A row whose identity was told apart while another row shared it, alone again
        (A006 学校名录 removed, A006 幼儿园名录 stored as A006#… stays; of two 公交站点
        rows of one publisher, told apart by 所属区县, 五华区 removed): keep_stored gives
        it back its stored identity by fingerprint, the values it was shown by (西山区),
        or title, instead of the plain id or title-and-publisher hash (which would move
        the removed row's dataset to it, or create the row anew). Keeps the stored
        families (self.families) for the bad rows' identities (_readable_identity)."""
        if self.stored_told_apart is None:
            return
        families = self.families
        wanted_hashes = set()
        for identifier, title, publisher, shown in self.stored_told_apart():
            if identifier.startswith("sha1:"):
                base = title_publisher_identity(title, publisher)
                wanted_hashes.add(hash((normalized(title), _normalized_publisher(publisher))))
            elif TOLD_APART.search(identifier):
                base = identifier.rpartition("#")[0]
                wanted_hashes.add(hash(base))
            else:
                continue
            families[base].append((identifier, title, shown))
        if not families:
            return
        wanted = [int(positions[i]) for i, value in enumerate(identities.tolist())
                  if value in wanted_hashes and int(positions[i]) not in member_positions]  # fmt: skip
        rows = []
        for position, (number, texts, cells) in zip(wanted, self._read_again(wanted),
                                                    strict=True):  # fmt: skip
            identifier = self._identifier(cells, texts)
            if identifier in families:
                row = Row(self.reference(number), texts, Identity(identifier),
                          clean_line(_field_text(texts, self.columns, "title")),
                          clean_line(_field_text(texts, self.columns, "publisher")),
                          self._fingerprint(cells) if self.raw else "")  # fmt: skip
                row.position = position
                labels = {k for _, _, shown in families[identifier] for k in shown}
                row.shown = shown_values(self.header, labels,
                                         lambda i, t=texts: t[i] if i < len(t) else "")  # fmt: skip
                rows.append(row)
        if not rows:
            return
        found = self.stored([row.record.identifier for row in rows],
                            sorted({row.title for row in rows
                                    if row.record.identifier.startswith("sha1:")}))  # fmt: skip
        kept = []
        for row in rows:
            base = row.record.identifier
            keep_stored([row], group_of(base, [row], found), base)
            if row.record.identifier != base:
                self.told_apart[row.position] = row.record.identifier
                report["kept_stored"] = report.get("kept_stored", 0) + 1
                kept.append((row, base))
        self._still_twins(kept)

    def _still_twins(self, kept: list[tuple[Row, str]]) -> None:
        """Rows alone again only because a twin's row is bad this run (broken after the
        values that told them apart, or before them) stay shown by their values: the bad
        row keeps that twin (writer.mark_unseen_deleted), so the family is still two,
        and 公交站点 · 五华区 is no update (distinguished_by, and with it the told
        fingerprint, unchanged). One more pass over the bad rows, only when such a row
        was kept and a row is bad."""
        bad = [p for p, state in enumerate(self.status) if state in (UNREADABLE, MISSING_TITLE)]
        if not kept or not bad:
            return
        wanted, named = iter(bad), set()
        target = next(wanted)
        for position, (_, cells) in enumerate(self.table.body()):
            if position == target:
                named.add(self._readable_identity(cells))
                target = next(wanted, None)
                if target is None:
                    break
        for row, base in kept:
            family = self.families[base]
            own = row.record.identifier
            if row.shown is None or not named & ({base} | {i for i, _, _ in family if i != own}):
                continue
            labels = next((shown for i, _, shown in family if i == own), None) or {}
            if labels and all(k in row.shown for k in labels):
                self.distinguished[row.position] = {k: row.shown[k] for k in labels}

    def titles(self, positions, description: bool = False) -> list[tuple[str, ...]]:
        """(title, publisher) of the rows at these positions (ascending), read again;
        (title, publisher, description) with ``description`` (one pass either way)."""
        columns = self.columns
        fields = ("title", "publisher", "description") if description else ("title", "publisher")
        return [tuple(clean_line(_field_text(texts, columns, field)) for field in fields)
                for _, texts, _ in self._read_again(positions)]  # fmt: skip

    def _read_again(self, positions) -> Iterator[tuple[int, list[str], list]]:
        """(number, padded clean texts, cells) of the rows at these positions (ascending)."""
        wanted = iter(int(p) for p in positions)
        target = next(wanted, None)
        if target is None:
            return
        for position, (number, cells) in enumerate(self.table.body()):
            if position == target:
                texts = _texts(cells)
                yield number, texts + [""] * (self.width - len(texts)), cells
                target = next(wanted, None)
                if target is None:
                    return

    # --- pass 2 -------------------------------------------------------------------
    def records(self) -> Iterator[DatasetRecord | RawRecord | BadRecord]:
        """Every body row in file order, as scan() found it."""
        status, missing, raw, word = self.status, self.missing_title, self.raw, self.table.word
        told_apart, identifier_of, raw_record = self.told_apart, self._identifier, self._raw_record
        distinguished = self.distinguished
        for position, (number, cells) in enumerate(self.table.body()):
            state = status[position]
            if state == DATASET:
                identifier = told_apart.get(position) or identifier_of(cells)
                values = distinguished.get(position) if distinguished else None
                if raw:  # (the reference as self.reference makes it)
                    yield raw_record(cells, identifier, f"{word} {number}"
                                     if number < SHEET_STRIDE else self.reference(number),
                                     values)  # fmt: skip
                    continue
                record = _record(cells, _texts(cells), self.columns, self.base_url, self.units)
                record.identifier = identifier
                if values:
                    record.distinguished_by = dict(values)
                yield record
            elif state == MISSING_TITLE:
                yield BadRecord(missing, self.reference(number),
                                identifier=self._readable_identity(cells))  # fmt: skip
            elif state == DUPLICATE:  # the same identity as the row it repeats
                reference = self.reference(number)
                yield BadRecord(f"exact duplicate of {self.duplicate_of[position]}", reference,
                                identifier=told_apart.get(position) or identifier_of(cells))  # fmt: skip
            elif state == UNREADABLE:
                yield BadRecord(self.reasons[position], self.reference(number),
                                identifier=self._readable_identity(cells))  # fmt: skip

    def _readable_identity(self, cells: list | Exception) -> str | None:
        """A bad row's identity as _identifier reads it, from the cells read whole (a
        BrokenRow's ``cells_read``: those before an unclosed quote or a JSON line's
        break); None when an identity column it needs lies past the break, or the row
        has neither an id nor a title. The writer keeps the stored dataset of that
        identity as it is (mark_unseen_deleted): a bad row is not a removal."""
        if isinstance(cells, Exception):
            read = getattr(cells, "cells_read", None) or {}
        else:
            read = dict(enumerate(cells))
        try:
            row = [read.get(index) for index in range(max(read, default=-1) + 1)]
            texts = [cell_text(cell) if cell is not None else "" for cell in row]
            texts += [""] * (self.width - len(texts))
            for target, index in self.chain:
                if index not in read:
                    return None  # its value, or whether it has one, is past the break
                if value := self._value(target, index, row, cell_text(read[index])):
                    return self._twin_of(value, read, texts)
            wanted = [*self.columns.get("title", ()), *self.columns.get("publisher", ())]
            if not wanted or any(index not in read for index in wanted):
                return None
            title = clean_line(_field_text(texts, self.columns, "title"))
            publisher = clean_line(_field_text(texts, self.columns, "publisher"))
            if not title:
                return None
            return self._twin_of(title_publisher_identity(title, publisher), read, texts)
        except Exception:  # a row odd enough to be bad may defeat this too
            return None

    def _twin_of(self, base: str, read: dict, texts: list[str]) -> str:
        """A bad row's identity ``base`` shared by stored twins (self.families): the
        twin its readable cells name (the values it was shown by, read before the
        break: 所属区县 西山区; else its title), so only that one is kept. Else, for a
        title-and-publisher hash (whose stored twins the writer cannot find by their
        identities), the one stored twin no row of this run holds, if only one; else the
        base (for an id or URL the writer keeps as many of the family as bad rows name it:
        _keep_bad_twins)."""
        family = self.families.get(base)
        if not family:
            return base
        labels = {k for _, _, shown in family for k in shown}
        shown = shown_values(self.header, labels,
                             lambda i: (texts[i] if i < len(texts) else "") if i in read else None)  # fmt: skip
        title_columns = self.columns.get("title", ())
        title = (clean_line(_field_text(texts, self.columns, "title"))
                 if title_columns and all(i in read for i in title_columns) else None)  # fmt: skip
        if named := named_twin(family, shown, title):
            return named
        if base.startswith("sha1:"):
            held = set(self.told_apart.values())
            free = [identifier for identifier, _, _ in family if identifier not in held]
            if len(free) == 1:
                return free[0]
        return base

    def _identifier(self, cells: list, texts: list[str] | None = None) -> str:
        """The row's identity: the first identity column with a value, else the hash."""
        for target, index in self.chain:
            if texts is not None:
                text = texts[index]
            else:
                text = cell_text(cells[index]) if index < len(cells) else ""
            if value := self._value(target, index, cells, text):
                return value
        if texts is None:
            texts = _texts(cells)
        title = clean_line(_field_text(texts, self.columns, "title"))
        publisher = clean_line(_field_text(texts, self.columns, "publisher"))
        return title_publisher_identity(title, publisher)

    def _value(self, target: str, index: int, cells: list, text: str) -> str:
        """An identity candidate's value in a row: the id as text, a URL column's first
        URL (resolved), as the record would hold it."""
        if not text or target == "identifier":
            return text
        if index == self.winners.get(target):  # as _record reads it: the raw cell
            cell = cells[index]
            if type(cell) is not str:
                return next(iter(_urls(cell, self.base_url)), "")
        if _PLAIN_URL.fullmatch(text):  # the usual cell: one URL, as _urls gives it
            return text
        return _first_url(text, self.base_url)

    def _fingerprint(self, cells: list) -> str:
        """SHA-1 (hex) of the raw row with the prefix: what the writer stores."""
        try:  # a CSV row: all text
            row = "\x1f".join(cells)
        except TypeError:  # XLSX/JSON cells: their type matters too (45078 vs "45078")
            row = "\x00" + "\x1f".join(repr(cell) for cell in cells)
        return hashlib.sha1(self.prefix + row.encode()).hexdigest()

    def _raw_record(self, cells: list, identifier: str, reference: str,
                    distinguished: dict[str, str] | None = None) -> RawRecord:  # fmt: skip
        columns, base_url, units = self.columns, self.base_url, self.units

        def build() -> DatasetRecord:
            record = _record(cells, _texts(cells), columns, base_url, units)
            record.identifier = identifier
            if distinguished:
                record.distinguished_by = dict(distinguished)
            return record

        fingerprint = self._fingerprint(cells)
        if distinguished:
            fingerprint = told_fingerprint(fingerprint, distinguished)
        return RawRecord(identifier, fingerprint, build, reference)


# A publisher column repeats a few hundred names over the whole export: folded once each.
_normalized_publisher = lru_cache(4096)(normalized)


def _field_text(texts: list[str], columns: dict[str, list[int]], field: str) -> str:
    """The first non-empty text of a field's columns (winner first) in a row."""
    for index in columns.get(field, ()):
        if index < len(texts) and texts[index]:
            return texts[index]
    return ""


_SEPARATOR = "\u00a6"  # "¦": printable, so a row of printable cells joins into one


def _case_variants(word: str) -> set[str]:
    """Every spelling of ``word`` in upper and lower case letters ("nan": "NaN", "NAN"…)."""
    found = {""}
    for char in word:
        found = {start + variant for start in found for variant in {char.lower(), char.upper()}}
    return found


# The cells whose lower() is a blank word: ASCII letters are the only characters whose
# lower() is one of the blank words' letters (the Kelvin sign's is "k", none of theirs),
# so one set test in C stands for a lower() per short cell (a twentieth of a re-harvest's
# scan; tests/test_tabular_shortcuts.py checks it over every code point).
_BLANK_CELLS = frozenset(variant for word in BLANK_WORDS for variant in _case_variants(word))


def _paragraph_cell(value) -> str:
    """A text cell that holds line breaks, as it is; '' for a one-line or non-text cell
    (whose cleaned text is used instead)."""
    return value if type(value) is str and ("\n" in value or "\r" in value) else ""


def _past_header(texts: list[str], width: int) -> tuple[str, ...]:
    """A row's cells past the header's ``width`` (a column the export left unnamed),
    without the empty ones that end it (a trailing delimiter)."""
    extra = texts[width:]
    while extra and not extra[-1]:
        extra.pop()
    return tuple(extra)


def _texts(cells: list) -> list[str]:
    """Every cell as clean text (cell_text). A row of plain printable text cells with no
    spaces to trim or collapse (most rows) is checked in one go; the rest cell by cell."""
    try:
        joined = _SEPARATOR.join(cells)
    except TypeError:  # XLSX/JSON numbers, dates, lists
        return [clean_text(c) if type(c) is str else cell_text(c) for c in cells]
    if (
        joined.isprintable()
        and "  " not in joined
        and " \u00a6" not in joined
        and "\u00a6 " not in joined
        and joined[:1] != " "
        and joined[-1:] != " "
    ):
        if _BLANK_CELLS.isdisjoint(cells):
            return list(cells)
        return ["" if c in _BLANK_CELLS else c for c in cells]
    return [clean_text(c) for c in cells]


# Bump when the code that turns a row into a record changes its output (a new field,
# another normalisation): every stored fingerprint then differs once and each row is
# parsed and compared again. Changes to READING_MODULES do this by themselves.
FINGERPRINT_VERSION = "tabular-2"  # 2: 更新周期 / 开放属性 are no values

# The code that reads a row's cells into a record's values: the vocabularies and parsers
# of frequency, open type, dates, formats and lists, text cleaning, and this module's
# record building. Its source is part of every fingerprint, so a release that reads a
# text differently (每两周 as biweekly rather than monthly) parses every row again once
# and stores the new reading (quietly: diff.READINGS), even when nobody bumped
# FINGERPRINT_VERSION. Any edit of these files costs one full parse, never a wrong value.
READING_MODULES = (
    "subscribe.catalog.normalize",
    "subscribe.catalog.text",
    "subscribe.catalog.harvesters.tabular_columns",
    "subscribe.catalog.harvesters.tabular_headers",  # the unit a header names (header_unit)
    __name__,
)


@lru_cache(1)
def reading_code() -> str:
    """SHA-1 (hex) of the source of READING_MODULES, as installed."""
    digest = hashlib.sha1()
    for name in READING_MODULES:
        digest.update(name.encode())
        digest.update(_module_source(name))
    return digest.hexdigest()


def _module_source(name: str) -> bytes:
    try:
        return Path(sys.modules[name].__file__).read_bytes()
    except (KeyError, TypeError, OSError):  # no source shipped (a frozen build): the name
        return b""


def _fingerprint_prefix(header: list[str], columns: dict[str, list[int]], base_url: str) -> bytes:
    """What every row's record depends on besides the row: the code version, the header,
    which columns feed which field (the mapping, decided or configured) and the origin
    that relative links resolve against.

    Only the origin (scheme and host) of the export's URL: _urls resolves only links
    starting with "/" ("/x", "//host/x"), and those keep nothing of the base's path or
    query. An export moved to another path on the same portal (a dated file name) is
    then still recognised row by row instead of parsed whole again."""
    base = urlsplit(base_url)
    origin = f"{base.scheme}://{base.netloc}"
    plan = json.dumps([FINGERPRINT_VERSION, reading_code(), header, columns, origin],
                      sort_keys=True, ensure_ascii=False)  # fmt: skip
    return hashlib.sha1(plan.encode()).digest()


def _note_row(texts: list[str], width: int, header: list[str] = (),
              header_cells: frozenset[str] | None = None) -> str:  # fmt: skip
    """Why a body row is a title, note, footnote or repeated header rather than a dataset
    ("" if it is one).

    A merged cell spread over the row (filled into every cell) repeats one text across
    the columns; a lone first cell starting 注：/备注/说明/数据来源 is a footnote. Exports
    concatenated from several files (one per department or page) repeat the header row:
    a row whose filled cells mostly (at least two, and half of them) equal the header's
    cell in the same column is that header, not a dataset named "数据目录名称".
    """
    if header_cells is None:  # the header's non-empty cells (scan passes them, made once)
        header_cells = frozenset(name for name in header if name)
    if len(set(texts)) > 2 and header_cells.isdisjoint(texts):
        # The usual data row: two different values or more (no merged text, no lone
        # note) and no cell naming a column (no repeated header). Decided in C.
        return ""
    present = [t for t in texts if t]
    same = sum(1 for text, name in zip(texts, header, strict=False) if text and text == name)
    if same >= 2 and same * 2 >= len(present):
        return "the header row repeated"
    if len(present) >= max(3, width // 2) and present.count(present[0]) == len(present):
        return "one text across the row (a merged title or footnote)"
    if len(present) == 1 and texts[0] and NOTE_START.match(texts[0]):
        return "a note or footnote"
    return ""


def _second_header(texts: list[str], fields_of: dict[int, str]) -> bool:
    """Whether a row right under the header (before any dataset row) is a second header:
    a bilingual export's English words under its Chinese ones (数据名称 / Title). At least
    two of its cells are header words the classifier places in the field their column
    holds, and no filled cell of a field's column is anything else."""
    matches = 0
    for index, text in enumerate(texts):
        if not text or index not in fields_of:
            continue
        claim = classify(text) if len(text) <= 40 else None
        if claim is None or claim.field != fields_of[index]:
            return False
        matches += 1
    return matches >= 2


# A total row under a table: 合计, 总计, 小计 or 共计 (maybe a colon and a count, 合计：5项).
TOTAL_CELL = re.compile(r"^(?:合|总|小|共)\s*计\s*[:：]?\s*(?:\d[\d,]*\s*(?:项|个|条|类|件)?)?$")


def _total_row(texts: list[str], running: list[int]) -> bool:
    """Whether a row is a table's total (合计 | | 5项), not a dataset: its first filled
    cell, or its running number's (序号) cell, reads 合计/总计/小计/共计. Only asked of
    rows without a publisher (a dataset named 合计 still has one)."""
    first = next((text for text in texts if text), "")
    if TOTAL_CELL.match(first):
        return True
    return any(index < len(texts) and TOTAL_CELL.match(texts[index]) for index in running)


def _footer_row(texts: list[str]) -> bool:
    """Whether a row with no title is a footer: every filled cell a sign-off such as
    填报单位：X or 联系电话：…, or a note (注：…). Only asked of rows without a title."""
    present = [t for t in texts if t]
    return bool(present) and all(FOOTER_CELL.match(t) or NOTE_START.match(t) for t in present)


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


def frequency_units(header: list[str], columns: dict[str, list[int]]) -> dict[int, tuple]:
    """Frequency column index -> (days, rate) of the unit its header names (更新周期(天),
    更新周期(月), 更新频率(次/年): tabular_headers.header_unit); columns naming none are
    left out, their bare numbers count days (normalize.DAY)."""
    units = {}
    for index in columns.get("frequency", ()):
        if index < len(header) and (unit := header_unit(header[index])) is not None:
            units[index] = unit
    return units


def _record(
    cells: list, texts: list[str], columns: dict[str, list[int]], base_url: str,
    units: dict[int, tuple] | None = None,
) -> DatasetRecord | None:  # fmt: skip
    """One row as a record (identifier decided later), or None when it has no title.

    ``texts`` are the cells as clean text (read once per row); the raw cells are used
    where the type matters: dates (Excel dates and serials), lists and numbers.
    ``units``: frequency_units, what a bare number in a frequency column counts.
    """

    width = len(texts)  # ragged rows are short
    # field -> the text and the cell of the first of its columns with a value in this row,
    # read through dict.get (C) rather than a closure call per field
    found_texts: dict[str, str] = {}
    found_cells: dict[str, object] = {}
    for target, indexes in columns.items():
        for index in indexes:
            if index < width and texts[index]:
                found_texts[target] = texts[index]
                found_cells[target] = cells[index]
                break
    text, raw = found_texts.get, found_cells.get

    title = text("title", "")
    if not title:
        return None
    formats = _formats(raw("formats"))
    frequency, frequency_raw = _frequency(text("frequency", ""))
    if units and frequency_raw:  # the header's unit, if the column used names one
        for index in columns["frequency"]:
            if index < width and texts[index]:
                if (unit := units.get(index)) is not None:
                    frequency, frequency_raw = _frequency(frequency_raw, *unit)
                break
    open_type, open_type_raw = _open_type(text("open_type", ""))
    landing_page = next(iter(_urls(raw("landing_page"), base_url)), "")
    resources = []
    for url in _urls(raw("download_url"), base_url):
        path = _url_path(url)
        name = unquote(_path_name(path))
        resources.append(ResourceRecord(url=url, name=name if "." in name else title,
                                        format=_path_format(path, formats, url)))  # fmt: skip
    return DatasetRecord(
        identifier="",  # decided over the whole file (tabular_identity)
        title=title,
        # The raw cell: the cleaned one is a single line, and a description's line
        # breaks are kept (DatasetRecord cleans it as paragraphs).
        description=_paragraph_cell(raw("description")) or text("description", ""),
        publisher=text("publisher", ""),
        themes=_list(raw("themes")),
        keywords=_list(raw("keywords")),
        formats=_dataset_formats(formats, resources),
        open_type=open_type,
        open_type_raw=open_type_raw,
        frequency=frequency,
        frequency_raw=frequency_raw,
        issued=_date_field(raw("issued"), cells, columns.get("issued", ())),
        modified=_date_field(raw("modified"), cells, columns.get("modified", ())),
        landing_page=landing_page,
        license=text("license", ""),
        resources=resources,
        contact_point=text("contact_point", "")[:500],
        record_count=_count(raw("record_count")),
    )


def _dataset_formats(formats: list[str], resources: list[ResourceRecord]) -> list[str]:
    """The row's formats; when it names none (no 格式 column, or an empty cell), its
    files' formats, in their order: a dataset whose only file is a .csv is a CSV dataset
    to the format filter and facet. Stored without an event when an older release left
    them empty (diff._formats_of_resources)."""
    if formats:
        return formats
    found = []
    for resource in resources:
        if resource.format and resource.format not in found:
            found.append(resource.format)
    return found


def _date_field(value, cells: list, indexes: list[int]) -> PartialDate | None:
    """A date field's cell (``value``, None when none of its columns has a value in this
    row) as a date; without one, the first of its cells that says so in words ("n/a",
    "无", "-": clean text makes them ""), kept as the raw text with no date
    (normalize.is_placeholder), so a user sees what the source wrote; else None."""
    if value is not None:
        return _date(value)
    width = len(cells)
    for index in indexes:
        cell = cells[index] if index < width else None
        if isinstance(cell, str) and cell.strip() and (found := _date(cell)).raw:
            return found
    return None


def _date(value) -> PartialDate:
    """A date cell with its precision and text ("2019年3月" stays a month); an Excel day
    serial (45078 → 2023-06-01), which only a spreadsheet reader can tell, is a day.
    A text is read once per harvest (a date column repeats its values)."""
    return _date_of_text(value) if isinstance(value, str) else _read_date(value)


def _read_date(value) -> PartialDate:
    found = normalize_date(value)
    if found.value is not None:
        if isinstance(value, datetime) and value.tzinfo is None and value.time() == time():
            # A spreadsheet date cell (openpyxl and xlrd give a datetime at midnight): a
            # day. The raw text stays the datetime's, so a stored reading changes quietly.
            return PartialDate(found.value, "day", found.raw)
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
    for token in _joined_names(tokens, text if not isinstance(value, list) else ""):
        token = token.strip("'\"<>[]()")
        if token.lower().startswith("www."):
            token = "http://" + token
        if token.startswith("/"):  # relative to the portal that published the export
            token = urljoin(base_url, token)
        if urlsplit(token).scheme in ("http", "https", "ftp") and token not in urls:
            urls.append(token)
    return urls


def _joined_names(tokens: list[str], text: str) -> list[str]:
    """``tokens`` with a URL's file name that holds spaces whole again (_NAME_REST): the
    tokens after a URL with no file suffix join it when only spaces stood between them in
    ``text``, none is a URL, and the last ends with a file suffix (at most four)."""
    if len(tokens) < 2 or " " not in text:
        return tokens
    joined, index = [], 0
    while index < len(tokens):
        token = tokens[index]
        joined.append(token)
        index += 1
        if not _URL_START.match(token) or url_suffix_format(token):
            continue
        for end in range(index + 1, min(index + 4, len(tokens)) + 1):
            rest = tokens[index:end]
            if any(not part or _URL_START.match(part) for part in rest):
                break
            pattern = " +".join(re.escape(part) for part in [token, *rest])
            found = re.search(pattern, text)
            if found and _NAME_REST.fullmatch(found.group().rsplit("/", 1)[-1]):
                joined[-1], index = found.group(), end
                break
    return joined


_URL_START = re.compile(r"(?:[a-z][a-z0-9+.-]*://|/|www\.)", re.I)
_suffix_format = lru_cache(1024)(normalize_format)  # ".csv" -> "CSV", a few suffixes in all


@lru_cache(4096)
def _first_url(text: str, base_url: str) -> str:
    """The first URL of a cell's text (a column repeating one URL is read once)."""
    return next(iter(_urls(text, base_url)), "")


def _url_path(url: str) -> str:
    """urlsplit(url).path, without urlsplit's general work (a third of a resource's cost
    in a row) for the usual printable ASCII "scheme://host/path" with no IPv6 brackets;
    any other URL goes through urlsplit itself (its errors included)."""
    colon = url.find(":")
    if (
        colon <= 0
        or url[colon : colon + 3] != "://"
        or not url.isascii()
        or not url.isprintable()  # tabs and line breaks urlsplit would drop
        or not url[:colon].isalnum()
        or not url[0].isalpha()
    ):
        return urlsplit(url).path
    rest = url[colon + 3 :]
    end = len(rest)
    for delimiter in "/?#":  # the host ends at the first of these
        found = rest.find(delimiter)
        if 0 <= found < end:
            end = found
    if "[" in rest[:end] or "]" in rest[:end]:
        return urlsplit(url).path
    return rest[end:].partition("#")[0].partition("?")[0]


def _path_name(path: str) -> str:
    """PurePosixPath(path).name without building a path object (one per resource URL)."""
    name = path.rstrip("/").rpartition("/")[2]
    return PurePosixPath(path).name if name == "." else name


def _path_suffix(path: str) -> str:
    """PurePosixPath(path).suffix, the same way: ".csv" of "a.b.csv", "" of ".hidden"."""
    name = _path_name(path)
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


# Query parameters that name the answer's format in data portals' API addresses:
# ?format=CSV (data.gov.tw, CKAN DataStore dumps), ?f=json (ArcGIS REST),
# ?outputFormat=application/json (OGC WFS), ?_format=json, ?filetype=xlsx.
FORMAT_PARAMETERS = frozenset({"format", "f", "outputformat", "_format", "fmt", "filetype"})


def _path_format(path: str, formats: list[str], url: str = "") -> str:
    """A resource's format: its file suffix when known, else a format its address asks
    for (?format=CSV), else the row's one format."""
    suffix = _suffix_format(_path_suffix(path))
    if suffix in KNOWN_FORMATS:
        return suffix
    if "?" in url and (asked := _query_format(url)):
        return asked
    return formats[0] if len(formats) == 1 else ""  # several formats: which one is unknown


def _query_format(url: str) -> str:
    """The known format a URL's query asks for ("" if none): ?format=CSV -> CSV."""
    for key, value in parse_qsl(urlsplit(url).query):
        if key.lower() in FORMAT_PARAMETERS and (found := normalize_format(value)) in KNOWN_FORMATS:
            return found
    return ""
