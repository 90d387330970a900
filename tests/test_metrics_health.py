"""GET /metrics (Prometheus series read from the database) and GET /readyz."""

from __future__ import annotations

import os
import time
import uuid
from datetime import UTC, timedelta

import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from subscribe import create_app
from subscribe.auth.models import User
from subscribe.catalog import sequence
from subscribe.catalog.models import Dataset, HarvestRun, Source
from subscribe.extensions import db
from subscribe.jobs.models import Job, JobRun, Lease
from subscribe.metrics import observe_search
from subscribe.models_base import utcnow
from subscribe.notify.models import Delivery, WebhookEndpoint
from subscribe.search import indexer
from subscribe.search.service import get_service
from subscribe.search.store import APPLIED_FILE

SERIES = {
    "subscribe_job_runs_total",
    "subscribe_job_last_duration_seconds",
    "subscribe_job_failure_streak",
    "subscribe_job_paused",
    "subscribe_scheduler_leader_present",
    "subscribe_harvest_datasets_total",
    "subscribe_delivery_queue_depth",
    "subscribe_delivery_oldest_pending_seconds",
    "subscribe_deliveries_total",
    "subscribe_failing_endpoints",
    "subscribe_search_index_lag",
    "subscribe_search_seconds_bucket",
    "subscribe_search_seconds_count",
    "subscribe_search_seconds_sum",
}


