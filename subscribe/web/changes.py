"""What changed, said as sentences in the page's language (dataset history, scenario
timeline, inbox).

A change is the stored dict of catalog/events.py and catalog/checks.py:
`{"kind": metadata | resource_added | resource_removed | content | schema |
resource_unavailable | resource_available | restored | overdue, …}`. `describe` turns
one into `Sentence`s: a plain sentence with names (never resource ids), sizes in KB,
dates in the display time zone to the minute; hashes, URLs and raw check names go to
`details`, shown behind a "Technical details" toggle. Unknown kinds and odd shapes
(payloads are JSON kept for years) still give a sentence, never an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import unquote, urlsplit

from babel.dates import format_skeleton
from flask_babel import get_locale, to_user_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from subscribe.catalog.models import Resource
from subscribe.extensions import db
from subscribe.web import labels
from subscribe.web.filters import catalog_date, filesize

LONG_TEXT = 60  # characters: longer values are "edited", the texts go to the details
DATE_FIELDS = ("issued", "modified")
LIST_FIELDS = ("themes", "keywords", "formats")
ADDRESS_FIELDS = ("landing_page", "url")

FOUND_BY = {
    "content_length": _l("found by the file size"),
    "sha256": _l("found by the content checksum (SHA-256)"),
    "http_status": _l("found by the HTTP status"),
    "connection": _l("found by a failed connection"),
    "etag": _l("found by the ETag header"),
    "last_modified": _l("found by the Last-Modified header"),
}


@dataclass
class Sentence:
    """One readable line: `text` for everyone, `details` ((label, value) pairs) for the
    technically curious."""

    kind: str
    text: str
    details: list[tuple[str, str]] = field(default_factory=list)


# ---- names of resources ------------------------------------------------------------------


class ResourceNames:
    """Resource names (and formats) by id and by upstream key (identifier or URL), from
    the database and from snapshots, so a change names the file rather than its id."""

    def __init__(self) -> None:
        self.by_id: dict[int, tuple[str, str]] = {}
        self.by_key: dict[str, tuple[str, str]] = {}

    @classmethod
    def of_datasets(cls, dataset_ids: Iterable[int]) -> ResourceNames:
        """Today's resources of these datasets (one query)."""
        names = cls()
        ids = {i for i in dataset_ids if isinstance(i, int)}
        if ids:
            rows = db.session.execute(
                select(Resource.id, Resource.identifier, Resource.url, Resource.name,
                       Resource.format).where(Resource.dataset_id.in_(ids))
            )  # fmt: skip
            for row in rows:
                entry = (row.name or "", row.format or "")
                names.by_id[row.id] = entry
                for key in (row.identifier, row.url):
                    if key:
                        names.by_key.setdefault(key, entry)
        return names

    def add_snapshot(self, snapshot: Mapping | None) -> ResourceNames:
        """The resources as a version saw them (older names win over nothing)."""
        for resource in _dict(snapshot).get("resources") or []:
            if isinstance(resource, Mapping):
                entry = (str(resource.get("name") or ""), str(resource.get("format") or ""))
                for key in (resource.get("identifier"), resource.get("url")):
                    if key:
                        self.by_key.setdefault(str(key), entry)
        return self

    def find(self, change: Mapping) -> tuple[str, str]:
        """(name, format) of the resource a change is about; the name may be ''."""
        resource = _dict(change.get("resource"))
        if resource:
            return str(resource.get("name") or ""), str(resource.get("format") or "")
        fields = _dict(change.get("fields"))
        known = self.by_id.get(change.get("resource_id")) or self.by_key.get(
            str(change.get("key") or change.get("url") or "")
        )
        name = change.get("name") or _dict(fields.get("name")).get("new") or (known or ("",))[0]
        fmt = _dict(fields.get("format")).get("new") or (known or ("", ""))[1]
        return str(name or ""), str(fmt or "")


def resource_label(change: Mapping, names: ResourceNames) -> str:
    """ "空气质量日报（CSV）": the name, else the URL's file name, else "a file"."""
    name, fmt = names.find(change)
    if not name:
        url = str(change.get("url") or _dict(change.get("resource")).get("url") or "")
        name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]) if url else ""
    if not name:
        return _("a file")
    if fmt and fmt.lower() not in name.lower():
        return _("%(name)s (%(format)s)", name=name, format=fmt)
    return name


# ---- values ------------------------------------------------------------------------


