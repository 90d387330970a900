"""The server-rendered web app: pages under one `web` blueprint, one per page group."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Flask, send_from_directory

from subscribe.preview import web as preview_pages
from subscribe.web import (
    access,
    audit,
    auth,
    changes,
    chat,
    errors,
    filters,
    i18n,
    inbox,
    labels,
    mailbox,
    operators,
    quality,
    reports,
    scenarios,
    search,
    security,
    settings,
    subscriptions,
    suggestions,
    unsubscribe,
    webhooks,
)

# One child blueprint per page group; endpoints are "web.<group>.<view>". Add a group
# here (and its nav link in templates/base.html).
PAGE_GROUPS = (
    search.blp,
    auth.blp,
    scenarios.blp,
    subscriptions.blp,
    webhooks.blp,
    chat.blp,
    inbox.blp,
    operators.blp,
    mailbox.blp,
    unsubscribe.blp,
    settings.blp,
    suggestions.blp,
    preview_pages.blp,
    quality.blp,
    reports.blp,
    audit.blp,
)


def init_app(app: Flask) -> None:
    i18n.init_app(app)
    security.init_app(app)
    filters.init_app(app)
    app.jinja_env.filters["when"] = changes.when  # stored UTC → display zone, to the minute
    app.context_processor(lambda: {"current_user": access.current_user, "nav": labels.NAV})
    pages = Blueprint(
        "web",
        __name__,
        template_folder="templates",
        static_folder="static",
        static_url_path="/assets",  # /static is the app's own (unused) static route
    )
    for group in PAGE_GROUPS:
        pages.register_blueprint(group)
    errors.init_app(app, pages)
    app.register_blueprint(pages)
    # Browsers ask for /favicon.ico on every page that names no icon (the API docs, JSON).
    app.add_url_rule("/favicon.ico", "favicon", _favicon)


def _favicon():
    static = Path(__file__).resolve().parent / "static"
    return send_from_directory(static, "favicon.ico", mimetype="image/vnd.microsoft.icon",
                               max_age=7 * 86400)  # fmt: skip
