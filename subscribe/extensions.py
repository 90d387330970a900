"""Extensions, created unbound here and bound to the app in create_app().

``db`` is made at import; ``migrate``, ``api``, ``limiter`` and ``babel`` when first
imported (``from subscribe.extensions import api``): a harvest process needs only the
database, and Flask-Migrate (Alembic), Flask-Smorest, Flask-Limiter and Flask-Babel were
half a second of its start. Each is made once and is the same object for every importer.
"""

from __future__ import annotations

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    @classmethod
    def __table_cls__(cls, *args, **kwargs) -> Table:
        """Every table's integer id is AUTOINCREMENT on SQLite: without it SQLite hands a
        deleted row's id (the highest) to the next row, so a new source, scenario or
        endpoint would inherit what still names the old one (feed entries, links,
        pins, the audit trail). PostgreSQL sequences never reuse ids. (Migration 0017.)"""
        kwargs.setdefault("sqlite_autoincrement", True)
        return Table(*args, **kwargs)


db = SQLAlchemy(model_class=Base)


def _migrate():
    from flask_migrate import Migrate

    return Migrate()


def _api():
    from subscribe.errors import SubscribeApi

    return SubscribeApi()


def _limiter():
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    # Limits are set per view (auth); storage from RATELIMIT_STORAGE_URI (memory by default).
    return Limiter(key_func=get_remote_address, headers_enabled=True)


def _babel():
    from flask_babel import Babel

    # Locale chosen per request by subscribe.web.i18n (Chinese unless the user picks English).
    return Babel()


_LAZY = {"migrate": _migrate, "api": _api, "limiter": _limiter, "babel": _babel}


def __getattr__(name: str):
    """Make a lazy extension on first access and keep it as a module attribute."""
    make = _LAZY.get(name)
    if make is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = globals()[name] = make()
    return value