def when(value) -> str:
    """A stored time (naive UTC datetime or ISO text) in the display zone, to the minute;
    a date alone as a date. Text that is not a date is returned as it is."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError:
            return text
    locale = get_locale() or "zh"
    if isinstance(value, datetime):
        if value.tzinfo is None:  # stored times are naive UTC
            value = value.replace(tzinfo=UTC)
        local = to_user_timezone(value)
        return f"{format_skeleton('yMMMd', local, locale=locale)} {local:%H:%M}"
    if isinstance(value, date):
        return format_skeleton("yMMMd", value, locale=locale)
    return "" if value is None else str(value)


def catalog_when(value, precision: str | None = None):
    """A catalog date (ISO text) as text: at its precision (year, month, day, as written,
    no time-zone shift), and a bare midnight as a day, since catalogs give dates, not
    instants; other times as `when` gives them."""
    if not isinstance(value, str):
        return value
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return value
    if precision in ("year", "half", "quarter", "month", "week", "day"):
        return catalog_date(parsed, precision)
    if (parsed.hour, parsed.minute, parsed.second, parsed.microsecond) == (0, 0, 0, 0):
        return catalog_date(parsed, "day")
    return when(parsed)


def _value(name: str, value) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if name in DATE_FIELDS:
        return when(value) if not isinstance(value, str) or "T" in value else value
    if name == "open_type":
        return str(labels.OPEN_TYPES.get(value, value))
    if name == "frequency":
        return str(labels.FREQUENCIES.get(value, value))
    if name == "size" and isinstance(value, int | float):
        return filesize(int(value))
    if isinstance(value, list):
        return _list_sep().join(_value("", item) for item in value)
    return str(value)


def _list_sep() -> str:
    return "、" if _is_zh() else ", "


def _parts_sep() -> str:
    return "；" if _is_zh() else "; "


def _comma() -> str:
    return "，" if _is_zh() else ", "


def _is_zh() -> bool:
    locale = get_locale()
    return locale is None or locale.language == "zh"


def _field_name(name: str) -> str:
    found = labels.FIELDS.get(name)
    return str(found) if found is not None else name.replace("_", " ")


def _tags_part(name: str, added: list, removed: list) -> str:
    """ "关键词：新增 空气，删除 PM2.5": a tag list's {"added", "removed"} diff, or a list
    field's old → new as such."""
    pieces = []
    if added:
        pieces.append(_("added %(items)s", items=_value(name, added)))
    if removed:
        pieces.append(_("removed %(items)s", items=_value(name, removed)))
    if not pieces:
        pieces.append(_("reordered"))
    return _("%(field)s: %(what)s", field=_field_name(name), what=_comma().join(pieces))


def _field_part(name: str, old, new, details: list) -> str:
    """ "更新日期 2019年10月31日 13:03 → 2026年11月29日 23:06", "关键词：新增 空气", …"""
    label = _field_name(name)
    if name == "distinguished_by" and isinstance(old or {}, dict) and isinstance(new or {}, dict):
        # {column: value} telling twins apart: each column as a field of its own
        # ("所属区县 五华区 → 西山区"), as the catalog names it
        old, new = old or {}, new or {}
        return _parts_sep().join(
            _field_part(str(column), old.get(column), new.get(column), details)
            for column in dict.fromkeys([*old, *new])
            if old.get(column) != new.get(column)
        ) or _("%(field)s edited", field=label)
    if isinstance(old, list) or isinstance(new, list):
        old_items, new_items = list(old or []), list(new or [])
        added = [item for item in new_items if item not in old_items]
        removed = [item for item in old_items if item not in new_items]
        return _tags_part(name, added, removed)
    long = any(isinstance(v, str) and len(v) > LONG_TEXT for v in (old, new))
    if name in ADDRESS_FIELDS or name == "checksum" or long or isinstance(new, dict):
        details.append((_("%(field)s before", field=label), _value(name, old)))
        details.append((_("%(field)s after", field=label), _value(name, new)))
        return _("%(field)s edited", field=label)
    if old in (None, "", []):
        return _("%(field)s set to %(new)s", field=label, new=_value(name, new))
    if new in (None, "", []):
        return _("%(field)s cleared (was %(old)s)", field=label, old=_value(name, old))
    return _("%(field)s %(old)s → %(new)s", field=label, old=_value(name, old),
             new=_value(name, new))  # fmt: skip


def _fields(fields: Mapping, details: list) -> str:
    return _parts_sep().join(
        _field_part(str(name), _dict(v).get("old"), _dict(v).get("new"), details)
        for name, v in fields.items()
    )


