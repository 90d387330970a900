"""DCAT harvester against real catalogs served on loopback: DCAT-US data.json and DCAT-AP JSON-LD."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from werkzeug.wrappers import Response

from subscribe.catalog.harvesters import dcat
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.catalog.records import BadRecord, DatasetRecord, HarvestError, ResourceRecord
from tests.catalog_helpers import LOOPBACK
from tests.conftest import healthdata_bytes

FIXTURES = Path(__file__).parent / "fixtures" / "catalogs"
SMALL_EDUCATION = FIXTURES / "small-education.data.json"
DCAT_AP_SAMPLE = FIXTURES / "dcat_ap_sample.jsonld"
EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
EU_ACCESS = "http://publications.europa.eu/resource/authority/access-right/"


@dataclass
class Harvest:
    records: list[DatasetRecord]
    bad: list[BadRecord]
    totals: list[int]
    full_listing: bool

    def by_id(self, identifier: str) -> DatasetRecord:
        matches = [r for r in self.records if r.identifier == identifier]
        assert len(matches) == 1, f"{identifier}: {len(matches)} records"
        return matches[0]


@pytest.fixture
def session():
    session = make_session(LOOPBACK, retries=0)
    yield session
    session.close()


@pytest.fixture
def serve(httpserver, session):
    """Serve bytes (or a werkzeug handler) at /catalog and harvest it."""

    def run(body: bytes | None = None, handler=None, **respond) -> Harvest:
        request = httpserver.expect_request("/catalog")
        if handler is not None:
            request.respond_with_handler(handler)
        else:
            respond.setdefault("content_type", "application/json")
            request.respond_with_data(body, **respond)
        totals: list[int] = []
        ctx = HarvestContext(
            url=httpserver.url_for("/catalog"), session=session, on_total=totals.append
        )
        results = list(dcat.harvest(ctx))
        good = [r for r in results if isinstance(r, DatasetRecord)]
        bad = [r for r in results if isinstance(r, BadRecord)]
        assert len(good) + len(bad) == len(results)
        return Harvest(good, bad, totals, ctx.full_listing)

    return run


@pytest.fixture(scope="session")
def healthdata_path(tmp_path_factory) -> Path:
    """The 3.8 MB healthdata.gov catalog as a plain file (committed gzip-compressed in
    tests/data/catalogs; decompressed once per session)."""
    path = tmp_path_factory.mktemp("catalogs") / "healthdata.gov.data.json.2019.json"
    path.write_bytes(healthdata_bytes())
    return path


# --- DCAT-US: small-education.data.json (89 datasets) --------------------------------


def test_small_education_every_dataset_comes_through(serve):
    harvest = serve(SMALL_EDUCATION.read_bytes())
    assert len(harvest.records) == 89
    assert harvest.totals == [89]
    assert harvest.full_listing is True
    # Upstream publishes NCES_2016999 twice (two different surveys, no title or URL in
    # common): both are published, each told apart by its landing page (listed_twice).
    assert len({r.identifier for r in harvest.records}) == 89
    assert harvest.bad == []
    shared = {r.identifier: r for r in harvest.records if r.identifier.startswith("NCES_2016999")}
    assert sorted(r.title[:27] for r in shared.values()) == [
        "National Teacher and Princi",
        "Principal Follow-Up Survey,",
    ]
    assert all(re.fullmatch(r"NCES_2016999#[0-9a-f]{10}", i) for i in shared)


def test_small_education_reordered_keeps_the_same_entries(serve):
    """A file listing its datasets in another order is the same catalog (field finding:
    the reversed file made a dataset.updated swapping one survey for the other)."""
    document = json.loads(SMALL_EDUCATION.read_bytes())
    forward = serve(json.dumps(document).encode())
    document["dataset"].reverse()
    backward = serve(json.dumps(document).encode())
    assert {r.identifier: r.title for r in forward.records} == {
        r.identifier: r.title for r in backward.records
    }


def test_small_education_nested_publisher_and_access_url(serve):
    timss = serve(SMALL_EDUCATION.read_bytes()).by_id("NCES_2017002")
    assert timss.title == "Trends in International Mathematics and Science Study, 2015"
    assert timss.publisher == "National Center for Education Statistics"  # not "U.S. Government"
    assert (timss.open_type, timss.open_type_raw) == ("unconditional", "public")
    assert (timss.frequency, timss.frequency_raw) == ("unknown", "")
    assert timss.modified == datetime(2016, 11, 29)
    assert timss.issued is None
    assert timss.landing_page == "https://nces.ed.gov/timss/"
    assert timss.license == ""
    assert len(timss.keywords) == 23
    assert timss.keywords[:3] == ["Assessments", "Coordination", "Curricula"]
    assert timss.themes == []
    assert timss.resources == [
        ResourceRecord(
            url="https://nces.ed.gov/pubsearch/pubsinfo.asp?pubid=2018022",
            name="Trends in International Mathematics and Science Study (TIMSS) 2015 U.S. "
            "restricted-use datafile",
            format="HTML",  # no format, no mediaType: the .asp page suffix
        )
    ]
    assert timss.formats == ["HTML"]


def test_small_education_restricted_public_irregular(serve):
    barrons = serve(SMALL_EDUCATION.read_bytes()).by_id("NCES_2016332")
    assert barrons.title.startswith("NCES-Barron's Admissions Competitiveness Index Data Files")
    assert (barrons.open_type, barrons.open_type_raw) == ("conditional", "restricted public")
    assert (barrons.frequency, barrons.frequency_raw) == ("irregular", "irregular")
    assert barrons.modified == datetime(2017, 1, 10)
    assert [r.url for r in barrons.resources] == [
        "https://nces.ed.gov/pubsearch/pubsinfo.asp?pubid=2016332"
    ]


def test_small_education_yearly_with_keywords_kept_whole(serve):
    nies = serve(SMALL_EDUCATION.read_bytes()).by_id("NCES_2017161")
    assert nies.title == "National Indian Education Study, 2015"
    assert (nies.frequency, nies.frequency_raw) == ("yearly", "R/P1Y")
    assert nies.issued == datetime(2018, 9, 27)
    assert nies.modified == datetime(2018, 3, 13)
    assert nies.license == "https://creativecommons.org/publicdomain/zero/1.0/"
    assert nies.landing_page == "https://nces.ed.gov/nationsreportcard/nies/"
    # One array item is one keyword, commas and all.
    assert nies.keywords[0] == "National Assessment of Education Progress, NAEP"
    assert [(r.url, r.format) for r in nies.resources] == [
        ("https://nces.ed.gov/nationsreportcard/niesdata", "DATA EXPLORER"),
        ("https://nces.ed.gov/pubsearch/pubsinfo.asp?pubid=2018158", "HTML"),
    ]
    assert nies.formats == ["DATA EXPLORER", "HTML"]


def test_small_education_arcgis_dataset_formats_from_media_types(serve):
    harvest = serve(SMALL_EDUCATION.read_bytes())
    [district] = [
        r for r in harvest.records if r.title == "School District Office Locations 2017-18"
    ]
    base = "http://data-nces.opendata.arcgis.com/datasets/6138a09545bc448ca4c6adc900e16e37_0"
    assert district.identifier == base
    assert district.publisher == "NCES"
    assert district.themes == ["geospatial"]
    assert district.issued == datetime(2019, 4, 26, 17, 38, 49)
    assert district.modified == datetime(2019, 5, 9, 12, 54, 41)
    assert district.license == f"{base}/license.json"
    assert [(r.name, r.format) for r in district.resources] == [
        ("ArcGIS Hub Dataset", "HTML"),  # "Web Page" + text/html
        ("Esri Rest API", "JSON"),  # "Esri REST" + application/json
        ("GeoJSON", "GEOJSON"),
        ("CSV", "CSV"),
        ("KML", "KML"),
        ("Shapefile", "ZIP"),
    ]
    assert district.resources[3].url == f"{base}.csv"
    assert district.formats == ["HTML", "JSON", "GEOJSON", "CSV", "KML", "ZIP"]


def test_small_education_excel_named_by_media_type(serve):
    sig = serve(SMALL_EDUCATION.read_bytes()).by_id("ED-5122")
    assert sig.title == "ED Grants: School Improvement Grant (SIG)"
    assert sig.publisher == "U.S. Department of Education"
    assert (sig.frequency, sig.frequency_raw) == ("irregular", "irregular")
    assert sig.resources == [
        ResourceRecord(
            url="https://www.ed.gov/sites/default/files/sig_database.xls",
            name="sig_database.xls",
            format="XLS",  # "Microsoft Excel" + application/vnd.ms-excel
        )
    ]


def test_gzip_transfer_encoding_is_undone(serve):
    harvest = serve(
        gzip.compress(SMALL_EDUCATION.read_bytes()), headers={"Content-Encoding": "gzip"}
    )
    assert len(harvest.records) == 89  # one identifier shared by two surveys: told apart
    assert harvest.full_listing is True


def test_broken_records_are_reported_and_the_rest_comes_through(serve):
    catalog = json.loads(SMALL_EDUCATION.read_bytes())
    datasets = catalog["dataset"]
    untitled = next(d for d in datasets if d["identifier"] == "ED-5122")
    del untitled["title"]
    stringly = next(d for d in datasets if d["identifier"] == "NCES_2017161")
    stringly["distribution"][1] = "https://nces.ed.gov/pubsearch/pubsinfo.asp?pubid=2018158"
    # Not broken, just anonymous: identity falls back to landingPage, then a hash.
    timss = next(d for d in datasets if d["identifier"] == "NCES_2017002")
    del timss["identifier"]
    strategy = next(d for d in datasets if d.get("identifier") == "digitalstrategy")
    del strategy["identifier"], strategy["landingPage"]
    datasets.insert(0, "not a dataset")
    datasets.append(42)

    harvest = serve(json.dumps(catalog).encode())

    assert harvest.bad == [
        BadRecord("dataset entry is a JSON string, not an object", "dataset[0]"),
        # a stated identifier is carried: its stored dataset is kept (not deleted)
        BadRecord("dataset has no title", "ED-5122", identifier="ED-5122"),
        BadRecord(
            "distribution[1] is a JSON string, not an object",
            "NCES_2017161",
            identifier="NCES_2017161",
        ),  # fmt: skip
        BadRecord("dataset entry is a JSON number, not an object", "dataset[90]"),
    ]
    assert len(harvest.records) == 87
    ids = {r.identifier for r in harvest.records}
    assert "ED-5122" not in ids and "NCES_2017161" not in ids
    assert "https://nces.ed.gov/timss/" in ids  # NCES_2017002 without its identifier
    digest = _derived(
        "Digital Government Strategy Report", "Office of the Chief Information Officer"
    )
    assert harvest.by_id(f"sha256:{digest}").title == "Digital Government Strategy Report"
    assert all(r.identifier for r in harvest.records)
    assert harvest.totals == [91]
    assert harvest.full_listing is True  # bad records are not a partial listing


# --- DCAT-US: healthdata.gov 2019 (1,762 datasets, 3.8 MB) ---------------------------


def test_healthdata_every_dataset_comes_through(serve, healthdata_path):
    harvest = serve(healthdata_path.read_bytes())
    # 106 identifiers are listed twice, each time the same dataset (same title or
    # download URL) under two modified dates: the older listing is set aside, reported.
    assert len(harvest.records) == 1762 - 106
    assert len({r.identifier for r in harvest.records}) == 1656
    assert len(harvest.bad) == 106
    assert all("listed again with a later modified date" in b.reason for b in harvest.bad)
    assert harvest.totals == [1762]
    assert harvest.full_listing is True
    # 20 datasets put a repeat rule (R/P1D…) in `modified`, one puts "-" and six (FDA's
    # recalls) "1900-01-01", a system's no-date (bb8 F23): no date, the raw text kept.
    assert sum(r.modified is None for r in harvest.records) == 27
    assert sum(r.modified_raw == "1900-01-01" and r.modified is None
               for r in harvest.records) == 6  # fmt: skip
    # 25 have a year-month ("2019-04"): the first of the month, never today's day.
    month_only = harvest.by_id("j7aeu9v0-eudg-eqb6-3cik-gyv36mrqd7e7")
    assert month_only.modified == datetime(2019, 4, 1)


def test_healthdata_specific_datasets(serve, healthdata_path):
    harvest = serve(healthdata_path.read_bytes())

    shortages = harvest.by_id("520f8f0d-b519-4ad9-8597-14d517f00987")
    assert shortages.title == (
        "Current and Resolved Drug Shortages and Discontinuations Reported to FDA"
    )
    assert shortages.publisher == "U.S. Food and Drug Administration"
    assert (shortages.frequency, shortages.frequency_raw) == ("weekly", "R/P1W")
    assert shortages.modified is None  # upstream "modified": "R/P1D"
    assert shortages.keywords == ["cder"]
    assert shortages.resources == [
        ResourceRecord(
            url="http://www.accessdata.fda.gov/scripts/drugshortages/default.cfm",
            name="interactive on-screen",
            format="INTERACTIVE ON-SCREEN",  # mediaType application/unknown says nothing
        )
    ]

    ehr = harvest.by_id("j7aeu9v0-eudg-eqb6-3cik-gyv36mrqd7e7")
    assert ehr.title == "2015 Edition Market Readiness for Hospitals and Clinicians Data"
    assert ehr.publisher == "Office of the National Coordinator for Health Information Technology"
    assert ehr.formats == ["CSV"]

    speaks = harvest.by_id("59358daa-f04b-42c2-ba7a-f53ea3d10c2d")
    assert (speaks.open_type, speaks.open_type_raw) == ("conditional", "restricted public")
    assert speaks.license == "https://opendatacommons.org/licenses/odbl/1.0/"
    assert speaks.modified == datetime(2016, 3, 24)
    assert speaks.resources == []  # its one distribution has neither downloadURL nor accessURL

    # The CDC identifier appears twice upstream; the 2019-07-02 version is the first.
    [cdc] = [
        r
        for r in harvest.records
        if r.identifier == "https://data.cdc.gov/api/views/rppv-wbiv"
        and r.modified == datetime(2019, 7, 2)
    ]
    assert cdc.title == "Top syndicated pages from CDC.gov by weekly page views"
    assert cdc.publisher == "Centers for Disease Control and Prevention"
    assert cdc.open_type == "unconditional"
    views = "https://data.cdc.gov/api/views/rppv-wbiv/rows"
    assert [(r.url, r.format) for r in cdc.resources] == [
        (f"{views}.csv?accessType=DOWNLOAD", "CSV"),
        (f"{views}.rdf?accessType=DOWNLOAD", "RDF"),
        (f"{views}.json?accessType=DOWNLOAD", "JSON"),
        (f"{views}.xml?accessType=DOWNLOAD", "XSL"),  # upstream labels the XML "xsl"
    ]
    assert cdc.formats == ["CSV", "RDF", "JSON", "XSL"]


def test_healthdata_is_streamed_not_loaded(httpserver, session, healthdata_path):
    """Peak memory stays far below the catalog size (json.load would need ~3.5x it)."""

    def stream_file(request):  # the server side streams too, so only the harvest is measured
        def chunks():
            with healthdata_path.open("rb") as handle:
                while chunk := handle.read(1 << 16):
                    yield chunk

        return Response(chunks(), content_type="application/json")

    httpserver.expect_request("/catalog").respond_with_handler(stream_file)
    # Measured in a fresh interpreter: what earlier tests left in this one (caches,
    # threads) would otherwise count towards the peak.
    script = f"""
