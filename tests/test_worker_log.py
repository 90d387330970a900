"""The worker's log stays readable: urllib3's retry warnings (one per unreachable file)
flooded `make run`'s output when the harvested catalogs' hosts could not be reached."""

from __future__ import annotations

import logging


def test_urllib3_retry_warnings_are_not_logged(app):
    pool = logging.getLogger("urllib3.connectionpool")
    assert not pool.isEnabledFor(logging.WARNING)
    assert pool.isEnabledFor(logging.ERROR)
    assert logging.getLogger("subscribe").isEnabledFor(logging.INFO)
