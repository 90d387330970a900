"""Accounts over HTTP: register, tokens, and the one error shape for bad requests."""

from __future__ import annotations

import pytest

ERROR_KEYS = {"code", "status", "message", "errors"}


def register(client, email="ana@example.org", password="s3cret-pass"):
    return client.post("/api/v1/auth/register", json={"email": email, "password": password})


def test_register_then_token_then_authenticated_call(client):
    response = register(client)
    assert response.status_code == 201
    assert response.json.keys() == {"id", "email", "role", "locale", "timezone"}
    assert response.json["email"] == "ana@example.org"

    response = client.post(
        "/api/v1/auth/tokens",
        json={"email": "ANA@example.org ", "password": "s3cret-pass", "name": "laptop"},
    )
    assert response.status_code == 201
    token = response.json["token"]
    assert token.startswith("sub_") and len(token) > 40

    listed = client.get("/api/v1/auth/tokens", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    assert (listed.json["total"], listed.json["page"], listed.json["per_page"]) == (1, 1, 20)
    assert [t["name"] for t in listed.json["items"]] == ["laptop"]
    assert "token" not in listed.json["items"][0]  # shown once, never again


def test_tokens_list_is_paged_like_every_list(client):
    register(client)
    body = {"email": "ana@example.org", "password": "s3cret-pass"}
    made = [
        client.post("/api/v1/auth/tokens", json={**body, "name": f"t{i}"}).json for i in range(3)
    ]
    headers = {"Authorization": f"Bearer {made[0]['token']}"}
    page = client.get("/api/v1/auth/tokens?page=2&per_page=2", headers=headers)
    assert page.status_code == 200
    assert page.json["total"] == 3 and [t["name"] for t in page.json["items"]] == ["t2"]
    bad = client.get("/api/v1/auth/tokens?per_page=101", headers=headers)
    assert bad.status_code == 400 and bad.json.keys() == ERROR_KEYS


def test_token_revocation(client):
    register(client)
    body = {"email": "ana@example.org", "password": "s3cret-pass", "name": "ci"}
    first = client.post("/api/v1/auth/tokens", json=body).json
    second = client.post("/api/v1/auth/tokens", json=body).json
    headers = {"Authorization": f"Bearer {first['token']}"}
    assert client.delete(f"/api/v1/auth/tokens/{second['id']}", headers=headers).status_code == 204
    again = client.get(
        "/api/v1/auth/tokens", headers={"Authorization": f"Bearer {second['token']}"}
    )
    assert again.status_code == 401 and again.json.keys() == ERROR_KEYS
    assert client.delete(f"/api/v1/auth/tokens/{second['id']}", headers=headers).status_code == 404


def test_other_users_tokens_are_not_found(client):
    register(client, "a@example.org")
    register(client, "b@example.org")
    a = client.post(
        "/api/v1/auth/tokens", json={"email": "a@example.org", "password": "s3cret-pass"}
    ).json
    b = client.post(
        "/api/v1/auth/tokens", json={"email": "b@example.org", "password": "s3cret-pass"}
    ).json
    response = client.delete(
        f"/api/v1/auth/tokens/{a['id']}", headers={"Authorization": f"Bearer {b['token']}"}
    )
    assert response.status_code == 404


def test_duplicate_registration_conflicts(client):
    register(client)
    response = register(client, email="Ana@Example.org")
    assert response.status_code == 409
    assert response.json["errors"] == {"email": ["taken"]}


def test_wrong_password_and_unknown_user_look_the_same(client):
    register(client)
    wrong = client.post(
        "/api/v1/auth/tokens", json={"email": "ana@example.org", "password": "nope-nope"}
    )
    unknown = client.post(
        "/api/v1/auth/tokens", json={"email": "who@example.org", "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json


def test_password_is_stored_with_argon2(app, client):
    from subscribe.auth.models import User
    from subscribe.extensions import db

    register(client)
    user = db.session.query(User).one()
    assert user.password_hash.startswith("$argon2id$")
    assert "s3cret-pass" not in user.password_hash


def test_production_hashes_use_the_recommended_argon2id_cost(
    app, client, production_password_hashes
):
    """The suite hashes at the cheapest cost (conftest.cheap_password_hashes); what a
    deployment stores is argon2-cffi's recommended Argon2id (RFC 9106, low memory)."""
    from argon2 import extract_parameters, profiles

    from subscribe.auth.models import User
    from subscribe.extensions import db

    register(client)
    stored = extract_parameters(db.session.query(User).one().password_hash)
    assert stored == profiles.RFC_9106_LOW_MEMORY


def test_a_cheaper_stored_hash_is_upgraded_at_login(app, client, production_password_hashes):
    """An account whose hash was made at a lower cost (an older default) gets the current
    cost the next time its password is given, and still signs in with it after."""
    from argon2 import PasswordHasher, extract_parameters, profiles

    from subscribe.auth.models import User
    from subscribe.extensions import db

    register(client)
    user = db.session.query(User).one()
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(
        "s3cret-pass"
    )
    db.session.commit()
    for _ in range(2):
        answer = client.post(
            "/api/v1/auth/tokens", json={"email": "ana@example.org", "password": "s3cret-pass"}
        )
        assert answer.status_code == 201, answer.json
        db.session.expire_all()
        stored = extract_parameters(db.session.query(User).one().password_hash)
        assert stored == profiles.RFC_9106_LOW_MEMORY


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "password": "long enough"}, "email"),
        ({"email": "a@example.org", "password": "short"}, "password"),
        ({"email": "a@example.org"}, "password"),
        ({"email": "a@example.org", "password": 12345678}, "password"),
        ({"email": "a@example.org", "password": "long enough", "admin": True}, "admin"),
        ({"email": "a@example.org", "password": "x" * 100_000}, "password"),
    ],
)
def test_invalid_registrations_get_the_error_shape(client, body, field):
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert response.json.keys() == ERROR_KEYS
    assert field in response.json["errors"]


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[" * 100_000 + "]" * 100_000,  # RecursionError in the decoder (QA)
        '{"email": ' + "[" * 500 + "]" * 500 + "}",  # decodable, then recursion (QA)
        '{"email": ' + "[" * 40 + "]" * 40 + "}",  # deeper than any body of this API
    ],
    ids=["malformed", "nested-too-deeply", "nested-500", "nested-40"],
)
def test_malformed_json_is_a_4xx_with_the_error_shape(client, body):
    response = client.post("/api/v1/auth/register", data=body, content_type="application/json")
    assert 400 <= response.status_code < 500, response.json
    assert response.json.keys() == ERROR_KEYS
    assert response.json["errors"] == {"json": ["Invalid JSON body."]}


def test_unknown_path_and_wrong_method_use_the_error_shape(client):
    missing = client.get("/api/v1/nowhere")
    assert missing.status_code == 404 and missing.json["status"] == "Not Found"
    wrong = client.get("/api/v1/auth/register")
    assert wrong.status_code == 405 and wrong.json.keys() == ERROR_KEYS
    assert (
        set(wrong.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
        and wrong.mimetype == "application/json"
    )


def test_openapi_document_lists_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/auth/register", "/api/v1/auth/tokens", "/api/v1/sources",
                 "/api/v1/sources/{source_id}/harvest"):  # fmt: skip
        assert path in spec["paths"]
    assert {"bearerAuth": []} in spec["paths"]["/api/v1/sources"]["get"]["security"]


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a\x00@example.org", "password": "correct horse battery"},
        {"email": "a@example.org", "password": "correct horse battery", "x": [[{"k\x00": 1}]]},
    ],
    ids=["value", "nested-key"],
)
def test_a_nul_anywhere_in_a_body_is_refused(client, body):
    response = client.post("/api/v1/auth/register", json=body)
    assert response.status_code == 422
    assert response.json.keys() == ERROR_KEYS
    assert "NUL" in str(response.json["errors"])
