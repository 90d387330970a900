"""Demo catalog and CKAN-compatible portal that publishes changes, for newcomers and benchmarks."""

from subscribe.demo.catalog import DemoCatalog
from subscribe.demo.changes import KINDS, ChangeFeed
from subscribe.demo.portal import PortalServer, create_portal, run_portal, start_portal

__all__ = [
    "KINDS",
    "ChangeFeed",
    "DemoCatalog",
    "PortalServer",
    "create_portal",
    "run_portal",
    "start_portal",
]
