"""The one place that reads the environment: every setting, its default and its meaning."""

from __future__ import annotations

import os
from pathlib import Path


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() not in {"0", "false", "no", "off"}


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _list(name: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


def instance_path() -> Path:
    """Where the SQLite database, the search index and bundles live by default."""
    raw = os.environ.get("SUBSCRIBE_INSTANCE_PATH", "").strip()
    return Path(raw).resolve() if raw else Path.cwd() / "instance"


def normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs written the usual way (postgres://, postgresql://)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def from_environment() -> dict:
    """Build the Flask config mapping from environment variables (see .env.example)."""
    instance = instance_path()
    database_url = os.environ.get("SUBSCRIBE_DATABASE_URL", "").strip() or (
        f"sqlite:///{instance / 'subscribe.db'}"
    )
    secret = os.environ.get("SUBSCRIBE_SECRET_KEY", "").strip()
    return {
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": normalize_database_url(database_url),
        # An empty secret is allowed only for local use; create_app refuses it in production.
        "SECRET_KEY": secret,
        "SUBSCRIBE_ENV": os.environ.get("SUBSCRIBE_ENV", "development").strip(),
        "SUBSCRIBE_LOG_LEVEL": os.environ.get("SUBSCRIBE_LOG_LEVEL", "INFO").strip().upper(),
        "SUBSCRIBE_BASE_URL": os.environ.get("SUBSCRIBE_BASE_URL", "").strip()
        or f"http://127.0.0.1:{_int('PORT', 5000)}",
        "PORT": _int("PORT", 5000),
        # Flask refuses a larger request body with 413 before reading it (a 30 MB JSON
        # body was read whole, then answered 422). No endpoint takes uploads; the largest
        # body, a scenario's 10,000 pins, is ~70 kB.
        "MAX_CONTENT_LENGTH": _int("SUBSCRIBE_MAX_BODY_BYTES", 2 * 1024 * 1024),
        "SUBSCRIBE_DEMO": _bool("SUBSCRIBE_DEMO", True),
        "SUBSCRIBE_DEMO_PORT": _int("SUBSCRIBE_DEMO_PORT", 5001),
        "SUBSCRIBE_DEMO_TICK_SECONDS": _float("SUBSCRIBE_DEMO_TICK_SECONDS", 5.0),
        "SUBSCRIBE_DEMO_RECEIVER_PORT": _int("SUBSCRIBE_DEMO_RECEIVER_PORT", 5002),
        # `make run`: where gunicorn's access log goes ("-" = the terminal).
        "SUBSCRIBE_ACCESS_LOG": os.environ.get("SUBSCRIBE_ACCESS_LOG", "").strip()
        or str(instance / "logs" / "access.log"),
        "SUBSCRIBE_OUTBOUND_ALLOWLIST": _list("SUBSCRIBE_OUTBOUND_ALLOWLIST"),
        "SUBSCRIBE_HTTP_TIMEOUT": _float("SUBSCRIBE_HTTP_TIMEOUT", 30.0),
        "SUBSCRIBE_HTTP_RETRIES": _int("SUBSCRIBE_HTTP_RETRIES", 4),
        "SUBSCRIBE_HTTP_BACKOFF": _float("SUBSCRIBE_HTTP_BACKOFF", 1.0),
        "SUBSCRIBE_HARVEST_PAGE_SIZE": _int("SUBSCRIBE_HARVEST_PAGE_SIZE", 1000),
        "SUBSCRIBE_HARVEST_OVERLAP_SECONDS": _int("SUBSCRIBE_HARVEST_OVERLAP_SECONDS", 3600),
        "SUBSCRIBE_HARVEST_FULL_EVERY": _int("SUBSCRIBE_HARVEST_FULL_EVERY", 86400),
        "SUBSCRIBE_HARVEST_BATCH_SIZE": _int("SUBSCRIBE_HARVEST_BATCH_SIZE", 500),
        # `flask worker` runs each harvest in a forked child (catalog/harvest.run_claimed)
        # unless this is 0; other callers (tests, `flask detect`) harvest in-process.
        "SUBSCRIBE_HARVEST_IN_CHILD": _bool("SUBSCRIBE_HARVEST_IN_CHILD", False),
        # Likewise matching, in one long-lived process (scenarios/match_process.py).
        "SUBSCRIBE_MATCH_IN_CHILD": _bool("SUBSCRIBE_MATCH_IN_CHILD", False),
        "SUBSCRIBE_HARVEST_MAX_ERRORS_KEPT": _int("SUBSCRIBE_HARVEST_MAX_ERRORS_KEPT", 200),
        "SUBSCRIBE_DEFAULT_HARVEST_INTERVAL": _int("SUBSCRIBE_DEFAULT_HARVEST_INTERVAL", 3600),
        "RATELIMIT_STORAGE_URI": os.environ.get("SUBSCRIBE_RATELIMIT_STORAGE_URI", "").strip()
        or "memory://",
        "SUBSCRIBE_LIMIT_LOGIN": os.environ.get("SUBSCRIBE_LIMIT_LOGIN", "10 per minute"),
        "SUBSCRIBE_LIMIT_REGISTER": os.environ.get(
            "SUBSCRIBE_LIMIT_REGISTER", "5 per minute; 50 per day"
        ),
        "SUBSCRIBE_LIMIT_TOKENS": os.environ.get("SUBSCRIBE_LIMIT_TOKENS", "10 per minute"),
        # Previews made on request (a file fetched now), per address; stored ones are free.
        "SUBSCRIBE_LIMIT_PREVIEW": os.environ.get(
            "SUBSCRIBE_LIMIT_PREVIEW", "20 per minute; 300 per day"
        ),
        # Dataset ratings: PUT/DELETE …/rating and the rating form, per client address.
        "SUBSCRIBE_LIMIT_RATINGS": os.environ.get(
            "SUBSCRIBE_LIMIT_RATINGS", "30 per minute; 300 per day"
        ),
        # The quality job (quality/job.py): scores blend once per day, so extra runs in a
        # day only pick up new checks and edits.
        "SUBSCRIBE_QUALITY_POLL_SECONDS": _float("SUBSCRIBE_QUALITY_POLL_SECONDS", 900.0),
        # Error reports (数据纠错) one user (else one address) may file.
        "SUBSCRIBE_LIMIT_REPORTS": os.environ.get(
            "SUBSCRIBE_LIMIT_REPORTS", "5 per minute; 30 per day"
        ),
        # Audit entries (行为记录) older than this are deleted by the audit-retention job;
        # 0 keeps them forever.
        "SUBSCRIBE_AUDIT_RETENTION_DAYS": _int("SUBSCRIBE_AUDIT_RETENTION_DAYS", 365),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool("SUBSCRIBE_SESSION_COOKIE_SECURE", False),
        "SUBSCRIBE_SEARCH_REFRESH_SECONDS": _float("SUBSCRIBE_SEARCH_REFRESH_SECONDS", 0.5),
        "SUBSCRIBE_SEARCH_CACHE_POSTINGS": _int("SUBSCRIBE_SEARCH_CACHE_POSTINGS", 20_000_000),
        "SUBSCRIBE_INDEX_POLL_SECONDS": _float("SUBSCRIBE_INDEX_POLL_SECONDS", 1.0),
        "SUBSCRIBE_DELIVERY_POLL_SECONDS": _float("SUBSCRIBE_DELIVERY_POLL_SECONDS", 1.0),
        "SUBSCRIBE_DELIVERY_BATCH": _int("SUBSCRIBE_DELIVERY_BATCH", 200),
        "SUBSCRIBE_DELIVERY_THREADS": _int("SUBSCRIBE_DELIVERY_THREADS", 16),
        "SUBSCRIBE_DELIVERY_LEASE_SECONDS": _int("SUBSCRIBE_DELIVERY_LEASE_SECONDS", 120),
        "SUBSCRIBE_WEBHOOK_ROTATION_GRACE_HOURS": _float(
            "SUBSCRIBE_WEBHOOK_ROTATION_GRACE_HOURS", 24.0
        ),
        "SUBSCRIBE_CLEANUP_POLL_SECONDS": _float("SUBSCRIBE_CLEANUP_POLL_SECONDS", 3600.0),
        "SUBSCRIBE_JOB_RUN_RETENTION_DAYS": _int("SUBSCRIBE_JOB_RUN_RETENTION_DAYS", 14),
        "SUBSCRIBE_DELIVERY_LOG_RETENTION_DAYS": _int("SUBSCRIBE_DELIVERY_LOG_RETENTION_DAYS", 30),
        # Renewed every 2 s; lapses only if no renewal gets SQLite's write lock for 28 s
        # (the worst wait seen: 13.2 s, a national harvest at load 30 on 2 cores). A
        # crashed leader is replaced within this time (a stopped one releases at once).
        "SUBSCRIBE_LEADER_LEASE_SECONDS": _float("SUBSCRIBE_LEADER_LEASE_SECONDS", 30.0),
        # Seconds between renewals (LeaderLease.interval); a renewal that waits longer
        # for the database is logged. Tests renew more often to overlap a short harvest.
        "SUBSCRIBE_LEADER_LEASE_RENEW_SECONDS": _float("SUBSCRIBE_LEADER_LEASE_RENEW_SECONDS", 2.0),
        "SUBSCRIBE_MATCH_POLL_SECONDS": _float("SUBSCRIBE_MATCH_POLL_SECONDS", 2.0),
        # Catalog events per matching batch (scenarios/matching.py BATCH: memory vs CPU).
        "SUBSCRIBE_MATCH_BATCH": _int("SUBSCRIBE_MATCH_BATCH", 1000),
        "SUBSCRIBE_SUGGEST_PUSH_MIN_FIT": _float("SUBSCRIBE_SUGGEST_PUSH_MIN_FIT", 0.8),
        "SUBSCRIBE_SUGGEST_PUSH_MAX": _int("SUBSCRIBE_SUGGEST_PUSH_MAX", 3),
        "SUBSCRIBE_CHECK_POLL_SECONDS": _float("SUBSCRIBE_CHECK_POLL_SECONDS", 10.0),
        "SUBSCRIBE_OVERDUE_POLL_SECONDS": _float("SUBSCRIBE_OVERDUE_POLL_SECONDS", 600.0),
        "SUBSCRIBE_WORKER_POLL_SECONDS": _float("SUBSCRIBE_WORKER_POLL_SECONDS", 2.0),
        # Readiness (/readyz): the search index may trail the catalog by MAX_INDEX_LAG
        # changes, or by more while it is catching up: its oldest unapplied change is at
        # most MAX_INDEX_STALL seconds old, or the follower committed within that time (a
        # national first harvest leaves it 100,000s behind for a minute: progress, not a
        # stuck index). And the oldest due pending delivery may wait MAX_QUEUE_AGE seconds.
        "SUBSCRIBE_READY_MAX_INDEX_LAG": _int("SUBSCRIBE_READY_MAX_INDEX_LAG", 10_000),
        "SUBSCRIBE_READY_MAX_INDEX_STALL": _float("SUBSCRIBE_READY_MAX_INDEX_STALL", 300.0),
        "SUBSCRIBE_READY_MAX_QUEUE_AGE": _float("SUBSCRIBE_READY_MAX_QUEUE_AGE", 900.0),
        # A web process is not ready until its first search columns load and index
        # reader warm have ended (search/service.py status), or this many seconds after
        # its start at the latest (then ready anyway, slower at first, and it says so).
        "SUBSCRIBE_READY_MAX_SEARCH_WARM": _float("SUBSCRIBE_READY_MAX_SEARCH_WARM", 120.0),
        # Resource content checks (catalog/checks.py, catalog/check_jobs.py).
        "SUBSCRIBE_CHECK_LIMIT": _int("SUBSCRIBE_CHECK_LIMIT", 500),
        "SUBSCRIBE_CHECK_MAX_BYTES": _int("SUBSCRIBE_CHECK_MAX_BYTES", 50 * 1024 * 1024),
        "SUBSCRIBE_CHECK_WORKERS": _int("SUBSCRIBE_CHECK_WORKERS", 8),
        "SUBSCRIBE_CHECK_PER_HOST": _int("SUBSCRIBE_CHECK_PER_HOST", 4),
        "SUBSCRIBE_CHECK_HOST_RATE": _float("SUBSCRIBE_CHECK_HOST_RATE", 20.0),
        "SUBSCRIBE_CHECK_CONNECT_TIMEOUT": _float("SUBSCRIBE_CHECK_CONNECT_TIMEOUT", 5.0),
        "SUBSCRIBE_CHECK_READ_TIMEOUT": _float("SUBSCRIBE_CHECK_READ_TIMEOUT", 30.0),
        "SUBSCRIBE_CHECK_RETRIES": _int("SUBSCRIBE_CHECK_RETRIES", 1),
        "SUBSCRIBE_CHECK_UNAVAILABLE_AFTER": _int("SUBSCRIBE_CHECK_UNAVAILABLE_AFTER", 3),
        "SUBSCRIBE_CHECK_INTERVAL_SCALE": _float("SUBSCRIBE_CHECK_INTERVAL_SCALE", 1.0),
        # Resource previews and profiles (preview/): bytes read per file (its head, when
        # larger), wall seconds per fetch, rows profiled; the background job's batch,
        # time budget and interval.
        "SUBSCRIBE_PREVIEW_MAX_BYTES": _int("SUBSCRIBE_PREVIEW_MAX_BYTES", 20 * 1024 * 1024),
        "SUBSCRIBE_PREVIEW_SECONDS": _float("SUBSCRIBE_PREVIEW_SECONDS", 20.0),
        "SUBSCRIBE_PREVIEW_PROFILE_ROWS": _int("SUBSCRIBE_PREVIEW_PROFILE_ROWS", 10_000),
        "SUBSCRIBE_PREVIEW_BATCH": _int("SUBSCRIBE_PREVIEW_BATCH", 100),
        "SUBSCRIBE_PREVIEW_JOB_SECONDS": _float("SUBSCRIBE_PREVIEW_JOB_SECONDS", 120.0),
        "SUBSCRIBE_PREVIEW_POLL_SECONDS": _float("SUBSCRIBE_PREVIEW_POLL_SECONDS", 60.0),
        # Web pages show times in this zone (stored times are UTC).
        "SUBSCRIBE_DISPLAY_TIMEZONE": os.environ.get("SUBSCRIBE_DISPLAY_TIMEZONE", "").strip()
        or "Asia/Shanghai",
        # Bulk download bundles (bundles/). The folder must be shared by web and workers.
        "SUBSCRIBE_BUNDLE_DIR": os.environ.get("SUBSCRIBE_BUNDLE_DIR", "").strip()
        or str(instance / "bundles"),
        "SUBSCRIBE_BUNDLE_MAX_BYTES": _int("SUBSCRIBE_BUNDLE_MAX_BYTES", 4 * 1024**3),
        "SUBSCRIBE_BUNDLE_MAX_RESOURCE_BYTES": _int("SUBSCRIBE_BUNDLE_MAX_RESOURCE_BYTES", 1024**3),
        "SUBSCRIBE_BUNDLE_TTL_HOURS": _float("SUBSCRIBE_BUNDLE_TTL_HOURS", 72.0),
        "SUBSCRIBE_BUNDLE_FETCH_WORKERS": _int("SUBSCRIBE_BUNDLE_FETCH_WORKERS", 4),
        "SUBSCRIBE_BUNDLE_LEASE_SECONDS": _int("SUBSCRIBE_BUNDLE_LEASE_SECONDS", 300),
        "SUBSCRIBE_BUNDLE_POLL_SECONDS": _float("SUBSCRIBE_BUNDLE_POLL_SECONDS", 5.0),
        "SUBSCRIBE_BUNDLE_CONNECT_TIMEOUT": _float("SUBSCRIBE_BUNDLE_CONNECT_TIMEOUT", 10.0),
        "SUBSCRIBE_BUNDLE_READ_TIMEOUT": _float("SUBSCRIBE_BUNDLE_READ_TIMEOUT", 60.0),
        # E-mail over SMTP (notify/email.py).
        "SUBSCRIBE_SMTP_HOST": os.environ.get("SUBSCRIBE_SMTP_HOST", "").strip() or "127.0.0.1",
        "SUBSCRIBE_SMTP_PORT": _int("SUBSCRIBE_SMTP_PORT", 1025),
        "SUBSCRIBE_SMTP_USER": os.environ.get("SUBSCRIBE_SMTP_USER", "").strip(),
        "SUBSCRIBE_SMTP_PASSWORD": os.environ.get("SUBSCRIBE_SMTP_PASSWORD", ""),
        "SUBSCRIBE_SMTP_STARTTLS": _bool("SUBSCRIBE_SMTP_STARTTLS", False),
        "SUBSCRIBE_SMTP_SSL": _bool("SUBSCRIBE_SMTP_SSL", False),
        "SUBSCRIBE_SMTP_TIMEOUT": _float("SUBSCRIBE_SMTP_TIMEOUT", 15.0),
        "SUBSCRIBE_MAIL_FROM": os.environ.get("SUBSCRIBE_MAIL_FROM", "").strip()
        or "subscribe <noreply@localhost>",
        # The local SMTP sink `make run` starts on SUBSCRIBE_SMTP_PORT, and the Maildir it
        # writes, read back by the demo mailbox page (/mailbox).
        "SUBSCRIBE_MAIL_SINK": _bool("SUBSCRIBE_MAIL_SINK", _sink_by_default()),
        "SUBSCRIBE_MAILBOX_DIR": os.environ.get("SUBSCRIBE_MAILBOX_DIR", "").strip()
        or str(instance / "mailbox"),
    }


def _sink_by_default() -> bool:
    """On for the embedded default: development, SMTP on loopback, no relay login."""
    host = os.environ.get("SUBSCRIBE_SMTP_HOST", "").strip() or "127.0.0.1"
    return (
        os.environ.get("SUBSCRIBE_ENV", "development").strip() != "production"
        and host in {"127.0.0.1", "localhost", "::1"}
        and not os.environ.get("SUBSCRIBE_SMTP_USER", "").strip()
    )
