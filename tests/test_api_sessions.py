"""Browser sessions (login, logout, CSRF) and rate limits on the account endpoints."""

from __future__ import annotations

ERROR_KEYS = {"code", "status", "message", "errors"}
CREDENTIALS = {"email": "ana@example.org", "password": "long password"}


def test_login_session_csrf_and_logout(client):
    client.post("/api/v1/auth/register", json=CREDENTIALS)
    login = client.post("/api/v1/auth/login", json=CREDENTIALS)
    assert login.status_code == 200
    csrf = login.json["csrf_token"]
    assert client.get("/api/v1/auth/me").json["email"] == "ana@example.org"

    body = {"name": "公交"}
    refused = client.post("/api/v1/scenarios", json=body)
    assert refused.status_code == 403 and set(refused.json) == ERROR_KEYS
    wrong = client.post("/api/v1/scenarios", json=body, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    created = client.post("/api/v1/scenarios", json=body, headers={"X-CSRF-Token": csrf})
    assert created.status_code == 201

    assert client.post("/api/v1/auth/logout").status_code == 204
    assert client.get("/api/v1/auth/me").status_code == 401
    assert client.get("/api/v1/scenarios").status_code == 401


def test_a_bad_bearer_header_does_not_fall_back_to_the_session(client):
    client.post("/api/v1/auth/register", json=CREDENTIALS)
    client.post("/api/v1/auth/login", json=CREDENTIALS)
    assert (
        client.get("/api/v1/auth/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    )


def test_wrong_password_does_not_log_in(client):
    client.post("/api/v1/auth/register", json=CREDENTIALS)
    response = client.post("/api/v1/auth/login", json={**CREDENTIALS, "password": "wrong password"})
    assert response.status_code == 401
    assert client.get("/api/v1/auth/me").status_code == 401


def test_login_is_rate_limited(app, client):
    app.config["SUBSCRIBE_LIMIT_LOGIN"] = "3 per minute"
    client.post("/api/v1/auth/register", json=CREDENTIALS)
    answers = [
        client.post("/api/v1/auth/login", json={**CREDENTIALS, "password": "guess"})
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert set(answers[-1].json) == ERROR_KEYS and "Retry-After" in answers[-1].headers


def test_registration_and_token_creation_are_rate_limited(app, client):
    app.config.update(
        SUBSCRIBE_LIMIT_REGISTER="2 per minute", SUBSCRIBE_LIMIT_TOKENS="2 per minute"
    )
    codes = [
        client.post(
            "/api/v1/auth/register", json={**CREDENTIALS, "email": f"u{i}@example.org"}
        ).status_code
        for i in range(3)
    ]
    assert codes == [201, 201, 429]
    body = {"email": "u0@example.org", "password": "long password"}
    codes = [client.post("/api/v1/auth/tokens", json=body).status_code for _ in range(3)]
    assert codes == [201, 201, 429]