import tracemalloc
from subscribe.catalog.harvesters import dcat
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.notify.ssrf import OutboundPolicy
from subscribe.catalog.text import html_to_text
LOOPBACK = OutboundPolicy("127.0.0.1")
ctx = HarvestContext(url={httpserver.url_for("/catalog")!r}, session=make_session(LOOPBACK, retries=0))
html_to_text("<p>x</p>")  # lxml and inscriptis are imported on first use: not the catalog
tracemalloc.start()
count = sum(1 for _ in dcat.harvest(ctx))
print(count, tracemalloc.get_traced_memory()[1])
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    count, peak = map(int, result.stdout.split())
    assert count == 1762
    assert peak < healthdata_path.stat().st_size / 2, f"peak {peak} bytes"


# --- DCAT-AP JSON-LD ------------------------------------------------------------------


def test_dcat_ap_sample_field_by_field(serve):
    harvest = serve(DCAT_AP_SAMPLE.read_bytes(), content_type="application/ld+json")
    assert harvest.totals == [7]
    assert harvest.full_listing is True
    assert harvest.bad == [
        BadRecord(
            "dataset has no dct:title",
            "https://data.example.eu/dataset/untitled-draft",
            identifier="https://data.example.eu/dataset/untitled-draft",
        )  # fmt: skip
    ]
    assert len(harvest.records) == 6
    # Embedded in the catalog node first, then @graph order.
    assert [r.title for r in harvest.records][:2] == [
        "Municipal budget 2024",
        "Hourly air quality measurements",
    ]

    # Compact IRIs, distributions and publisher by @id reference, theme label from the graph.
    air = harvest.by_id("AQ-2023-001")
    assert air.title == "Hourly air quality measurements"  # en beats de
    assert air.description == "NO2, PM10 and PM2.5 from 14 monitoring stations."
    assert air.publisher == "Environment Agency"
    assert air.themes == ["环境"]  # skos:prefLabel, zh first
    assert air.keywords == ["NO2/NOx", "PM2.5", "air quality"]  # the English set, sorted
    assert (air.frequency, air.frequency_raw) == ("daily", EU_FREQUENCY + "DAILY")
    assert (air.open_type, air.open_type_raw) == ("unconditional", EU_ACCESS + "PUBLIC")
    assert air.issued == datetime(2023, 1, 15)
    assert air.modified == datetime(2024, 3, 2, 7, 30)  # 08:30+01:00 in UTC
    assert air.landing_page == "https://data.example.eu/air-quality"
    assert air.license == "http://creativecommons.org/licenses/by/4.0/"
    # RDF values have no order: distributions are sorted by their IRI.
    assert air.resources == [
        ResourceRecord(
            url="https://api.example.eu/air-quality/v1",
            name="Sensor API",
            format="JSON",
            identifier="https://data.example.eu/distribution/aq-api",
        ),
        ResourceRecord(
            url="https://data.example.eu/files/air-quality-2023.csv",  # downloadURL first
            name="Measurements 2023 (CSV)",
            format="CSV",
            size=5242880,
            identifier="https://data.example.eu/distribution/aq-csv",
        ),
    ]
    assert air.formats == ["JSON", "CSV"]

    # Full IRIs, zh-CN title, embedded publisher and distribution.
    transit = harvest.by_id("SH-JT-0042")
    assert transit.title == "上海市公共交通客流量"
    assert transit.description == "按线路统计的地铁和公交月度客流量。"
    assert transit.publisher == "上海市交通委员会"
    assert transit.themes == ["REGI", "TRAN"]  # not in the graph: the IRI's last segment
    assert transit.keywords == ["公交", "地铁"]
    assert (transit.frequency, transit.frequency_raw) == ("monthly", EU_FREQUENCY + "MONTHLY")
    assert (transit.open_type, transit.open_type_raw) == ("conditional", EU_ACCESS + "RESTRICTED")
    assert transit.issued == datetime(2021, 6, 1)
    assert transit.modified == datetime(2024, 2, 1)  # xsd:gYearMonth "2024-02"
    assert transit.landing_page == "" and transit.license == ""
    assert transit.resources == [
        ResourceRecord(
            url="https://data.example.eu/apply/sh-transit",
            name="客流月报",
            format="XLSX",
            size=88213,
            identifier="https://data.example.eu/distribution/sh-transit-xlsx",
        )
    ]

    # Terms from the inline @context: language container, @type:@id coercion.
    bathing = harvest.by_id("https://data.example.eu/dataset/bathing-water")
    assert bathing.title == "Bathing water quality"
    assert bathing.description == "Sampling results for designated bathing sites, season 2023."
    assert bathing.publisher == "Environment Agency"
    assert bathing.themes == ["HEAL", "环境"]
    assert bathing.keywords == ["E. coli", "bathing water", "beaches"]  # a set: sorted
    assert (bathing.frequency, bathing.frequency_raw) == ("yearly", EU_FREQUENCY + "ANNUAL")
    assert bathing.open_type == "unconditional"
    assert bathing.issued == datetime(2020, 5, 1)
    assert bathing.modified == datetime(2023, 10, 31)
    assert bathing.landing_page == "https://data.example.eu/bathing-water"
    assert bathing.license == "http://creativecommons.org/publicdomain/zero/1.0/"
    assert [(r.url, r.name, r.format, r.size) for r in bathing.resources] == [
        ("https://data.example.eu/files/bathing-2023.csv", "Bathing sites 2023", "CSV", 48211),
        (
            "https://data.example.eu/files/bathing-sites.geojson",
            "Bathing sites (map layer)",
            "GEOJSON",  # no format or media type: the URL suffix
            None,
        ),
    ]

    # Literal publisher, NON_PUBLIC, repeat rule as modified, undescribed distribution.
    register = harvest.by_id("https://data.example.eu/dataset/business-register")
    assert register.title == "Register of business licences"
    assert register.publisher == "Trade Licensing Office"
    assert register.themes == ["ECON"]
    assert register.keywords == ["licences", "trade"]
    assert (register.open_type, register.open_type_raw) == ("not_open", EU_ACCESS + "NON_PUBLIC")
    assert (register.frequency, register.frequency_raw) == ("irregular", EU_FREQUENCY + "IRREG")
    assert register.modified is None
    assert register.resources == [] and register.formats == []

    # Chinese-only, literal frequency text, distribution defined before the dataset.
    stations = harvest.by_id("330100-HJ-0007")
    assert stations.title == "杭州市空气质量监测站点"
    assert stations.description == "全市国控、省控空气质量监测站点名称、位置及监测项目。"
    assert stations.publisher == "杭州市生态环境局"
    assert stations.keywords == ["监测站点", "空气质量"]
    assert (stations.frequency, stations.frequency_raw) == ("quarterly", "每季度")
    assert (stations.open_type, stations.open_type_raw) == ("unconditional", EU_ACCESS + "PUBLIC")
    assert stations.issued == datetime(2022, 3, 15)
    assert stations.modified == datetime(2024, 1, 8, 2, 0)  # 10:00+08:00 in UTC
    assert stations.resources == [
        ResourceRecord(
            url="https://data.example.eu/api/hz-stations?format=json",
            name="监测站点清单",
            format="JSON",  # IANA media-type IRI
            identifier="https://data.example.eu/distribution/hz-stations-json",
        )
    ]

    # A blank-node dataset embedded in the catalog: identity from its landing page.
    budget = harvest.by_id("https://data.example.eu/budget/2024")
    assert budget.title == "Municipal budget 2024"
    assert budget.publisher == "Finance Department"
    assert (budget.frequency, budget.frequency_raw) == (
        "semiannual",
        EU_FREQUENCY + "ANNUAL_2",
    )  # twice a year
    assert (budget.open_type, budget.open_type_raw) == ("conditional", "restricted")
    assert budget.license == "Data licence Germany – Zero – Version 2.0"
    assert budget.resources == [
        ResourceRecord(url="https://data.example.eu/budget/2024/budget.xlsx", format="XLSX")
    ]

    # The catalog node itself (it has a dct:title too) is not a dataset.
    assert "Example Open Data Portal" not in {r.title for r in harvest.records}


