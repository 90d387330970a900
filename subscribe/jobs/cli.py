"""`flask worker`, `detect`, `deliver` and `jobs …`: the worker process and its controls."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from datetime import datetime, timedelta

import click
from apscheduler.schedulers.background import BackgroundScheduler
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from subscribe.catalog import services as catalog
from subscribe.errors import AppError
from subscribe.extensions import db
from subscribe.jobs import jobs, runner
from subscribe.jobs import services as job_services
from subscribe.jobs.memory import limit_arenas
from subscribe.jobs.registry import job_specs
from subscribe.notify import sender

log = logging.getLogger(__name__)


@click.command("worker")
@with_appcontext
def worker_command() -> None:
    """Run the scheduled jobs until stopped (Ctrl-C or SIGTERM finish running jobs first).

    Any number of workers may run: one holds the leader lease and runs the leader-only
    jobs; every worker delivers and keeps its node's search index.
    """
    app = current_app._get_current_object()
    limit_arenas()  # before the scheduler's threads start (jobs/memory.py)
    favour_waiting_threads()
    if os.environ.get("SUBSCRIBE_HARVEST_IN_CHILD", "1") != "0":
        # A harvest in a child process has its own interpreter lock (catalog/harvest.py).
        app.config["SUBSCRIBE_HARVEST_IN_CHILD"] = True
    if os.environ.get("SUBSCRIBE_MATCH_IN_CHILD", "1") != "0":
        # Matching too, in one long-lived process (scenarios/match_process.py).
        app.config["SUBSCRIBE_MATCH_IN_CHILD"] = True
    from subscribe.search.service import batch_process  # here: keeps the CLI's import light

    batch_process()  # matching searches, but nobody waits on a first query: no warm-up
    me = runner.worker_id()
    specs = job_specs(app)
    by_name = {spec.name: spec for spec in specs}
    runner.sync_jobs(specs)
    scheduler = BackgroundScheduler(
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30}
    )
    for spec in specs:
        scheduler.add_job(
            runner.run_job, "interval", seconds=spec.seconds, args=[app, spec, me],
            id=spec.name, name=spec.name,
            # Leader-only jobs start after the first lease renewal, or their first run is lost.
            next_run_time=datetime.now() + timedelta(seconds=3 if spec.leader_only else 0),
        )  # fmt: skip
    leading = []
    # Renewed on its own thread and connection, so a busy writer or a full thread pool
    # never costs the lease (and with it /readyz and the leader-only jobs).
    lease = runner.LeaderLease(app, me, app.config["SUBSCRIBE_LEADER_LEASE_SECONDS"],
                               interval=app.config["SUBSCRIBE_LEADER_LEASE_RENEW_SECONDS"]).start()  # fmt: skip

    def control() -> None:
        """Notice leadership changes; start what operators asked to run now."""
        with app.app_context():
            leader = lease.leading
            if leader and not leading:
                # Harvest runs still 'running' belong to a previous leader that stopped.
                jobs.fail_stale_runs(timedelta(seconds=0))
                log.info("worker %s is the scheduler leader", me)
            leading[:] = [True] if leader else []
            if leader:
                for name in runner.requested_runs():
                    if name in by_name:
                        scheduler.add_job(runner.run_job, args=[app, by_name[name], me, "manual"])

    scheduler.add_job(control, "interval", seconds=2, id="control", next_run_time=datetime.now())
    stopping: list[int] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda number, _frame: stopping.append(number))
    click.echo(f"worker {me} started: {', '.join(by_name)}")
    scheduler.start()
    while not stopping:
        time.sleep(0.5)
    sender.stop_lingering()  # the deliverer's run returns now rather than polling on
    jobs.interrupt_matching()  # a matching run ends after its batch, not its backlog
    scheduler.shutdown(wait=True)  # running jobs finish; deliveries release their claims
    jobs.stop_matcher()
    lease.stop()
    click.echo("worker stopped")


# The interpreter lock's switch interval in the worker (Python's default is 5 ms).
SWITCH_INTERVAL = 0.001


def favour_waiting_threads() -> None:
    """A thread back from I/O waits for the interpreter lock until the running one has
    held it a switch interval. The worker's deliverer threads do a few such waits per
    webhook while matching and the search follower compute: at national scale webhooks
    went out at 30-70/s while a batch was matched (7 ms per request on loopback). With
    1 ms, 1,000 webhooks beside two busy threads took 2.6 s instead of 5.2-5.7 s; the
    computing threads' CPU stayed the same."""
    sys.setswitchinterval(SWITCH_INTERVAL)


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


jobs_cli = AppGroup("jobs", help="Scheduled jobs: list, run now, pause, resume.")


@jobs_cli.command("list")
def list_jobs_command() -> None:
    """Jobs with their state and last run."""
    leader = job_services.leader()
    click.echo(f"leader: {leader['holder'] if leader['present'] else 'none'}")
    for job in job_services.list_jobs():
        last = job["last_run"]
        last_text = (
            f"{last.outcome} {last.started_at:%H:%M:%S} {last.duration_ms} ms"
            if last
            else "never run"
        )
        state = "paused" if job["paused"] else "active"
        click.echo(f"{job['name']:<20} {job['schedule']:<12} {state:<7} last: {last_text}  "
                   f"failures in a row: {job['failure_streak']}")  # fmt: skip


@jobs_cli.command("run")
@click.argument("name")
def run_job_command(name: str) -> None:
    """Ask the leader to run NAME now."""
    _call(job_services.request_run, name, "run requested")


@jobs_cli.command("pause")
@click.argument("name")
def pause_job_command(name: str) -> None:
    """Pause NAME's scheduled runs."""
    _call(lambda n: job_services.set_paused(n, True), name, "paused")


@jobs_cli.command("resume")
@click.argument("name")
def resume_job_command(name: str) -> None:
    """Resume NAME's scheduled runs."""
    _call(lambda n: job_services.set_paused(n, False), name, "resumed")


def _call(action, name: str, done: str) -> None:
    try:
        action(name)
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"{name}: {done}")
