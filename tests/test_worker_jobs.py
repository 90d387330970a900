"""The worker's job functions: due sources are queued, queued runs are run, stale ones fail."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.models import HarvestRun
from subscribe.extensions import db
from subscribe.jobs import jobs
from subscribe.models_base import utcnow


def test_due_sources_are_queued_once(app):
    due = services.create_source("due", "ckan", "http://127.0.0.1:9/", schedule=60)
    services.create_source("off", "ckan", "http://127.0.0.1:9/", schedule=60)
    services.update_source(services.find_source("off"), {"enabled": False})
    assert jobs.enqueue_due_harvests() == 1
    assert jobs.enqueue_due_harvests() == 0  # queued a moment ago: not due again
    runs = db.session.scalars(select(HarvestRun)).all()
    assert [(r.source_id, r.status, r.trigger) for r in runs] == [(due.id, "queued", "schedule")]


def test_a_source_is_due_again_after_its_schedule(app):
    source = services.create_source("due", "ckan", "http://127.0.0.1:9/", schedule=60)
    jobs.enqueue_due_harvests()
    run = db.session.scalar(select(HarvestRun))
    run.status, run.queued_at = "succeeded", utcnow() - timedelta(seconds=61)
    db.session.commit()
    assert jobs.enqueue_due_harvests() == 1
    assert (
        db.session.scalar(select(HarvestRun).order_by(HarvestRun.id.desc())).source_id == source.id
    )


def test_queued_runs_are_run_and_an_unreachable_source_fails_cleanly(app):
    source = services.create_source("gone", "ckan", "http://127.0.0.1:9/")  # nothing listens
    services.queue_harvest(source)
    assert jobs.run_queued_harvests() == 1
    run = db.session.scalar(select(HarvestRun))
    assert run.status == "failed" and "could not fetch" in run.error and run.finished_at


def test_stale_running_runs_are_failed(app):
    source = services.create_source("s", "ckan", "http://127.0.0.1:9/")
    run = services.queue_harvest(source)
    run.status, run.started_at = "running", utcnow() - timedelta(hours=7)
    db.session.commit()
    assert jobs.fail_stale_runs(timedelta(hours=6)) == 1
    db.session.refresh(run)
    assert run.status == "failed" and services.queue_harvest(source).id != run.id