def test_dcat_ap_catalog_node_with_inline_dataset_term(serve):
    # No @graph; "dataset" is a term of the inline context, so this is JSON-LD, not POD.
    document = {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dataset": {"@id": "dcat:dataset", "@container": "@set"},
            "name": "http://purl.org/dc/terms/title",
        },
        "@type": "dcat:Catalog",
        "dataset": [
            {"@id": "urn:uuid:5e8f", "@type": "dcat:Dataset", "name": "Road works"},
            {"@type": "dcat:Dataset", "name": "Parking zones"},
        ],
    }
    harvest = serve(json.dumps(document).encode())
    assert [(r.identifier, r.title) for r in harvest.records] == [
        ("urn:uuid:5e8f", "Road works"),
        ("sha256:" + _derived("Parking zones", ""), "Parking zones"),  # no id of any kind
    ]


def test_dcat_ap_expanded_form_array(serve):
    dct = "http://purl.org/dc/terms/"
    document = [
        {
            "@id": "https://example.org/ds/1",
            "@type": ["http://www.w3.org/ns/dcat#Dataset"],
            dct + "title": [{"@value": "Noise map", "@language": "en"}],
            dct + "publisher": [{"@id": "https://example.org/org/1"}],
        },
        {
            "@id": "https://example.org/org/1",
            "http://xmlns.com/foaf/0.1/name": [{"@value": "Noise Office"}],
        },
    ]
    harvest = serve(json.dumps(document).encode())
    [noise] = harvest.records
    assert (noise.identifier, noise.title, noise.publisher) == (
        "https://example.org/ds/1",
        "Noise map",
        "Noise Office",
    )


