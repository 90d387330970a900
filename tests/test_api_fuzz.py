"""Property-based fuzzing of the whole API from its own OpenAPI document: never a 5xx.

Also checks that the document itself is valid OpenAPI 3 and lists every public path.
"""

from __future__ import annotations

import os

import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error

from tests.conftest import make_token

# CI replays the same cases (a green run stays green); SUBSCRIBE_FUZZ_RANDOM=1 explores new ones.
DERANDOMIZE = not os.environ.get("SUBSCRIBE_FUZZ_RANDOM")
EXPECTED_PATHS = {
    "/api/v1/auth/register", "/api/v1/auth/tokens", "/api/v1/auth/tokens/{token_id}",
    "/api/v1/auth/login", "/api/v1/auth/logout", "/api/v1/auth/me",
    "/api/v1/datasets", "/api/v1/datasets/{dataset_id}",
    "/api/v1/scenarios", "/api/v1/scenarios/{scenario_id}", "/api/v1/scenarios/{scenario_id}/datasets",
    "/api/v1/scenarios/{scenario_id}/report", "/api/v1/scenarios/{scenario_id}/events",
    "/api/v1/subscriptions", "/api/v1/subscriptions/{subscription_id}",
    "/api/v1/webhooks", "/api/v1/webhooks/{endpoint_id}",
    "/api/v1/sources", "/api/v1/sources/{source_id}", "/api/v1/sources/{source_id}/harvest",
    "/api/v1/sources/{source_id}/runs",
}  # fmt: skip


def test_openapi_document_is_valid_and_complete(client):
    spec = client.get("/api/v1/openapi.json").json
    validate(spec)  # raises on any violation of the OpenAPI 3 schema
    assert set(spec["paths"]) >= EXPECTED_PATHS
    assert client.get("/api/v1/docs").status_code == 200


def test_no_request_makes_a_server_error(app):
    token = make_token("fuzz-operator@example.org", "operator")
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 30
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def no_server_error(case):
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        no_server_error()
