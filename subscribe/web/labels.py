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
    "quality": _l("Quality (best first)"),
    "completeness": _l("Completeness (best first)"),
    "timeliness": _l("Timeliness (best first)"),
    "accuracy": _l("Accuracy (best first)"),
}
# Minimum overall quality choices on the search page (any value 0–100 works in the URL).
QUALITY_MINIMUMS = (60, 80, 90)
QUALITY_AXIS_NAMES = {
    "completeness_min": _l("Completeness"),
    "timeliness_min": _l("Timeliness"),
    "accuracy_min": _l("Accuracy"),
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
    "biweekly": _l("Every two weeks"),
    "monthly": _l("Monthly"),
    "quarterly": _l("Quarterly"),
    "semiannual": _l("Every six months"),
    "yearly": _l("Yearly"),
    "biennial": _l("Every two years"),
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
    "issued_precision": _l("Issued (precision)"),
    "issued_raw": _l("Issued (as written)"),
    "modified_precision": _l("Modified (precision)"),
    "modified_raw": _l("Modified (as written)"),
    "translations": _l("Translations"),
    "landing_page": _l("Landing page"),
    "download_url": _l("Download URL"),
    "identifier": _l("Identifier"),
    "license": _l("License"),
    "contact_point": _l("Contact point"),
    "record_count": _l("Record count"),
    "distinguished_by": _l("Told apart by"),
    "name": _l("Name"),
    "format": _l("Format"),
    "url": _l("Address"),
    "size": _l("Size"),
    "checksum": _l("Checksum"),
}


# The mapping report's column roles (operators' source page).
MAPPING_ROLES = {
    "used": _l("Used"),
    "fallback": _l("Fallback"),
    "ignored": _l("Ignored"),
}


# Why a dataset's issued/modified text gave no date (normalize.DATE_NOTES): the harvest
# report's counts (operators' pages) and the dataset page beside the raw text.
DATE_NOTES = {
    "placeholder": _l("a placeholder (such as n/a, 无, -): the catalog gives no date"),
    "schedule": _l("a repeat rule or duration: an update frequency, not a date"),
    "future": _l("a date in the future: not credible, so not taken until it has passed"),
    "unreadable": _l("not a date that could be read"),
}


# How a harvest after an identity scheme change paired rows with stored datasets (the
# round names of subscribe.catalog.harvesters.carry_over; operators' source page).
CARRY_ROUNDS = {
    "name": _l("package name"),
    "title and publisher": _l("title and publisher"),
    "title and publisher, in file order": _l("title and publisher, in file order"),
    "landing page": _l("landing page"),
    "download URL": _l("download URL"),
    "title": _l("title"),
    "renamed title": _l("renamed title"),
}
# Why a renamed title was paired with its stored dataset (tabular_rename's reasons).
RENAME_REASONS = {
    "renamed: title contains the stored title": _l("the new title contains the old one"),
    "renamed: the stored title contains the title": _l("the old title contains the new one"),
    "renamed: characters added to the stored title": _l("characters added to the old title"),
    "renamed: characters removed from the stored title": _l(
        "characters removed from the old title"
    ),
    "renamed: a similar title with the same description": _l(
        "a similar title with the same description"
    ),
}


