"""Quality API: scores with checklist and history, ratings (one per user, editable,
422s, rate limit, no personal details). SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update

from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.quality.job import run_quality
from tests.conftest import make_token
from tests.quality_helpers import record, write

DAY1 = datetime(2026, 11, 1)
SHAPE = {"code", "status", "message", "errors"}


def one_dataset() -> int:
    """A dataset without a license, in a source whose other dataset has one (so the
    license is assessed: the source can carry it)."""
    return write("city", [record("a", modified=DAY1, license=""), record("b", modified=DAY1)])["a"]


def test_quality_shows_scores_checklist_history_and_ratings(app, client):
    dataset_id = one_dataset()
    unscored = client.get(f"/api/v1/datasets/{dataset_id}/quality").json
    assert unscored["scored"] is False and unscored["scores"]["overall"] is None
    run_quality(now=DAY1)
    run_quality(now=DAY1 + timedelta(days=60))  # now late: a second history point
    body = client.get(f"/api/v1/datasets/{dataset_id}/quality").json
    assert body["scored"] is True
    assert body["scores"]["completeness"] == 90
    license_item = next(c for c in body["checklist"]["completeness"] if c["key"] == "license")
    assert license_item["status"] == "unmet"
    assert license_item["label_zh"] == "使用许可" and license_item["fix_en"]
    assert [c["status"] for c in body["checklist"]["accuracy"]] == ["not_assessed"] * 3
    assert [point["day"] for point in body["history"]] == ["2026-11-01", "2026-12-31"]
    assert body["history"][0]["timeliness"] == 100 and body["history"][1]["timeliness"] < 100
    assert body["ratings"] == {
        "count": 0,
        **{
            axis: {"average": None, "count": 0}
            for axis in ("completeness", "timeliness", "accuracy")
        },
    }
    assert body["my_rating"] is None
    assert client.get("/api/v1/datasets/999999/quality").status_code == 404


def test_rating_is_one_per_user_and_editable(app, client):
    dataset_id = one_dataset()
    alice = {"Authorization": f"Bearer {make_token('alice@example.org')}"}
    bob = {"Authorization": f"Bearer {make_token('bob@example.org')}"}
    url = f"/api/v1/datasets/{dataset_id}/rating"
    first = client.put(url, headers=alice, json={"completeness": 4, "timeliness": 2, "accuracy": 5,
                                                 "comment": "  <b>缺少</b>许可  "})  # fmt: skip
    assert first.status_code == 201, first.json
    assert first.json["comment"] == "<b>缺少</b>许可"
    edited = client.put(url, headers=alice, json={"completeness": 5})
    assert edited.status_code == 200
    assert edited.json["timeliness"] is None and edited.json["comment"] == ""
    assert client.put(url, headers=bob, json={"completeness": 2, "accuracy": 3}).status_code == 201

    summary = client.get(f"/api/v1/datasets/{dataset_id}/quality", headers=alice).json
    assert summary["ratings"]["count"] == 2
    assert summary["ratings"]["completeness"] == {"average": 3.5, "count": 2}
    assert summary["ratings"]["timeliness"] == {"average": None, "count": 0}
    assert summary["ratings"]["accuracy"] == {"average": 3.0, "count": 1}
    assert summary["my_rating"]["completeness"] == 5
    assert summary["scores"]["completeness"] is None  # automatic scores stay apart

    page = client.get(f"/api/v1/datasets/{dataset_id}/ratings", headers=bob,
                      query_string={"per_page": 1}).json  # fmt: skip
    assert page["total"] == 2 and len(page["items"]) == 1
    assert page["items"][0]["mine"] is True  # bob's, the newest
    text = str(client.get(f"/api/v1/datasets/{dataset_id}/ratings").json)
    assert "alice" not in text and "bob" not in text and "user_id" not in text

    assert client.delete(url, headers=alice).status_code == 204
    assert client.delete(url, headers=alice).status_code == 404
    assert client.get(f"/api/v1/datasets/{dataset_id}/ratings").json["total"] == 1


def test_bad_ratings_are_422_with_the_error_shape(app, client, user_headers):
    dataset_id = one_dataset()
    url = f"/api/v1/datasets/{dataset_id}/rating"
    for body in ({"completeness": 0}, {"completeness": 6}, {"accuracy": -1, "timeliness": 3},
                 {}, {"completeness": None}, {"completeness": "five"}, {"completeness": 3, "stars": 2},
                 {"completeness": 3, "comment": "x" * 2001}, {"completeness": 3.5},
                 {"timeliness": "4.5"}, {"accuracy": True}):  # fmt: skip
        response = client.put(url, headers=user_headers, json=body)
        assert response.status_code == 422, body
        assert set(response.json) == SHAPE
    whole = client.put(url, headers=user_headers, json={"completeness": 4.0, "accuracy": "2"})
    assert whole.status_code in (200, 201) and whole.json["completeness"] == 4
    assert client.put(url, json={"completeness": 3}).status_code == 401
    assert client.put("/api/v1/datasets/999999/rating", headers=user_headers,
                      json={"completeness": 3}).status_code == 404  # fmt: skip
    db.session.execute(update(Dataset).where(Dataset.id == dataset_id).values(deleted_at=DAY1))
    db.session.commit()
    assert client.put(url, headers=user_headers, json={"completeness": 3}).status_code == 409


def test_rating_writes_are_rate_limited(app, client, user_headers):
    app.config["SUBSCRIBE_LIMIT_RATINGS"] = "3 per minute"
    dataset_id = one_dataset()
    url = f"/api/v1/datasets/{dataset_id}/rating"
    codes = [
        client.put(url, headers=user_headers, json={"accuracy": 4}).status_code for _ in range(4)
    ]
    assert codes == [201, 200, 200, 429]
    assert set(client.put(url, headers=user_headers, json={"accuracy": 4}).json) == SHAPE
