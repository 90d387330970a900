"""The harvester contract and the HTTP session every harvester fetches with.

Every harvest fetch (a source URL, CKAN's actions page by page, a DCAT catalog, a
tabular export) goes through the SSRF guard (notify/ssrf.py), as resource checks,
previews and bundles do: a source URL is vetted when it is saved, but a name can
resolve elsewhere later and a portal can redirect anywhere, so each connection's
address is vetted when it is opened and each redirect hop is vetted before it is asked."""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import requests
from urllib3.util.retry import Retry

from subscribe.catalog.records import BadRecord, DatasetRecord, HarvestError
from subscribe.notify.ssrf import (
    BLOCKED_PREFIX,
    BlockedURL,
    GuardedSession,
    OutboundPolicy,
    UnresolvableHost,
    fetch_following_redirects,
    guarded_session,
)
from subscribe.transport_errors import transport_reason

RecordStream = Iterator[DatasetRecord | BadRecord]


@dataclass
class HarvestContext:
    """Everything a harvester needs to know about one run."""

    url: str
    session: GuardedSession  # make_session(): fetch() refuses any other
    mapping: dict = field(default_factory=dict)
    since: datetime | None = None  # incremental lower bound (already overlapped); None = full
    page_size: int = 1000
    timeout: float = 30.0
    on_total: Callable[[int], None] = lambda total: None  # progress: records expected
    # Set by the harvester: True when the run listed every upstream dataset, so
    # datasets it did not see may be marked deleted. Incremental or partial runs leave it False.
    full_listing: bool = False
    # Set by the harvester when a listing meant to be full received fewer datasets than
    # the catalog announced (ckan: an empty or repeated page): why, in words. The run
    # then deletes nothing and reports it (harvest.execute_run).
    listing_incomplete: str = ""
    # Set by the harvester: identifiers of datasets the catalog lists as not published
    # (ckan: state deleted or draft, private): not yielded, their stored datasets are
    # marked deleted whatever the listing (harvest.execute_run).
    withdrawn: set[str] = field(default_factory=set)
    # Set by harvesters that decide a mapping (tabular): which column became which field,
    # which were ignored, how identity was chosen. Stored on the run (mapping_report).
    report: dict | None = None
    # Set by the caller: the consumer takes records.RawRecord (rows parsed only when the
    # writer finds their fingerprint new). Harvesters without raw rows ignore it.
    raw_rows: bool = False
    # Set by the caller that stores the run: the source's active datasets of some rows
    # that share an identity (tabular_identity.keep_stored), given the shared identities
    # and the rows' titles: [(identifier, title, publisher, source_fingerprint,
    # distinguished_by)] in the order they were created. None (previews, direct calls):
    # nothing is known stored.
    stored_datasets: Callable[[list[str], list[str]], list[tuple]] | None = None
    # Set by the same caller: the source's active datasets told apart from twins, as
    # (identifier, title, publisher, distinguished_by): told apart from an id or URL
    # ("A006#0123456789") or shown with what tells them apart (所属区县: 西山区), so a row
    # alone again keeps its own (keep_stored) and a bad row names its own.
    stored_told_apart: Callable[[], list[tuple[str, str, str, dict]]] | None = None
    # Set by the same caller, for carrying stored identities over a change of identity
    # scheme (carry_over): the previous successful run's mapping report's ``identity``
    # section (None: no such run); every active dataset of the source as (dataset id,
    # identifier, title, publisher, landing page), streamed; and the first file URL of
    # some of them, {dataset id: url}; and the upstream short name (CKAN's package name,
    # DatasetRecord.upstream_name) of some of them, {dataset id: name}, those without one
    # left out. None (previews, direct calls): nothing is stored.
    previous_identity: dict | None = None
    stored_identities: Callable[[], Iterable[tuple[int, str, str, str, str]]] | None = None
    stored_download_urls: Callable[[list[int]], dict[int, str]] | None = None
    # The same datasets' identifiers only, as (identifier, title, publisher) with title
    # and publisher None unless the identifier is a title-and-publisher hash (sha1:…):
    # whether a derived identity's re-harvest has rows to pair (tabular_carry).
    stored_identifiers: Callable[[], Iterable[tuple[str, str | None, str | None]]] | None = None
    stored_names: Callable[[list[int]], dict[int, str]] | None = None
    # The description of each of these datasets that has one, {dataset id: text}
    # (tabular_rename's evidence).
    stored_descriptions: Callable[[list[int]], dict[int, str]] | None = None
    # Set by the same caller: some stored columns of the source's active datasets of
    # these identifiers, {identifier: {column: value}} (ckan.keep_stored).
    stored_values: Callable[[list[str], tuple[str, ...]], dict[str, dict]] | None = None
    # Set by the same caller: a set the harvester adds to the stored identifiers it gave
    # to listed datasets whose identifying URL moved origin (dcat.carried_identities);
    # the writer reports those whose URLs moved in this run (origin_moved_identifiers).
    carried_identifiers: set[str] | None = None
    # Set by the same caller: a dict the harvester fills with the stored identifiers it
    # carried over by a base mapping (a portal moved under a path prefix), each with its
    # (old base, new base) (origins.identity_moves); the writer stores such a dataset
    # quietly when the mapping explains every change.
    carried_bases: dict[str, tuple[str, str]] | None = None
    # Set by the same caller: a dict the harvester fills with each stored identifier it
    # carried over to a listed one (origin or base move: dcat.carried_identities), to the
    # listed identifier; the writer stores that one at the end of the run, so the
    # dataset's identity follows the move.
    carried_listed: dict[str, str] | None = None
    # Set by dcat.carried_identities as it streams the stored identifiers: (how many the
    # listing names, how many it does not), for dcat.carried_schemes.
    stored_counts: tuple[int, int] | None = None


