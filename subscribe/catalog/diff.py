"""Field-level differences between two canonical dataset snapshots."""

from __future__ import annotations

from subscribe.catalog.normalize import is_placeholder, normalize_format
from subscribe.catalog.records import IDENTITY_FIELDS, OPTIONAL_FIELDS
from subscribe.catalog.text import NAME_MAX, TITLE_MAX, same_text, shorten
from subscribe.catalog.urls import same_value, url_key

RESOURCE_FIELDS = ("name", "format", "url", "size", "checksum")

# Fields that are our reading of a raw text the record keeps beside them. When the raw
# text is the same on both sides, a different value is a new reading (a vocabulary or date
# parser improved: 每两周 read as biweekly instead of monthly), not a change upstream: it
# is stored without a version or an event, so an upgrade never floods subscribers.
READINGS = {
    "frequency": "frequency_raw",
    "open_type": "open_type_raw",
    "issued": "issued_raw",
    "issued_precision": "issued_raw",
    "modified": "modified_raw",
    "modified_precision": "modified_raw",
}


# Catalog dates: the comparable instant, its precision and the raw text, three fields of
# one date. A date written otherwise with the same meaning (1998-12-31 → 1998-12-31T00:00:00Z
# after a portal upgrade, 2021-11-11 → 2021/11/11 in an Excel re-export) is no change:
# same_date. Its three fields leave the diff together, so alone it is stored quietly and
# beside a real edit the event shows only the edit.
DATE_FIELDS = ("issued", "modified")


def snapshot_keys(name: str) -> tuple[str, ...]:
    """The snapshot keys a field stands for: a date's value, precision and raw text, else
    the field itself."""
    return (name, f"{name}_precision", f"{name}_raw") if name in DATE_FIELDS else (name,)


_FINE_PRECISIONS = frozenset({"day", "datetime"})

# Lists of tags whose order means nothing: reordered alone is no change, and a change is
# told as {"added": [...], "removed": [...]} (the tags, in the new/old list's order).
TAG_FIELDS = ("keywords", "themes")


# {column: value} fields whose columns come and go with other rows: ``distinguished_by``
# (what tells a dataset from its twins, tabular_identity) is kept only while the row has
# twins, and holds only the columns needed to tell them apart. A column appearing (a
# twin added, or a dataset stored before the field existed) or going away (its twins
# gone) says nothing about the dataset itself: stored without a version or an event. A
# value that changes in a column both sides hold (所属区县 五华区 → 西山区, or emptied:
# "") is an update.
QUIET_WHEN_GONE = ("distinguished_by",)

# Texts the harvest cuts (records.DatasetRecord, since bb5 M1: a 200,000-character title
# went whole into messages). A snapshot stored before the cut holds the whole text; the
# same text cut now is that snapshot read again, stored without a version or an event.
CUT_TEXTS = {"title": TITLE_MAX, "publisher": NAME_MAX, "contact_point": NAME_MAX}


def _same_translations(old, new) -> bool:
    """Two `translations` ({tag: {field: text}}) that read the same: the same languages
    and fields, equal texts, descriptions compared as the description is (same_text:
    HTML stored before translations were turned into text, bb9 F13)."""
    if not isinstance(old, dict) or not isinstance(new, dict) or old.keys() != new.keys():
        return False
    for tag, before in old.items():
        after = new[tag]
        if not isinstance(before, dict) or not isinstance(after, dict):
            return False
        if before.keys() != after.keys():
            return False
        for field, text in before.items():
            same = same_text if field == "description" else (lambda a, b: a == b)
            if not same(text, after[field]):
                return False
    return True


def _reread(name: str, old: dict, new: dict) -> bool:
    """True when `name` is a reading whose raw text both snapshots hold, unchanged; or a
    description that reads the same (text.same_text: HTML stored before it was turned
    into text, lines reflowed)."""
    if name == "description":
        return same_text(old.get(name), new.get(name))
    if name == "translations":
        return _same_translations(old.get(name), new.get(name))
    if name in CUT_TEXTS:
        before, limit = old.get(name), CUT_TEXTS[name]
        return (
            isinstance(before, str)
            and len(before) > limit
            and shorten(before, limit) == new.get(name)
        )
    if name == "formats":
        return _same_formats(old.get(name), new.get(name)) or _formats_of_resources(old, new)
    if name in QUIET_WHEN_GONE:
        before, after = old.get(name) or {}, new.get(name) or {}
        return all(before[key] == after[key] for key in before.keys() & after.keys())
    raw = READINGS.get(name)
    return raw is not None and bool(old.get(raw)) and old.get(raw) == new.get(raw)


