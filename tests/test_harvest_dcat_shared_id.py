"""Different DCAT datasets under one identifier are all published (finding: in
small-education.data.json NCES_2016999 names both "National Teacher and Principal
Survey, 2015-16" and "Principal Follow-Up Survey, 2016-17", which share no title or URL;
one was set aside as a bad record and could not be found). Each is told apart as
NCES_2016999#<10 hex> of its landing page (listed_twice), whatever the file's order and
dates; the stored datasets are carried across the upgrade and across one of them
leaving (dcat.carried_schemes, by landing page): no deletion and creation. Real file on
loopback, real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.models import CatalogEvent, Dataset
from subscribe.extensions import db
from tests.conftest import FIXTURES
from tests.search_helpers import harvest, serve

CATALOG = json.loads((FIXTURES / "catalogs" / "small-education.data.json").read_text())
SHARED = "NCES_2016999"
NTPS = "National Teacher and Principal Survey, 2015-16"
PFS = "Principal Follow-Up Survey, 2016-17"


def entry(title: str) -> dict:
    return next(d for d in CATALOG["dataset"] if d.get("title", "").startswith(title))


def told(landing: str) -> str:
    """The told-apart identifier of a NCES_2016999 entry with this landing page."""
    key = landing.split("://", 1)[-1].rstrip("/").lower()
    digest = hashlib.sha1("\x1f".join([SHARED, f"u:{key}"]).encode()).hexdigest()
    return f"{SHARED}#{digest[:10]}"


def without(title: str) -> dict:
    return {**CATALOG, "dataset": [d for d in CATALOG["dataset"] if d is not entry(title)]}


def run(httpserver, source, catalog: dict):
    httpserver.clear()
    serve(httpserver, "/data.json", json.dumps(catalog).encode(), "application/json")
    return harvest(source)


def shared() -> dict[str, tuple[int, str]]:
    """{identifier: (dataset id, title)} of the active NCES_2016999 datasets."""
    query = select(Dataset.identifier, Dataset.id, Dataset.title).where(
        Dataset.deleted_at.is_(None), Dataset.identifier.like(f"{SHARED}%")
    )
    return {identifier: (id_, title) for identifier, id_, title in db.session.execute(query)}


def events() -> list[tuple[str, int]]:
    query = select(CatalogEvent.type, CatalogEvent.dataset_id).order_by(CatalogEvent.id)
    return [tuple(row) for row in db.session.execute(query)]


def test_both_surveys_are_published_told_apart_by_landing_page(app, httpserver):
    assert entry(NTPS)["identifier"] == entry(PFS)["identifier"] == SHARED
    source = services.create_source("edu", "dcat", httpserver.url_for("/data.json"))
    first = run(httpserver, source, CATALOG)
    assert (first.created, first.bad) == (89, 0)
    ntps, pfs = told(entry(NTPS)["landingPage"]), told(entry(PFS)["landingPage"])
    assert {i: title for i, (_id, title) in shared().items()} == {ntps: NTPS, pfs: PFS}
    assert first.mapping_report["identity"]["told_apart"]["shared"] == {SHARED: 2}

    # (c) the file reordered, and a survey's modified date moved: same identities
    moved = json.loads(json.dumps(CATALOG))
    moved["dataset"].reverse()
    next(d for d in moved["dataset"] if d["title"] == NTPS)["modified"] = "2019-05-05"
    before, seen = shared(), len(events())
    again = run(httpserver, source, moved)
    assert (again.created, again.deleted, again.bad) == (0, 0, 0)
    assert shared().keys() == before.keys()
    assert [kind for kind, _id in events()[seen:]] == ["dataset.updated"]  # the date only


def test_the_upgrade_carries_the_stored_plain_identifier_quietly(app, httpserver):
    """(a) Before the upgrade NCES_2016999 held the Principal Follow-Up Survey (the other
    set aside): the first run after it carries that dataset to its told-apart identifier
    by landing page, no event, and creates the other survey."""
    source = services.create_source("edu", "dcat", httpserver.url_for("/data.json"))
    first = run(httpserver, source, without(NTPS))  # the state the old code left
    assert first.created == 88 and shared().keys() == {SHARED}
    (pfs_id, _title) = shared()[SHARED]
    seen = len(events())

    upgraded = run(httpserver, source, CATALOG)
    assert (upgraded.created, upgraded.updated, upgraded.deleted) == (1, 0, 0)
    ntps, pfs = told(entry(NTPS)["landingPage"]), told(entry(PFS)["landingPage"])
    now = shared()
    assert now.keys() == {ntps, pfs} and now[pfs] == (pfs_id, PFS)
    assert events()[seen:] == [("dataset.created", now[ntps][0])]
    assert upgraded.mapping_report["identity"]["carried_over"]["datasets"] == 1

    settled = run(httpserver, source, CATALOG)  # stored under the new identifiers: quiet
    assert (settled.created, settled.updated, settled.deleted) == (0, 0, 0)
    assert "carried_over" not in settled.mapping_report["identity"]
    assert len(events()) == seen + 1


def test_a_survey_left_alone_keeps_its_dataset_under_the_plain_identifier(app, httpserver):
    """(b) One survey leaves the file: it is deleted; the other, alone again, takes the
    plain identifier and keeps its stored dataset (no deletion and creation)."""
    source = services.create_source("edu", "dcat", httpserver.url_for("/data.json"))
    run(httpserver, source, CATALOG)
    ntps, pfs = told(entry(NTPS)["landingPage"]), told(entry(PFS)["landingPage"])
    stored = shared()
    seen = len(events())

    alone = run(httpserver, source, without(PFS))
    assert (alone.created, alone.updated, alone.deleted) == (0, 0, 1)
    assert shared() == {SHARED: stored[ntps]}
    assert events()[seen:] == [("dataset.deleted", stored[pfs][0])]
    assert "told_apart" not in alone.mapping_report["identity"]

    # and back: told apart again, the survey left alone keeps its dataset, the one that
    # came back is its deleted dataset again (as any dataset listed again)
    back = run(httpserver, source, CATALOG)
    assert (back.created + back.updated, back.deleted) == (1, 0)
    assert shared() == stored
    assert [i for _kind, i in events()[seen + 1 :]] == [stored[pfs][0]]


def url_catalog(*titles: str) -> dict:
    """Datasets all identified by one URL, each with its own landing page."""
    datasets = [{"identifier": "https://data.example.org/ds/1", "title": title,
                 "landingPage": f"https://example.org/{title.lower()}",
                 "publisher": {"name": "Office"}, "modified": "2020-01-01"}
                for title in titles]  # fmt: skip
    return {"conformsTo": "https://project-open-data.cio.gov/v1.1/schema", "dataset": datasets}


def test_a_url_identifier_shared_later_keeps_its_dataset(app, httpserver):
    """A URL identifier and its told-apart forms are one family: carried by landing page
    both ways (carried_schemes pairs no URL identifier with another URL otherwise)."""
    source = services.create_source("eu", "dcat", httpserver.url_for("/data.json"))
    run(httpserver, source, url_catalog("Roads"))
    stored = db.session.scalar(select(Dataset.id).where(Dataset.title == "Roads"))
    joined = run(httpserver, source, url_catalog("Roads", "Rivers"))
    assert (joined.created, joined.updated, joined.deleted) == (1, 0, 0)
    roads = db.session.execute(
        select(Dataset.id, Dataset.identifier).where(Dataset.title == "Roads")
    ).one()
    assert roads[0] == stored and roads[1].startswith("https://data.example.org/ds/1#")
    alone = run(httpserver, source, url_catalog("Roads"))
    assert (alone.created, alone.updated, alone.deleted) == (0, 0, 1)
    assert db.session.scalar(select(Dataset.identifier).where(Dataset.id == stored)) == (
        "https://data.example.org/ds/1"
    )


def test_listed_twice_tells_apart_only_datasets_sharing_nothing():
    from subscribe.catalog.harvesters.listed_twice import ListedTwice

    listed = ListedTwice()
    listed.add(0, "x", "2020-01-01", "Roads", ["https://a.org/roads.csv"])
    listed.add(1, "x", "2020-01-01", "Roads", ["https://a.org/roads2.csv"])  # same dataset
    listed.add(2, "y", "", "Schools", [])
    listed.add(3, "y", "2021", "Teachers", ["https://a.org/t"], landing="https://a.org/t")
    assert len(listed.superseded()) == 1 and set(listed.superseded()) < {0, 1}  # one kept
    assert listed.shared == {"y": 2}
    assert sorted(listed.told) == [2, 3]
    assert listed.identifiers() == {"x", *listed.told.values()}
    assert listed.told[3].startswith("y#") and listed.told[2] != listed.told[3]


def jsonld(*titles: str) -> bytes:
    """DCAT-AP blank dataset nodes all stating dct:identifier S-1, each its own page."""
    graph = [{"@type": "dcat:Dataset", "dct:identifier": "S-1", "dct:title": title,
              "dcat:landingPage": {"@id": f"https://example.eu/{title.lower()}"}}
             for title in titles]  # fmt: skip
    context = {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/"}
    return json.dumps({"@context": context, "@graph": graph}).encode()


def test_dcat_ap_nodes_sharing_an_identifier_are_carried_too(app, httpserver):
    source = services.create_source("eu", "dcat", httpserver.url_for("/c.jsonld"))

    def ap_run(*titles: str):
        httpserver.clear()
        serve(httpserver, "/c.jsonld", jsonld(*titles), "application/ld+json")
        return harvest(source)

    ap_run("Roads")
    stored = db.session.scalar(select(Dataset.id).where(Dataset.identifier == "S-1"))
    joined = ap_run("Rivers", "Roads")
    assert (joined.created, joined.updated, joined.deleted) == (1, 0, 0)
    assert joined.mapping_report["identity"]["told_apart"]["shared"] == {"S-1": 2}
    roads = db.session.execute(
        select(Dataset.id, Dataset.identifier).where(Dataset.title == "Roads")
    ).one()
    assert roads[0] == stored and roads[1].startswith("S-1#")
    assert (ap_run("Roads", "Rivers").created, ap_run("Roads").deleted) == (0, 1)
    assert db.session.scalar(select(Dataset.identifier).where(Dataset.id == stored)) == "S-1"
