"""Every status a page shows as a badge has a colour of its own in the stylesheet.

The badges are `<span class="badge status-{{ value }}">` (deliveries, bundles),
`outcome-{{ value }}` (harvest and job runs) and `state-{{ value }}` (error reports): a
value with no rule renders as a plain grey pill, indistinguishable from "pending". The
values come from the models, so a new status without a colour fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from subscribe.bundles.models import BUNDLE_STATUSES
from subscribe.catalog.models import RUN_STATUSES
from subscribe.feedback.models import REPORT_STATES
from subscribe.notify.models import DELIVERY_STATUSES
from subscribe.web import labels

CSS = Path(__file__).resolve().parents[1] / "subscribe" / "web" / "static" / "app.css"
JOB_OUTCOMES = ("running", "succeeded", "failed")  # jobs/models.py JobRun.outcome

BADGES = [
    *(("status", value) for value in DELIVERY_STATUSES),
    *(("status", value) for value in BUNDLE_STATUSES),
    *(("outcome", value) for value in RUN_STATUSES),
    *(("outcome", value) for value in JOB_OUTCOMES),
    *(("outcome", value) for value in labels.RUN_STATUSES),  # every status a run page labels
    *(("state", value) for value in REPORT_STATES),
]


def coloured_badges() -> set[str]:
    """Class names X of every `.badge.X` selector whose rule sets a background."""
    found = set()
    for selectors, body in re.findall(r"([^{}]+)\{([^}]*)\}", CSS.read_text()):
        if "background" not in body:
            continue
        found.update(re.findall(r"\.badge\.([\w-]+)", selectors))
    return found


@pytest.mark.parametrize(("prefix", "value"), sorted(set(BADGES)))
def test_every_status_badge_has_a_colour(prefix, value):
    assert f"{prefix}-{value}" in coloured_badges()