def same_date(name: str, old: dict, new: dict) -> bool:
    """True when the date `name` (issued or modified) of two snapshots denotes the same
    day or instant: the same value at the same precision however written (2021/11/11,
    2021-11-11), or a day and a time of that very day (1998-12-31 and
    1998-12-31T00:00:00Z: a finer or coarser precision of the same day); or no date on
    either side, each raw text empty or a placeholder ("-" → "暂无"); two times of the
    same second (13:03:59.519877 → 13:03:59Z: a writer dropping fractions). A time on
    another day (in UTC), or another second at datetime precision, is a change."""
    before, after = old.get(name), new.get(name)
    if before is None and after is None:
        raws = (old.get(f"{name}_raw") or "", new.get(f"{name}_raw") or "")
        return all(not raw or is_placeholder(raw) for raw in raws)
    if not isinstance(before, str) or not isinstance(after, str):
        return False
    precisions = (old.get(f"{name}_precision"), new.get(f"{name}_precision"))
    if precisions == ("datetime", "datetime"):
        return before[:19] == after[:19]  # the same second, its fraction kept or dropped
    if precisions[0] == precisions[1]:
        return before == after
    return set(precisions) == _FINE_PRECISIONS and before[:10] == after[:10]


def _same_formats(old, new) -> bool:
    """The same formats, in any order, once the old ones are read again (normalize_format:
    full-width ＣＳＶ stored before the NFKC fold is CSV)."""
    if not isinstance(old, list) or not isinstance(new, list) or not old:
        return False
    return {normalize_format(f) for f in old if isinstance(f, str)} == set(new)


def _tags(value) -> list:
    return [tag for tag in value if isinstance(tag, str)] if isinstance(value, list) else []


def diff_tags(old, new) -> dict | None:
    """{"added": [...], "removed": [...]} between two tag lists, or None when they hold the
    same tags (in any order)."""
    before, after = _tags(old), _tags(new)
    old_set, new_set = set(before), set(after)
    added = list(dict.fromkeys(tag for tag in after if tag not in old_set))
    removed = list(dict.fromkeys(tag for tag in before if tag not in new_set))
    return {"added": added, "removed": removed} if added or removed else None


def _formats_of_resources(old: dict, new: dict) -> bool:
    """True when formats appear where there were none, each a format of the dataset's
    resources, and no resource is new: the resources' formats read into the dataset's
    (tabular rows that name no format), not a change upstream. Resources added at the
    same time are an update by themselves."""
    if old.get("formats"):
        return False
    resources = new.get("resources") or []
    before = {url_key(_resource_key(r)) for r in old.get("resources") or []}
    return all(url_key(_resource_key(r)) in before for r in resources) and set(
        new.get("formats") or ()
    ) <= {r.get("format") for r in resources}


def _resource_key(resource: dict) -> str:
    return resource.get("identifier") or resource.get("url") or resource.get("name") or ""


def _unique(items: dict[int, str]) -> dict[str, int]:
    """{key: index} of the keys exactly one item holds ("" is no key)."""
    seen: dict[str, list[int]] = {}
    for index, key in items.items():
        if key:
            seen.setdefault(key, []).append(index)
    return {key: found[0] for key, found in seen.items() if len(found) == 1}


def pair_resources(old: list, new: list, get=dict.get) -> dict[int, int]:
    """{new index: old index}: which stored resource each harvested one is, in rounds.

    1. the same upstream id, else the same URL (``identifier or url``, as always);
    2. where one side names no id: the same URL, one to one;
    3. where one side has neither an id nor a URL (a CKAN resource without an address,
       known by its name alone): the same name, one to one.
    A key two resources of one side share pairs nothing in rounds 2 and 3; what no round
    pairs is added or removed. ``get(resource, field)`` reads a field (dicts by default;
    the writer passes its rows' reader)."""

    def field(resource, name: str) -> str:
        return get(resource, name) or ""

    def address(resource, name: str) -> str:
        # Compared as addresses (urls.url_key): HTTP://Host:80/x is http://host/x.
        return url_key(get(resource, name) or "")

    pairs: dict[int, int] = {}
    # Round 1 by the keys as written, then what is left by their addresses (only the
    # few left over pay for url_key).
    for read in (field, address):
        taken = set(pairs.values())
        by_key: dict[str, list[int]] = {}
        for index, resource in enumerate(old):
            if index not in taken:
                key = read(resource, "identifier") or read(resource, "url")
                if key:
                    by_key.setdefault(key, []).append(index)
        if not by_key:
            break
        for index, resource in enumerate(new):
            if index not in pairs:
                key = read(resource, "identifier") or read(resource, "url")
                if key and by_key.get(key):
                    pairs[index] = by_key[key].pop(0)
        if len(pairs) == len(new):
            break

    def round_(name: str, allowed) -> None:
        taken = set(pairs.values())
        read = address if name == "url" else field
        left_new = {i: read(r, name) for i, r in enumerate(new) if i not in pairs}
        left_old = {i: read(r, name) for i, r in enumerate(old) if i not in taken}
        olds = _unique(left_old)
        for key, index in _unique(left_new).items():
            match = olds.get(key)
            if match is not None and allowed(new[index], old[match]):
                pairs[index] = match

    def anonymous(resource) -> bool:
        return not field(resource, "identifier") and not field(resource, "url")

    round_("url", lambda a, b: not field(a, "identifier") or not field(b, "identifier"))
    round_("name", lambda a, b: anonymous(a) or anonymous(b))
    return pairs


