"""Real DCAT-US catalogs into the database: duplicates upstream never flip-flop versions."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.models import DatasetVersion
from subscribe.extensions import db
from tests.conftest import healthdata_bytes


@pytest.fixture
def healthdata(httpserver):
    body = healthdata_bytes()
    httpserver.expect_request("/data.json").respond_with_data(body, content_type="application/json")
    return json.loads(body), httpserver.url_for("/data.json")


def harvest(source):
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    return execute_run(run)


def test_healthdata_twice(app, healthdata):
    catalog, url = healthdata
    items = catalog["dataset"]
    distinct = {d["identifier"] for d in items}
    source = services.create_source("healthdata", "dcat", url)

    first = harvest(source)
    assert first.status == "succeeded"
    assert first.created == len(distinct)
    # Repeated identifiers whose records differ are reported, never silently merged.
    assert first.bad == sum(1 for e in first.errors if "duplicate identifier" in e["reason"]) > 0
    assert first.created + first.bad <= len(items)

    second = harvest(source)
    assert (second.created, second.updated, second.deleted) == (0, 0, 0)
    assert second.unchanged == len(distinct)
    versions = db.session.scalar(select(func.count()).select_from(DatasetVersion))
    assert versions == len(distinct)  # no version churn from the duplicates
