"""Each user's language and time zone: what they chose, else the site's defaults.

`users.locale` and `users.timezone` are NULL until the user chooses (settings page or
PATCH /api/v1/auth/me): then the `lang` cookie decides the pages' language (Chinese by
default) and SUBSCRIBE_DISPLAY_TIMEZONE the zone. A choice, once made, is used by the
pages and by every e-mail.
"""

from __future__ import annotations

import functools
import zoneinfo

from flask import current_app

from subscribe.auth.models import User
from subscribe.extensions import db

LANGUAGES = ("zh", "en")
# Offered first in the settings form (the rest follow alphabetically).
COMMON_ZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Singapore",
                "Asia/Tokyo", "Europe/London", "Europe/Paris", "America/New_York",
                "America/Los_Angeles", "UTC")  # fmt: skip


@functools.cache
def all_zones() -> tuple[str, ...]:
    """IANA zone names this system knows, common ones first."""
    rest = sorted(zoneinfo.available_timezones() - set(COMMON_ZONES))
    return COMMON_ZONES + tuple(z for z in rest if "/" in z and not z.startswith("Etc/"))


def is_zone(name: str) -> bool:
    """True for an IANA zone name this system knows. Never raises: ZoneInfo reads the
    name as a path, so a folder ("Asia") or an over-long name fails with an OSError
    rather than ZoneInfoNotFoundError, and that must be a refusal, not a 500."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def user_timezone(user: User | None) -> str:
    """The zone to show this user's times in (IANA name)."""
    if user is not None and user.timezone:
        return user.timezone
    return current_app.config["SUBSCRIBE_DISPLAY_TIMEZONE"]


def save(user: User, values: dict) -> User:
    """Store `locale` and/or `timezone` (None = back to the defaults); validated before."""
    for key in ("locale", "timezone"):
        if key in values:
            setattr(user, key, values[key] or None)
    db.session.commit()
    return user