Harvester = Callable[[HarvestContext], RecordStream]


def make_session(
    policy: OutboundPolicy, retries: int = 4, backoff: float = 1.0, user_agent: str = ""
) -> GuardedSession:
    """The SSRF-guarded session (`policy`: the outbound allow-list, config
    SUBSCRIBE_OUTBOUND_ALLOWLIST) that retries connection errors, 429 and 5xx with
    exponential backoff. It follows no redirect itself: `fetch` vets each hop.

    Retry-After is honoured (urllib3 does that for 429/503); POSTs are never retried
    because harvesters only read. A refused address is never retried (BlockedURL).
    """
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        redirect=0,  # the adapter never follows one; fetch() does, hop by hop
        backoff_factor=backoff,
        backoff_max=60,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    session = guarded_session(policy, pool_maxsize=8, retries=retry)
    session.headers["User-Agent"] = (
        user_agent or "subscribe-harvester/0.1 (+open data subscriptions)"
    )
    return session


def fetch(ctx: HarvestContext, url: str, params: dict | None = None, **kwargs) -> requests.Response:
    """GET url (with ``params`` as its query) with the run's timeout through the guarded
    session, following up to 5 redirects, each hop vetted. A transport failure or an
    HTTP error is a HarvestError saying so; a refused address one that starts with
    "blocked: " and says why, with nothing sent to it (the run fails with that error)."""
    if params:  # into the URL now: a redirect's Location is asked as it stands
        url = requests.Request("GET", url, params=params).prepare().url or url
    try:
        response = fetch_following_redirects(ctx.session, url, timeout=ctx.timeout, **kwargs)
    except UnresolvableHost as exc:  # no address at all: unreachable, not refused
        raise HarvestError(f"could not fetch {url}: host name not found") from exc
    except BlockedURL as exc:
        raise HarvestError(f"{BLOCKED_PREFIX}{exc} (fetching {url})") from exc
    except requests.RequestException as exc:
        raise HarvestError(f"could not fetch {url}: {transport_reason(exc, ctx.timeout)}") from exc
    if response.status_code >= 400:
        response.close()  # a streamed body would otherwise hold the connection
        raise HarvestError(f"{url} answered HTTP {response.status_code}")
    return response


def json_error_line(exc: Exception) -> str:
    """A JSON parser's error as one line for the run's error on the source page: yajl's
    message without the lines drawing the failing text and a caret under it. ijson's C
    backend gives the message as the repr of bytes (b'parse error: …\\n …'): decoded."""
    message = str(exc).strip()
    if message[:2] in ("b'", 'b"'):
        with contextlib.suppress(ValueError, SyntaxError, AttributeError):
            message = ast.literal_eval(message).decode("utf-8", "replace")
    return (message.strip().splitlines() or [type(exc).__name__])[0].strip()
