"""A DCAT-US catalog that switches how it identifies datasets (bb8 F21: the Department
of Education's data.json with every identifier that is no URL rewritten as one,
NCES_2017002 -> https://data.ed.gov/dataset/NCES_2017002, nothing else changed, as a
portal migrating to ckanext-dcat does) deleted and created 51 datasets with
mapping_report null. An entry whose identifier is not stored takes the stored dataset
the listing no longer names that it matches one to one, by landing page, else title and
publisher (dcat.carried_schemes); reported in identity.carried_over, no events, and the
datasets stored under their new identifiers. Real file on loopback, real database."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.models import CatalogEvent, Dataset
from subscribe.extensions import db
from tests.conftest import FIXTURES
from tests.search_helpers import harvest, serve

CATALOG = json.loads((FIXTURES / "catalogs" / "small-education.data.json").read_text())


def rewritten(catalog: dict) -> dict:
    datasets = []
    for dataset in catalog["dataset"]:
        identifier = dataset.get("identifier", "")
        if identifier and not identifier.startswith("http"):
            dataset = {**dataset, "identifier": f"https://data.ed.gov/dataset/{identifier}"}
        datasets.append(dataset)
    return {**catalog, "dataset": datasets}


def publish(httpserver, catalog: dict) -> str:
    httpserver.clear()
    return serve(httpserver, "/data.json", json.dumps(catalog).encode(), "application/json")


def active() -> dict[int, str]:
    query = select(Dataset.id, Dataset.identifier).where(Dataset.deleted_at.is_(None))
    return dict(db.session.execute(query).all())


def event_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CatalogEvent))


def test_a_catalog_switching_its_identifier_scheme_keeps_its_datasets(app, httpserver):
    source = services.create_source("edu", "dcat", publish(httpserver, CATALOG))
    first = harvest(source)
    before, told = active(), event_count()
    assert first.created == len(before) == 89

    publish(httpserver, rewritten(CATALOG))
    run = harvest(source)
    assert (run.created, run.deleted) == (0, 0)
    assert run.updated + run.unchanged == 89 and event_count() == told
    carried = run.mapping_report["identity"]["carried_over"]
    assert carried["datasets"] == 52  # NCES_2016999's two surveys told apart: both
    now = active()
    assert now.keys() == before.keys()
    renamed = {id_ for id_ in before if now[id_] != before[id_]}
    assert len(renamed) == 52
    assert all(
        now[id_] == f"https://data.ed.gov/dataset/{before[id_]}"
        or now[id_].startswith("https://data.ed.gov/dataset/NCES_2016999#")
        for id_ in renamed
    )

    again = harvest(source)  # settled: stored under the new identifiers, nothing to carry
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)
    assert "carried_over" not in again.mapping_report["identity"] and event_count() == told


def test_a_new_identifier_matching_nothing_is_a_new_dataset(app, httpserver):
    """A dataset removed and another added, sharing neither landing page nor title and
    publisher: a deletion and a creation, as ever."""
    source = services.create_source("edu", "dcat", publish(httpserver, CATALOG))
    harvest(source)
    datasets = list(CATALOG["dataset"])
    gone = next(d for d in datasets if not d["identifier"].startswith("http"))
    other = {**gone, "identifier": "NEW-1", "title": "Something else entirely",
             "landingPage": "https://example.org/other"}  # fmt: skip
    datasets[datasets.index(gone)] = other
    run = harvest_catalog(httpserver, source, {**CATALOG, "dataset": datasets})
    assert (run.created, run.deleted) == (1, 1)
    assert list(run.mapping_report["identity"]) == ["told_apart"]  # NCES_2016999 only


def harvest_catalog(httpserver, source, catalog: dict):
    publish(httpserver, catalog)
    return harvest(source)


def jsonld(identified: bool) -> bytes:
    """Five DCAT-AP datasets named by IRIs, with (``identified``) a dct:identifier each."""
    graph = [
        {"@id": f"https://data.example.eu/set/{n}", "@type": "dcat:Dataset",
         "dct:title": f"Set {n}", "dct:publisher": {"foaf:name": "Office"},
         **({"dct:identifier": f"SET-{n}"} if identified else {}),
         "dcat:landingPage": {"@id": f"https://data.example.eu/set/{n}/page"}}
        for n in range(5)
    ]  # fmt: skip
    context = {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
               "foaf": "http://xmlns.com/foaf/0.1/"}  # fmt: skip
    return json.dumps({"@context": context, "@graph": graph}).encode()


def test_dcat_ap_datasets_gaining_identifiers_keep_their_datasets(app, httpserver):
    """Named by their IRIs, then given a dct:identifier each (SET-n): carried by landing
    page, stored under the new identifiers."""
    url = serve(httpserver, "/catalog.jsonld", jsonld(False), "application/ld+json")
    source = services.create_source("eu", "dcat", url)
    assert harvest(source).created == 5
    before, told = active(), event_count()
    httpserver.clear()
    serve(httpserver, "/catalog.jsonld", jsonld(True), "application/ld+json")
    run = harvest(source)
    assert (run.created, run.deleted, run.updated, run.unchanged) == (0, 0, 0, 5)
    assert event_count() == told
    assert run.mapping_report["identity"]["carried_over"]["by"] == {"landing page": 5}
    assert active() == {id_: f"SET-{iri.rsplit('/', 1)[1]}" for id_, iri in before.items()}