def scrape(client) -> dict:
    """{(sample name, ((label, value), …)): value} from one scrape of /metrics."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type == CONTENT_TYPE_LATEST  # one charset, as Prometheus sends it
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def add_job(name: str, outcomes=(), paused: bool = False, duration_ms: int = 1000) -> None:
    db.session.add(Job(name=name, schedule="every 10s", paused=paused))
    db.session.flush()
    start = utcnow() - timedelta(hours=1)
    for number, outcome in enumerate(outcomes):
        started = start + timedelta(minutes=number)
        finished = None if outcome == "running" else started + timedelta(milliseconds=duration_ms)
        db.session.add(
            JobRun(
                job=name,
                worker="w1",
                started_at=started,
                finished_at=finished,
                duration_ms=None if finished is None else duration_ms + number,
                outcome=outcome,
            )  # fmt: skip
        )
        db.session.flush()  # ids follow start order


def add_lease(seconds: float = 15) -> None:
    db.session.add(Lease(name="scheduler", holder="w1", expires_at=utcnow() + timedelta(seconds=seconds)))  # fmt: skip


def add_user() -> User:
    user = User(email=f"{uuid.uuid4().hex[:8]}@example.org", password_hash="x", role="user")
    db.session.add(user)
    db.session.flush()
    return user


def add_delivery(user: User, status: str, channel: str = "webhook", due_ago: float = 0) -> None:
    db.session.add(
        Delivery(
            message_id=f"msg_{uuid.uuid4().hex}",
            user_id=user.id,
            channel=channel,
            event_type="dataset.created",
            payload={},
            status=status,
            next_attempt_at=utcnow() - timedelta(seconds=due_ago),
        )  # fmt: skip
    )


def add_endpoint(user: User, enabled: bool = True, failing: bool = False) -> None:
    db.session.add(
        WebhookEndpoint(
            user_id=user.id,
            url="https://example.org/hook",
            secret="whsec_x",
            enabled=enabled,
            failing_since=utcnow() if failing else None,
        )  # fmt: skip
    )


def add_datasets(count: int) -> Source:
    source = db.session.scalar(db.select(Source).where(Source.name == "lag")) or Source(
        name="lag", type="ckan", url="https://example.org"
    )
    db.session.add(source)
    db.session.flush()
    for seq in sequence.allocate(count):
        db.session.add(Dataset(source_id=source.id, identifier=f"d{seq}", title=f"Dataset {seq}",
                               content_hash="h", change_seq=seq))  # fmt: skip
    db.session.commit()
    return source


def test_metrics_expose_the_documented_series(client):
    add_job("harvest:city", ["succeeded", "failed", "succeeded", "failed", "failed"])
    add_job("checks", ["failed", "succeeded", "running"], duration_ms=250)
    add_job("digests", [], paused=True)
    add_lease()
    city = Source(name="city", type="ckan", url="https://example.org")
    idle = Source(name="idle", type="dcat", url="https://example.org/data.json")
    db.session.add_all([city, idle])
    db.session.flush()
    db.session.add_all([
        HarvestRun(source_id=city.id, status="succeeded", created=10, updated=2, unchanged=0,
                   deleted=1, bad=3),
        HarvestRun(source_id=city.id, status="failed", created=5, updated=0, unchanged=7,
                   deleted=0, bad=1),
    ])  # fmt: skip
    user = add_user()
    add_delivery(user, "pending", due_ago=3600)  # due for an hour
    add_delivery(user, "pending", due_ago=-600)  # a retry not due yet
    add_delivery(user, "delivering")
    add_delivery(user, "succeeded")
    add_delivery(user, "succeeded")
    add_delivery(user, "failed", channel="email")
    add_endpoint(user, failing=True)
    add_endpoint(user)
    add_endpoint(user, enabled=False, failing=True)  # disabled: not counted
    db.session.commit()

    samples = scrape(client)
    assert {name for name, _labels in samples} >= SERIES

    assert value(samples, "subscribe_job_runs_total", job="harvest:city", outcome="succeeded") == 2
    assert value(samples, "subscribe_job_runs_total", job="harvest:city", outcome="failed") == 3
    assert value(samples, "subscribe_job_runs_total", job="checks", outcome="succeeded") == 1
    assert value(samples, "subscribe_job_runs_total", job="digests", outcome="failed") == 0
    assert value(samples, "subscribe_job_failure_streak", job="harvest:city") == 2
    assert value(samples, "subscribe_job_failure_streak", job="checks") == 0
    assert value(samples, "subscribe_job_failure_streak", job="digests") == 0
    # The latest finished run (the running one has no duration yet).
    assert value(samples, "subscribe_job_last_duration_seconds", job="harvest:city") == 1.004
    assert value(samples, "subscribe_job_last_duration_seconds", job="checks") == 0.251
    assert ("subscribe_job_last_duration_seconds", (("job", "digests"),)) not in samples
    assert value(samples, "subscribe_job_paused", job="digests") == 1
    assert value(samples, "subscribe_job_paused", job="checks") == 0
    assert value(samples, "subscribe_scheduler_leader_present") == 1

    for kind, expected in {"created": 15, "updated": 2, "unchanged": 7, "deleted": 1,
                           "bad": 4}.items():  # fmt: skip
        assert value(samples, "subscribe_harvest_datasets_total", source="city", kind=kind) == (
            expected
        )
        assert value(samples, "subscribe_harvest_datasets_total", source="idle", kind=kind) == 0

    assert value(samples, "subscribe_delivery_queue_depth") == 3
    assert 3590 <= value(samples, "subscribe_delivery_oldest_pending_seconds") <= 3700
    assert value(samples, "subscribe_deliveries_total", channel="webhook", status="succeeded") == 2
    assert value(samples, "subscribe_deliveries_total", channel="email", status="failed") == 1
    assert value(samples, "subscribe_failing_endpoints") == 1
    assert value(samples, "subscribe_search_index_lag") == 0
    assert value(samples, "subscribe_search_seconds_count") == 0


@pytest.mark.parametrize("lease", ["absent", "expired"])
def test_metrics_leader_absent(client, lease):
    if lease == "expired":
        add_lease(seconds=-1)
        db.session.commit()
    samples = scrape(client)
    assert value(samples, "subscribe_scheduler_leader_present") == 0
    assert value(samples, "subscribe_delivery_queue_depth") == 0
    assert value(samples, "subscribe_delivery_oldest_pending_seconds") == 0


def test_metrics_index_lag_follows_the_index(client):
    add_datasets(3)
    assert value(scrape(client), "subscribe_search_index_lag") == 3
    indexer.apply_changes(get_service().store)
    assert value(scrape(client), "subscribe_search_index_lag") == 0
    add_datasets(2)
    assert value(scrape(client), "subscribe_search_index_lag") == 2


def test_search_histogram_observes(client):
    observe_search(0.02)
    observe_search(3.0)
    samples = scrape(client)
    assert value(samples, "subscribe_search_seconds_count") == 2
    assert value(samples, "subscribe_search_seconds_sum") == pytest.approx(3.02)
    assert value(samples, "subscribe_search_seconds_bucket", le="0.025") == 1
    assert value(samples, "subscribe_search_seconds_bucket", le="+Inf") == 2


def test_registries_are_per_app(app, tmp_path):
    """A second app in the same process registers its own series (no duplicate error)."""
    other = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "INSTANCE_PATH": str(tmp_path / "other"),
            "TESTING": True,
        }  # fmt: skip
    )
    assert other.extensions["metrics"].registry is not app.extensions["metrics"].registry
    with other.app_context():
        observe_search(0.1)
        assert value(scrape(other.test_client()), "subscribe_search_seconds_count") == 1
        other.extensions["search"].close()
        db.session.remove()
        db.engine.dispose()
    assert value(scrape(app.test_client()), "subscribe_search_seconds_count") == 0


def make_ready() -> None:
    add_lease()
    add_datasets(2)
    indexer.apply_changes(get_service().store)
    user = add_user()
    add_delivery(user, "pending", due_ago=60)  # due a minute ago: moving, not stuck
    add_delivery(user, "pending", due_ago=-86400)  # a retry due tomorrow
    db.session.commit()


def test_readyz_ready(client):
    make_ready()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "search_index", "scheduler_leader",
                                   "delivery_queue", "smtp"}  # fmt: skip
    assert body["checks"]["smtp"]["detail"]["status"] == "unused"  # no e-mail sent yet
    assert all(check["ok"] for check in body["checks"].values())
    assert body["checks"]["search_index"]["detail"]["lag"] == 0


def test_readyz_without_a_keeper_is_ready_before_any_search(client):
    """The worker, the CLI and tests' apps load search on first use: nothing to wait for."""
    make_ready()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    process = response.json["checks"]["search_index"]["detail"]["process"]
    assert process["ready"] is True
    assert process["columns_loaded"] is False and process["warming_seconds"] is None


