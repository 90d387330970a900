"""Translated names of the catalog's enum values, facets and sort orders."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

FACET_NAMES = {
    "theme": _l("Theme"),
    "publisher": _l("Publisher"),
    "format": _l("Format"),
    "open_type": _l("Open type"),
    "frequency": _l("Update frequency"),
    "source": _l("Source"),
}

SORT_NAMES = {
    "relevance": _l("Relevance"),
    "newest": _l("Newest"),
    "oldest": _l("Oldest"),
    "title": _l("Title"),
}

OPEN_TYPES = {
    "unconditional": _l("Open without conditions"),
    "conditional": _l("Open with conditions"),
    "on_request": _l("Open on request"),
    "not_open": _l("Not open"),
    "unknown": _l("Unknown"),
}

FREQUENCIES = {
    "realtime": _l("Real time"),
    "daily": _l("Daily"),
    "weekly": _l("Weekly"),
    "monthly": _l("Monthly"),
    "quarterly": _l("Quarterly"),
    "yearly": _l("Yearly"),
    "irregular": _l("Irregular"),
    "unknown": _l("Unknown"),
}

VERSION_KINDS = {
    "created": _l("Created"),
    "updated": _l("Updated"),
    "deleted": _l("Deleted upstream"),
    "restored": _l("Restored"),
}

CHANGE_KINDS = {
    "metadata": _l("Metadata changed"),
    "resource_added": _l("Resource added"),
    "resource_removed": _l("Resource removed"),
    "resource_changed": _l("Resource changed"),
    "content": _l("File content changed"),
    "schema": _l("Table columns changed"),
    "resource_unavailable": _l("Resource unavailable"),
    "resource_available": _l("Resource available again"),
}

FIELDS = {
    "title": _l("Title"),
    "description": _l("Description"),
    "publisher": _l("Publisher"),
    "themes": _l("Themes"),
    "keywords": _l("Keywords"),
    "formats": _l("Formats"),
    "open_type": _l("Open type"),
    "frequency": _l("Update frequency"),
    "issued": _l("Issued"),
    "modified": _l("Modified"),
    "landing_page": _l("Landing page"),
    "license": _l("License"),
    "name": _l("Name"),
    "format": _l("Format"),
    "url": _l("Address"),
    "size": _l("Size"),
    "checksum": _l("Checksum"),
}


def facet_value(value: str, facet: str) -> str:
    """`{{ value | facet_value("open_type") }}`: enum codes become words."""
    table = {"open_type": OPEN_TYPES, "frequency": FREQUENCIES}.get(facet)
    return str(table.get(value, value)) if table else value


def label(key: str, table_name: str) -> str:
    """`{{ "daily" | label("FREQUENCIES") }}`: the translated name, else the key itself."""
    table = globals().get(table_name, {})
    return str(table.get(key, key))


# The header's navigation, one entry per page group (templates/base.html).
NAV = {
    "search": _l("Search"),
    "scenarios": _l("Scenarios"),
    "subscriptions": _l("Subscriptions"),
    "webhooks": _l("Developers"),
    "inbox": _l("Inbox"),
    "operators": _l("Operations"),
}
