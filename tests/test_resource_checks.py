"""Resource content checks: the demo portal and precise local servers, through the database."""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select, update
from werkzeug import Request, Response
from werkzeug.serving import make_server

from subscribe.catalog import checks, services
from subscribe.catalog.check_jobs import check_interval, run_resource_checks
from subscribe.catalog.checks import CheckSettings, CheckState, CsvShape, HostLimiter, run_checks
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion, Resource
from subscribe.demo import KINDS
from subscribe.demo.portal import start_portal
from subscribe.extensions import db
from subscribe.jobs import jobs
from subscribe.models_base import utcnow
from subscribe.notify.ssrf import OutboundPolicy
from tests.conftest import FIXTURES

SIZE = 60  # small, and every change kind lands on a different dataset with this seed
TICK = 5.0
# The test servers listen on loopback, which the SSRF guard lets through only when allow-listed.
LOOPBACK = OutboundPolicy(["127.0.0.1", "::1"])
FAST = CheckSettings(host_rate=0, retries=0, policy=LOOPBACK)  # no rate limit: tests measure


class FakeClock:
    def __init__(self, now: float = 1_750_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def demo(clock):
    server = start_portal(size=SIZE, tick_seconds=TICK, clock=clock)
    yield server
    server.stop()


@pytest.fixture
def harvested(app, demo):
    app.config["SUBSCRIBE_CHECK_HOST_RATE"] = 0.0
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1", "::1"]
    source = services.create_source("demo", "ckan", demo.url)
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    assert execute_run(run).status == "succeeded"
    return demo


class Checker:
    """run_resource_checks with a simulated 'now' that jumps past every next_check_at."""

    def __init__(self):
        self.now = utcnow()

    def __call__(self) -> dict:
        self.now += timedelta(days=8)  # longer than the longest interval (7 days + jitter)
        return run_resource_checks(limit=10_000, now=self.now)


@pytest.fixture
def check() -> Checker:
    return Checker()


def updated_events() -> list[CatalogEvent]:
    query = select(CatalogEvent).where(CatalogEvent.type == "dataset.updated")
    return list(db.session.scalars(query.order_by(CatalogEvent.id)))


def changes_by_identifier() -> dict[str, list[dict]]:
    identifiers = dict(db.session.execute(select(Resource.id, Resource.identifier)).all())
    found: dict[str, list[dict]] = {}
    for event in updated_events():
        for change in event.changes:
            found.setdefault(identifiers[change["resource_id"]], []).append(change)
    return found


def resource(identifier: str) -> Resource:
    return db.session.scalar(select(Resource).where(Resource.identifier == identifier))


# --- through the database, against the demo portal ------------------------------------------


def test_first_check_is_a_baseline_then_etag_304_downloads_nothing(app, harvested, check):
    summary = jobs.check_resources()  # the worker's job: everything is due the first time
    total = db.session.scalar(select(func.count()).select_from(Resource))
    assert summary["checked"] == summary["baseline"] == total > 0
    assert summary["changes"] == {} and summary["events"] == 0 and updated_events() == []
    for res in db.session.scalars(select(Resource)):
        assert res.sha256 and res.etag and res.content_length and res.checked_at
        assert res.failures == 0 and not res.unavailable and res.last_status == 200
        if res.format == "CSV":
            assert res.columns and res.row_count >= 20
        frequency = db.session.get(Dataset, res.dataset_id).frequency
        assert res.next_check_at - res.checked_at == check_interval(frequency, res.id)
    assert run_resource_checks(now=utcnow())["checked"] == 0  # nothing is due yet

    summary = check()
    assert summary["checked"] == summary["not_modified"] == total
    assert summary["downloaded_bytes"] == 0 and updated_events() == []


def test_content_silent_content_and_schema_changes_are_found(app, harvested, clock, check):
    check()  # baseline
    seq_before = db.session.scalar(select(func.max(Dataset.change_seq)))
    clock.now += TICK * len(KINDS)
    harvested.portal.feed.sync()
    log = {c["kind"]: c for c in harvested.portal.feed.history() if "resource_id" in c}
    before = {k: resource(log[k]["resource_id"]).content_length for k in ("content", "content_silent")}  # fmt: skip
    summary = check()
    assert summary["changes"] == {"content": 2, "schema": 1} and summary["events"] == 3

    found = changes_by_identifier()
    assert set(found) == {log[k]["resource_id"] for k in ("content", "content_silent", "schema")}
    with requests.Session() as http:
        for kind in ("content", "content_silent"):  # with and without a metadata bump
            (change,) = found[log[kind]["resource_id"]]
            body = http.get(change["url"], timeout=10).content
            expected = "content_length" if len(body) != before[kind] else "sha256"
            assert change["kind"] == "content" and change["found_by"] == expected
            assert change["sha256"]["new"] == hashlib.sha256(body).hexdigest()
            assert change["size"] == {"old": before[kind], "new": len(body)}
    (schema,) = found[log["schema"]["resource_id"]]
    assert schema["kind"] == "schema" and schema["found_by"] in {"content_length", "sha256"}
    assert schema["columns"]["old"] != schema["columns"]["new"]
    assert schema["added"] or schema["removed"]
    assert resource(log["schema"]["resource_id"]).columns == schema["columns"]["new"]

    for event in updated_events():  # a version, its event and a new sequence number
        dataset = db.session.get(Dataset, event.dataset_id)
        assert dataset.version == event.version == 2 and dataset.change_seq > seq_before
        version = db.session.scalar(
            select(DatasetVersion).where(
                DatasetVersion.dataset_id == dataset.id, DatasetVersion.number == 2
            )
        )
        assert version.kind == "updated" and version.diff == {"content": event.changes}
    assert check()["changes"] == {}  # found once


def test_a_file_answering_404_is_unavailable_after_n_tries_once(app, harvested, clock, check):
    check()
    clock.now += TICK * len(KINDS)
    harvested.portal.feed.sync()
    broken = next(c for c in harvested.portal.feed.history() if c["kind"] == "resource_unavailable")
    for attempt in (1, 2):
        check()
        res = resource(broken["resource_id"])
        assert res.failures == attempt and not res.unavailable and res.last_status == 404
        assert broken["resource_id"] not in changes_by_identifier()
    check()
    (change,) = changes_by_identifier()[broken["resource_id"]]
    assert change["kind"] == "resource_unavailable" and change["found_by"] == "http_status"
    assert change["status"] == 404 and change["failures"] == 3
    assert resource(broken["resource_id"]).unavailable
    check()
    assert len(changes_by_identifier()[broken["resource_id"]]) == 1  # emitted once


def test_the_return_of_an_unavailable_resource_is_a_change(app, harvested, check, httpserver):
    served = {"status": 200, "body": b"a,b\n1,2\n"}
    httpserver.expect_request("/back.csv").respond_with_handler(
        lambda request: Response(served["body"], served["status"], content_type="text/csv")
    )
    target = db.session.scalar(select(Resource).order_by(Resource.id).limit(1))
    later = utcnow() + timedelta(days=3650)  # everything else is left alone
    db.session.execute(update(Resource).where(Resource.id != target.id).values(next_check_at=later))
    target.url, target_id = httpserver.url_for("/back.csv"), target.id
    db.session.commit()

    assert check()["baseline"] == 1
    served["status"] = 404
    assert [check()["changes"] for _ in range(4)] == [{}, {}, {"resource_unavailable": 1}, {}]
    served.update(status=200, body=b"a,b\n1,2\n3,4\n")
    assert check()["changes"] == {"content": 1}
    first, back = (event.changes[0] for event in updated_events())
    assert first["kind"] == "resource_unavailable" and first["status"] == 404
    assert back["kind"] == "content" and back["restored"] is True and back["changed"] is True
    assert back["found_by"] == "content_length" and back["rows"] == {"old": 1, "new": 2}
    res = db.session.get(Resource, target_id)
    assert not res.unavailable and res.failures == 0 and res.row_count == 2
    assert db.session.get(Dataset, res.dataset_id).version == 3


# --- precise cases, network side --------------------------------------------------------------


@contextmanager
def threaded_server(app) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_same_length_change_is_found_by_sha256_and_last_modified_304(httpserver):
    served = {"body": "名称,数量\r\n甲,1\r\n".encode("gb18030")}
    stamp = "Wed, 01 Jan 2025 00:00:00 GMT"

    def handler(request: Request) -> Response:
        if request.headers.get("If-Modified-Since") == stamp:
            return Response(status=304)
        return Response(served["body"], content_type="text/csv", headers={"Last-Modified": stamp})

    httpserver.expect_request("/export").respond_with_handler(handler)
    (first,) = run_checks([CheckState(1, httpserver.url_for("/export"))], FAST)
    assert first.result == "baseline" and first.state.columns == ["名称", "数量"]
    (again,) = run_checks([first.state], FAST)
    assert (again.result, again.found_by, again.downloaded) == ("not_modified", "last_modified", 0)

    served["body"] = "名称,数量\r\n乙,2\r\n".encode("gb18030")
    stamp = "Thu, 02 Jan 2025 00:00:00 GMT"
    (changed,) = run_checks([again.state], FAST)
    assert changed.change["kind"] == "content" and changed.change["found_by"] == "sha256"
    assert changed.change["rows"] == {"old": 1, "new": 1}


def test_restored_and_unchanged_after_304(httpserver):
    httpserver.expect_request("/f.json").respond_with_data("", status=304)
    state = CheckState(1, httpserver.url_for("/f.json"), etag='"v1"', sha256="0" * 64,
                       unavailable=True, failures=5)  # fmt: skip
    (outcome,) = run_checks([state], FAST)
    assert outcome.change["restored"] is True and outcome.change["changed"] is False
    assert not outcome.state.unavailable and outcome.state.failures == 0


def test_connection_errors_count_and_make_a_resource_unavailable_once():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connections are refused
    settings = CheckSettings(host_rate=0, retries=0, unavailable_after=2, policy=LOOPBACK)
    # It answered once (a hash is stored): stopping to answer is a change.
    state = CheckState(1, f"http://127.0.0.1:{port}/gone.csv", sha256="0" * 64)
    outcomes = []
    for _ in range(3):
        (outcome,) = run_checks([state], settings)
        outcomes.append(outcome)
        state = outcome.state
    assert [o.found_by for o in outcomes] == ["connection"] * 3
    assert [o.change and o.change["kind"] for o in outcomes] == [None, "resource_unavailable", None]
    assert state.failures == 3 and state.unavailable and state.last_error == "connection refused"


def test_per_host_concurrency_never_exceeds_the_limit():
    limit, total = 3, 30
    cond, seen = threading.Condition(), {"active": 0, "peak": 0, "started": 0}

    def app(environ, start_response):
        with cond:
            seen["active"] += 1
            seen["started"] += 1
            seen["peak"] = max(seen["peak"], seen["active"])
            cond.notify_all()
            # Hold each request a moment, so requests overlap as much as the checker
            # allows; a request beyond the limit ends the wait (and the test).
            cond.wait_for(lambda: seen["active"] > limit or seen["started"] >= total, 0.03)
        start_response("200 OK", [("Content-Type", "application/json")])
        with cond:
            seen["active"] -= 1
        return [b"{}"]

    settings = CheckSettings(workers=12, per_host=limit, host_rate=0, retries=0, policy=LOOPBACK)
    with threaded_server(app) as url:
        outcomes = run_checks([CheckState(n, f"{url}/{n}.json") for n in range(total)], settings)
    assert [o.result for o in outcomes] == ["baseline"] * total
    assert [o.state.resource_id for o in outcomes] == list(range(total))  # order kept
    assert seen["peak"] == limit


def test_download_stops_at_the_byte_cap():
    cap, chunk, chunks = 1 << 20, 64 * 1024, 1024  # 64 MiB offered, 1 MiB read
    sent = {"bytes": 0}

    def app(environ, start_response):
        start_response("200 OK", [("Content-Length", str(chunk * chunks))])

        def body():
            for n in range(chunks):
                sent["bytes"] += chunk
                yield bytes([n % 256]) * chunk

        return body()

    settings = CheckSettings(max_bytes=cap, host_rate=0, retries=0, policy=LOOPBACK)
    with threaded_server(app) as url:
        (first,) = run_checks([CheckState(1, f"{url}/big.bin")], settings)
        (again,) = run_checks([first.state], settings)
    prefix = b"".join(bytes([n]) * chunk for n in range(cap // chunk))
    assert first.downloaded == cap and first.state.truncated
    assert first.state.sha256 == hashlib.sha256(prefix).hexdigest()
    assert first.state.content_length == chunk * chunks
    assert again.result == "unchanged" and again.downloaded == cap
    assert sent["bytes"] < chunk * chunks // 2  # the server was cut off, not drained


def test_host_rate_spaces_request_starts():
    now, sleeps = [100.0], []
    limiter = HostLimiter(per_host=8, rate=4, clock=lambda: now[0], sleep=sleeps.append)
    for _ in range(5):
        with limiter.slot("a.example"):
            pass
    with limiter.slot("b.example"):  # another host has its own pace
        pass
    assert sleeps == pytest.approx([0.25, 0.5, 0.75, 1.0])


def test_csv_shape_streams_bom_gb18030_and_quoted_newlines():
    text = '名称,"备注\n说明"\r\n甲,"第一行\n第二行 ""引号"""\r\n\r\n乙,2\r\n丙,3'
    for encoding, data in (("utf-8", b"\xef\xbb\xbf" + text.encode()), ("gb18030", text.encode("gb18030"))):  # fmt: skip
        shape = CsvShape()
        for n in range(len(data)):  # one byte at a time: decoding must be incremental
            shape.feed(data[n : n + 1])
        shape.feed(b"", final=True)
        assert shape.columns == ["名称", "备注\n说明"] and shape.rows == 3
        assert shape.encoding == encoding


def test_csv_shape_reads_bare_carriage_returns_and_survives_binary():
    """Field finding (hbreak F0): a header line with a bare CR made the csv module raise,
    which stopped the whole check run. Classic Mac line endings are line endings."""
    shape = CsvShape()
    shape.feed(b"a\rb,c\n1,2\r3,4\r\n", final=True)
    assert shape.columns == ["a"] and shape.rows == 3
    binary = CsvShape()
    binary.feed(b"\x89PNG\r\x1a\n\x00\x00\rIHDR", final=True)  # a PNG labelled CSV
    assert binary.encoding == "gb18030" and binary.rows == 3
    nul = CsvShape()
    nul.feed(b"PK\x03\x04\x14\x00\x06\x00,\x00\x00\n\x00\x01", final=True)
    assert nul.columns is None  # NUL is no text PostgreSQL can store


def test_one_check_that_raises_leaves_every_other_check_done(httpserver, monkeypatch):
    httpserver.expect_request("/good.csv").respond_with_data("a,b\n1,2\n", content_type="text/csv")
    real = checks.check_one

    def check_one(state, *args):
        if state.url.endswith("/bad.csv"):
            raise ValueError("unreadable")
        return real(state, *args)

    monkeypatch.setattr(checks, "check_one", check_one)
    states = [
        CheckState(1, httpserver.url_for("/bad.csv")),
        CheckState(2, httpserver.url_for("/good.csv")),
    ]
    bad, good = run_checks(states, FAST)
    assert (bad.result, good.result) == ("skipped", "baseline")
    assert "ValueError: unreadable" in bad.state.last_error and bad.state.failures == 0


def test_check_intervals_follow_the_declared_frequency():
    order = ["realtime", "daily", "weekly", "monthly", "quarterly", "yearly"]
    intervals = [check_interval(frequency, 7) for frequency in order]
    assert intervals == sorted(intervals)
    assert timedelta(minutes=15) <= intervals[0] <= timedelta(minutes=16.5)
    assert check_interval("unknown", 7) == check_interval("irregular", 7) >= timedelta(hours=24)
    assert check_interval("daily", 7, scale=0.01) == check_interval("daily", 7) * 0.01
    assert check_interval("daily", 7) == check_interval("daily", 7) != check_interval("daily", 8)


# --- the SSRF guard -------------------------------------------------------------------------


@contextmanager
def counting_server(host: str = "127.0.0.1", location: str | None = None) -> Iterator[dict]:
    """A real loopback server counting the requests it got; it answers a CSV, or a 302 to
    `location`. Yields {"url", "hits"}."""
    seen = {"hits": 0}

    def app(environ, start_response):
        seen["hits"] += 1
        if location:
            start_response("302 Found", [("Location", location), ("Content-Length", "0")])
            return [b""]
        start_response("200 OK", [("Content-Type", "text/csv")])
        return [b"a,b\n1,2\n"]

    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        seen["url"] = f"http://{host}:{server.server_port}/aqi.csv"
        yield seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_checks_go_through_the_ssrf_guard_and_record_blocked(app, harvested, check):
    """Field case (bb5 H2): an export's rows pointed at http://169.254.169.254/latest/
    meta-data/ and http://10.255.255.1/aqi.csv; previews and bundles answered `blocked`,
    the check job fetched both and pushed their 403/404 as changes. Every URL from catalog
    data is fetched through the guard: refused ones are `blocked` with the reason, with no
    request, no failure count and no change, however often they are checked."""
    app.config["SUBSCRIBE_CHECK_CONNECT_TIMEOUT"] = 0.5  # before the fix: not minutes of waiting
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1"]  # not 127.0.0.2
    with counting_server("127.0.0.2") as inner, counting_server(location=inner["url"]) as hop:
        urls = [
            "http://169.254.169.254/latest/meta-data/",
            "http://10.255.255.1/aqi.csv",
            inner["url"],  # loopback, not allow-listed
            hop["url"],  # allow-listed, but redirects to 127.0.0.2
        ]
        targets = list(db.session.scalars(select(Resource).order_by(Resource.id).limit(len(urls))))
        later = utcnow() + timedelta(days=3650)  # everything else is left alone
        db.session.execute(
            update(Resource)
            .where(Resource.id.not_in([t.id for t in targets]))
            .values(next_check_at=later)
        )
        for target, url in zip(targets, urls, strict=True):
            target.url = url
        ids = [t.id for t in targets]
        db.session.commit()
        for _ in range(4):  # more than unavailable_after
            summary = check()
            assert summary["blocked"] == 4 and summary["failed"] == 0 and summary["changes"] == {}
        assert inner["hits"] == 0 and hop["hits"] == 4  # the hop's target was never asked
    assert updated_events() == []
    reasons = []
    for resource_id in ids:
        res = db.session.get(Resource, resource_id)
        assert res.last_error.startswith("blocked: ") and res.last_status is None
        assert res.failures == 0 and not res.unavailable and res.checked_at
        reasons.append(res.last_error)
    assert "link-local address" in reasons[0] and "private address" in reasons[1]
    assert "loopback address" in reasons[2] and "loopback address" in reasons[3]
    shown = app.test_client().get(f"/api/v1/datasets/{targets[0].dataset_id}").json
    (check_shown,) = [r["check"] for r in shown["resources"] if r["id"] == ids[0]]
    assert check_shown["state"] == "blocked" and check_shown["status"] is None
    assert check_shown["reason"] == reasons[0].removeprefix("blocked: ")

    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1", "127.0.0.2"]  # the operator's way in
    with counting_server("127.0.0.2") as inner:
        db.session.get(Resource, ids[2]).url = inner["url"]
        db.session.commit()
        check()
        assert inner["hits"] == 1
    res = db.session.get(Resource, ids[2])
    assert res.last_error is None and res.last_status == 200 and res.row_count == 1


def test_run_checks_refuses_internal_addresses_by_default():
    with counting_server() as server:
        (outcome,) = run_checks([CheckState(1, server["url"])], CheckSettings(host_rate=0))
        assert server["hits"] == 0
    assert (outcome.result, outcome.found_by, outcome.change) == ("blocked", "ssrf_guard", None)
    assert "loopback address" in outcome.state.last_error


def test_a_resource_never_seen_answering_is_unavailable_without_news(
    app, harvested, check, httpserver
):
    """Field case (bb5 M3): an offline host's data.json gave 214 resource_unavailable
    changes and new versions on its resources' first checks, pushed to a webhook. A
    resource that never answered is recorded unavailable (after the same confirmation
    rule) but is no change; its first answer later is a baseline, not a return."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connections are refused
    served = {"status": 404}
    httpserver.expect_request("/never.csv").respond_with_handler(
        lambda request: Response(b"a,b\n1,2\n", served["status"], content_type="text/csv")
    )
    targets = list(db.session.scalars(select(Resource).order_by(Resource.id).limit(2)))
    later = utcnow() + timedelta(days=3650)  # everything else is left alone
    ids = [t.id for t in targets]
    db.session.execute(update(Resource).where(Resource.id.not_in(ids)).values(next_check_at=later))
    targets[0].url = f"http://127.0.0.1:{port}/offline.csv"
    targets[1].url = httpserver.url_for("/never.csv")
    versions = {t.dataset_id: db.session.get(Dataset, t.dataset_id).version for t in targets}
    db.session.commit()

    summaries = [check() for _ in range(5)]  # unavailable_after is 3
    assert [s["failed"] for s in summaries] == [2] * 5
    assert all(s["changes"] == {} and s["events"] == 0 for s in summaries)
    for resource_id, status in zip(ids, (None, 404), strict=True):
        res = db.session.get(Resource, resource_id)
        assert res.unavailable and res.failures == 5 and res.last_status == status
        dataset = app.test_client().get(f"/api/v1/datasets/{res.dataset_id}").json
        (shown,) = [r["check"] for r in dataset["resources"] if r["id"] == resource_id]
        assert (shown["state"], shown["status"]) == ("unavailable", status)  # shown, not news
    served["status"] = 200
    summary = check()
    assert summary["baseline"] == 1 and summary["changes"] == {}
    assert not db.session.get(Resource, ids[1]).unavailable
    assert updated_events() == []
    for dataset_id, version in versions.items():
        assert db.session.get(Dataset, dataset_id).version == version


def test_field_case_bb5_export_rows_pointing_inside_are_blocked(app, httpserver):
    """The tester's export (tests/data/ssrf-bb5): harvested, then checked three times."""
    app.config.update(SUBSCRIBE_OUTBOUND_ALLOWLIST=["127.0.0.1", "::1"],
                      SUBSCRIBE_CHECK_HOST_RATE=0.0, SUBSCRIBE_CHECK_CONNECT_TIMEOUT=0.5)  # fmt: skip
    text = (FIXTURES.parent / "data" / "ssrf-bb5" / "export_stepF.csv").read_text("utf-8-sig")
    httpserver.expect_request("/files/aqi.csv").respond_with_data(
        "a,b\n1,2\n", content_type="text/csv"
    )
    text = text.replace("http://127.0.0.1:8799/files/aqi.csv", httpserver.url_for("/files/aqi.csv"))
    httpserver.expect_request("/export.csv").respond_with_data(
        ("\ufeff" + text).encode(), content_type="text/csv"
    )
    source = services.create_source("bb5", "tabular", httpserver.url_for("/export.csv"))
    run = services.queue_harvest(source)
    assert claim_run(run.id) and execute_run(run).status == "succeeded"
    summaries = [jobs.check_resources()]
    summaries += [run_resource_checks(now=utcnow() + timedelta(days=8 * n)) for n in (1, 2)]
    assert [(s["blocked"], s["changes"]) for s in summaries] == [(2, {})] * 3
    assert (
        summaries[0]["baseline"] == 1
        and summaries[1]["not_modified"] + summaries[1]["unchanged"] == 1
    )
    assert updated_events() == []
    blocked = {r.url: r.last_error for r in db.session.scalars(select(Resource))
               if r.last_error and r.last_error.startswith("blocked: ")}  # fmt: skip
    assert set(blocked) == {
        "http://169.254.169.254/latest/meta-data/",
        "http://10.255.255.1/aqi.csv",
    }
    assert "link-local address" in blocked["http://169.254.169.254/latest/meta-data/"]
