"""Real DCAT-US catalogs into the database: duplicates upstream never flip-flop versions."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.models import Dataset, DatasetVersion
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
    # Repeated identifiers are reported, never silently merged: an older listing is set
    # aside for the later-modified one; of equally dated ones, a different second.
    reasons = [e["reason"] for e in first.errors]
    set_aside = sum(1 for r in reasons if "listed again with a later modified date" in r)
    assert first.bad == set_aside + sum(1 for r in reasons if "duplicate identifier" in r)
    assert set_aside > 0
    assert first.created + first.bad <= len(items)

    second = harvest(source)
    assert (second.created, second.updated, second.deleted) == (0, 0, 0)
    assert second.unchanged == len(distinct)
    versions = db.session.scalar(select(func.count()).select_from(DatasetVersion))
    assert versions == len(distinct)  # no version churn from the duplicates


def test_a_dataset_listed_twice_keeps_its_latest_listing(app, healthdata):
    """healthdata.gov lists https://data.cdc.gov/api/views/ksf9-pem2 twice: first as
    modified 2015-01-21 ("…, 2012, Region 1 - Boston"), later as modified 2017-10-23
    ("…, 2012 & 2014, Region 1 - Boston"). The dataset is the later one, whatever the
    order; where the newer listing comes first (medicare ijh5-nb2v) it stays."""
    catalog, url = healthdata
    listed = {}
    for item in catalog["dataset"]:
        listed.setdefault(item["identifier"], []).append(item)
    source = services.create_source("healthdata", "dcat", url)
    run = harvest(source)
    assert run.status == "succeeded"

    def stored(identifier):
        return db.session.scalars(
            select(Dataset).where(Dataset.source_id == source.id, Dataset.identifier == identifier)
        ).one()

    boston = "https://data.cdc.gov/api/views/ksf9-pem2"
    assert [i["modified"] for i in listed[boston]] == ["2015-01-21", "2017-10-23"]
    assert stored(boston).title == listed[boston][1]["title"]
    assert "2012 & 2014" in stored(boston).title
    medicare = "https://data.medicare.gov/api/views/ijh5-nb2v"
    assert [i["modified"] for i in listed[medicare]] == ["2019-06-27", "2018-04-03"]
    assert stored(medicare).title == listed[medicare][0]["title"]
    reasons = {e["reference"]: e["reason"] for e in run.errors}
    assert "(2017-10-23)" in reasons[boston] and "modified 2015-01-21" in reasons[boston]

    again = harvest(source)  # stable: the same listing chosen, nothing updated
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
