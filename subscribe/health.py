"""Liveness and readiness probes."""

from flask import Blueprint
from sqlalchemy import text

from subscribe.extensions import db

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz():
    """The process is alive."""
    return {"status": "ok"}


@blp.get("/readyz")
def readyz():
    """Ready when the database answers."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means not ready
        return {"status": "unavailable", "checks": {"database": str(exc)}}, 503
    return {"status": "ok", "checks": {"database": "ok"}}
