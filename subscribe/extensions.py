"""Extensions, created unbound here and bound to the app in create_app()."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase

from subscribe.errors import SubscribeApi


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
migrate = Migrate()
api = SubscribeApi()
# Limits are set per view (auth); storage from RATELIMIT_STORAGE_URI (memory by default).
limiter = Limiter(key_func=get_remote_address, headers_enabled=True)
# Locale chosen per request by subscribe.web.i18n (Chinese unless the user picks English).
babel = Babel()
