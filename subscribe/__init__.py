"""subscribe: dataset subscriptions and push for open data catalogs."""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import event

from subscribe import config as config_module
from subscribe.extensions import db

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS = PROJECT_ROOT / "migrations"


# The API, pages and commands are imported by create_app, not by this package: a
# process that only harvests (create_harvest_app) imports `subscribe.catalog` without
# them (the whole service's modules were ~1.5 s of every harvest process's start).


def create_app(config: dict | None = None) -> Flask:
    """Build the app. Starts no thread, scheduler or network call."""
    from subscribe import apidocs
    from subscribe.web import init_app as init_web

    app = _base_app(config)
    app.json.sort_keys = False  # keep the schemas' field order in responses
    check_settings(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    init_web(app)  # pages, languages, CSRF, security headers; after the API's error handlers
    apidocs.init_app(app)  # /api/v1/docs: Swagger UI from the installed package
    return app


def create_harvest_app() -> Flask:
    """The app of a harvest process (catalog/harvest_process.py): the environment's
    settings (as create_app reads them), logging and the database, nothing else: no
    API, pages, commands, search or metrics, which a harvest never uses."""
    app = _base_app(None)
    register_database(app)
    return app


def create_matching_app() -> Flask:
    """The app of the worker's matching process (scenarios/match_process.py): a harvest
    app plus the search service, read-only and without warm-up, which dataset.suggested
    scores new datasets with (suggest/push.py: the scenario's profile over the index)."""
    from subscribe.search import service as search_service

    app = create_harvest_app()
    search_service.init_app(app)
    with app.app_context():
        search_service.batch_process()
    return app


def _base_app(config: dict | None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.update(config_module.from_environment())
    app.config.update(_api_settings())
    app.config.update(config or {})
    app.config["SQLALCHEMY_DATABASE_URI"] = config_module.normalize_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    app.instance_path = app.config["INSTANCE_PATH"]
    register_logging(app)
    return app


def _api_settings() -> dict:
    return {
        "API_TITLE": "subscribe",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": "/api/v1",
        "OPENAPI_JSON_PATH": "openapi.json",
        "API_SPEC_OPTIONS": {
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}}
        },
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    }


