"""Write, search, export and expire the audit trail. Nothing here updates an entry.

`record()` adds one entry to the caller's transaction (the caller commits, so the entry
and the change it describes are stored together, or neither). The actor is the user
passed in, else the request's user (API token or browser session), else "system".
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import datetime, timedelta

from flask import current_app, g, has_request_context, request, session
from sqlalchemy import delete, select

from subscribe.audit.models import AuditEntry
from subscribe.auth.models import User
from subscribe.digits import ascii_int
from subscribe.extensions import db
from subscribe.models_base import to_naive_utc, utcnow
from subscribe.paging import paginate

# The actions written today (the API documents them; `action` filters also take a
# prefix such as "subscription.").
ACTIONS = (
    "source.create", "source.update", "source.delete", "source.harvest",
    "job.pause", "job.resume", "job.run",
    "report.create", "report.transition", "report.hide", "report.unhide",
    "token.create", "token.revoke",
    "bundle.request", "bundle.download",
    "subscription.create", "subscription.update", "subscription.delete",
    "audit.export", "audit.retention",
)  # fmt: skip
EXPORT_COLUMNS = ("id", "created_at", "actor_type", "actor_id", "actor_label", "action",
                  "target_type", "target_id", "ip", "details")  # fmt: skip
RETENTION_BATCH = 5000


def request_user() -> User | None:
    """The user of this request: the API's (set by auth_required), else the session's."""
    if not has_request_context():
        return None
    user = g.get("user")
    if isinstance(user, User) and g.get("audit_request") is request._get_current_object():
        return user
    user_id = session.get("user_id")
    return db.session.get(User, user_id) if user_id else None


def remember_api_user(user: User) -> None:
    """Called by the API's auth decorator: `g` can outlive one request (tests hold an app
    context open), so the user is trusted only for the request that set it."""
    g.user = user
    g.audit_request = request._get_current_object()


def record(action: str, target_type: str = "", target_id: object = "", details: dict | None = None,
           *, actor: User | None = None, system: str | None = None) -> AuditEntry:  # fmt: skip
    """Add one entry to the session (the caller commits).

    action: "source.update", "report.transition", … (ACTIONS); target: a type ("source",
    "job", "report", "token", "bundle", "subscription") and its id (stored as text: jobs
    are named). `system` names a job acting on its own (actor_type "system").
    """
    user = None if system else (actor or request_user())
    entry = AuditEntry(
        created_at=utcnow(),
        actor_type="user" if user is not None else "system",
        actor_id=user.id if user is not None else None,
        actor_label=user.email if user is not None else (system or "system"),
        action=action,
        target_type=target_type,
        target_id="" if target_id is None else str(target_id)[:100],
        details=_jsonable(details or {}),
        ip=(request.remote_addr or None) if has_request_context() else None,
    )
    db.session.add(entry)
    return entry


def record_now(*args, **kwargs) -> AuditEntry:
    """record() and commit: for actions whose own change was committed already (or that
    change nothing, like a download)."""
    entry = record(*args, **kwargs)
    db.session.commit()
    return entry


def _jsonable(value):
    """Details as JSON values (datetimes as ISO text, sets as lists)."""
    return json.loads(json.dumps(value, default=_default, ensure_ascii=False))


def _default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value, key=str)
    return str(value)


def changed_values(obj, values: dict) -> dict:
    """{field: {"from": old, "to": new}} for the fields `values` would change on `obj`."""
    changes = {}
    for name, new in values.items():
        old = getattr(obj, name, None)
        if old != new:
            changes[name] = {"from": old, "to": new}
    return changes


# --- reading ---------------------------------------------------------------------------


def _query(filters: dict):
    """Newest first. Filters (all optional): actor (a user id, or text found in the actor's
    e-mail / job name), actor_id, action (exact, or a prefix ending in "."),
    target_type, target_id, since / until (datetimes, UTC; until exclusive)."""
    query = select(AuditEntry)
    actor = (filters.get("actor") or "").strip()
    if actor:
        if ascii_int(actor) is not None:  # a user id ("²" is text: int() refuses it)
            from subscribe.api import parse_id  # here: subscribe.api imports this module

            # past what the database holds it is nobody (int() overflowed there: a 500)
            query = query.where(AuditEntry.actor_id == (parse_id(actor) or 0))
        else:
            query = query.where(AuditEntry.actor_label.ilike(f"%{_like(actor)}%", escape="\\"))
    if filters.get("actor_id") is not None:
        query = query.where(AuditEntry.actor_id == filters["actor_id"])
    action = (filters.get("action") or "").strip()
    if action.endswith("."):
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    elif action:
        query = query.where(AuditEntry.action == action)
    if filters.get("target_type"):
        query = query.where(AuditEntry.target_type == filters["target_type"])
    if filters.get("target_id") not in (None, ""):
        query = query.where(AuditEntry.target_id == str(filters["target_id"]))
    if filters.get("since"):
        query = query.where(AuditEntry.created_at >= to_naive_utc(filters["since"]))
    if filters.get("until"):
        query = query.where(AuditEntry.created_at < to_naive_utc(filters["until"]))
    return query.order_by(AuditEntry.id.desc())


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(filters: dict, page: int, per_page: int) -> dict:
    """One page of entries matching `filters` (see _query), newest first."""
    return paginate(_query(filters), page, per_page)


def for_user(user: User, page: int, per_page: int, filters: dict | None = None) -> dict:
    """What the user did: their own entries, newest first, by `filters` as _query's
    (an actor in them is not looked at: the actor is the user)."""
    filters = {**(filters or {}), "actor": None, "actor_id": user.id}
    return paginate(_query(filters), page, per_page)


def as_dict(entry: AuditEntry) -> dict:
    return {
        "id": entry.id,
        "created_at": entry.created_at.isoformat() + "Z",
        "actor_type": entry.actor_type,
        "actor_id": entry.actor_id,
        "actor_label": entry.actor_label,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "ip": entry.ip,
        "details": entry.details or {},
    }


def export(filters: dict, fmt: str) -> Iterator[str]:
    """Every matching entry (newest first) as CSV (a header row, details as JSON text) or
    JSON (one array), produced in pieces so memory stays flat whatever the count."""
    rows = db.session.execute(_query(filters).execution_options(yield_per=1000)).scalars()
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        for entry in rows:
            item = as_dict(entry)
            item["details"] = json.dumps(item["details"], ensure_ascii=False, sort_keys=True)
            writer.writerow(["" if item[c] is None else _cell(item[c]) for c in EXPORT_COLUMNS])
            if buffer.tell() > 64_000:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()
        return
    yield "["
    for number, entry in enumerate(rows):
        yield ("," if number else "") + json.dumps(as_dict(entry), ensure_ascii=False)
    yield "]\n"


def _cell(value) -> str:
    """A CSV cell a spreadsheet will not run as a formula (=, +, -, @ lead)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


# --- retention ---------------------------------------------------------------------------


def expire(now: datetime | None = None, days: int | None = None) -> int:
    """Delete entries older than the retention (SUBSCRIBE_AUDIT_RETENTION_DAYS; 0 keeps
    everything) in batches; the one path that removes entries. Returns how many went."""
    days = current_app.config["SUBSCRIBE_AUDIT_RETENTION_DAYS"] if days is None else days
    if not days or days <= 0:
        return 0
    cutoff = (now or utcnow()) - timedelta(days=days)
    removed = 0
    while True:
        ids = db.session.scalars(
            select(AuditEntry.id).where(AuditEntry.created_at < cutoff).limit(RETENTION_BATCH)
        ).all()
        if not ids:
            break
        removed += db.session.execute(delete(AuditEntry).where(AuditEntry.id.in_(ids))).rowcount
        db.session.commit()
    if removed:
        record("audit.retention", "audit", "", {"deleted": removed, "before": cutoff,
                                                 "days": days}, system="audit-retention")  # fmt: skip
        db.session.commit()
    return removed
