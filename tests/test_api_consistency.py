"""API consistency findings of black-box run 5 (L3–L7), each as its kind:

- L3: an id both pinned and excluded was taken (201); repeats are dropped.
- L4: one error shape: a field's errors are at ``errors.<field>`` whether a request did
  not validate or a service refused it (validation said ``errors.json.include``).
- L5: control characters in text were stored (a scenario named "x\\x10").
- L6: a query parameter an endpoint does not take was dropped silently
  (``/audit/mine?since=abc`` answered 200).
- L7: a 30 MB JSON body was read whole and answered 422: now 413 before reading.
"""

from __future__ import annotations

import io
import json

import pytest

from subscribe.catalog import services as catalog
from tests.conftest import make_token
from tests.quality_helpers import record, write

SHAPE = {"code", "status", "message", "errors"}


@pytest.fixture
def user(app):
    return {"Authorization": f"Bearer {make_token('u@example.org')}"}


@pytest.fixture
def ids(app) -> list[int]:
    written = write("city", [record("a"), record("b")])
    return [written["a"], written["b"]]


# --- L3 ----------------------------------------------------------------------------


def test_an_id_both_pinned_and_excluded_is_a_422_naming_it(client, user, ids):
    one, two = ids
    body = {"name": "x", "include": [one, one, one, two], "exclude": [one]}
    response = client.post("/api/v1/scenarios", json=body, headers=user)
    assert response.status_code == 422 and set(response.json) == SHAPE
    assert response.json["errors"] == {
        "include": [f"also excluded: [{one}]"], "exclude": [f"also pinned: [{one}]"]
    }  # fmt: skip
    assert client.get("/api/v1/scenarios", headers=user).json["total"] == 0


def test_repeated_pins_are_kept_once(client, user, ids):
    one, two = ids
    body = {"name": "x", "include": [two, one, two, one], "exclude": []}
    created = client.post("/api/v1/scenarios", json=body, headers=user)
    assert created.status_code == 201 and created.json["include"] == [two, one]


def test_an_update_excluding_a_stored_pin_is_a_422(client, user, ids):
    one, two = ids
    created = client.post("/api/v1/scenarios", json={"name": "x", "include": [one]}, headers=user)
    url = f"/api/v1/scenarios/{created.json['id']}"
    refused = client.patch(url, json={"exclude": [two, one]}, headers=user)
    assert refused.status_code == 422 and refused.json["errors"]["exclude"] == [
        f"also pinned: [{one}]"
    ]
    moved = client.patch(url, json={"include": [], "exclude": [one]}, headers=user)
    assert moved.status_code == 200 and (moved.json["include"], moved.json["exclude"]) == (
        [], [one]
    )  # fmt: skip


# --- L4 ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field", "says"),
    [
        ("/api/v1/scenarios", {"name": "x", "include": ["one"]}, "include", "Not a valid"),
        ("/api/v1/scenarios", {"name": "x", "include": [999_999]}, "include", "unknown"),
        ("/api/v1/webhooks", {"url": "ftp://example.org/h"}, "url", ""),
        ("/api/v1/webhooks", {"url": "http://127.0.0.1:9/h"}, "url", ""),
        ("/api/v1/scenarios", {"name": "x", "filters": {"open_type": ["sometimes"]}},
         "filters", ""),
    ],
    ids=["include-invalid", "include-unknown", "url-invalid", "url-refused", "nested"],
)  # fmt: skip
def test_a_fields_errors_are_under_its_name_validation_or_service(
    app, client, user, path, body, field, says
):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = []  # the default (tests allow loopback)
    response = client.post(path, json=body, headers=user)
    assert response.status_code == 422 and set(response.json) == SHAPE
    assert list(response.json["errors"]) == [field]
    assert says in json.dumps(response.json["errors"][field])


def test_query_errors_are_under_the_parameters_name(client, user):
    response = client.get("/api/v1/scenarios?per_page=1000", headers=user)
    assert response.status_code == 400 and list(response.json["errors"]) == ["per_page"]


def test_a_body_that_is_no_json_says_so_under_json(client, user):
    response = client.post(
        "/api/v1/scenarios", data=b"{", content_type="application/json", headers=user
    )
    assert response.status_code in (400, 422) and "json" in response.json["errors"]


