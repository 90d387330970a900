"""A hyphen inside a typed word (nursing-home, part-d, 2011-12) finds the word however
the catalog wrote it: hyphenated, spaced, with a dash (– —) or joined (Smokefree);
a leading hyphen still excludes. Titles from healthdata.gov's and the US Department of
Education's data.json."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subscribe.catalog.models import Dataset, DatasetVersion
from subscribe.extensions import db
from subscribe.search.docmatch import MatchSpec, analyse, text_matches
from subscribe.search.engine import Filters
from subscribe.search.highlight import mark
from subscribe.search.percolate import ChangedDocs, slots
from subscribe.search.query import parse
from tests.search_helpers import index_rows

NURSING = "Nursing Home Compare"
MDS = "MDS 3.0 for Nursing Homes and Swing Bed Providers"
PART_D = "Medicare Part D Prescriber Look-up Tool"
CLAIMS = "Medicare Claims Quality Measures"
VISION = "Medicare claims – Vision and Eye Health Surveillance"
SMOKEFREE = "CDC STATE System E-Cigarette Legislation - Smokefree Indoor Air"
FORM_11 = "College Affordability and Transparency List Explanation Form, 2011–12"
FORM_12 = "College Affordability and Transparency List Explanation Form, 2012—13"
HOME_HEALTH = "Home Health Care Agencies"
COVID = "COVID-19 Vaccinations in the United States"

ROWS = [
    ("H-1", NURSING, "Ratings of every Medicare and Medicaid certified facility", "ratings"),
    ("H-2", MDS, "Minimum Data Set frequency reports", "mds"),
    ("H-3", PART_D, "Prescribers of drugs covered by the prescription drug program", "drugs"),
    ("H-4", CLAIMS, "Measures computed from fee-for-service records", "quality"),
    ("H-5", VISION, "Eye health indicators", "vision"),
    ("H-6", SMOKEFREE, "State laws on e-cigarette use in indoor areas", "tobacco"),
    ("H-7", FORM_11, "Explanations submitted by institutions", "college"),
    ("H-8", FORM_12, "Explanations submitted by institutions", "college"),
    ("H-9", HOME_HEALTH, "Agencies certified by Medicare, nursing visits at home", "agencies"),
    ("H-10", COVID, "Doses administered by state", "vaccines"),
]


@pytest.fixture
def catalog(app, httpserver):
    index_rows(httpserver, "h", ROWS)


def search(client, q: str) -> dict:
    return client.get("/api/v1/datasets", query_string={"q": q, "per_page": 50}).json


def titles(client, q: str) -> list[str]:
    return [item["title"] for item in search(client, q)["items"]]


CASES = [
    # Spaced in the catalog: as typed with a space; the title holding the words side by
    # side first (the phrase-in-title bonus), the description holding both after.
    ("nursing-home", [NURSING, MDS, HOME_HEALTH]),
    ("nursing-homes", [MDS, NURSING, HOME_HEALTH]),  # "homes" in the title: its bonus
    ("Medicare-claims", [CLAIMS, VISION]),  # "Medicare claims – …": a dash after it
    ("part-d", [PART_D]),
    ("Smoke-free", [SMOKEFREE]),  # joined in the catalog
    ("smokefree", [SMOKEFREE]),
    ("2011-12", [FORM_11]),  # an en dash in the title; not 2012—13
    ("2011–12", [FORM_11]),
    ("2012-13", [FORM_12]),  # an em dash
    ("covid-19", [COVID]),  # hyphenated in the catalog too
    ("look-up", [PART_D]),
    (PART_D, [PART_D]),  # a whole title typed: met in full, not partly
    ("Nursing-Home Compare", [NURSING]),
]


@pytest.mark.parametrize(("q", "expected"), CASES)
def test_a_hyphen_inside_a_word_finds_it_however_written(client, catalog, q, expected):
    body = search(client, q)
    assert not body["partial"], q
    assert body["total"] == len(expected), titles(client, q)
    assert titles(client, q) == expected


def test_a_leading_hyphen_still_excludes(client, catalog):
    assert set(titles(client, "medicare -claims")) == {NURSING, PART_D, HOME_HEALTH}
    assert set(titles(client, "medicare -part-d")) == {NURSING, CLAIMS, VISION, HOME_HEALTH}
    assert set(titles(client, "nursing -nursing-home")) == set()
    assert set(titles(client, "-2011-12 explanation")) == {FORM_12}


def test_no_full_match_falls_back_to_partial_matches(client, catalog):
    body = search(client, "nursing-home smoke-free")
    assert body["partial"] and body["total"] == 4


@pytest.mark.parametrize(
    "q", ["nursing-home", "smoke-free", "2011-12", "medicare -part-d", "-nursing-home"]
)
def test_events_and_alerts_match_as_the_search_does(client, catalog, q):
    """docmatch (one document) and the percolator (a batch) meet the same clauses."""
    found = set(titles(client, q))
    rows = db.session.execute(
        select(Dataset.id, Dataset.source_id, DatasetVersion.snapshot).join(
            DatasetVersion,
            (DatasetVersion.dataset_id == Dataset.id) & (DatasetVersion.number == Dataset.version),
        )
    ).all()
    docs = [analyse(r.id, r.source_id, "h", r.snapshot) for r in rows]
    title_of = {r.id: r.snapshot["title"] for r in rows}
    spec = MatchSpec(parse(q), Filters(), scenario=False)
    assert {title_of[d.id] for d in docs if text_matches(spec.query, d)} == found
    kept = ChangedDocs(docs).evaluate(spec)
    assert {title_of[docs[slot].id] for slot in slots(kept)} == found


def test_a_hyphenated_query_marks_the_words_as_written():
    words = parse("nursing-home smoke-free covid-19").highlight
    assert mark(NURSING, words) == "<mark>Nursing</mark> <mark>Home</mark> Compare"
    assert mark("Smokefree Indoor Air", words) == "<mark>Smokefree</mark> Indoor Air"
    assert mark("COVID-19 cases", words) == "<mark>COVID-19</mark> cases"