# ---- one change ----------------------------------------------------------------------


def _size_and_rows(change: Mapping) -> list[str]:
    pieces = []
    if size := _numbers_changed(change.get("size")):
        pieces.append(f"{filesize(size[0])} → {filesize(size[1])}")
    if rows := _numbers_changed(change.get("rows")):
        pieces.append(_("%(old)s rows → %(new)s rows", old=rows[0], new=rows[1]))
    if change.get("truncated"):
        pieces.append(_("only the start of this large file was read"))
    return pieces


def _technical(change: Mapping) -> list[tuple[str, str]]:
    details = []
    if change.get("url"):
        details.append((_("Address"), str(change["url"])))
    if change.get("found_by"):
        details.append((_("Check"), str(change["found_by"])))
    sha = _dict(change.get("sha256"))
    for key, label in (("old", _("SHA-256 before")), ("new", _("SHA-256 after"))):
        if sha.get(key):
            details.append((label, str(sha[key])))
    if change.get("error"):
        details.append((_("Error"), str(change["error"])))
    return details


def _method(change: Mapping) -> str:
    found = FOUND_BY.get(str(change.get("found_by") or ""))
    return str(found) if found is not None else ""


def _with_method(text: str, change: Mapping) -> str:
    method = _method(change)
    return _("%(text)s (%(method)s)", text=text, method=method) if method else text


def describe(change: Mapping, names: ResourceNames | None = None) -> list[Sentence]:
    """One stored change as sentences (a metadata change with many fields stays one)."""
    change = _dict(change)
    names = names or ResourceNames()
    kind = str(change.get("kind") or "")
    details: list[tuple[str, str]] = []
    if kind == "metadata" and change.get("key"):  # a resource's own fields changed
        what = _fields(_dict(change.get("fields")), details)
        text = _("File details changed: %(name)s: %(what)s",
                 name=resource_label(change, names), what=what)  # fmt: skip
    elif kind == "metadata":
        fields = _dict(change.get("fields"))
        if not fields:
            return [Sentence(kind, _("Metadata changed"))]
        return [
            _metadata_field(str(name), _dict(values), fields)
            for name, values in fields.items()
            if not _shown_by_its_field(str(name), fields)
        ]
    elif kind == "resource_added":
        text = _("Resource added: %(name)s", name=resource_label(change, names))
        details = _technical(_dict(change.get("resource")))
    elif kind == "resource_removed":
        text = _("Resource removed: %(name)s", name=resource_label(change, names))
        details = _technical(_dict(change.get("resource")))
    elif kind == "content" and change.get("restored"):
        text = _restored_file(change, names)
        details = _technical(change)
    elif kind == "content":
        pieces = [resource_label(change, names), *_size_and_rows(change)]
        text = _with_method(_("File content changed: %(what)s", what=_comma().join(pieces)), change)
        details = _technical(change)
    elif kind == "schema":
        text = _with_method(_schema(change, names), change)
        details = _technical(change)
    elif kind == "resource_unavailable":
        text = _unavailable(change, names)
        details = _technical(change)
    elif kind == "resource_available":
        text = _("File available again: %(name)s", name=resource_label(change, names))
        details = _technical(change)
    elif kind == "restored":
        text = _("Dataset restored at the source")
    elif kind == "overdue":
        text = _overdue(change)
    elif kind == "feedback":  # 数据纠错: a report was filed or changed state
        state = labels.REPORT_STATES.get(str(change.get("state") or ""), change.get("state"))
        text = _("Error report #%(id)s: %(state)s", id=change.get("report_id"), state=state)
        if change.get("note"):
            text = _("%(what)s: %(why)s", what=text, why=str(change["note"])[:500])
    else:
        text = _("Other change: %(kind)s", kind=kind or "?")
    return [Sentence(kind, text, details)]


def _shown_by_its_field(name: str, fields: Mapping) -> bool:
    """A date's precision is shown by the date itself; its raw text (`modified_raw`) goes
    with it too when the date changed (else the raw text is the change: "n/a" → "sometime";
    a date written otherwise with the same meaning is no change since diff.same_date)."""
    if name.endswith("_precision"):
        return True
    return name.endswith("_raw") and name.removesuffix("_raw") in fields