def register_logging(app: Flask) -> None:
    level = getattr(logging, app.config["SUBSCRIBE_LOG_LEVEL"], logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("subscribe").setLevel(level)
    # APScheduler logs every run at INFO; job outcomes are logged by the jobs themselves.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    logging.getLogger("apscheduler.scheduler").addFilter(_drop_overlap_skips)
    # urllib3 warns at every retry of every unreachable file (1,000+ lines a minute in
    # `make run`'s worker log when the catalog's hosts cannot be reached); each failure is
    # kept on its resource (last_error) and counted in the check job's summary line.
    logging.getLogger("urllib3.connectionpool").setLevel(max(level, logging.ERROR))
    # Alembic logs "setup plugin …" at INFO as Flask-Migrate is imported, which happens
    # on its first use (bind_migrations), after this: not a line anyone needs.
    logging.getLogger("alembic.runtime.plugins").setLevel(max(level, logging.WARNING))


def _drop_overlap_skips(record: logging.LogRecord) -> bool:
    """APScheduler warns each time a job is due while its previous run still works
    ("maximum number of running instances reached"): by design (one run at a time), not
    a fault, and every 10-20 s it buried the rest of the log."""
    return "maximum number of running instances" not in record.getMessage()


def check_settings(app: Flask) -> None:
    if not app.config["SECRET_KEY"]:
        if app.config["SUBSCRIBE_ENV"] == "production":
            raise RuntimeError("SUBSCRIBE_SECRET_KEY must be set in production.")
        app.config["SECRET_KEY"] = "development-only-secret"


def register_database(app: Flask) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            event.listen(db.engine, "connect", sqlite_pragmas)
            event.listen(db.engine, "checkin", restore_foreign_keys)


def register_extensions(app: Flask) -> None:
    from subscribe.extensions import api, limiter
    from subscribe.metrics import init_app as init_metrics
    from subscribe.search import service as search_service

    register_database(app)
    register_migrations(app)
    api.init_app(app)
    limiter.init_app(app)
    search_service.init_app(app)
    init_metrics(app)


def register_migrations(app: Flask) -> None:
    """`flask db …` and Flask-Migrate's functions (`flask_migrate.upgrade()`, …), bound to
    the app on their first use (`bind_migrations`), not here: importing Flask-Migrate
    imports Alembic, Mako and Pygments, ~8 MB resident in every web worker and `flask
    bundles build` process, which never migrate (bench/bundle.py)."""
    app.extensions["migrate"] = _MigrationsOnFirstUse(app)
    app.cli.add_command(_MigrationCommands(app))


def bind_migrations(app: Flask):
    """Bind Flask-Migrate to `app` (once): its app.extensions["migrate"] and its `flask db`
    group take the stand-ins' places. Returns app.extensions["migrate"]."""
    if isinstance(app.extensions.get("migrate"), _MigrationsOnFirstUse):
        from subscribe.extensions import migrate

        migrate.init_app(app, db, directory=str(MIGRATIONS), render_as_batch=True)
    return app.extensions["migrate"]


class _MigrationsOnFirstUse:
    """app.extensions["migrate"] until something reads it (Flask-Migrate's functions,
    migrations/env.py): it binds Flask-Migrate then, and answers as its config."""

    def __init__(self, app: Flask) -> None:
        self._app = app

    def __getattr__(self, name: str):
        return getattr(bind_migrations(self._app), name)


class _MigrationCommands(click.Group):
    """`flask db`: Flask-Migrate's group, imported once a command line names it (`flask
    --help` lists this stand-in). Click makes a subcommand's context with make_context
    and invokes that context's command: Flask-Migrate's group, as before."""

    def __init__(self, app: Flask) -> None:
        super().__init__("db", help="Perform database migrations.")
        self._app = app

    def make_context(self, info_name, args, parent=None, **extra):
        bind_migrations(self._app)
        real = self._app.cli.commands["db"]  # replaced by Migrate.init_app
        return real.make_context(info_name, args, parent=parent, **extra)


SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlite_pragmas(
    dbapi_connection, _record, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS
) -> None:
    """WAL lets the web read while the worker writes; foreign keys are off by default.

    busy_timeout: a writer waits (rather than failing with "database is locked") while
    another holds the write lock. Writers keep their transactions short (a harvest batch
    is well under a second), so the wait is short; the limit only catches a stuck writer.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.close()


# Set in a pooled connection's info by a transaction begun without SQLite's foreign-key
# checks (scenarios/matching.py); `restore_foreign_keys` turns them back on.
FOREIGN_KEYS_OFF = "subscribe.foreign_keys_off"


def restore_foreign_keys(dbapi_connection, record) -> None:
    """A connection whose foreign-key checks a transaction turned off gets them back as it
    returns to the pool: after its transaction ended (committed, or rolled back by the
    pool's reset), when PRAGMA foreign_keys takes effect again."""
    if record.info.pop(FOREIGN_KEYS_OFF, False) and dbapi_connection is not None:
        dbapi_connection.execute("PRAGMA foreign_keys=ON")


def register_blueprints(app: Flask) -> None:
    from subscribe.api import IdConverter, id_parameter_schema
    from subscribe.audit.api import blp as audit_blp
    from subscribe.auth.api import blp as auth_blp
    from subscribe.bundles.api import blp as bundles_blp
    from subscribe.catalog.api import blp as sources_blp
    from subscribe.extensions import api
    from subscribe.feedback.api import blp as reports_blp
    from subscribe.health import blp as health_blp
    from subscribe.jobs.api import blp as jobs_blp
    from subscribe.metrics import metrics_blp
    from subscribe.notify.api import notifications_blp, subscriptions_blp, webhooks_blp
    from subscribe.notify.chat_api import chat_blp
    from subscribe.preview.api import blp as previews_blp
    from subscribe.quality.api import blp as quality_blp
    from subscribe.scenarios.api import blp as scenarios_blp
    from subscribe.search.api import blp as datasets_blp
    from subscribe.suggest.api import blp as suggestions_blp

    app.url_map.converters["int"] = IdConverter  # before any rule is added
    api.register_converter(IdConverter, id_parameter_schema)
    app.register_blueprint(health_blp)
    app.register_blueprint(metrics_blp)
    for blueprint in (
        auth_blp, sources_blp, datasets_blp, scenarios_blp, bundles_blp, subscriptions_blp,
        webhooks_blp, chat_blp, notifications_blp, jobs_blp, previews_blp, suggestions_blp,
        quality_blp, reports_blp, audit_blp,
    ):  # fmt: skip
        api.register_blueprint(blueprint)


def register_errorhandlers(app: Flask) -> None:
    """AppError → the one error shape; HTTP errors are shaped by SubscribeApi."""
    from subscribe.errors import AppError, error_body

    @app.errorhandler(AppError)
    def handle_app_error(error: AppError):
        db.session.rollback()  # nothing half-done by the failed service is kept
        return error_body(error.status, error.message, error.errors), error.status

    @app.teardown_request
    def rollback_after_a_crash(error: BaseException | None) -> None:
        # A database error leaves the transaction aborted (PostgreSQL): roll back so
        # the next use of this session starts clean.
        if error is not None:
            db.session.rollback()


def register_commands(app: Flask) -> None:
    from subscribe.auth.cli import users_cli
    from subscribe.bundles.cli import bundles_cli
    from subscribe.catalog.cli import harvest_command, sources_cli
    from subscribe.demo.cli import demo_cli
    from subscribe.jobs.cli import deliver_command, detect_command, jobs_cli, worker_command
    from subscribe.search.cli import search_cli

    for command in (users_cli, sources_cli, harvest_command, worker_command, detect_command,
                    deliver_command, jobs_cli, demo_cli, search_cli, bundles_cli):  # fmt: skip
        app.cli.add_command(command)