def test_dcat_ap_a_dataset_listed_twice_keeps_its_later_modified_node(serve):
    """As in DCAT-US (listed_twice.ListedTwice): two nodes of one dct:identifier sharing
    a title or a URL are one dataset; the older is a counted BadRecord saying which date
    was kept. Nodes of one identifier sharing nothing are two datasets, told apart."""
    document = {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
        },
        "@graph": [
            {"@type": "dcat:Dataset", "dct:identifier": "air-2012", "dct:title": "Air 2012",
             "dct:modified": "2015-04-02", "dcat:distribution": {
                 "@type": "dcat:Distribution", "dcat:downloadURL": "https://x.org/air.csv"}},
            {"@type": "dcat:Dataset", "dct:identifier": "air-2012",
             "dct:title": "Air 2012 & 2014", "dct:modified": "2017-01-09",
             "dcat:distribution": {"@type": "dcat:Distribution",
                                   "dcat:downloadURL": "http://x.org/air.csv/"}},
            {"@type": "dcat:Dataset", "dct:identifier": "survey", "dct:title": "Schools",
             "dct:modified": "2016-01-01"},
            {"@type": "dcat:Dataset", "dct:identifier": "survey", "dct:title": "Teachers",
             "dct:modified": "2018-01-01"},
        ],
    }  # fmt: skip
    harvest = serve(json.dumps(document).encode())
    assert [(r.identifier, r.title) for r in harvest.records] == [
        ("air-2012", "Air 2012 & 2014"),  # the later listing, though it comes second
        # sharing nothing: two datasets, each told apart by its title (no landing page)
        (f"survey#{_told('survey', 't:schools')}", "Schools"),
        (f"survey#{_told('survey', 't:teachers')}", "Teachers"),
    ]
    assert [(b.reference, b.reason) for b in harvest.bad] == [
        ("air-2012", "listed again with a later modified date (2017-01-09); that entry "
                     "was kept, this one (modified 2015-04-02) set aside"),
    ]  # fmt: skip
    assert harvest.totals == [4]


