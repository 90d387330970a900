"""A CKAN source may be a file of packages, as catalogs are often shared (a saved
package_search or package_show answer, a list of packages, `ckanapi dump` JSON lines):
it was read as a portal root and failed with ".../file.json/api/3/action/package_search
answered HTTP 404"."""

from __future__ import annotations

import json

import pytest

from subscribe.catalog import services
from tests.conftest import FIXTURES
from tests.search_helpers import harvest, serve

LIST = FIXTURES / "catalogs" / "catalog.data.gov_harvest_sources_package_search_results.json"
SHOW = FIXTURES / "catalogs" / "hdx_unesco_dataset_package_show_result.json"


def bodies() -> dict[str, tuple[bytes, int]]:
    packages = json.loads(LIST.read_text())
    search = {"success": True, "result": {"count": len(packages), "results": packages}}
    lines = "\n".join(json.dumps(p) for p in packages[:10]) + "\n"
    return {
        "/list.json": (LIST.read_bytes(), len(packages)),
        "/search.json": (json.dumps(search).encode(), len(packages)),
        "/show.json": (SHOW.read_bytes(), 1),
        "/dump.jsonl": (lines.encode(), 10),
    }


@pytest.mark.parametrize("path", ["/list.json", "/search.json", "/show.json", "/dump.jsonl"])
def test_a_ckan_file_is_harvested(app, httpserver, path):
    body, count = bodies()[path]
    url = serve(httpserver, path, body, "application/json")
    source = services.create_source("file", "ckan", url)
    run = harvest(source)
    assert run.created + run.bad == count and run.created > 0
    again = harvest(source)  # the whole file again: nothing changed, nothing deleted
    assert (again.created, again.updated, again.deleted) == (0, 0, 0)


def test_a_file_that_holds_no_packages_fails_with_a_reason(app, httpserver):
    from subscribe.catalog.harvest import claim_run, execute_run

    url = serve(httpserver, "/nothing.json", b'"just a string"', "application/json")
    run = services.queue_harvest(services.create_source("nothing", "ckan", url))
    assert claim_run(run.id)
    run = execute_run(run)
    assert run.status == "failed" and "no CKAN packages" in run.error


@pytest.mark.parametrize(
    ("body", "hint"),
    [
        # A DCAT-US data.json added as type ckan (the file's own top level).
        (b'{"conformsTo": "https://project-open-data.cio.gov/v1.1/schema", "dataset": []}', True),
        (b'{"title": "no id, no name"}', False),
        (b'[{"title": "a"}, {"notes": "b"}, 3]', False),
    ],
)
def test_a_file_with_no_package_at_all_fails_with_a_reason(app, httpserver, body, hint):
    """It used to "succeed" with 0 datasets and one bad record ("package has no id or
    name"), which reads as an empty catalog rather than the wrong source type."""
    from subscribe.catalog.harvest import claim_run, execute_run

    url = serve(httpserver, "/data.json", body, "application/json")
    run = services.queue_harvest(services.create_source("wrong", "ckan", url))
    assert claim_run(run.id)
    run = execute_run(run)
    assert run.status == "failed" and "no CKAN packages" in run.error
    assert ("type dcat" in run.error) == hint