def _readyz_until(client, wanted, deadline: float = 120.0):
    """/readyz's response once `wanted(response)` holds (a condition, not a speed)."""
    give_up = time.monotonic() + deadline
    while True:
        response = client.get("/readyz")
        if wanted(response):
            return response
        assert time.monotonic() < give_up, response.json
        time.sleep(0.05)


def _process(response) -> dict:
    return response.json["checks"]["search_index"]["detail"]["process"]


def test_readyz_waits_for_a_web_process_first_warm_then_stays_ready(
    app, client, monkeypatch, request
):
    """A web process takes traffic only once its first columns load and reader warm have
    ended (a balancer meets it warm); a later reader's warm never makes it unready."""
    from subscribe.search import reader
    from tests.test_search_warm import WarmGate

    monkeypatch.setattr(reader, "WARM_MIN_DOCS", 1)  # the test's small segments warm
    make_ready()
    service = get_service()
    gate = WarmGate(monkeypatch, request)
    service.serve_in_background(app)  # what wsgi.py does
    try:
        assert gate.entered.wait(120), "the first reader's warm never began"
        response = client.get("/readyz")
        assert response.status_code == 503, response.json
        check = response.json["checks"]["search_index"]
        assert check["ok"] is False
        assert check["detail"]["error"].startswith("search warming: columns loaded, warming for")
        assert _process(response)["ready"] is False
        failing = {name for name, result in response.json["checks"].items() if not result["ok"]}
        assert failing == {"search_index"}

        gate.release()
        ready = _readyz_until(client, lambda r: r.status_code == 200)
        assert _process(ready)["detail"].startswith("search warmed")

        # A new reader warms (the follower applied a change): still ready meanwhile.
        later = WarmGate(monkeypatch, request)
        add_datasets(1)
        indexer.apply_changes(service.store)
        assert later.entered.wait(120), "the new reader's warm never began"
        response = client.get("/readyz")
        assert response.status_code == 200, response.json
        assert _process(response)["warming_seconds"] is not None
        later.release()
    finally:
        service.close()


