"""Which row of a tabular catalog export is the header, and which column holds which field."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from subscribe.catalog.normalize import clean_text
from subscribe.catalog.records import HarvestError

# Target field -> column names seen in the wild, most specific first: when an export has
# several of them, the first one with a value in a row wins.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "title": ("标题", "名称", "目录名称", "数据目录名称", "数据集名称", "资源名称",
              "title", "name", "dataset_name"),
    "publisher": ("提供单位", "来源部门", "数源单位", "数据提供方", "提供部门", "发布单位",
                  "publisher", "organization", "organisation", "org"),
    "themes": ("所属领域", "数据领域", "主题分类", "行业分类", "theme", "themes", "category"),
    "frequency": ("更新频率", "更新周期", "frequency", "update_frequency", "accrual_periodicity"),
    "issued": ("发布时间", "发布日期", "创建时间", "issued", "created", "published"),
    "modified": ("更新时间", "更新日期", "最后更新时间", "modified", "updated",
                 "last_modified"),
    "open_type": ("开放类型", "开放属性", "开放条件", "开放方式", "open_type", "access_level"),
    "formats": ("数据格式", "资源格式", "文件格式", "format", "formats"),
    "description": ("描述", "摘要", "简介", "数据摘要", "目录描述", "description", "notes",
                    "abstract"),
    "keywords": ("关键字", "关键词", "标签", "keywords", "keyword", "tags"),
    "identifier": ("目录编号", "数据集编号", "编号", "资源代码", "ID", "标识符", "identifier"),
    "landing_page": ("详情页", "链接", "详情链接", "url", "网址", "landing_page", "homepage"),
    "license": ("开放协议", "许可协议", "授权协议", "license", "licence"),
    "download_url": ("下载地址", "下载链接", "文件地址", "资源地址", "download_url",
                     "access_url", "downloadURL"),
}  # fmt: skip
FIELDS = tuple(SYNONYMS)
MAPPING_KEYS = ("fields", "id_column", "sheet", "encoding", "delimiter")
HEADER_SEARCH_ROWS = 10  # banner rows ("XX市公共数据开放目录") may sit above the header

# A trailing "*", "（必填）", "(yyyy-mm-dd)", "【选填】" or ":" decorates a header, it does not name it.
_DECORATION = re.compile(r"(?:[*:]|\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|<[^<>]*>)+$")
_FILLER = re.compile(r"[\s_\-]+")  # "Landing page", "landing_page", "landing-page" are one


def column_key(name) -> str:
    """The comparable form of a column name (NFKC folds full-width forms and spaces)."""
    text = unicodedata.normalize("NFKC", str(name or "")).replace("\ufeff", "")
    text = _FILLER.sub("", text).casefold()
    return _DECORATION.sub("", text).strip("*") or text


def check_mapping(mapping: dict) -> dict[str, tuple[str, ...]]:
    """Validate a source's mapping; return field -> candidate column names (defaults merged)."""
    unknown_keys = sorted(set(mapping) - set(MAPPING_KEYS))
    if unknown_keys:
        raise HarvestError(
            f"tabular mapping has unknown key(s) {', '.join(unknown_keys)}; "
            f"known keys: {', '.join(MAPPING_KEYS)}"
        )
    overrides = mapping.get("fields") or {}
    if not isinstance(overrides, dict):
        raise HarvestError('tabular mapping "fields" must be an object {field: column(s)}')
    unknown_fields = sorted(set(overrides) - set(FIELDS))
    if unknown_fields:
        raise HarvestError(
            f"tabular mapping names unknown field(s) {', '.join(unknown_fields)}; "
            f"known fields: {', '.join(FIELDS)}"
        )
    return {**SYNONYMS, **configured_columns(mapping)}


def configured_columns(mapping: dict) -> dict[str, tuple[str, ...]]:
    """The fields the mapping names columns for; an empty tuple switches a field off."""
    configured = {}
    for target, columns in (mapping.get("fields") or {}).items():
        if not isinstance(columns, str | list | tuple | None):
            raise HarvestError(f"tabular mapping for {target} must be a column name or a list")
        names = [columns] if isinstance(columns, str) else columns or ()
        configured[target] = tuple(str(name) for name in names if str(name).strip())
    if mapping.get("id_column"):
        configured["identifier"] = (str(mapping["id_column"]),)
    return configured


@dataclass
class Table:
    header: list
    columns: dict[str, list[int]]  # target field -> header indexes, preferred first
    rows: list[tuple[str, list | Exception]]  # (reference for people, cells or read error)


def find_table(rows: Iterable[tuple[int, list | Exception]], mapping: dict, candidates) -> Table:
    """Take the first row with a title column as the header; keep every non-blank row after it."""
    rows = iter(rows)
    looked_at = []
    for _, cells in rows:
        if isinstance(cells, Exception) or is_blank(cells):
            continue
        columns = header_columns(list(cells), mapping, candidates)
        if columns is not None:
            body = [
                (f"row {number}", row if isinstance(row, Exception) else list(row))
                for number, row in rows
                if isinstance(row, Exception) or not is_blank(row)
            ]
            return Table(list(cells), columns, body)
        looked_at.append(cells)
        if len(looked_at) == HEADER_SEARCH_ROWS:
            break
    if not looked_at:
        raise HarvestError("the file is empty or not a CSV, XLSX or JSON catalog export")
    raise HarvestError(f"no title column found; columns found: {describe(looked_at[0])}")


def header_columns(header: list, mapping: dict, candidates) -> dict[str, list[int]] | None:
    """The header's columns per field, or None when it has no title column (not a header)."""
    columns = match_columns(header, candidates)
    if "title" not in columns:
        return None
    check_configured_columns(columns, mapping, header)
    return columns


def cell_text(value) -> str:
    """A cell of any reader (CSV text, XLSX number or date, JSON value) as clean text."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # spreadsheets store ids and years as floats: 12345.0
    elif isinstance(value, datetime):
        value = value.isoformat()
    elif isinstance(value, dict):
        value = value.get("name") or value.get("title") or value.get("display_name")
    elif isinstance(value, list):
        value = ", ".join(filter(None, map(cell_text, value)))
    return clean_text(value)


def is_blank(cells) -> bool:
    return all(not cell_text(cell) for cell in cells)


def match_columns(header: list, candidates: dict[str, tuple[str, ...]]) -> dict[str, list[int]]:
    """Field -> indexes of the header's columns that hold it, in preference order."""
    keys = [column_key(name) for name in header]
    matched: dict[str, list[int]] = {}
    for target, names in candidates.items():
        indexes = [i for name in names for i, key in enumerate(keys) if key == column_key(name)]
        if indexes:
            matched[target] = list(dict.fromkeys(indexes))
    return matched


def check_configured_columns(matched: dict[str, list[int]], mapping: dict, header: list) -> None:
    """A column the operator named explicitly must exist: a typo should fail loudly."""
    missing = [
        f"{target} ({' / '.join(names)})"
        for target, names in configured_columns(mapping).items()
        if names and target not in matched
    ]
    if missing:
        raise HarvestError(
            f"mapped column(s) not found: {'; '.join(missing)}; columns found: {describe(header)}"
        )


def describe(header: list) -> str:
    names = [str(name).strip() for name in header if str(name or "").strip()]
    return ", ".join(names[:40]) or "(none)"
