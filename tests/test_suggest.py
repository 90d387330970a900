"""Suggestions per scenario (issue 20 A): reasons, 👍 / 👎, and pushed `dataset.suggested`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import select, update

from subscribe.catalog import services as catalog
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.jobs import jobs
from subscribe.notify.models import Delivery
from subscribe.scenarios import matching
from subscribe.scenarios.matching import PercolatorCache, match_pending_events
from subscribe.scenarios.models import Scenario
from subscribe.search import indexer
from subscribe.search.service import get_service
from subscribe.suggest import profile as model
from subscribe.suggest import push
from subscribe.suggest import services as suggest
from subscribe.suggest.models import SuggestionFeedback
from tests.catalog_helpers import serve_csv_rows
from tests.search_helpers import harvest
from tests.test_api_scenarios import ERROR_KEYS, account

DATA = Path(__file__).parent / "data" / "suggest"
HEADER, *ROWS = (DATA / "catalog.csv").read_text(encoding="utf-8").splitlines()
UP = {"vote": "up"}
NEW_ROWS = (DATA / "new_rows.csv").read_text(encoding="utf-8").splitlines()


def serve(httpserver, rows: list[str]) -> str:
    return serve_csv_rows(httpserver, HEADER, rows)


def ids(*identifiers: str) -> list[int]:
    found = dict(db.session.execute(select(Dataset.identifier, Dataset.id)).all())
    return [found[i] for i in identifiers]


@pytest.fixture
def city(app, httpserver):
    source = catalog.create_source(
        "city", "tabular", serve(httpserver, ROWS), mapping={"id_column": "目录编号"}
    )
    harvest(source)
    indexer.apply_changes(get_service().store)
    return source


def air_scenario(client, headers, **extra) -> dict:
    body = {"name": "空气", "q": "", "include": ids("AQ-001", "AQ-002"), **extra}
    created = client.post("/api/v1/scenarios", json=body, headers=headers)
    assert created.status_code == 201, created.json
    return created.json


def suggestions(client, headers, scenario_id: int, **args) -> list[dict]:
    answer = client.get(
        f"/api/v1/scenarios/{scenario_id}/suggestions", headers=headers, query_string=args
    )
    assert answer.status_code == 200, answer.json
    return answer.json["items"]


def test_suggestions_resemble_the_members_and_say_why(client, city):
    headers = account(client, "analyst@example.org")
    scenario = air_scenario(client, headers)
    found = suggestions(client, headers, scenario["id"])
    titles = [s["dataset"]["title"] for s in found]
    # Same publisher and 空气质量 in the title first; the air quality forecast of another
    # publisher next; unrelated datasets (schools, companies) never.
    assert titles[0] == "示例区空气质量监测月报", titles
    assert titles.index("示例市空气质量预报") < titles.index("示例市地表水水质监测月报")
    assert not {"示例市中小学名录", "示例市企业登记信息"} & set(titles)
    assert not {"示例市空气质量日报", "示例市空气质量小时数据"} & set(titles)  # members
    top = found[0]
    assert top["reasons"][0] == {"kind": "publisher", "publisher": "市生态环境局", "members": 2}
    assert {"kind": "title", "terms": ["空气质量"]} in [
        {k: r[k] for k in ("kind", "terms")} for r in top["reasons"] if r["kind"] == "title"
    ]
    assert top["reason"]["zh"].startswith("与 2 个成员同属 市生态环境局，标题相似：空气质量")
    assert top["reason"]["en"].startswith(
        "same publisher as 2 members (市生态环境局); similar titles: 空气质量"
    )
    assert found == sorted(found, key=lambda s: -s["fit"])
    forecast = next(s for s in found if s["dataset"]["title"] == "示例市空气质量预报")
    assert forecast["reason"]["zh"].startswith("标题相似：空气质量")


def fit_of(scenario_id: int, dataset_id: int) -> float:
    service = get_service()
    service.refresh(force=True)
    corpus = suggest.IndexCorpus(service)
    scenario = db.session.get(Scenario, scenario_id)
    db.session.refresh(scenario)
    return float(model.fits(corpus, suggest.scenario_profile(scenario, corpus))[dataset_id])


def test_thumbs_up_pins_thumbs_down_excludes_and_lowers_similar(client, city):
    headers = account(client, "analyst@example.org")
    scenario = air_scenario(client, headers)
    sid = scenario["id"]
    monthly, ozone_daily, ozone_hourly = ids("AQ-003", "OZ-001", "OZ-002")
    before = {s["dataset"]["id"]: s["fit"] for s in suggestions(client, headers, sid, per_page=50)}
    assert ozone_daily in before and ozone_hourly in before
    fit_before = fit_of(sid, ozone_hourly)

    up = client.post(f"/api/v1/scenarios/{sid}/suggestions/{monthly}/feedback",
                     json={"vote": "up"}, headers=headers)  # fmt: skip
    assert up.status_code == 200 and up.json["vote"] == "up"
    after_up = client.get(f"/api/v1/scenarios/{sid}", headers=headers).json
    assert monthly in after_up["include"]
    members = client.get(f"/api/v1/scenarios/{sid}/datasets", headers=headers).json
    assert monthly in [m["id"] for m in members["items"]]

    down = client.post(f"/api/v1/scenarios/{sid}/suggestions/{ozone_daily}/feedback",
                       json={"vote": "down"}, headers=headers)  # fmt: skip
    assert down.status_code == 200 and down.json["vote"] == "down"
    assert ozone_daily in client.get(f"/api/v1/scenarios/{sid}", headers=headers).json["exclude"]
    after = {s["dataset"]["id"]: s["fit"] for s in suggestions(client, headers, sid, per_page=50)}
    assert ozone_daily not in after and monthly not in after  # excluded, and now a member
    # Its words (臭氧, 污染) now count against: the similar hourly ozone data sinks (here
    # below what is shown at all), while datasets unlike it keep their fit.
    assert fit_of(sid, ozone_hourly) < fit_before - 0.1
    assert after.get(ozone_hourly, 0) < before[ozone_hourly]
    water = ids("WQ-001")[0]
    assert after[water] == pytest.approx(before[water], abs=0.05)
    stored = db.session.scalars(select(SuggestionFeedback).order_by(SuggestionFeedback.id)).all()
    assert [(f.dataset_id, f.vote) for f in stored] == [(monthly, "up"), (ozone_daily, "down")]

    # Changing one's mind: the latest vote wins, still one row per dataset.
    again = client.post(f"/api/v1/scenarios/{sid}/suggestions/{ozone_daily}/feedback",
                        json={"vote": "up"}, headers=headers)  # fmt: skip
    assert again.status_code == 200
    row = client.get(f"/api/v1/scenarios/{sid}", headers=headers).json
    assert ozone_daily in row["include"] and ozone_daily not in row["exclude"]
    assert db.session.scalar(select(db.func.count()).select_from(SuggestionFeedback)) == 2


def test_excluded_datasets_are_never_suggested(client, city):
    headers = account(client, "analyst@example.org")
    monthly, forecast = ids("AQ-003", "AQ-004")
    scenario = air_scenario(client, headers, exclude=[monthly, forecast])
    found = suggestions(client, headers, scenario["id"], per_page=50)
    assert found and not {monthly, forecast} & {s["dataset"]["id"] for s in found}


def test_bad_input_is_a_4xx_in_the_error_shape(client, city):
    headers = account(client, "analyst@example.org")
    sid = air_scenario(client, headers)["id"]
    monthly = ids("AQ-003")[0]
    url = f"/api/v1/scenarios/{sid}/suggestions/{monthly}/feedback"
    cases = [
        client.post(url, json={"vote": "sideways"}, headers=headers),
        client.post(url, json={"vote": "up", "extra": 1}, headers=headers),
        client.post(url, json={}, headers=headers),
        client.post(url, data="not json", headers={**headers, "content-type": "application/json"}),
        client.post(
            f"/api/v1/scenarios/{sid}/suggestions/999999/feedback", json=UP, headers=headers
        ),
        client.post(
            f"/api/v1/scenarios/999999/suggestions/{monthly}/feedback", json=UP, headers=headers
        ),
        client.get(f"/api/v1/scenarios/{sid}/suggestions?per_page=500", headers=headers),
        client.get(f"/api/v1/scenarios/{sid}/suggestions?page=x", headers=headers),
        client.get(f"/api/v1/scenarios/{sid}/suggestions"),  # no token
    ]
    for answer in cases:
        assert 400 <= answer.status_code < 500, (answer.status_code, answer.json)
        assert set(answer.json) == ERROR_KEYS
    # Someone else's scenario is as missing as one that never existed.
    other = account(client, "other@example.org")
    assert client.get(f"/api/v1/scenarios/{sid}/suggestions", headers=other).status_code == 404
    assert db.session.scalar(select(db.func.count()).select_from(SuggestionFeedback)) == 0


def test_a_snapshot_scores_as_the_index_does(app, city):
    """Pushed suggestions score a new dataset from its own text: the same fit as over
    the index (profile.py)."""
    from subscribe.auth.services import create_user

    user = create_user("analyst@example.org", "long password")
    scenario = Scenario(user_id=user.id, name="空气", q="", filters={},
                        include=ids("AQ-001", "AQ-002"), exclude=[])  # fmt: skip
    db.session.add(scenario)
    db.session.commit()
    service = get_service()
    service.refresh(force=True)
    corpus = suggest.IndexCorpus(service)
    profile = suggest.scenario_profile(scenario, corpus)
    fits = model.fits(corpus, profile)
    for doc in suggest.docs(ids(*(row.split(",", 1)[0] for row in ROWS))):
        assert model.score_doc(profile, doc) == pytest.approx(fits[doc.id]), doc.title


# --- pushed suggestions -------------------------------------------------------------------


def opted_in_subscription(client, headers, sid: int, channel: str = "inbox", **extra) -> dict:
    body = {"scenario_id": sid, "channel": channel,
            "events": ["dataset.created", "dataset.suggested"], **extra}  # fmt: skip
    made = client.post("/api/v1/subscriptions", json=body, headers=headers)
    assert made.status_code == 201, made.json
    return made.json


def publish_new_rows(httpserver, city, rows=NEW_ROWS) -> None:
    city.url = serve(httpserver, [*ROWS, *rows])
    db.session.commit()
    harvest(city)


def test_suggested_is_opt_in_capped_explained_and_never_for_excluded(app, client, httpserver, city):
    app.config["SUBSCRIBE_SUGGEST_PUSH_MAX"] = 2
    headers = account(client, "analyst@example.org")
    cache = PercolatorCache()
    match_pending_events(cache=cache)  # the first harvest: starting state
    push.profiles.clear()
    scenario = air_scenario(client, headers)
    sid = scenario["id"]
    opted = opted_in_subscription(client, headers, sid)
    plain = client.post("/api/v1/subscriptions", json={"scenario_id": sid, "channel": "webhook",
                        "endpoint_id": None}, headers=headers)  # fmt: skip
    assert plain.status_code in (201, 422)  # (a webhook needs an endpoint: not the point)
    # The user voted one of the coming datasets down in another scenario beforehand? It
    # does not exist yet: vote down an existing one and check it is skipped below instead.
    publish_new_rows(httpserver, city)
    match_pending_events(cache=cache)
    rows = db.session.scalars(
        select(Delivery).where(Delivery.event_type == "dataset.suggested").order_by(Delivery.id)
    ).all()
    assert len(rows) == 2  # the cap: four air quality datasets fit, two wait at most
    assert {r.subscription_id for r in rows} == {opted["id"]}
    new_air = set(ids("AQ-005", "AQ-006", "AQ-007", "AQ-008"))
    for row in rows:
        data = row.payload["data"]
        assert row.payload["type"] == "dataset.suggested"
        assert data["dataset"]["id"] in new_air
        assert data["scenario"] == {"id": sid, "name": "空气"}
        assert data["suggestion"]["fit"] >= app.config["SUBSCRIBE_SUGGEST_PUSH_MIN_FIT"]
        assert data["suggestion"]["text"]["zh"].startswith("与 2 个成员同属 市生态环境局")
        assert data["suggestion"]["reasons"][0]["kind"] == "publisher"
    assert ids("JY-002")[0] not in {r.payload["data"]["dataset"]["id"] for r in rows}


def test_suggested_skips_excluded_and_voted_down_and_not_opted_in(app, client, httpserver, city):
    headers = account(client, "analyst@example.org")
    cache = PercolatorCache()
    match_pending_events(cache=cache)
    push.profiles.clear()
    scenario = air_scenario(client, headers)
    sid = scenario["id"]
    plain = client.post("/api/v1/subscriptions", json={"scenario_id": sid, "channel": "email"},
                        headers=headers)  # fmt: skip
    assert plain.status_code == 201 and "dataset.suggested" not in plain.json["events"]
    opted_in_subscription(client, headers, sid)
    publish_new_rows(httpserver, city)
    new = ids("AQ-005", "AQ-006", "AQ-007", "AQ-008")
    # Before matching sees them: one excluded from the scenario, one voted down in
    # another scenario of the same user.
    client.patch(f"/api/v1/scenarios/{sid}", json={"exclude": [new[0]]}, headers=headers)
    other = air_scenario(client, headers)
    client.post(f"/api/v1/scenarios/{other['id']}/suggestions/{new[1]}/feedback",
                json={"vote": "down"}, headers=headers)  # fmt: skip
    match_pending_events(cache=cache)
    rows = db.session.scalars(select(Delivery).where(Delivery.event_type == "dataset.suggested"))
    pushed = {r.payload["data"]["dataset"]["id"] for r in rows}
    assert pushed == {new[2], new[3]}
    assert all(r.channel == "inbox" for r in db.session.scalars(
        select(Delivery).where(Delivery.event_type == "dataset.suggested")))  # fmt: skip


def test_suggestions_reach_a_webhook_and_the_inbox(app, client, httpserver, city):
    from subscribe.notify import sender
    from tests.test_delivery import Receiver, verify

    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1"]
    headers = account(client, "analyst@example.org")
    cache = PercolatorCache()
    match_pending_events(cache=cache)
    push.profiles.clear()
    sid = air_scenario(client, headers)["id"]
    receiver = Receiver(httpserver)
    endpoint = client.post("/api/v1/webhooks", json={"url": receiver.url}, headers=headers).json
    opted_in_subscription(client, headers, sid, "webhook", endpoint_id=endpoint["id"])
    opted_in_subscription(client, headers, sid, "inbox")
    publish_new_rows(httpserver, city, NEW_ROWS[:1])  # one new air quality dataset
    receiver = Receiver(httpserver)
    match_pending_events(cache=cache)
    assert sender.deliver_due() == 2
    [request] = receiver.requests
    body = verify(endpoint["secret"], request)
    assert body["type"] == "dataset.suggested"
    data = body["data"]
    assert data["dataset"]["title"] == "示例县空气质量日报"
    assert data["reason"] == "suggested" and data["scenario"]["id"] == sid
    assert data["suggestion"]["text"]["zh"].startswith(
        "与 2 个成员同属 市生态环境局，标题相似：空气质量"
    )
    assert data["suggestion"]["text"]["en"].startswith("same publisher as 2 members")
    inbox = client.get("/api/v1/notifications", headers=headers).json
    [item] = inbox["items"]
    assert item["type"] == "dataset.suggested" and item["title"] == "空气: 示例县空气质量日报"
    # The inbox page says why (the reason in the page's language).
    from tests.test_web import login

    login(client, "analyst@example.org", "long password")
    page = client.get("/inbox").get_data(as_text=True)
    assert "与 2 个成员同属 市生态环境局，标题相似：空气质量" in page and "推荐数据集" in page


# --- the scenario page ------------------------------------------------------------------


def test_the_scenario_page_explains_suggestions_and_votes_with_csrf(app, client, city):
    from subscribe.auth import services as auth
    from subscribe.scenarios import services as scenarios
    from tests.test_web import PASSWORD, csrf_from, login

    user = auth.create_user("alice@example.org", PASSWORD)
    login(client, user.email)
    scenario = scenarios.create_scenario(user, {"name": "空气", "q": "", "filters": {},
                                                "include": ids("AQ-001", "AQ-002"), "exclude": []})  # fmt: skip
    page = client.get(f"/scenarios/{scenario.id}", headers={"Accept": "text/html"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "推荐数据集" in html and "示例区空气质量监测月报" in html
    assert "推荐理由：与 2 个成员同属 市生态环境局，标题相似：空气质量" in html
    english = client.get(f"/scenarios/{scenario.id}?lang=en", follow_redirects=True)
    english = english.get_data(as_text=True)
    assert (
        "Why suggested: same publisher as 2 members (市生态环境局); similar titles: 空气质量"
        in english
    )
    client.get(f"/scenarios/{scenario.id}?lang=zh")
    monthly, forecast = ids("AQ-003", "AQ-004")
    url = f"/scenarios/{scenario.id}/suggestions/{monthly}/feedback"
    assert client.post(url, data={"vote": "up"}).status_code == 400  # no CSRF token
    token = csrf_from(page.get_data())
    assert client.post(url, data={"vote": "maybe", "csrf_token": token}).status_code == 303
    voted = client.post(url, data={"vote": "up", "csrf_token": token})
    assert voted.status_code == 303 and voted.location.endswith(
        f"/scenarios/{scenario.id}#suggestions"
    )
    down = f"/scenarios/{scenario.id}/suggestions/{forecast}/feedback"
    assert client.post(down, data={"vote": "down", "csrf_token": token}).status_code == 303
    db.session.refresh(scenario)
    assert monthly in scenario.include and forecast in scenario.exclude
    after = client.get(f"/scenarios/{scenario.id}").get_data(as_text=True)
    assert "已从场景中排除" in after
    missing = client.post(f"/scenarios/{scenario.id}/suggestions/999999/feedback",
                          data={"vote": "up", "csrf_token": token})  # fmt: skip
    assert missing.status_code == 404


def test_shared_join_keys_from_the_preview_count_and_are_said(client, city):
    """Datasets whose previewed files hold the same key format as the members' (here
    行政区划代码) rank higher and say so."""
    from subscribe.catalog.models import Resource
    from subscribe.preview.models import ResourcePreview

    headers = account(client, "analyst@example.org")
    sid = air_scenario(client, headers)["id"]
    water = ids("WQ-001")[0]
    before = next(s for s in suggestions(client, headers, sid, per_page=50)
                  if s["dataset"]["id"] == water)  # fmt: skip
    for dataset_id in [*ids("AQ-001", "AQ-002"), water]:
        resource = Resource(dataset_id=dataset_id, url=f"http://example.org/{dataset_id}.csv")
        db.session.add(resource)
        db.session.flush()
        db.session.add(ResourcePreview(resource_id=resource.id, status="ok", url=resource.url,
                                       key_formats=["cn_admin_code"]))  # fmt: skip
    db.session.commit()
    after = next(s for s in suggestions(client, headers, sid, per_page=50)
                 if s["dataset"]["id"] == water)  # fmt: skip
    assert after["fit"] == pytest.approx(before["fit"] + model.KEY, abs=1e-3)
    assert {"kind": "join_keys", "join_keys": ["cn_admin_code"], "members": 2} in after["reasons"]
    assert "可与 2 个成员按 行政区划代码 关联" in after["reason"]["zh"]
    assert "joins 2 members on administrative division code" in after["reason"]["en"]


def test_an_email_of_a_suggestion_says_why_in_the_readers_language():
    from subscribe.models_base import utcnow
    from subscribe.notify import digest, payloads

    text = {"zh": "与 2 个成员同属 市生态环境局，标题相似：空气质量",
            "en": "same publisher as 2 members (市生态环境局); similar titles: 空气质量"}  # fmt: skip
    body = payloads.message(
        payloads.new_message_id(), "dataset.suggested", utcnow(), "http://x", dataset_id=7,
        snapshot={"title": "示例县空气质量日报"}, version=1, changes=[], reason="suggested",
        scenario={"id": 1, "name": "空气"}, matched_because={"suggested": text},
        suggestion={"fit": 1.1, "reasons": [], "text": text},
    )  # fmt: skip
    subject, plain, html = digest.render("immediate", "zh", body)
    assert subject == "【空气】推荐数据集：示例县空气质量日报"
    assert text["zh"] in plain and text["zh"] in html
    subject, plain, _html = digest.render("immediate", "en", body)
    assert subject == "[空气] Suggested dataset: 示例县空气质量日报" and text["en"] in plain


def test_without_an_opted_in_subscription_no_profile_is_built(app, client, httpserver, city):
    """Matching stays cheap for many scenarios: only subscriptions that opted in cost."""
    headers = account(client, "analyst@example.org")
    cache = PercolatorCache()
    match_pending_events(cache=cache)
    push.profiles.clear()
    for _n in range(5):
        sid = air_scenario(client, headers)["id"]
        made = client.post("/api/v1/subscriptions", json={"scenario_id": sid, "channel": "inbox"},
                           headers=headers)  # fmt: skip
        assert made.status_code == 201 and "dataset.suggested" not in made.json["events"]
    publish_new_rows(httpserver, city)
    match_pending_events(cache=cache)
    assert push.profiles.entries == {}
    kinds = {d.event_type for d in db.session.scalars(select(Delivery))}
    assert "dataset.suggested" not in kinds


def test_a_digest_holds_at_most_the_cap_of_suggestions_across_runs(app, client, httpserver, city):
    app.config["SUBSCRIBE_SUGGEST_PUSH_MAX"] = 2
    headers = account(client, "analyst@example.org")
    cache = PercolatorCache()
    match_pending_events(cache=cache)
    push.profiles.clear()
    sid = air_scenario(client, headers)["id"]
    daily = opted_in_subscription(client, headers, sid, "email", cadence="daily")
    publish_new_rows(httpserver, city, NEW_ROWS[:2])
    match_pending_events(cache=cache)
    publish_new_rows(httpserver, city, NEW_ROWS)  # two more that fit, while the digest waits
    match_pending_events(cache=cache)
    waiting = db.session.scalars(
        select(Delivery).where(Delivery.subscription_id == daily["id"],
                               Delivery.event_type == "dataset.suggested")
    ).all()  # fmt: skip
    assert len(waiting) == 2 and all(d.status == "pending" for d in waiting)
    assert {d.payload["data"]["dataset"]["id"] for d in waiting} == set(ids("AQ-005", "AQ-006"))


def test_a_one_dataset_subscription_cannot_take_dataset_suggested(client, city):
    """Suggestions are made per scenario: a subscription to one dataset asking for them
    would be accepted and never receive one (hbreak F13), so it is a 422, and the form
    for a dataset does not offer the event."""
    headers = account(client, "analyst@example.org")
    dataset_id = ids("AQ-001")[0]
    body = {"dataset_id": dataset_id, "channel": "inbox",
            "events": ["dataset.updated", "dataset.suggested"]}  # fmt: skip
    refused = client.post("/api/v1/subscriptions", json=body, headers=headers)
    assert refused.status_code == 422 and set(refused.json) == ERROR_KEYS
    assert "events" in refused.json["errors"]
    body["events"] = ["dataset.updated"]
    made = client.post("/api/v1/subscriptions", json=body, headers=headers)
    assert made.status_code == 201
    patched = client.patch(f"/api/v1/subscriptions/{made.json['id']}",
                           json={"events": ["dataset.suggested"]}, headers=headers)  # fmt: skip
    assert patched.status_code == 422 and "events" in patched.json["errors"]
    scenario = air_scenario(client, headers)
    on_scenario = client.post("/api/v1/subscriptions", headers=headers, json={
        "scenario_id": scenario["id"], "channel": "inbox", "events": ["dataset.suggested"]})  # fmt: skip
    assert on_scenario.status_code == 201


def test_reasons_name_tied_words_in_the_same_order_in_every_process():
    """Words of equal weight are named by the word itself, not by set order, which
    changes with each process's string hashing (QA: two web workers disagreed)."""
    import subprocess
    import sys

    script = (
        "from subscribe.suggest.profile import Profile, Doc, explain\n"
        "terms = dict.fromkeys(set(['农民', '合作社', '专业', '名录']), 1.0)\n"
        "idf = dict.fromkeys(terms, 3.0)\n"
        "profile = Profile(terms=terms, ref=1.0, publishers={}, themes={'农业': 2, '经济': 2},"
        " keys={}, size=4, idf=idf)\n"
        "doc = Doc(1, '农民专业合作社名录', '', '', ['经济', '农业'])\n"
        "print(explain(profile, doc))\n"
    )
    answers = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
        for seed in range(3)
    }  # fmt: skip
    assert len(answers) == 1, answers
    [answer] = answers
    assert "['专业', '农民', '合作社']" in answer and "'theme': '农业'" in answer, answer