def test_readyz_is_ready_anyway_once_the_warm_outlasts_its_limit(app, client, monkeypatch, request):
    from subscribe.search import reader
    from tests.test_search_warm import WarmGate

    monkeypatch.setattr(reader, "WARM_MIN_DOCS", 1)
    make_ready()
    service = get_service()
    gate = WarmGate(monkeypatch, request)
    service.serve_in_background(app)
    try:
        assert gate.entered.wait(120)
        assert client.get("/readyz").status_code == 503
        service.ready_wait = 0.0  # SUBSCRIBE_READY_MAX_SEARCH_WARM passed
        response = client.get("/readyz")
        assert response.status_code == 200, response.json
        process = _process(response)
        assert process["warming_seconds"] is not None  # the warm goes on
        assert "ready anyway" in process["detail"]
        gate.release()
    finally:
        service.close()


def test_readyz_ready_with_an_empty_catalog_and_no_index(client):
    add_lease()
    db.session.commit()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json


def _break(app, what: str) -> None:
    if what == "lease_missing":
        db.session.execute(db.delete(Lease))
    elif what == "lease_expired":
        lease = db.session.get(Lease, "scheduler")
        lease.expires_at = utcnow() - timedelta(seconds=1)
    elif what == "queue_stuck":
        add_delivery(add_user(), "pending", due_ago=901)
    elif what == "index_lagging":
        app.config["SUBSCRIBE_READY_MAX_INDEX_LAG"] = 2
        add_datasets(3)
        _stall_index(minutes=10)
    elif what == "index_missing":
        get_service().store.pointer.unlink()
    db.session.commit()


def _stall_index(minutes: int) -> None:
    """The unapplied changes and the follower's last commit both `minutes` old."""
    then = utcnow() - timedelta(minutes=minutes)
    db.session.execute(db.update(Dataset).values(updated_at=then))
    applied = get_service().store.current_dir() / APPLIED_FILE
    stamp = then.replace(tzinfo=UTC).timestamp()  # utcnow() is naive UTC
    os.utime(applied, (stamp, stamp))


@pytest.mark.parametrize(
    ("what", "check"),
    [
        ("lease_missing", "scheduler_leader"),
        ("lease_expired", "scheduler_leader"),
        ("queue_stuck", "delivery_queue"),
        ("index_lagging", "search_index"),
        ("index_missing", "search_index"),
    ],
)
def test_readyz_names_the_failing_check(app, client, what, check):
    make_ready()
    _break(app, what)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json
    assert body["status"] == "unavailable"
    failing = {name for name, result in body["checks"].items() if not result["ok"]}
    assert failing == {check}
    assert body["checks"][check]["detail"]


def test_readyz_queue_age_is_configurable(app, client):
    make_ready()
    app.config["SUBSCRIBE_READY_MAX_QUEUE_AGE"] = 30
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"]["delivery_queue"]["detail"]["max_age"] == 30


def test_readyz_an_index_far_behind_but_catching_up_is_ready(app, client):
    """A national harvest leaves the index far behind for a while: fresh changes, or a
    follower that just committed, mean progress; only when both are old is it stuck."""
    make_ready()
    app.config["SUBSCRIBE_READY_MAX_INDEX_LAG"] = 2
    add_datasets(3)
    db.session.commit()
    response = client.get("/readyz")
    assert response.status_code == 200, response.json
    detail = response.json["checks"]["search_index"]["detail"]
    assert detail["lag"] == 3 and detail["catching_up"] is True
    assert detail["oldest_pending_seconds"] < 60

    _stall_index(minutes=10)
    db.session.commit()
    stalled = client.get("/readyz").json["checks"]["search_index"]
    assert stalled["ok"] is False
    assert stalled["detail"]["catching_up"] is False
    assert stalled["detail"]["oldest_pending_seconds"] >= 590
    assert stalled["detail"]["last_commit_seconds"] >= 590

    # The follower committing again (a chunk of a long backlog) is progress.
    os.utime(get_service().store.current_dir() / APPLIED_FILE)
    assert client.get("/readyz").status_code == 200