def _metadata_field(name: str, values: dict, fields: Mapping) -> Sentence:
    details: list[tuple[str, str]] = []
    if "old" not in values and ("added" in values or "removed" in values):
        # a tag list (keywords, themes: diff.TAG_FIELDS): the tags added and removed
        what = _tags_part(name, _list(values.get("added")), _list(values.get("removed")))
        return Sentence("metadata", _("Metadata changed: %(what)s", what=what), details)
    old, new = values.get("old"), values.get("new")
    if name in DATE_FIELDS:  # a catalog date at the precision the catalog gave
        precision = _dict(fields.get(f"{name}_precision"))
        old = catalog_when(old, precision.get("old"))
        new = catalog_when(new, precision.get("new"))
    what = _field_part(name, old, new, details)
    return Sentence("metadata", _("Metadata changed: %(what)s", what=what), details)


def _restored_file(change: Mapping, names: ResourceNames) -> str:
    name = resource_label(change, names)
    if change.get("changed") is False:
        return _("File available again: %(name)s, content unchanged", name=name)
    pieces = _size_and_rows(change)
    if change.get("changed"):
        text = _("File available again: %(name)s, content changed", name=name)
        return _comma().join([text, *pieces])
    return _("File available again: %(name)s", name=name)


def _schema(change: Mapping, names: ResourceNames) -> str:
    added, removed = _strings(change.get("added")), _strings(change.get("removed"))
    pieces = []
    if added:
        pieces.append(_("added columns %(columns)s", columns=_list_sep().join(added)))
    if removed:
        pieces.append(_("removed columns %(columns)s", columns=_list_sep().join(removed)))
    if not pieces:
        pieces.append(_("columns reordered"))
    return _("Table columns changed: %(name)s: %(what)s",
             name=resource_label(change, names), what=_parts_sep().join(pieces))  # fmt: skip


def _unavailable(change: Mapping, names: ResourceNames) -> str:
    status = _int(change.get("status"))
    reason = _("HTTP %(status)s", status=status) if status else _("connection failed")
    failures = _int(change.get("failures"))
    if failures:
        reason = _comma().join([reason, _("%(count)s failed checks in a row", count=failures)])
    return _("File unavailable: %(name)s (%(reason)s)",
             name=resource_label(change, names), reason=reason)  # fmt: skip


def _overdue(change: Mapping) -> str:
    frequency = str(labels.FREQUENCIES.get(change.get("frequency"), change.get("frequency") or ""))
    if change.get("modified") and change.get("due"):
        return _("Overdue: last updated %(modified)s; with the update frequency "
                 "“%(frequency)s” it was due by %(due)s", modified=when(change["modified"]),
                 frequency=frequency, due=when(change["due"]))  # fmt: skip
    return _("Overdue: not updated as often as announced")


# ---- many changes ------------------------------------------------------------------


def describe_all(changes, names: ResourceNames | None = None) -> list[Sentence]:
    names = names or ResourceNames()
    if not isinstance(changes, list):
        return []
    return [s for change in changes for s in describe(_dict(change), names)]


def describe_version(version: Mapping, names: ResourceNames) -> list[Sentence]:
    """A history entry (catalog.dataset_history's item) as sentences."""
    sentences = describe_all(version.get("changes"), names)
    kind = version.get("kind")
    if not sentences and kind == "created":
        sentences = [Sentence("created", _("First harvested."))]
    elif not sentences and kind == "deleted":
        sentences = [Sentence("deleted", _("Dataset deleted or withdrawn at the source"))]
    elif not sentences and kind == "restored":
        sentences = [Sentence("restored", _("Dataset restored at the source"))]
    return sentences


def describe_event(event_type: str, reason: str | None) -> str:
    """A scenario event's headline: "进入场景：新发布", "移出场景：不再符合搜索条件"."""
    why = labels.EVENT_REASONS.get(reason or "")
    headline = {
        "dataset.created": _l("Entered the scenario"),
        "dataset.deleted": _l("Left the scenario"),
        "dataset.updated": _l("Changed"),
        "dataset.overdue": _l("Overdue"),
    }.get(event_type)
    if headline is None:
        return str(labels.EVENT_TYPES.get(event_type, event_type))
    return _("%(what)s: %(why)s", what=headline, why=why) if why else str(headline)


# ---- helpers -------------------------------------------------------------------------


def _dict(value) -> dict:
    return dict(value) if isinstance(value, Mapping) else {}


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _numbers_changed(value) -> tuple[int, int] | None:
    """(old, new) of a {"old", "new"} pair of whole numbers that differ, else None."""
    old, new = _int(_dict(value).get("old")), _int(_dict(value).get("new"))
    return (old, new) if old is not None and new is not None and old != new else None


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _strings(value) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []
