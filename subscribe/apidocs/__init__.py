"""The API docs page (/api/v1/docs): Swagger UI served from this app, never a CDN.

Swagger UI's files come from the `flask-swagger-ui` package (its `dist` folder: the
official swagger-ui-dist build, version in dist/VERSION). We use only those files, with
our own page and start-up script, so the page needs no inline script and keeps a strict
Content-Security-Policy. It reads our own /api/v1/openapi.json.
"""

from __future__ import annotations

from pathlib import Path

import flask_swagger_ui
from flask import Blueprint, Flask, render_template, send_from_directory, url_for

SWAGGER_UI_DIST = Path(flask_swagger_ui.__file__).resolve().parent / "dist"
DOCS_PATH = "/api/v1/docs"

# Swagger UI (React) sets style attributes, so inline styles are allowed; scripts,
# fetches and images come from this site only.
DOCS_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

blp = Blueprint("apidocs", __name__, url_prefix=DOCS_PATH, template_folder="templates",
                static_folder="static", static_url_path="/start")  # fmt: skip


@blp.get("/")
@blp.get("")  # registered first, so url_for gives /api/v1/docs
def page():
    response = render_template(
        "apidocs/index.html", spec_url=url_for("api-docs.openapi_json"),
        version=(SWAGGER_UI_DIST / "VERSION").read_text().strip(),
    )  # fmt: skip
    return response, 200, {"Content-Security-Policy": DOCS_CSP}


@blp.get("/swagger-ui/<path:filename>")
def swagger_ui(filename: str):
    """Swagger UI's own files (JS, CSS, icons) from the installed package."""
    return send_from_directory(SWAGGER_UI_DIST, filename, max_age=86400)


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
