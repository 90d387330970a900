"""A data.json that is a bare top-level array of datasets (Project Open Data 1.0) is read
as the dataset list (bb8 acceptance 6: it was taken for JSON-LD, 20 bad records)."""

from __future__ import annotations

import json

import pytest

from subscribe.catalog.harvesters import dcat
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.catalog.records import DatasetRecord, HarvestError
from tests.catalog_helpers import LOOPBACK
from tests.conftest import DATA

ARRAY = DATA / "dcat-bb8" / "v10array.json"


def harvest(httpserver, body: bytes) -> tuple[list, HarvestContext]:
    httpserver.expect_request("/data.json").respond_with_data(body, content_type="application/json")
    ctx = HarvestContext(url=httpserver.url_for("/data.json"),
                         session=make_session(LOOPBACK, retries=0), timeout=5)  # fmt: skip
    return list(dcat.harvest(ctx)), ctx


def test_a_bare_array_of_datasets_is_the_dataset_list(httpserver):
    records, ctx = harvest(httpserver, ARRAY.read_bytes())
    assert len(records) == 20 and all(isinstance(r, DatasetRecord) for r in records)
    assert ctx.full_listing is True
    first = json.loads(ARRAY.read_text())[0]
    record = records[0]
    assert record.identifier == first["identifier"] and record.title == first["title"]
    assert record.publisher == first["publisher"]["name"]
    assert record.resources and record.contact_point


def test_the_same_datasets_in_a_catalog_object_read_the_same(httpserver):
    items = json.loads(ARRAY.read_text())
    wrapped = {"conformsTo": "https://project-open-data.cio.gov/v1.1/schema", "dataset": items}
    from_catalog, _ = harvest(httpserver, json.dumps(wrapped).encode())
    httpserver.clear()
    from_array, _ = harvest(httpserver, ARRAY.read_bytes())
    assert [r.canonical() for r in from_array] == [r.canonical() for r in from_catalog]


def test_an_array_of_other_things_is_no_catalog(httpserver):
    with pytest.raises(HarvestError, match="neither a DCAT-US"):
        harvest(httpserver, b'[{"name": "x"}, 3]')