def _told(identifier: str, tell: str) -> str:
    return hashlib.sha1(f"{identifier}\x1f{tell}".encode()).hexdigest()[:10]


def _derived(title: str, publisher: str) -> str:
    return hashlib.sha256(f"{title}\x1f{publisher}".encode()).hexdigest()[:32]


# --- whole-source failures ------------------------------------------------------------


def _harvest_error(httpserver, session, **respond) -> tuple[str, HarvestContext, list]:
    httpserver.expect_request("/catalog").respond_with_data(**respond)
    ctx = HarvestContext(url=httpserver.url_for("/catalog"), session=session)
    seen: list = []
    with pytest.raises(HarvestError) as caught:
        for record in dcat.harvest(ctx):
            seen.append(record)
    return str(caught.value), ctx, seen


def test_html_page_is_a_harvest_error(httpserver, session):
    page = "<!DOCTYPE html>\n<html><head><title>Open Data</title></head><body>Welcome</body></html>"
    message, ctx, _ = _harvest_error(
        httpserver, session, response_data=page, content_type="text/html"
    )
    assert "HTML page" in message
    assert ctx.full_listing is False


def test_json_that_is_neither_format_is_a_harvest_error(httpserver, session):
    ckan = (FIXTURES / "catalog.data.gov_harvest_sources_package_search_results.json").read_bytes()
    message, ctx, _ = _harvest_error(
        httpserver, session, response_data=ckan, content_type="application/json"
    )
    assert "neither a DCAT-US data.json" in message and "nor DCAT-AP JSON-LD" in message
    assert ctx.full_listing is False


def test_project_open_data_without_dataset_array_is_a_harvest_error(httpserver, session):
    body = json.dumps(
        {"conformsTo": "https://project-open-data.cio.gov/v1.1/schema", "dataset": None}
    )
    message, _, _ = _harvest_error(
        httpserver, session, response_data=body, content_type="application/json"
    )
    assert "no 'dataset' array" in message


def test_truncated_data_json_fails_before_any_record(httpserver, session):
    body = SMALL_EDUCATION.read_bytes()
    message, ctx, seen = _harvest_error(
        httpserver, session, response_data=body[: len(body) // 2], content_type="application/json"
    )
    assert "not valid JSON" in message
    assert "\n" not in message and "right here" not in message  # one line on the source page
    assert seen == []
    assert ctx.full_listing is False


def test_server_error_is_a_harvest_error(httpserver, session):
    message, ctx, _ = _harvest_error(
        httpserver, session, response_data="upstream timeout", status=503
    )
    assert "HTTP 503" in message
    assert ctx.full_listing is False