# Operators' pages: job and harvest runs (statuses and what started them).
RUN_STATUSES = {
    "queued": _l("Queued"),
    "running": _l("Running"),
    "succeeded": _l("Succeeded"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
}

RUN_TRIGGERS = {
    "schedule": _l("Scheduled"),
    "manual": _l("Manual"),
    "cli": _l("Command line"),
}


def facet_value(value: str, facet: str) -> str:
    """`{{ value | facet_value("open_type") }}`: enum codes become words."""
    table = {"open_type": OPEN_TYPES, "frequency": FREQUENCIES}.get(facet)
    return str(table.get(value, value)) if table else value


def label(key: str, table_name: str) -> str:
    """`{{ "daily" | label("FREQUENCIES") }}`: the translated name, else the key itself.
    A table name that is not in TABLES is a template bug and raises KeyError."""
    return str(TABLES[table_name].get(key, key))


# The header's navigation, one entry per page group (templates/base.html).
NAV = {
    "search": _l("Search"),
    "scenarios": _l("Scenarios"),
    "subscriptions": _l("Subscriptions"),
    "webhooks": _l("Developers"),
    "chat": _l("Chat robots"),
    "inbox": _l("Inbox"),
    "operators": _l("Operations"),
    "mailbox": _l("Demo mailbox"),
}


# Subscriptions, webhooks and the inbox (web/subscriptions.py, webhooks.py, inbox.py).
EVENT_TYPES = {
    "dataset.created": _l("Dataset created"),
    "dataset.updated": _l("Dataset updated"),
    "dataset.deleted": _l("Dataset deleted"),
    "dataset.overdue": _l("Dataset overdue"),
    "bundle.ready": _l("Bundle ready"),
    "dataset.suggested": _l("Suggested dataset"),
    "dataset.feedback": _l("Error report"),
    "report.state": _l("Your error report"),
    "webhook.ping": _l("Test ping"),
    "chat.test": _l("Test message"),
    "webhook.disabled": _l("Endpoint disabled"),
    "subscription.failing": _l("Delivery failing"),
    "source.removed": _l("Source removed"),
}

CHANNELS = {"webhook": _l("Webhook"), "email": _l("E-mail"), "inbox": _l("Inbox"),
            "dingtalk": _l("DingTalk"), "wecom": _l("WeCom"), "feishu": _l("Feishu")}  # fmt: skip

CADENCES = {
    "immediate": _l("Immediately"),
    "daily": _l("Daily digest"),
    "weekly": _l("Weekly digest"),
}

PUSH_KINDS = {"alert": _l("Alert"), "bundle": _l("Data bundle")}

WEEKDAYS = {
    0: _l("Monday"),
    1: _l("Tuesday"),
    2: _l("Wednesday"),
    3: _l("Thursday"),
    4: _l("Friday"),
    5: _l("Saturday"),
    6: _l("Sunday"),
}

DELIVERY_STATUSES = {
    "pending": _l("Pending"),
    "delivering": _l("Sending"),
    "succeeded": _l("Delivered"),
    "failed": _l("Failed"),
}


# ---- Scenarios and bundles (web/scenarios.py) ----
SCENARIO_EVENTS = {
    "dataset.created": _l("Entered the scenario"),
    "dataset.updated": _l("Changed"),
    "dataset.deleted": _l("Left the scenario"),
    "dataset.overdue": _l("Overdue"),
}

EVENT_REASONS = {
    "published": _l("newly published"),
    "now_matches": _l("now matches the query"),
    "changed": _l("its data or metadata changed"),
    "deleted_upstream": _l("deleted from the catalog"),
    "no_longer_matches": _l("no longer matches the query"),
    "overdue": _l("not updated within its declared frequency"),
}

FRESHNESS = {
    "on_time": _l("Updated on time"),
    "overdue": _l("Overdue"),
    "no_schedule": _l("No regular schedule"),
    "undated": _l("No update date"),
}

BUNDLE_STATUSES = {
    "queued": _l("Queued"),
    "building": _l("Building"),
    "ready": _l("Ready"),
    "failed": _l("Failed"),
    "expired": _l("Expired"),
    "empty": _l("Nothing changed"),
}

BUNDLE_MODES = {
    "all": _l("All members' files"),
    "changed": _l("Only files changed since the last bundle"),
}

SKIP_REASONS = {
    "conditional_access": _l("Conditionally open: ask the publisher"),
    "too_large": _l("Over the per-file size limit"),
    "bundle_size_cap": _l("The bundle reached its size limit"),
    "http_error": _l("Download failed (HTTP error)"),
    "connection": _l("Download failed (connection error or timeout)"),
    "blocked": _l("Address refused by the security policy"),
    "unsupported_url": _l("Unsupported link type"),
    "no_resources": _l("The dataset lists no files"),
    "no_url": _l("No download URL"),
}

# What each registered job does (jobs/registry.py keeps the English text for the API and logs).
JOB_DESCRIPTIONS = {
    "audit-retention": _l("Delete audit trail entries older than SUBSCRIBE_AUDIT_RETENTION_DAYS"),
    "enqueue-harvests": _l("Queue a harvest for every source whose schedule has come round"),
    "run-harvests": _l("Run queued harvests, oldest first"),
    "check-resources": _l("Check due resource files: conditional GET, size, SHA-256, CSV schema"),
    "preview-resources": _l("Preview and profile the files of open datasets"),
    "score-quality": _l("Score every dataset's completeness, timeliness and accuracy"),
    "detect-overdue": _l("One dataset.overdue per dataset late for its declared frequency"),
    "match-events": _l("Match catalog events to scenarios; write scenario events and deliveries"),
    "cleanup": _l("Delete job runs and delivery attempts past their retention"),
    "build-bundles": _l("Build queued download bundles; delete expired ones"),
    "deliver": _l("Send due webhooks, e-mails and inbox notifications"),
    "update-search-index": _l("Apply catalog changes to this node's search index"),
}


def job_description(job) -> str:
    """`{{ job | job_description }}`: translated when the job is known, else as registered
    (`job` is a Job row or the jobs service's dict)."""
    name, text = (
        (job["name"], job["description"]) if isinstance(job, dict) else (job.name, job.description)
    )
    return str(JOB_DESCRIPTIONS.get(name, text))


# The tables `label` can name: this module's upper-case dicts, collected once.
# 数据纠错: the states of an error report.
REPORT_STATES = {
    "open": _l("Open"),
    "acknowledged": _l("Acknowledged"),
    "resolved": _l("Resolved (error confirmed)"),
    "rejected": _l("Rejected"),
}

# 行为记录: what an audit trail entry records (subscribe/audit/services.py ACTIONS).
AUDIT_ACTIONS = {
    "source.create": _l("Source added"),
    "source.update": _l("Source changed"),
    "source.delete": _l("Source deleted"),
    "source.harvest": _l("Harvest requested"),
    "job.pause": _l("Job paused"),
    "job.resume": _l("Job resumed"),
    "job.run": _l("Job run now"),
    "report.create": _l("Error report filed"),
    "report.transition": _l("Error report handled"),
    "report.hide": _l("Error report hidden as spam"),
    "report.unhide": _l("Error report shown again"),
    "token.create": _l("API token created"),
    "token.revoke": _l("API token revoked"),
    "bundle.request": _l("Bundle requested"),
    "bundle.download": _l("Bundle downloaded"),
    "subscription.create": _l("Subscription created"),
    "subscription.update": _l("Subscription changed"),
    "subscription.delete": _l("Subscription deleted"),
    "audit.export": _l("Audit trail exported"),
    "audit.retention": _l("Old audit entries deleted"),
}
AUDIT_TARGETS = {
    "source": _l("Source"),
    "job": _l("Job"),
    "report": _l("Error report"),
    "token": _l("API token"),
    "bundle": _l("Bundle"),
    "subscription": _l("Subscription"),
    "audit": _l("Audit trail"),
}

TABLES = {
    name: value for name, value in globals().items() if name.isupper() and isinstance(value, dict)
}
