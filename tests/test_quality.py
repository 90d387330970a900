"""Automatic quality: scoring rules, the job (idempotent, smoothed daily, history), search
filter and sort, the scenario report. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion, Resource
from subscribe.catalog.records import ResourceRecord
from subscribe.extensions import db
from subscribe.quality import job as quality_job
from subscribe.quality.job import run_quality
from subscribe.quality.models import QualityHistory, QualityScore
from subscribe.quality.scoring import BY_KEY
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.quality_helpers import record, write

DAY1 = datetime(2026, 11, 1, 0, 0)


def scores(dataset_id: int) -> QualityScore:
    db.session.expire_all()
    return db.session.get(QualityScore, dataset_id)


def status(row: QualityScore, key: str) -> str:
    bit = 1 << BY_KEY[key].bit
    if row.skipped & bit:
        return "not_assessed"
    return "unmet" if row.unmet & bit else "met"


def test_completeness_counts_weights_and_spares_what_the_source_cannot_carry(app):
    ids = write("city", [
        record("full", modified=DAY1),
        record("bare", "路灯", modified=DAY1, description="路灯", publisher="", keywords=[], license="",
               resources=[ResourceRecord(url="ftp://x.example/a", format="")]),
    ])  # fmt: skip
    # A second source whose catalog has no contact points or themes at all.
    other = write("county", [record("c1", modified=DAY1, contact_point="", themes=[])])
    run_quality(now=DAY1)
    full, bare, county = scores(ids["full"]), scores(ids["bare"]), scores(other["c1"])
    assert full.completeness == 100 and full.unmet & 0x3FF == 0
    # bare misses: title (<4 chars) 10, description 15, publisher 10, keywords 10,
    # license 10, a downloadable URL 10, formats 5 → 30 of 100
    assert bare.completeness == 30
    for key in ("title", "description", "publisher", "keywords", "license", "download", "formats"):
        assert status(bare, key) == "unmet", key
    assert status(bare, "themes") == "met"
    # The county source publishes no contact points or themes: not assessed, not punished.
    assert county.completeness == 100
    assert status(county, "contact_point") == "not_assessed"
    assert status(county, "themes") == "not_assessed"


def test_timeliness_is_smoothed_day_by_day_and_a_rerun_is_idempotent(app, monkeypatch):
    # On SQLite a transaction writes one dataset's score and history point at a time here.
    monkeypatch.setattr(quality_job, "SQLITE_SLICE", 1)
    # monthly: allowed gap 31 + 15.5 days after `modified` (a datetime: its own instant)
    ids = write("city", [record("late", modified=DAY1 - timedelta(days=60)),
                         record("fresh", modified=DAY1 - timedelta(days=2)),
                         record("nofreq", modified=DAY1, frequency="unknown")])  # fmt: skip
    first = run_quality(now=DAY1)
    assert first["datasets"] == 3 and first["written"] == 3
    late, fresh = scores(ids["late"]), scores(ids["fresh"])
    assert fresh.timeliness == 100 and status(fresh, "on_time") == "met"
    # 60 − 46.5 = 13.5 days late over a 31-day period: 100 × (1 − 13.5/31)
    assert late.timeliness == pytest.approx(56.45, abs=0.01)
    assert status(late, "on_time") == "unmet"
    assert scores(ids["nofreq"]).timeliness is None
    assert status(scores(ids["nofreq"]), "on_time") == "not_assessed"

    again = run_quality(now=DAY1 + timedelta(hours=1))  # same day: same past, nothing new
    assert again["written"] == 0 and again["history"] == 0
    assert scores(ids["late"]).timeliness == pytest.approx(56.45, abs=0.01)

    # The dataset is updated: today's value is 100, blended with 0.9 on the past.
    db.session.execute(update(Dataset).where(Dataset.id == ids["late"]).values(modified=DAY1))
    db.session.commit()
    run_quality(now=DAY1 + timedelta(days=1))
    expected = round(0.9 * 56.45 + 0.1 * 100, 2)
    assert scores(ids["late"]).timeliness == pytest.approx(expected, abs=0.02)
    rerun = run_quality(now=DAY1 + timedelta(days=1, hours=5))  # blends from the same past
    assert rerun["written"] == 0
    assert scores(ids["late"]).timeliness == pytest.approx(expected, abs=0.02)
    run_quality(now=DAY1 + timedelta(days=2))
    assert scores(ids["late"]).timeliness == pytest.approx(round(0.9 * expected + 10, 2), abs=0.02)

    history = db.session.execute(
        select(QualityHistory.day, QualityHistory.timeliness)
        .where(QualityHistory.dataset_id == ids["late"])
        .order_by(QualityHistory.day)
    ).all()
    assert [h.timeliness for h in history] == [56, 61, 65]
    assert [h.day.day for h in history] == [1, 2, 3]
    # The on-time dataset never changed: one history point.
    assert (
        db.session.scalar(select(func.count()).where(QualityHistory.dataset_id == ids["fresh"]))
        == 1
    )


def test_scores_are_no_catalog_change(app):
    ids = write("city", [record("a", modified=DAY1)])
    before = db.session.execute(select(Dataset.change_seq, Dataset.version)).all()
    versions = db.session.scalar(select(func.count()).select_from(DatasetVersion))
    run_quality(now=DAY1)
    assert db.session.execute(select(Dataset.change_seq, Dataset.version)).all() == before
    assert db.session.scalar(select(func.count()).select_from(DatasetVersion)) == versions
    assert scores(ids["a"]) is not None


def test_accuracy_from_checks_schema_changes_and_confirmed_reports(app, monkeypatch):
    two = [ResourceRecord(url="https://x.example/1.csv", format="CSV"),
           ResourceRecord(url="https://x.example/2.csv", format="CSV")]  # fmt: skip
    ids = write("city", [record("unchecked", modified=DAY1), record("half", modified=DAY1, resources=two),
                         record("ok", modified=DAY1), record("reported", modified=DAY1)])  # fmt: skip
    db.session.execute(update(Resource).values(checked_at=DAY1, failures=0))
    db.session.execute(
        update(Resource).where(Resource.dataset_id == ids["unchecked"]).values(checked_at=None)
    )
    first = db.session.scalar(
        select(func.min(Resource.id)).where(Resource.dataset_id == ids["half"])
    )
    db.session.execute(
        update(Resource).where(Resource.id == first).values(failures=2, unavailable=True)
    )
    db.session.execute(insert(CatalogEvent).values(
        dataset_id=ids["ok"], type="dataset.updated", version=1, created_at=DAY1 - timedelta(days=3),
        changes=[{"kind": "schema", "resource_id": 1, "url": "https://x.example/ok.csv"}]))  # fmt: skip
    db.session.commit()
    monkeypatch.setattr(quality_job, "confirmed_reports", lambda: {ids["reported"]: 2})
    run_quality(now=DAY1)
    assert scores(ids["unchecked"]).accuracy is None
    assert status(scores(ids["unchecked"]), "resources_answer") == "not_assessed"
    assert scores(ids["half"]).accuracy == 75  # 50 × ½ + 25 + 25
    assert scores(ids["ok"]).accuracy == 88  # 50 + 25 × ½ (one schema change) + 25 → 87.5
    assert status(scores(ids["ok"]), "schema_stable") == "unmet"
    assert scores(ids["reported"]).accuracy == 75  # two confirmed reports: 0 of 25
    assert status(scores(ids["reported"]), "no_confirmed_errors") == "unmet"
    ok = scores(ids["ok"])
    assert ok.overall == round((ok.completeness + ok.timeliness + 87.5) / 3)


def test_deleted_datasets_lose_their_current_scores(app):
    ids = write("city", [record("a", modified=DAY1), record("b", modified=DAY1)])
    run_quality(now=DAY1)
    db.session.execute(update(Dataset).where(Dataset.id == ids["b"]).values(deleted_at=DAY1))
    db.session.commit()
    summary = run_quality(now=DAY1 + timedelta(days=1))
    assert summary["removed"] == 1 and summary["datasets"] == 1
    assert scores(ids["b"]) is None and scores(ids["a"]) is not None


def test_the_job_is_registered_and_runs_through_the_runner(app):
    from subscribe.jobs.registry import job_specs

    specs = {spec.name: spec for spec in job_specs(app)}
    assert specs["score-quality"].leader_only
    write("city", [record("a", modified=DAY1)])
    assert specs["score-quality"].function()["datasets"] == 1


def _search(client, **params):
    response = client.get("/api/v1/datasets", query_string=params)
    assert response.status_code == 200, response.json
    return response.json


def test_search_filters_and_sorts_by_quality(app, client):
    ids = write("city", [
        record("good", "完整数据", modified=DAY1),
        record("poor", "简略数据", modified=DAY1, description="", publisher="", keywords=[], license=""),
        record("mid", "一般数据", modified=DAY1, keywords=[], license=""),
    ])  # fmt: skip
    indexer.apply_changes(get_service().store)
    run_quality(now=DAY1)
    get_service().refresh(force=True)
    everything = _search(client, sort="quality")
    assert [item["id"] for item in everything["items"]] == [ids["good"], ids["mid"], ids["poor"]]
    assert everything["items"][0]["quality"]["completeness"] == 100
    filtered = _search(client, quality_min=80)  # overall: 100, 90, 78 (55 and 100)
    assert {item["id"] for item in filtered["items"]} == {ids["good"], ids["mid"]}
    assert _search(client, completeness_min=100)["total"] == 1
    by_axis = _search(client, sort="completeness")
    assert by_axis["items"][-1]["id"] == ids["poor"]
    for bad in ({"quality_min": 101}, {"accuracy_min": -1}, {"sort": "best"}):
        response = client.get("/api/v1/datasets", query_string=bad)
        assert response.status_code == 400
        assert set(response.json) == {"code", "status", "message", "errors"}


def test_unscored_datasets_meet_no_minimum_and_sort_last(app, client):
    ids = write("city", [record("a", "甲数据", modified=DAY1)])
    run_quality(now=DAY1)
    more = write(
        "city", [record("a", "甲数据", modified=DAY1), record("b", "乙数据", modified=DAY1)]
    )
    indexer.apply_changes(get_service().store)
    get_service().refresh(force=True)
    assert [i["id"] for i in _search(client, sort="quality")["items"]] == [ids["a"], more["b"]]
    assert _search(client, quality_min=0)["total"] == 1
    assert _search(client, sort="quality")["items"][1]["quality"]["overall"] is None


def test_scenario_report_has_quality_distribution_and_weakest(app, client, user_headers):
    ids = write("city", [
        record("good", "空气完整数据", modified=DAY1),
        record("poor", "空气简略数据", modified=DAY1, description="", publisher="", keywords=[], license=""),
        record("none", "空气未评数据", modified=DAY1),
    ])  # fmt: skip
    run_quality(now=DAY1)
    db.session.execute(
        QualityScore.__table__.delete().where(QualityScore.dataset_id == ids["none"])
    )
    db.session.commit()
    indexer.apply_changes(get_service().store)
    created = client.post(
        "/api/v1/scenarios", headers=user_headers, json={"name": "空气", "q": "空气"}
    )
    assert created.status_code == 201, created.json
    report = client.get(f"/api/v1/scenarios/{created.json['id']}/report", headers=user_headers).json
    quality = report["quality"]
    assert quality["scored"] == 2 and quality["unscored"] == 1
    completeness = quality["axes"]["completeness"]
    assert sum(b["count"] for b in completeness["buckets"]) == 2
    assert completeness["average"] == pytest.approx(
        (100 + scores(ids["poor"]).completeness) / 2, abs=0.1
    )
    assert quality["weakest"][0]["id"] == ids["poor"]
    assert quality["weakest"][0]["title"] == "空气简略数据"
    assert quality["weakest"][0]["unmet"]  # what to fix, by criterion key


def test_confirmed_error_reports_from_feedback_lower_accuracy(app):
    """The real subscribe.feedback reports: only `resolved` (confirmed), not hidden, count."""
    from subscribe.feedback.models import ErrorReport

    ids = write("city", [record("a", modified=DAY1), record("b", modified=DAY1)])
    db.session.execute(update(Resource).values(checked_at=DAY1, failures=0))
    for state, hidden in (
        ("resolved", False),
        ("rejected", False),
        ("open", False),
        ("resolved", True),
    ):
        db.session.add(
            ErrorReport(dataset_id=ids["a"], description="人口数字有误", state=state, hidden=hidden)
        )
    db.session.commit()
    run_quality(now=DAY1)
    assert scores(ids["a"]).accuracy == 88  # one confirmed: half of 25 → 87.5
    assert status(scores(ids["a"]), "no_confirmed_errors") == "unmet"
    assert scores(ids["b"]).accuracy == 100


def test_a_rerun_later_the_same_day_counts_the_same_schema_window(app):
    ids = write("city", [record("a", modified=DAY1)])
    db.session.execute(update(Resource).values(checked_at=DAY1, failures=0))
    # A schema change 90 days before 06:00 of the day: inside the window all day long.
    db.session.execute(insert(CatalogEvent).values(
        dataset_id=ids["a"], type="dataset.updated", version=1,
        created_at=DAY1 + timedelta(hours=6) - timedelta(days=90),
        changes=[{"kind": "schema", "resource_id": 1, "url": "https://x.example/a.csv"}]))  # fmt: skip
    db.session.commit()
    run_quality(now=DAY1 + timedelta(hours=1))
    assert run_quality(now=DAY1 + timedelta(hours=23))["written"] == 0
    assert status(scores(ids["a"]), "schema_stable") == "unmet"


def test_bulk_writes_by_copy_give_the_same_scores(app, monkeypatch):
    """PostgreSQL writes large chunks by COPY + INSERT … ON CONFLICT (job.COPY_FROM rows);
    forced here for every chunk, the scores, re-runs and history are the same."""
    monkeypatch.setattr(quality_job, "COPY_FROM", 1)
    ids = write("city", [record("late", modified=DAY1 - timedelta(days=60)),
                         record("fresh", modified=DAY1 - timedelta(days=2))])  # fmt: skip
    assert run_quality(now=DAY1)["written"] == 2
    assert run_quality(now=DAY1 + timedelta(hours=3))["written"] == 0
    db.session.execute(update(Dataset).where(Dataset.id == ids["late"]).values(modified=DAY1))
    db.session.commit()
    assert run_quality(now=DAY1 + timedelta(days=1))["written"] == 1
    late = scores(ids["late"])
    assert late.timeliness == pytest.approx(round(0.9 * 56.45 + 10, 2), abs=0.02)
    assert late.timeliness_before == pytest.approx(56.45, abs=0.01)
    assert late.completeness == 100 and scores(ids["fresh"]).timeliness == 100
    history = db.session.execute(
        select(QualityHistory.day, QualityHistory.timeliness)
        .where(QualityHistory.dataset_id == ids["late"])
        .order_by(QualityHistory.day)
    ).all()
    assert [(h.day.day, h.timeliness) for h in history] == [(1, 56), (2, 61)]