# --- L5 ----------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\x10", "\x1b", "\x7f", "\x85", "\x9f", "\ufffe", "\x0b"])
def test_control_characters_are_a_422_naming_the_field(client, user, char):
    response = client.post("/api/v1/scenarios", json={"name": f"x{char}y"}, headers=user)
    assert response.status_code == 422 and set(response.json) == SHAPE
    assert response.json["errors"] == {
        "name": [
            f"Text may not contain control characters (U+{ord(char):04X}); tab and line "
            "breaks are allowed."
        ]
    }
    assert client.get("/api/v1/scenarios", headers=user).json["total"] == 0


def test_control_characters_deep_in_a_body_or_query_are_named_there(client, user):
    body = {"name": "x", "filters": {"publisher": ["ok", "bad\x10"]}}
    response = client.post("/api/v1/scenarios", json=body, headers=user)
    assert response.status_code == 422
    assert list(response.json["errors"]["filters"]["publisher"]) == ["1"]
    listing = client.get("/api/v1/datasets", query_string={"q": "a\x10"})
    assert listing.status_code == 400 and list(listing.json["errors"]) == ["q"]


@pytest.mark.parametrize("raw, field", [("q=%ED%A0%80", "q"), ("q=ok&publisher=%FF", "publisher"),
                                        ("q=%E5%85%AC%E4%BA", "q")])  # fmt: skip
def test_a_query_that_is_not_utf8_is_a_400_naming_the_parameter(client, user, raw, field):
    """%ED%A0%80 (an encoded surrogate), %FF, a cut character: Werkzeug reads them as
    U+FFFD, and the search answered 200 for replacement characters (bb7 L11)."""
    response = client.get(f"/api/v1/datasets?{raw}")
    assert response.status_code == 400 and list(response.json["errors"]) == [field]
    assert client.get("/api/v1/datasets?q=%E5%85%AC%E4%BA%A4").status_code == 200  # 公交


def test_a_blank_filter_value_is_no_filter(app, client, user, httpserver):
    """A form's empty choice sends ?source= : it matched no dataset, and ?open_type= was a
    400 (bb7 L11). A blank value is left out; the others still filter."""
    from tests.search_helpers import load_catalogs

    load_catalogs(httpserver)
    everything = client.get("/api/v1/datasets").json["total"]
    assert everything > 0
    for raw in ("source=&theme=", "open_type=", "publisher=%20&format=", "frequency="):
        response = client.get(f"/api/v1/datasets?{raw}")
        assert response.status_code == 200 and response.json["total"] == everything, raw
    assert client.get("/api/v1/datasets?source=&source=nowhere").json["total"] == 0


def test_tabs_and_line_breaks_are_text(client, user):
    body = {"name": "x", "description": "line one\r\nline\ttwo\n"}
    response = client.post("/api/v1/scenarios", json=body, headers=user)
    assert response.status_code == 201, response.json


# --- L6 ----------------------------------------------------------------------------


def test_audit_mine_takes_the_time_range_and_refuses_a_bad_one(client, user):
    client.post("/api/v1/scenarios", json={"name": "x"}, headers=user)
    bad = client.get("/api/v1/audit/mine?since=abc", headers=user)
    assert bad.status_code == 400 and set(bad.json) == SHAPE
    assert list(bad.json["errors"]) == ["since"]
    mine = client.get("/api/v1/audit/mine", headers=user).json
    assert mine["total"] >= 1
    later = client.get("/api/v1/audit/mine?since=2999-01-01T00:00:00", headers=user)
    assert later.status_code == 200 and later.json["total"] == 0
    assert client.get("/api/v1/audit/mine?since=2000-01-01", headers=user).json == mine


@pytest.mark.parametrize(
    "path", ["/api/v1/audit/mine?sinse=2024-01-01", "/api/v1/scenarios?pge=2",
             "/api/v1/datasets?sourse=city"],
)  # fmt: skip
def test_a_query_parameter_the_endpoint_does_not_take_is_a_400(client, user, path):
    response = client.get(path, headers=user)
    assert response.status_code == 400 and set(response.json) == SHAPE
    assert list(response.json["errors"]) == [path.split("?")[1].split("=")[0]]


