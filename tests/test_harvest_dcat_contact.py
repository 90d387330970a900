"""DCAT-US contactPoint is read (bb8 acceptance 4): small-education's datasets each name a
vcard:Contact {fn, hasEmail: "mailto:…"}; it was dropped (contact_point "") and quality
said no dataset of the catalog provides one. Reading it must not flood an existing source:
the first run after the change stores it quietly.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvesters import dcat, dcat_us
from subscribe.catalog.models import Dataset, DatasetVersion
from subscribe.extensions import db
from tests.catalog_helpers import run_harvest as harvest
from tests.conftest import FIXTURES

EDUCATION = FIXTURES / "catalogs" / "small-education.data.json"


@pytest.fixture
def education(httpserver):
    httpserver.expect_request("/data.json").respond_with_data(
        EDUCATION.read_bytes(), content_type="application/json"
    )
    return httpserver.url_for("/data.json")


def test_contact_point_is_name_and_email():
    item = next(d for d in json.loads(EDUCATION.read_text())["dataset"]
                if d["identifier"] == "NCES_2017002")  # fmt: skip
    assert dcat_us.dataset_record(item).contact_point == "Lydia Malley <lydia.malley@ed.gov>"
    assert dcat_us.contact_point({"hasEmail": "mailto:a@b.gov"}) == "a@b.gov"
    assert dcat_us.contact_point({"fn": "Desk"}) == "Desk"
    assert dcat_us.contact_point(None) == ""


def test_harvest_stores_it_and_an_upgrade_is_quiet(app, education, monkeypatch):
    with monkeypatch.context() as patch:  # harvested as before: no contact point read
        patch.setattr(dcat, "READINGS", {})
        patch.setattr(dcat_us, "contact_point", lambda value: "")
        source = services.create_source("edu", "dcat", education)
        first = harvest(source)
        first.mapping_report = None  # a run from before harvested_as was recorded
        db.session.commit()
    assert first.created > 0
    run = harvest(source)
    assert (run.status, run.created, run.updated, run.deleted) == ("succeeded", 0, 0, 0)
    stored = db.session.scalar(select(Dataset).where(Dataset.identifier == "NCES_2017002"))
    assert stored.contact_point == "Lydia Malley <lydia.malley@ed.gov>" and stored.version == 1
    blank = db.session.scalar(
        select(func.count()).select_from(Dataset).where(Dataset.contact_point == "")
    )
    assert blank == 0
    versions = db.session.scalar(select(func.count()).select_from(DatasetVersion))
    assert versions == first.created
