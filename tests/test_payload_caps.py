"""Messages stay thin however long the catalog's text (bb5 M1): a 200,000-character title
is cut on harvest (snapshot, events, columns alike) and every webhook body, events API
item and feed stays under the payload cap. Real database, real loopback receiver."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from subscribe.auth.services import create_user
from subscribe.catalog import services as catalog
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion
from subscribe.catalog.records import canonical_hash
from subscribe.catalog.text import TITLE_MAX, TITLE_SHOWN
from subscribe.extensions import db
from subscribe.notify import payloads
from subscribe.notify import services as notify
from subscribe.scenarios import services as scenarios
from subscribe.scenarios.matching import PercolatorCache
from tests.catalog_helpers import serve_csv_rows
from tests.search_helpers import CHINESE_CSV, harvest
from tests.test_delivery import Receiver
from tests.test_trusted_events import deliver_all, match_all

HEADER, *ROWS = CHINESE_CSV.read_text(encoding="utf-8").splitlines()
TITLE, SUMMARY = "示例市公交线路站点信息", "全市公交线路及站点的名称、位置和经纬度信息"
# The field's title had 200,000 characters (a data.json); a CSV cell over 131,072 (the
# csv module's field limit) is a broken row, so this export's are 100,000: still ten
# times the harvest's cut.
LONG = 100_000


def rows_with(title: str, summary: str) -> list[str]:
    return [r.replace(TITLE, title).replace(SUMMARY, summary) if r.startswith("JT-001") else r
            for r in ROWS]  # fmt: skip


@pytest.fixture
def loopback(app):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1"]


def test_a_100000_character_title_makes_thin_messages(app, client, httpserver, loopback):
    user = create_user("analyst@example.org", "long password")
    url = serve_csv_rows(httpserver, HEADER, rows_with(TITLE + "长" * LONG, SUMMARY + "述" * LONG))
    source = catalog.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    harvest(source)
    dataset = db.session.scalar(select(Dataset).where(Dataset.title.startswith(TITLE)))
    version = db.session.scalar(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
    )
    # Cut on harvest where the text is normalised: the column and the snapshot agree.
    assert len(dataset.title) == len(version.snapshot["title"]) == TITLE_MAX
    assert dataset.title == version.snapshot["title"] and dataset.title.endswith("…")

    receiver = Receiver(httpserver)
    endpoint = notify.create_endpoint(user, receiver.url)
    scenario = scenarios.create_scenario(user, {"name": "公交", "q": "公交", "filters": {},
                                                "include": [], "exclude": []})  # fmt: skip
    notify.create_subscription(user, {"scenario_id": scenario.id, "channel": "webhook",
                                      "endpoint_id": endpoint.id, "events": ["dataset.updated"]})  # fmt: skip
    cache = PercolatorCache()
    match_all(cache)

    new_title = TITLE + "（新）" + "长" * LONG  # changed near the start: still a change
    serve_csv_rows(httpserver, HEADER, rows_with(new_title, "新" + SUMMARY + "述" * LONG))
    harvest(source)
    receiver = Receiver(httpserver)  # serving the new catalog cleared the server's handlers
    match_all(cache)
    deliver_all()
    (event,) = db.session.scalars(
        select(CatalogEvent).where(CatalogEvent.type == "dataset.updated")
    ).all()
    assert len(event.after["title"]) == len(event.before["title"]) == TITLE_MAX

    (request,) = receiver.requests
    size = len(request["body"].encode())
    assert size <= payloads.MAX_PAYLOAD_BYTES  # was 600,488 bytes in the field (200,000)
    body = json.loads(request["body"])["data"]
    title = body["dataset"]["title"]
    assert len(title) == TITLE_SHOWN and title.startswith(TITLE + "（新）") and title[-1] == "…"
    assert body["changes_truncated"] is True and body["changes"] == [{"kind": "metadata"}]
    assert body["history_url"].endswith(f"/api/v1/datasets/{dataset.id}/history")

    token = client.post(
        "/api/v1/auth/tokens", json={"email": user.email, "password": "long password"}
    ).json["token"]
    answer = client.get(
        f"/api/v1/scenarios/{scenario.id}/events", headers={"Authorization": f"Bearer {token}"}
    )
    (item,) = answer.json["items"]  # was 444 KB in the field
    assert len(json.dumps(item, ensure_ascii=False).encode()) <= payloads.MAX_PAYLOAD_BYTES
    assert item["changes_truncated"] is True and len(item["dataset"]["title"]) == TITLE_SHOWN
    feed = client.get(f"/api/v1/scenarios/{scenario.id}/feed.atom?token={scenario.feed_token}")
    assert feed.status_code == 200 and len(feed.data) < payloads.MAX_PAYLOAD_BYTES  # was 1.2 MB


def test_the_payload_cap_holds_for_any_free_text():
    """Whatever grows (a scenario name, matched_because, a distinguished_by), the body
    stays under the cap: changes first, then every text, then only the thin core."""
    huge = "字" * 50_000
    body = payloads.message(
        "msg_1", "dataset.updated", __import__("datetime").datetime(2026, 1, 1), "http://x",
        dataset_id=7, snapshot={"title": huge, "distinguished_by": {"区": huge}}, version=3,
        changes=[{"kind": "metadata", "fields": {"title": {"old": huge, "new": huge}}}],
        scenario={"id": 1, "name": huge}, reason="changed",
        matched_because={"keywords": [huge[:400]] * 2_000},
    )  # fmt: skip
    assert len(json.dumps(body, ensure_ascii=False).encode()) <= payloads.MAX_PAYLOAD_BYTES
    data = body["data"]
    assert data["dataset"]["id"] == 7 and data["dataset"]["url"] == "http://x/datasets/7"
    assert data["changes"] == [{"kind": "metadata"}] and data["changes_truncated"] is True
    assert data["text_truncated"] is True and data["scenario"]["id"] == 1
    assert len(data["scenario"]["name"]) <= payloads.TEXT_CHARS


def test_a_title_stored_whole_before_the_cut_is_no_update_when_cut(app, httpserver):
    """A dataset harvested before the cut holds its whole title in its version snapshot
    (and hash). The next harvest cuts it: that is the same text read again, stored
    without a new version or an event (diff.CUT_TEXTS), so an upgrade floods nobody."""
    long_title = TITLE + "长" * LONG
    url = serve_csv_rows(httpserver, HEADER, rows_with(long_title, SUMMARY))
    source = catalog.create_source("city", "tabular", url, mapping={"id_column": "目录编号"})
    harvest(source)
    dataset = db.session.scalar(select(Dataset).where(Dataset.title.startswith(TITLE)))
    version = db.session.scalar(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
    )
    whole = {**version.snapshot, "title": long_title}  # as the harvest stored it before
    version.snapshot, dataset.content_hash = whole, canonical_hash(whole)
    dataset.source_fingerprint = None  # the row is read again, not skipped as unchanged
    db.session.commit()

    run = harvest(source)
    assert (run.updated, run.unchanged) == (0, 23)
    db.session.refresh(version)
    assert dataset.version == 1 and len(version.snapshot["title"]) == TITLE_MAX
    assert (
        db.session.scalar(select(CatalogEvent).where(CatalogEvent.type == "dataset.updated"))
        is None
    )

    serve_csv_rows(httpserver, HEADER, rows_with("新" + long_title, SUMMARY))
    assert harvest(source).updated == 1  # a title that changed within the cut is news
