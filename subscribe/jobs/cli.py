"""`flask worker`: the scheduler process (harvests for now; more jobs join later)."""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from datetime import datetime, timedelta

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import current_app
from flask.cli import with_appcontext

from subscribe.catalog import services as catalog
from subscribe.extensions import db
from subscribe.jobs import jobs
from subscribe.notify import sender

log = logging.getLogger(__name__)


def _in_app_context(app, function):
    """Each job run gets its own app context, so sessions never leak between runs."""

    def run():
        with app.app_context():
            try:
                function()
            except Exception:  # a failing job is logged; the scheduler keeps the others going
                log.exception("job %s failed", function.__name__)

    run.__name__ = function.__name__
    return run


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Run scheduled jobs until stopped (Ctrl-C or SIGTERM)."""
    app = current_app._get_current_object()
    poll = app.config["SUBSCRIBE_WORKER_POLL_SECONDS"]
    # Any run still 'running' was left by a worker that stopped; this one starts clean.
    jobs.fail_stale_runs(timedelta(seconds=0))
    scheduler = BlockingScheduler(job_defaults={"coalesce": True, "max_instances": 1})
    config = app.config
    for function, seconds in (
        (jobs.enqueue_due_harvests, max(poll, 5.0)),
        (jobs.run_queued_harvests, poll),
        (jobs.check_resources, config["SUBSCRIBE_CHECK_POLL_SECONDS"]),
        (jobs.detect_overdue, config["SUBSCRIBE_OVERDUE_POLL_SECONDS"]),
        (jobs.match_events, config["SUBSCRIBE_MATCH_POLL_SECONDS"]),
        (jobs.deliver_notifications, config["SUBSCRIBE_DELIVERY_POLL_SECONDS"]),
        (jobs.update_search_index, config["SUBSCRIBE_INDEX_POLL_SECONDS"]),
    ):
        scheduler.add_job(
            _in_app_context(app, function),
            "interval",
            seconds=seconds,
            id=function.__name__,
            name=function.__name__,
            next_run_time=datetime.now(),
            misfire_grace_time=30,
        )
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    click.echo("worker started: harvests, resource checks, overdue, matching, search index")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()


@click.command("detect")
@with_appcontext
def detect_command() -> None:
    """One full cycle: harvest every source, check resources, find overdue datasets,
    match changes to scenarios, send what is due, update the search index."""
    for source in catalog.list_sources():
        if source.enabled:
            catalog.queue_harvest(source, trigger="cli")
    harvested = jobs.run_queued_harvests()
    checked = jobs.check_resources()
    late = jobs.detect_overdue()
    matched = jobs.match_events()
    delivered = jobs.deliver_notifications()
    indexed = jobs.update_search_index()
    click.echo(
        f"harvested {harvested} sources, resource checks {checked}, overdue {late}, "
        f"matched {matched} catalog events, delivered {delivered}, indexed {indexed} changes"
    )


@click.command("deliver")
@click.option("--once", is_flag=True, help="One round, then exit.")
@with_appcontext
def deliver_command(once: bool) -> None:
    """Only the delivery loop (any number may run; they share the queue on PostgreSQL)."""
    app = current_app._get_current_object()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    idle = app.config["SUBSCRIBE_DELIVERY_POLL_SECONDS"]
    while not stop:
        try:
            done = sender.deliver_due(app.config["SUBSCRIBE_DELIVERY_BATCH"])
        except Exception:  # one bad round must not stop delivery; its claims lapse and retry
            log.exception("delivery round failed")
            done = 0
        db.session.remove()
        if once:
            click.echo(f"delivered {done}")
            return
        if not done:
            time.sleep(idle)  # nothing due: wait a moment before looking again
