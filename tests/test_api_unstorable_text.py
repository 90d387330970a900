"""Text no column can store (an unpaired surrogate from a JSON "\\ud800" escape, NUL) is a
422 in the error shape naming its field, on every endpoint: it was a 500
(UnicodeEncodeError from the driver) or, where the text was cleaned, silently stored as ""."""

from __future__ import annotations

import pytest

from subscribe.auth import services as auth
from tests.conftest import make_token
from tests.quality_helpers import record, write

SHAPE = {"code", "status", "message", "errors"}
LONE = '"\\ud800"'  # JSON text: json.loads gives the lone surrogate "\ud800"


def post_raw(client, url, raw, headers=None, method="POST"):
    """The body exactly as written: the test client's json= cannot encode a surrogate."""
    return client.open(url, method=method, data=raw.encode(), content_type="application/json",
                       headers=headers or {})  # fmt: skip


@pytest.mark.parametrize(
    ("url", "raw", "field"),
    [
        ("/api/v1/scenarios", f'{{"name": {LONE}}}', {"name": None}),
        ("/api/v1/scenarios", f'{{"name": "x", "q": {LONE}}}', {"q": None}),
        ("/api/v1/scenarios", f'{{"name": "x", "filters": {{"publisher": ["a", {LONE}]}}}}',
         {"filters": {"publisher": {"1": None}}}),
        ("/api/v1/sources", f'{{"name": "x", "type": "ckan", "url": {LONE}}}', {"url": None}),
        ("/api/v1/webhooks", f'{{"url": "https://example.org/h", "description": {LONE}}}',
         {"description": None}),
        ("/api/v1/auth/tokens", f'{{"email": "a@example.org", "password": {LONE}}}',
         {"password": None}),
        ("/api/v1/auth/register", f'{{"email": "a@example.org", "password": "x", {LONE}: 1}}',
         {"\ufffd": None}),
    ],
    ids=["name", "q", "filters.publisher", "source-url", "webhook-description", "password", "key"],
)  # fmt: skip
def test_a_lone_surrogate_is_a_422_naming_its_field(app, client, url, raw, field):
    headers = {"Authorization": f"Bearer {make_token('op@example.org', 'operator')}"}
    response = post_raw(client, url, raw, None if "/auth/" in url else headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert set(response.json) == SHAPE
    errors = response.json["errors"]
    while isinstance(field, dict):  # walk the expected path; each step must be there
        ((key, field),) = field.items()
        errors = errors[key]
    assert errors == [
        "Text may not contain unpaired surrogates (\\ud800-\\udfff): not valid Unicode."
    ]


def test_a_rating_comment_with_a_lone_surrogate_is_refused_not_emptied(app, client):
    dataset_id = write("city", [record("a")])["a"]
    headers = {"Authorization": f"Bearer {make_token('u@example.org')}"}
    url = f"/api/v1/datasets/{dataset_id}/rating"
    response = post_raw(client, url, f'{{"completeness": 3, "comment": {LONE}}}', headers, "PUT")
    assert response.status_code == 422 and set(response.json) == SHAPE
    assert "comment" in response.json["errors"]
    assert (
        client.get(f"/api/v1/datasets/{dataset_id}/quality", headers=headers).json["my_rating"]
        is None
    )
    # A paired escape is one astral character, valid and kept.
    kept = post_raw(
        client, url, '{"completeness": 3, "comment": "ok \\ud83d\\ude00"}', headers, "PUT"
    )
    assert kept.status_code in (200, 201) and kept.json["comment"] == "ok \U0001f600"


def test_pages_read_invalid_utf8_as_replacement_characters(app, client):
    """Query strings and form posts cannot carry a surrogate: werkzeug decodes invalid
    UTF-8 (%ED%A0%80 is a surrogate's bytes) to U+FFFD, a page answers normally (the
    API says so instead: a 400, test_api_consistency)."""
    assert client.get("/?q=%ED%A0%80").status_code == 200
    auth.create_user("a@example.org", "correct horse battery")
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    response = client.post("/login", data=f"csrf_token={csrf}&email=a%ED%A0%80@example.org&password=x",
                           content_type="application/x-www-form-urlencoded")  # fmt: skip
    assert response.status_code in (200, 400, 401, 422) and "<html" in response.get_data(
        as_text=True
    )
