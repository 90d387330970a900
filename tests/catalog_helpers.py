"""A tabular catalog export served over loopback, as a portal would serve it, and
harvested."""

from __future__ import annotations

from sqlalchemy import select

from subscribe.catalog import services as catalog
from subscribe.catalog.models import Dataset, Resource
from subscribe.extensions import db
from subscribe.notify.ssrf import OutboundPolicy
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.search_helpers import harvest, run_harvest  # noqa: F401 (tests import it here)

# The test servers listen on loopback, which the harvest's SSRF guard lets through only
# when allow-listed (make_session's policy; SUBSCRIBE_OUTBOUND_ALLOWLIST for a run).
LOOPBACK = OutboundPolicy(["127.0.0.1", "::1"])


def serve_csv_rows(httpserver, header: str, rows: list[str], bom: bool = False) -> str:
    """Serve ``header`` and ``rows`` (CSV lines, without line ends) as /catalog.csv,
    replacing whatever the server answered before; returns the URL. ``bom`` starts the
    file with a UTF-8 byte order mark, as exports from Excel and many portals do."""
    text = "\n".join([header.rstrip("\n"), *rows]) + "\n"
    body = (("\ufeff" if bom else "") + text).encode("utf-8")
    httpserver.clear()
    httpserver.expect_request("/catalog.csv").respond_with_data(body, content_type="text/csv")
    return httpserver.url_for("/catalog.csv")


def harvested_resources(name: str, url: str, codes: tuple[str, ...]) -> dict[str, int]:
    """Harvest the export at ``url`` (identified by its 目录编号 column) as source ``name``,
    index it, and return the id of the first resource of each dataset in ``codes``."""
    harvest(catalog.create_source(name, "tabular", url, mapping={"id_column": "目录编号"}))
    indexer.apply_changes(get_service().store)
    return {
        code: db.session.scalar(select(Resource.id).join(Dataset).where(Dataset.identifier == code))
        for code in codes
    }