def test_suggestions_are_pushed_from_the_worker_matching_process(
    app, client, httpserver, city, database_url, monkeypatch
):
    """The worker matches in a process of its own (scenarios/match_process.py); scoring
    suggestions there needs the search index. Without it every batch with a new dataset
    failed and rolled back, so `make run` pushed nothing at all."""
    app.config["SUBSCRIBE_MATCH_IN_CHILD"] = True
    monkeypatch.setenv("SUBSCRIBE_DATABASE_URL", database_url)
    monkeypatch.setenv("SUBSCRIBE_INSTANCE_PATH", app.instance_path)  # the worker's index
    monkeypatch.setenv("SUBSCRIBE_DEMO", "0")
    try:
        headers = account(client, "analyst@example.org")
        jobs.match_events()  # the first harvest: starting state
        opted = opted_in_subscription(client, headers, air_scenario(client, headers)["id"])
        publish_new_rows(httpserver, city)
        indexer.apply_changes(get_service().store)  # the worker's follower, as it runs
        assert jobs.match_events() == len(NEW_ROWS)
        assert jobs.matcher.pid not in (None, os.getpid())
    finally:
        jobs.stop_matcher()
    db.session.rollback()  # see the process's commits
    suggested = db.session.scalars(
        select(Delivery).where(Delivery.event_type == "dataset.suggested")
    ).all()
    new_air = set(ids("AQ-005", "AQ-006", "AQ-007", "AQ-008"))
    assert suggested and {r.payload["data"]["dataset"]["id"] for r in suggested} <= new_air
    assert {r.subscription_id for r in suggested} == {opted["id"]}


def test_a_failing_suggestion_leaves_the_batch_alerts_to_go_out(
    app, client, httpserver, city, monkeypatch, caplog
):
    headers = account(client, "analyst@example.org")
    cache = PercolatorCache()
    match_pending_events(cache=cache)  # the first harvest: starting state
    air = air_scenario(client, headers, q="空气质量")  # new air datasets enter it
    opted = opted_in_subscription(client, headers, air["id"])
    publish_new_rows(httpserver, city)

    def broken(events, matches):
        db.session.execute(update(Scenario).values(name="written, then rolled back"))
        raise RuntimeError("scoring failed")

    monkeypatch.setattr(matching, "enqueue_suggestions", broken)
    assert match_pending_events(cache=cache) == len(NEW_ROWS)  # committed, cursor moved
    sent = db.session.execute(select(Delivery.subscription_id, Delivery.event_type)).all()
    assert set(sent) == {(opted["id"], "dataset.created")} and len(sent) == 4  # AQ-005…008
    assert db.session.get(Scenario, air["id"]).name == "空气"
    assert "suggestions for 5 catalog events failed" in caplog.text
    assert "scoring failed" in caplog.text
