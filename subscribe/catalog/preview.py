"""A dry run of a source: the first rows as the harvest would map them, nothing written.

So an operator can fix a tabular mapping before the first harvest: the same harvester
runs against the live URL with the source's mapping, but its records go to the caller
instead of the writer. Used by `flask sources preview NAME` and
``POST /api/v1/sources/{id}/preview``.
"""

from __future__ import annotations

from flask import current_app

from subscribe.catalog.harvest import harvester_for, with_dates_not_read
from subscribe.catalog.harvesters.base import HarvestContext, make_session
from subscribe.catalog.models import Source
from subscribe.catalog.records import (
    BadRecord,
    DatasetRecord,
    HarvestError,
    MappingError,
    date_notes,
)
from subscribe.errors import InvalidInputError
from subscribe.notify.ssrf import OutboundPolicy

DEFAULT_ROWS = 10
MAX_ROWS = 100


def preview_source(source: Source, rows: int = DEFAULT_ROWS, mapping: dict | None = None) -> dict:
    """{"source", "mapping" (report or None), "total", "records": [...], "bad": [...]}.

    ``rows``: how many datasets to show (1-100); ``mapping``: try this mapping instead
    of the source's saved one. Records are DatasetRecord.canonical() dicts (ISO dates)
    with the "identifier" they would be stored under. Raises InvalidInputError (422) when
    the source cannot be read (errors.source: unreachable, not the format) or the mapping
    cannot be applied (errors.mapping: an unknown key or field, a column not in the file).
    """
    rows = max(1, min(rows, MAX_ROWS))
    config = current_app.config
    totals: list[int] = []
    policy = OutboundPolicy(config["SUBSCRIBE_OUTBOUND_ALLOWLIST"])
    with make_session(policy, retries=0) as session:
        ctx = HarvestContext(
            url=source.url,
            session=session,
            mapping=source.mapping if mapping is None else mapping,
            page_size=min(config["SUBSCRIBE_HARVEST_PAGE_SIZE"], MAX_ROWS),
            timeout=config["SUBSCRIBE_HTTP_TIMEOUT"],
            on_total=totals.append,
        )
        records: list[dict] = []
        bad: list[dict] = []
        dates: dict[str, dict[str, int]] = {}  # as the harvest's report counts them
        stream = harvester_for(source.type)(ctx)
        try:
            for item in stream:
                if isinstance(item, BadRecord):
                    if len(bad) < MAX_ROWS:
                        bad.append({"reference": item.reference, "reason": item.reason})
                elif isinstance(item, DatasetRecord):
                    for name, note in date_notes(item):  # over every record read
                        counts = dates.setdefault(name, {})
                        counts[note] = counts.get(note, 0) + 1
                    if len(records) < rows:
                        records.append(item.canonical())
                # A tabular export is read whole before the first record (the report is
                # complete); a paged API stops after the rows asked for.
                if len(records) >= rows and source.type != "tabular":
                    break
        except MappingError as exc:  # keyed by the field that set it, as POST /sources does
            raise InvalidInputError(
                f"The mapping is not valid: {exc}", {"mapping": [str(exc)]}
            ) from exc
        except HarvestError as exc:
            raise InvalidInputError(
                f"The source could not be read: {exc}", {"source": [str(exc)]}
            ) from exc
        finally:
            stream.close()
    return {
        "source": source.name,
        "mapping": with_dates_not_read(ctx.report, dates),
        "total": sum(totals) if totals else None,
        "records": records,
        "bad": bad,
    }
