"""A tabular catalog export served over loopback, as a portal would serve it."""

from __future__ import annotations


def serve_csv_rows(httpserver, header: str, rows: list[str], bom: bool = False) -> str:
    """Serve ``header`` and ``rows`` (CSV lines, without line ends) as /catalog.csv,
    replacing whatever the server answered before; returns the URL. ``bom`` starts the
    file with a UTF-8 byte order mark, as exports from Excel and many portals do."""
    text = "\n".join([header.rstrip("\n"), *rows]) + "\n"
    body = (("\ufeff" if bom else "") + text).encode("utf-8")
    httpserver.clear()
    httpserver.expect_request("/catalog.csv").respond_with_data(body, content_type="text/csv")
    return httpserver.url_for("/catalog.csv")
