"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Blueprint, current_app
from sqlalchemy import text

from subscribe import metrics
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify.health import smtp_state

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """The process is alive."""
    return {"status": "ok"}


@blp.get("/readyz")
def readyz():
    """Ready when the database answers, the search index is fresh, a scheduler leader
    holds its lease and the delivery queue moves. 503 names the checks that failed.
    `smtp` is detail only (`degraded: true` while e-mail fails): it never fails readiness."""
    checks = {"database": _check(_database)}
    if checks["database"]["ok"]:
        for name, check in (
            ("search_index", _search_index),
            ("scheduler_leader", _scheduler_leader),
            ("delivery_queue", _delivery_queue),
        ):
            checks[name] = _check(check)
    else:
        for name in ("search_index", "scheduler_leader", "delivery_queue"):
            checks[name] = {"ok": False, "detail": "not checked: the database is unavailable"}
    ready = all(check["ok"] for check in checks.values())
    if checks["database"]["ok"]:
        # Shown, never failing readiness: the web app serves fine while mail is down.
        checks["smtp"] = _check(_smtp)
    return {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503


def _check(check) -> dict:
    try:
        ok, detail = check()
    except Exception as exc:  # any driver or file error means not ready
        db.session.rollback()
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return {"ok": ok, "detail": detail}


def _database():
    db.session.execute(text("SELECT 1"))
    return True, "ok"


def _search_index():
    """Fresh when at most SUBSCRIBE_READY_MAX_INDEX_LAG changes behind, or when behind but
    catching up: the oldest change it has not applied waited at most
    SUBSCRIBE_READY_MAX_INDEX_STALL seconds, or the follower committed within that time.
    A national harvest leaves the index hundreds of thousands of changes behind for a
    minute while the follower works through them: that is progress, not a stuck index.

    `process` says how this web process's search stands (search/service.py status):
    not ready until its first columns load and reader warm have ended (at most
    SUBSCRIBE_READY_MAX_SEARCH_WARM seconds after its start), as a balancer should meet
    a new process; ready for good after that, also while a later reader warms (the
    reader before answers meanwhile). `columns_loaded`, `warming_seconds` (a new
    reader's postings being pre-read, else None) and a `detail` sentence."""
    from subscribe.search.service import get_service

    process = get_service().status()
    if not process["ready"]:
        return False, {"error": process["detail"], "process": process}
    database, applied = metrics.index_sequences()
    limit = current_app.config["SUBSCRIBE_READY_MAX_INDEX_LAG"]
    if applied is None:
        if database == 0:
            return True, {"lag": 0, "index": False, "max_lag": limit, "process": process}
        return False, {"lag": database, "index": False, "max_lag": limit,
                       "error": "no search index has been built", "process": process}  # fmt: skip
    lag = max(0, database - applied)
    detail = {"lag": lag, "index": True, "max_lag": limit, "process": process}
    if lag <= limit:
        return True, detail
    stall = current_app.config["SUBSCRIBE_READY_MAX_INDEX_STALL"]
    waiting, since_commit = metrics.index_progress(applied, utcnow())
    detail.update(
        oldest_pending_seconds=None if waiting is None else round(waiting, 1),
        last_commit_seconds=None if since_commit is None else round(since_commit, 1),
        max_stall=stall,
    )
    catching_up = (waiting is not None and waiting <= stall) or (
        since_commit is not None and since_commit <= stall
    )
    detail["catching_up"] = catching_up
    return catching_up, detail


def _scheduler_leader():
    present = metrics.leader_present(utcnow())
    return present, "a leader holds the lease" if present else "no unexpired scheduler lease"


def _smtp():
    state = smtp_state()
    detail = {**state, "degraded": state["status"] == "failing"}
    if state["failing_since"] is not None:
        detail["failing_since"] = state["failing_since"].isoformat() + "Z"
    return True, detail


def _delivery_queue():
    age = metrics.oldest_due_pending_seconds(utcnow())
    limit = current_app.config["SUBSCRIBE_READY_MAX_QUEUE_AGE"]
    return age <= limit, {"oldest_due_pending_seconds": round(age, 1), "max_age": limit}
