"""Scheduled jobs as operators see and steer them: state, runs, and the leader's lease."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from subscribe.extensions import db
from subscribe.models_base import JSONType, utcnow


class Job(db.Model):
    """One registered job; operators' pause and run-now requests are written here and
    picked up by the scheduler leader within seconds (so they survive restarts)."""

    __tablename__ = "jobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    schedule: Mapped[str] = mapped_column(String(64))  # "every 10s", "every 600s"
    leader_only: Mapped[bool] = mapped_column(default=True)
    paused: Mapped[bool] = mapped_column(default=False)
    run_requested_at: Mapped[datetime | None]
    next_run_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobRun(db.Model):
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started", "job", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(ForeignKey("jobs.name", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")  # schedule | manual
    worker: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    outcome: Mapped[str] = mapped_column(String(16), default="running")  # running|succeeded|failed
    result: Mapped[dict | None] = mapped_column(JSONType)  # counts the job returned
    error: Mapped[str | None] = mapped_column(Text)  # with the traceback


class Lease(db.Model):
    """A named lease (the scheduler leader's): held until `expires_at` unless renewed."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