def _format_reread(old, new) -> bool:
    """A resource format where there was none, or the old one read again (ＣＳＶ → CSV)."""
    return not old or (isinstance(old, str) and normalize_format(old) == new)


def diff_resources(old: list[dict], new: list[dict]) -> list[dict]:
    """Resources added, removed or changed, matched by upstream id, else by URL, else
    (a resource without id or URL) by name: pair_resources.

    A format where there was none is no change: it is a reading of the same address
    filled in (a tabular export's ?format=CSV read since), not news for subscribers."""
    pairs = pair_resources(old, new)
    changes = []
    for index, resource in enumerate(new):
        if index not in pairs:
            changes.append({"kind": "resource_added", "resource": resource})
            continue
        before = old[pairs[index]]
        fields = {
            name: {"old": before.get(name), "new": resource.get(name)}
            for name in RESOURCE_FIELDS
            if not same_value(before.get(name), resource.get(name))
            and not (name == "format" and _format_reread(before.get(name), resource.get(name)))
        }
        if fields:
            # The name travels with the change so messages (e-mail, chat) name the file
            # rather than its upstream id; a renamed file is named by its new name.
            name = resource.get("name") or before.get("name") or ""
            key = _resource_key(before) or _resource_key(resource)
            changes.append({"kind": "resource_changed", "key": key, "name": name, "fields": fields})
    paired = set(pairs.values())
    changes.extend(
        {"kind": "resource_removed", "resource": resource}
        for index, resource in enumerate(old)
        if index not in paired
    )
    return changes


def diff_snapshots(old: dict, new: dict) -> dict:
    """{"fields": {name: {"old", "new"}}, "resources": [changes]}; empty parts omitted.

    Optional fields are left out of a snapshot while empty: a key on one side only is a
    change (a contact point added or removed). Any other field the old snapshot does not
    hold was added to the model after that version was written (e.g. modified_precision):
    filling it in is no upstream change. Nor is a new reading of an unchanged raw text
    (see READINGS), nor a date written otherwise with the same meaning (same_date), nor
    tags reordered (TAG_FIELDS: a tag change is {"added", "removed"}), nor formats
    reordered or read again (ＣＳＶ → CSV), nor a description that reads the same, nor formats read from the
    unchanged resources where there were none (_formats_of_resources), nor how the
    catalog names the dataset (records.IDENTITY_FIELDS: stored, never an event), nor
    told-apart columns that appear or go away (QUIET_WHEN_GONE), nor a text stored
    whole before the harvest cut it, now cut (CUT_TEXTS), nor a URL written otherwise
    with the same address (scheme and host case, the default port: urls.url_key).
    """
    names = [*new, *(name for name in old if name not in new)]
    fields = {
        name: {"old": old.get(name), "new": new.get(name)}
        for name in names
        if name != "resources"
        and name not in IDENTITY_FIELDS
        and (name in old or name in OPTIONAL_FIELDS or not old)
        and not same_value(old.get(name), new.get(name))
        and not _reread(name, old, new)
    }
    for name in TAG_FIELDS:
        if name in fields:
            tags = diff_tags(old.get(name), new.get(name))
            if tags is None:
                del fields[name]
            else:
                fields[name] = tags
    for name in DATE_FIELDS:
        parts = [part for part in snapshot_keys(name) if part in fields]
        if parts and same_date(name, old, new):
            for part in parts:
                del fields[part]
    result: dict = {}
    if fields:
        result["fields"] = fields
    resources = diff_resources(old.get("resources") or [], new.get("resources") or [])
    if resources:
        result["resources"] = resources
    return result
