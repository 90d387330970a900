"""Is a dataset on time for its declared update frequency? One rule for reports and alerts."""

from __future__ import annotations

DAY = 86_400
# The longest gap each declared frequency allows before the next update is due.
PERIOD_SECONDS = {
    "realtime": DAY,
    "daily": DAY,
    "weekly": 7 * DAY,
    "monthly": 31 * DAY,
    "quarterly": 92 * DAY,
    "yearly": 366 * DAY,
}
GRACE_FRACTION = 0.5  # late by half a period more before it counts as overdue
MIN_GRACE = DAY


def allowed_gap(frequency: str) -> int | None:
    """Seconds after `modified` at which a dataset becomes overdue; None when no schedule."""
    period = PERIOD_SECONDS.get(frequency)
    if period is None:
        return None
    return period + max(int(period * GRACE_FRACTION), MIN_GRACE)
