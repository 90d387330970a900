"""Is a dataset on time for its declared update frequency? One rule for reports and alerts."""

from __future__ import annotations

from datetime import datetime, timedelta

DAY = 86_400
# The longest gap each declared frequency allows before the next update is due.
PERIOD_SECONDS = {
    "realtime": DAY,
    "daily": DAY,
    "weekly": 7 * DAY,
    "biweekly": 16 * DAY,  # also twice a month (semimonthly, 半月)
    "monthly": 31 * DAY,
    "quarterly": 92 * DAY,
    "semiannual": 184 * DAY,
    "yearly": 366 * DAY,
    "biennial": 731 * DAY,
}
GRACE_FRACTION = 0.5  # late by half a period more before it counts as overdue
MIN_GRACE = DAY


def allowed_gap(frequency: str) -> int | None:
    """Seconds after `modified` at which a dataset becomes overdue; None when no schedule."""
    period = PERIOD_SECONDS.get(frequency)
    if period is None:
        return None
    return period + max(int(period * GRACE_FRACTION), MIN_GRACE)


def overdue_since(frequency: str, modified: datetime | None, now: datetime) -> datetime | None:
    """When a dataset became late (naive UTC), or None while on time, without schedule or
    date. Shown on the dataset page and API whether or not it was ever pushed."""
    gap = allowed_gap(frequency)
    if gap is None or modified is None:
        return None
    late_at = modified + timedelta(seconds=gap)
    return late_at if late_at < now else None