# --- L7 ----------------------------------------------------------------------------


def test_a_body_past_the_limit_is_a_413_before_it_is_read(app, client, user):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert limit == 2 * 1024 * 1024  # the default
    big = json.dumps({"name": "x", "description": "y" * limit}).encode()
    response = client.post(
        "/api/v1/scenarios", data=big, content_type="application/json", headers=user
    )
    assert response.status_code == 413 and set(response.json) == SHAPE
    assert str(limit) in response.json["message"]
    under = json.dumps({"name": "x", "include": list(range(1, 10_001))}).encode()
    assert len(under) < limit  # the largest body an endpoint takes passes the cap
    response = client.post(
        "/api/v1/scenarios", data=under, content_type="application/json", headers=user
    )
    assert response.status_code == 422 and "unknown" in response.json["errors"]["include"][0]


def test_the_body_limit_is_configurable(app, client, user, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 100)
    body = {"name": "x", "description": "y" * 200}
    response = client.post("/api/v1/scenarios", json=body, headers=user)
    assert response.status_code == 413 and "100 bytes" in response.json["message"]


def chunked(client, path: str, body: bytes, headers: dict):
    """POST `body` as a chunked request: no Content-Length, so the cap is only met while
    reading (wsgi.input_terminated, as gunicorn and werkzeug's server set for chunked)."""
    return client.post(
        path, input_stream=io.BytesIO(body), content_type="application/json",
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )  # fmt: skip


def test_a_chunked_body_past_the_limit_is_the_same_413(app, client, user, operator_headers):
    """bb6: a chunked 3 MiB body was a 400 "Invalid JSON body." (werkzeug's 413, raised
    mid-read, was taken for unparsable JSON), the same body with a length a 413."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = json.dumps({"name": "x", "description": "y" * (limit + limit // 2)}).encode()
    response = chunked(client, "/api/v1/scenarios", big, user)
    assert response.status_code == 413 and set(response.json) == SHAPE
    assert str(limit) in response.json["message"] and response.json["errors"] == {}
    source = catalog.create_source("s", "tabular", "https://data.example.cn/x.csv")
    mapping = {"mapping": {"fields": {"title": "y" * (limit + 10)}}}
    path = f"/api/v1/sources/{source.id}/preview"
    response = chunked(client, path, json.dumps(mapping).encode(), operator_headers)
    assert response.status_code == 413 and set(response.json) == SHAPE
    # Under the cap, a chunked body is read like any other.
    response = chunked(client, "/api/v1/scenarios", b'{"name": "chunked"}', user)
    assert response.status_code == 201 and response.json["name"] == "chunked"


def test_every_date_precision_is_documented(app, client):
    """bb6: "week" was answered but named neither in the README nor in the OpenAPI
    descriptions of issued_precision / modified_precision."""
    from pathlib import Path

    from subscribe.catalog.normalize import PRECISIONS

    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    described = [
        props[name]["description"]
        for schema in schemas.values()
        for props in [schema.get("properties", {})]
        for name in ("issued_precision", "modified_precision")
        if name in props
    ]
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    documented = readme.split('"modified_precision"', 1)[1][:600]
    assert described
    for precision in PRECISIONS:
        assert all(precision in text for text in described), precision
        assert f"`{precision}`" in documented, precision


# --- a JSON body sent under another Content-Type (bb6) ------------------------------


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", None]
)  # fmt: skip
def test_a_body_not_labelled_json_is_a_415_saying_so(client, user, content_type):
    # curl -d '{"name": "x"}' sends form-urlencoded: before, a 422 "name: missing".
    headers = {**user, **({"Content-Type": content_type} if content_type else {})}
    response = client.post("/api/v1/scenarios", data='{"name": "x"}', headers=headers)
    assert response.status_code == 415 and set(response.json) == SHAPE
    assert "application/json" in response.json["message"]
    assert list(response.json["errors"]) == ["json"]
    labelled = client.post("/api/v1/scenarios", json={"name": "x"}, headers=user)
    assert labelled.status_code == 201
