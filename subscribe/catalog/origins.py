"""Origin moves: a catalog's URLs changing scheme, host or port together is no news.

A portal that moves from http to https, to a new host name (data.gov.cn ->
www.data.gov.cn), to another port (the demo portal started on a port of its own because
5001 was taken), or whose files move to another CDN prefix, changes every dataset's
URLs at once while nothing about the data changed. Compared dataset by dataset, each
is an update (landing page, every resource's URL), and subscribers got one
``dataset.updated`` per dataset: ~600 for the demo, a national catalog's worth for a
portal going https.

The rule, per harvest run of a source (the writer keeps the tally, ``OriginTally``):

* a dataset is a *candidate* when the only difference between its stored snapshot and
  the harvested one is that URL values moved *base*: a base is an origin and a path
  prefix of whole segments (often empty), and each URL that went away has a URL that
  came with the same rest (path after the prefix, query, fragment) on a base of another
  origin, one old base going to one new base within the dataset for each kind of URL
  (PAGE: the landing page and other top-level fields; FILE: resources' URLs), no URL of
  the dataset left on an old origin (of either kind, outside the base or not; but see
  files leaving the pages' host below) nor
  already on a new one before, no two old bases of a kind merged into one new one (so
  the stored snapshot is the new one mapped back, exactly), and the stored snapshot with its URLs mapped reads the
  same as the harvested one (``diff.diff_snapshots``: no other change, not even one
  that is no news on its own);
* why bases, not origins (bb7 finding 1): files moving to a CDN often gain or lose a
  path prefix on the way (``http://files.old/ds/K0.csv`` ->
  ``https://cdn.new/v2/ds/K0.csv``), and an origin-to-origin rule called that a dozen
  updates. A moved URL is paired with the gone URL it shares the longest rest with, on
  segment boundaries (``/ds/x1.csv`` is no ``/ds/1.csv``); the prefixes are what is
  left, so a plain origin move keeps empty prefixes. A common rest of nothing but "/"
  or a query pairs only whole URLs (any two folder URLs share "/"), and a rest two
  gone URLs share pairs nothing. The origin must change, with one exception (bb9 F1):
  pages that gain or drop a whole-segment prefix on their own origin
  (``…/dataset/x`` <-> ``…/portal/dataset/x``; ``/v1`` -> ``/v2`` is no such thing), and
  a dataset's files with them when they moved by the same mapping. Files alone,
  ``/ds`` -> ``/v2/ds`` on one host, are the portal's own new version of its files, an
  edit to tell. Such a candidate must also map back exactly (no page of the origin left
  outside the base), and at the end of the run URLs on a new base inside the old one do
  not hold the old one. Files leaving the host the dataset's pages stay on
  (``https://data.x/files/a.csv`` -> ``https://cdn.x/files/a.csv``, bb9 F4) move from
  the path their URLs share (``https://data.x/files``, _narrow_file_bases), not the
  whole host: pages there, on no old base, are no file left behind, and do not hold
  it at the end of the run (a page on that path does: news); files in a folder of
  their dataset's own (``/files/<id>/a.csv``) narrow to one base a dataset, so such a
  move stays news. A base-wide rename with a host change is admitted too; the
  run-level conditions below, per base, are what keep a coincidence out;
* URLs are compared as addresses (bb7 finding 3, urls.url_key): scheme and host case
  and the default port are no change at all, so a catalog read again as
  ``HTTP://Data.Example.CN:80/…`` is never diffed as an update (diff.py compares the
  same way) and never a move either; an origin here is in that normal form, and the
  end-of-run check looks for a base spelled with its default port too;
* why per kind (bb7 finding 2): a portal and its file store often move to different
  homes at once (pages ``http://data.example.cn`` -> ``https://data.example.cn``, files
  -> ``https://cdn.example.cn``); one new base per old one would call every dataset
  news. A mapping is kept per (kind, old base), each must pass the run-level conditions
  on its own (counted per kind), and a candidate stays quiet only when all of its
  mappings are moves. Within one kind an old base still has one new home: the files of
  one dataset going two ways is no move;
* the candidate is written at once *quietly*: new URLs stored (downloads work; resources
  keep their ids, paired through the mapping), no version and no event;
* at the end of the run a mapping ``old -> new`` (bases, of one kind) is an *origin move*
  when (all three):
  - ``MIN_DATASETS`` or more datasets are its candidates: a portal move moves every
    dataset; a dataset or two moving is a story of their own;
  - its candidates are more than half of the run's datasets in which a URL on ``old``
    moved to any origin (news or not): where ``old`` splits between several new homes
    the minor ones stay news ("one dataset moved elsewhere than the rest"), and where
    most datasets that moved also changed otherwise, the run is an edit, not a move;
  - after the run no active dataset of the source holds a landing page or file URL on
    ``old`` (under its prefix, compared in lower case; pages and files alike) any more:
    a move replaces a base. Half a portal moved is two homes, not
    a new address, and each of those datasets stays news.
  A candidate whose every mapping is a move stays quiet; any other gets its version and
  ``dataset.updated`` event then, with the same diff it would have had (rebuilt from the
  stored snapshot with its URLs mapped back, which the candidate rule makes exact).

A dataset edited while its URLs moved (a title changed in the run the portal moved) is
news either way, but its event waits for the end of the run too (``OriginTally.hold``,
16 bytes a dataset; bb7 finding 4): its version is written at once, and its event is
then diffed from the version before mapped through those of its mappings that were
decided moves, so subscribers read the title change, not also landing_page old -> new
and resource_removed + resource_added for the same file (the version's diff is
rewritten the same, and the event's ``before`` is that mapped snapshot). Mappings that
were no move stay in the news, as does everything when the mapped diff would be empty.

Datasets identified by a URL (a DCAT IRI or landing page) keep their identity through a
move (identity_moves): by the same rest on another origin, or, when a portal moves under
a path prefix (``…/dataset/abc`` -> ``…/portal/dataset/abc``, on its host or another),
by one base mapping that carries at least ``MIN_DATASETS`` identifiers and more than
half of those that left its old base. The rule above looks at origins, so a prefix on
one host would be an edit to it: the writer stores such a carried dataset quietly when
that base mapping explains every change of its snapshot (pages and files on the base),
tells an edit made in the same run without the URL changes the mapping explains, and
reports the mapping as a move (``origin_moves``, from and to bases with their path).
What that mapping leaves is judged by the rule above (bb9 F4: the files of such a
dataset going to a CDN in the same run): the writer observes the mapped snapshot, so
the files' mapping is a candidate and a move of its own (``hold``'s ``carried``).
At the end of the run a carried dataset is stored under the identifier now listed
(writer ``_rename_carried``, bb9 F2), so a dataset published later at the old URL is a
new one, not the moved one's identity.

Conservative on purpose: a missed move is the old flood of updates, a wrong one would
hide an edit from subscribers. The run's report says what moved, once, for operators
(``mapping_report.origin_moves``: [{"from", "to", "datasets"}], one line per old and
new base, kinds together).

Cost: nothing for an unchanged dataset (never diffed); for a changed one the URL
values of both snapshots are compared (a few string operations) and, only when URLs
moved, one more diff. The end-of-run check is one query per mapping found.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Iterable

from subscribe.catalog.diff import diff_snapshots
from subscribe.catalog.urls import fold_url, normal_origin, origin_end, rest_key

# Candidates a mapping needs before it is a move (see the module docstring).
MIN_DATASETS = 5


def split_origin(value) -> tuple[str, str] | None:
    """(origin, rest) of an absolute http(s) URL: origin is scheme://host[:port] in normal
    form (urls.normal_origin: lower case, no default port), rest the path, query and
    fragment as written; None for anything else."""
    end = origin_end(value)
    if end is None or end == value.index("://") + 3:
        return None  # not an http(s) URL, or no host
    return normal_origin(value[:end]), value[end:]


# Top-level fields that name the dataset rather than say where it is: the writer found
# the stored dataset by them (a carried identity keeps the stored one), never moved.
_NAMES = ("identifier", "upstream_name")


# Kinds of URL a mapping is per (bb7 finding 2): a portal's pages and its file store may
# move to different homes in one move.
PAGE, FILE = "page", "file"


def _url_values(snapshot: dict):
    """Every whole-value http(s) URL of a snapshot, as (kind, URL): its top-level text
    fields (landing page, license …; not its identifier) are PAGE, each resource's (url,
    identifier …) FILE. Free text that contains a URL (a description) is not one: a
    changed description is an edit."""
    for name, value in snapshot.items():
        if type(value) is str and value[:4].lower() == "http" and name not in _NAMES:
            yield PAGE, value
    for resource in snapshot.get("resources") or ():
        if type(resource) is dict:
            for value in resource.values():
                if type(value) is str and value[:4].lower() == "http":
                    yield FILE, value


def split_base(base: str) -> tuple[str, str]:
    """(origin, path prefix) of a base as moved_origins writes it: a lower case
    scheme://host[:port] and whole path segments ("" or "/seg/…", no trailing "/")."""
    found = split_origin(base)
    assert found is not None, base
    return found


def _on_base(rest: str, prefix: str) -> bool:
    """Is a URL's rest (path, query, fragment) under ``prefix`` on whole segments?"""
    return rest.startswith(prefix) and (len(rest) == len(prefix) or rest[len(prefix)] in "/?#")


Mapping = dict[tuple[str, str], str]  # {(kind, old base): new base}


def _compiled(mapping: Mapping, kind: str) -> list[tuple[str, str, str]]:
    """(origin, prefix, new base) per old base of ``kind``, the longest prefix first (the
    most specific base a URL is on wins)."""
    return sorted(((*split_base(old), new) for (of, old), new in mapping.items() if of == kind),
                  key=lambda item: -len(item[1]))  # fmt: skip


def _map_one(value, compiled: list[tuple[str, str, str]]):
    if not compiled or type(value) is not str or value[:4].lower() != "http":
        return value  # nothing of its kind moved, or no URL (a name, a format): the most
    found = split_origin(value)
    if found is None:
        return value
    origin, rest = found
    for old_origin, prefix, new in compiled:
        if origin == old_origin and _on_base(rest, prefix):
            return new + rest[len(prefix) :]
    return value


def map_url(value, mapping: Mapping, kind: str):
    """``value`` (a URL of ``kind``) with its base replaced when it is on a mapped base."""
    return _map_one(value, _compiled(mapping, kind))


def url_mapper(mapping: Mapping, kind: str):
    """map_url with ``mapping`` read once: a function of one value, for many values."""
    compiled = _compiled(mapping, kind)
    return lambda value: _map_one(value, compiled)


def inverse(mapping: Mapping) -> Mapping:
    """The mapping back, new base to old per kind (exact for a candidate: origin_only
    asks new bases to be distinct within a kind)."""
    return {(kind, new): old for (kind, old), new in mapping.items()}


def map_snapshot(snapshot: dict, mapping: Mapping) -> dict:
    """A copy of ``snapshot`` with the URL values _url_values finds mapped, each by the
    mapping of its kind."""
    pages, files = _compiled(mapping, PAGE), _compiled(mapping, FILE)
    mapped = {
        name: _map_one(value, pages) if type(value) is str and name not in _NAMES else value
        for name, value in snapshot.items()
    }
    resources = snapshot.get("resources")
    if isinstance(resources, list):
        mapped["resources"] = [
            {key: _map_one(value, files) if type(value) is str else value
             for key, value in resource.items()}
            if type(resource) is dict else resource
            for resource in resources
        ]  # fmt: skip
    return mapped


def _suffixes(rest: str):
    """(prefix, common rest) splits of a URL's rest on whole path segments, the longest
    rest first: the whole rest under prefix "", then without each leading segment.
    A rest whose path has no named segment left (only "/", a query) is offered only
    whole: "/" alone pairs any two folder URLs."""
    cut = len(rest)
    for mark in "?#":
        found = rest.find(mark)
        if found != -1 and found < cut:
            cut = found
    yield "", rest
    start = rest.find("/", 1)
    while 0 < start < cut:
        if rest[start:cut].strip("/"):
            yield rest[:start], rest[start:]
        start = rest.find("/", start + 1)


def moved_origins(before: dict, after: dict) -> Mapping | None:
    """{(kind, old base): new base} of the URLs that went away and came back on another origin
    with the same rest (path, query and fragment) after a prefix of whole path segments;
    a base is the origin and that prefix ("http://f.example" -> "https://cdn.example/v2"
    for /ds/1.csv moving to /v2/ds/1.csv). A URL that came is paired with the URL that
    went with which it shares the longest rest; a rest two URLs that went share pairs
    nothing; URLs pair within their kind (PAGE, FILE). None when no URL moved, or when
    that is not one mapping a kind (an old base going to two new ones for the dataset's
    files, say)."""
    old_urls, new_urls = set(_url_values(before)), set(_url_values(after))
    gone, came = old_urls - new_urls, new_urls - old_urls
    if not gone or not came:
        return None
    # (kind, common rest) -> (old origin, old prefix), None where two URLs that went share it
    gone_by_rest: dict[tuple[str, str], tuple[str, str] | None] = {}
    for kind, url in gone:
        found = split_origin(url)
        if found is not None:
            origin, rest = found
            for prefix, common in _suffixes(rest):
                known = gone_by_rest.setdefault((kind, common), (origin, prefix))
                if known != (origin, prefix):
                    gone_by_rest[kind, common] = None  # one rest on two old bases: unclear
    mapping: Mapping = {}
    same_files: Mapping = {}
    file_rests: dict[str, list[str]] = {}  # FILE old base -> the common rests it moved
    for kind, url in came:
        found = split_origin(url)
        if found is None:
            continue
        origin, rest = found
        for prefix, common in _suffixes(rest):
            if (kind, common) not in gone_by_rest:
                continue
            old = gone_by_rest[kind, common]
            # A base moves to another origin, or on its origin gains or drops a path
            # prefix (``/dataset/x`` <-> ``/portal/dataset/x``); any other prefix changed
            # on one origin (``/v1`` -> ``/v2``) is an edit.
            if old is not None and (old[0] != origin or nested(old[1], prefix)):
                new = origin + prefix
                into = mapping if old[0] != origin or kind == PAGE else same_files
                if into.setdefault((kind, old[0] + old[1]), new) != new:
                    return None
                if kind == FILE and old[0] != origin:
                    file_rests.setdefault(old[0] + old[1], []).append(common)
            break  # the longest common rest decides, paired or not
    # Files that gained or dropped a prefix on their own origin move only with their
    # dataset's pages, by the same mapping (alone, ``/ds`` -> ``/v2/ds`` is the portal's
    # new version of its files: an edit).
    for (kind, old_base), new in same_files.items():
        if mapping.get((PAGE, old_base)) == new:
            mapping[kind, old_base] = new
    _narrow_file_bases(mapping, file_rests, after)
    return mapping or None


def _narrow_file_bases(mapping: Mapping, file_rests: dict[str, list[str]], after: dict) -> None:
    """Files leaving the host the dataset's pages stay on (``https://data.x/files/a.csv``
    -> ``https://cdn.x/files/a.csv``, pages still on data.x; bb9 F4): the old base is
    not the whole host but the leading path segments the moved files share
    (``…/files`` -> ``https://cdn.x/files``), so the pages left there do not hold it
    (origin_only, the end-of-run check). Only when a page of ``after`` is on the old base
    and no page moved from it, and the narrowed base holds no page; else left as it is
    (and such a dataset is news, as before)."""
    pages = [found for kind, url in _url_values(after) if kind == PAGE
             for found in (split_origin(url),) if found is not None]  # fmt: skip
    for old, rests in file_rests.items():
        origin, prefix = split_base(old)
        new = mapping.get((FILE, old))
        if new is None or (PAGE, old) in mapping:
            continue
        if not any(page[0] == origin and _on_base(page[1], prefix) for page in pages):
            continue  # the pages left the host too (or were never on it): a plain move
        lead = _shared_lead(rests)
        if not lead or any(page[0] == origin and _on_base(page[1], prefix + lead)
                           for page in pages):  # fmt: skip
            continue
        del mapping[FILE, old]
        mapping[FILE, old + lead] = new + lead


def nested(old_prefix: str, new_prefix: str) -> bool:
    """Does one path prefix add whole segments in front of the other (on one origin:
    ``""`` <-> ``"/portal"``, ``"/v1"`` <-> ``"/v1/portal"``)?"""
    shorter, longer = sorted((old_prefix, new_prefix), key=len)
    return shorter != longer and longer.startswith(shorter + "/")


def same_origin(pair: tuple[tuple[str, str], str]) -> bool:
    """Does a mapping's pair ((kind, old base), new base) stay on one origin?"""
    (_kind, old), new = pair
    return split_base(old)[0] == split_base(new)[0]


def origin_only(before: dict, after: dict, mapping: Mapping) -> bool:
    """True when ``after`` is ``before`` with its URLs moved by ``mapping`` and nothing
    else, and mapping back is exact: no URL of ``after`` left on an old origin (of any
    kind: a page moved while a file stayed on the same host is two homes), none of
    ``before`` already on a new one, no two old bases of a kind going to one new one."""
    across = [pair for pair in mapping.items() if not same_origin(pair)]
    old_origins = {split_base(old)[0] for (_kind, old), _new in across}
    new_origins = {split_base(new)[0] for _old, new in across}
    if old_origins & new_origins:
        return False  # a swap or a chain (a -> b -> c): not one move
    if len(set(inverse(mapping))) != len(mapping):
        return False  # two old bases merged into one: no way back
    for _kind, url in _url_values(before):
        found = split_origin(url)
        if found is not None and found[0] in new_origins:
            return False
    # Pages may stay on a host whose files left it under a narrowed base
    # (_narrow_file_bases): on no old base, on an origin only files left.
    page_origins = {split_base(old)[0] for (kind, old), _new in across if kind == PAGE}
    file_bases = [split_base(old) for (kind, old), _new in across if kind == FILE]
    mapped = map_snapshot(before, mapping)
    for kind, url in _url_values(mapped):
        found = split_origin(url)
        if found is not None and found[0] in old_origins:
            if (kind == PAGE and found[0] not in page_origins
                    and not any(found[0] == origin and _on_base(found[1], prefix)
                                for origin, prefix in file_bases)):  # fmt: skip
                continue
            return False  # left behind (outside the base, or of a kind that did not move)
    if diff_snapshots(mapped, after):
        return False
    if len(across) < len(mapping):
        # A prefix gained or dropped on one origin: the way back must be exact too (no
        # URL of the origin left outside the base, none on the new base before).
        return not diff_snapshots(map_snapshot(after, inverse(mapping)), before)
    return True


class OriginTally:
    """One run's origin changes: the candidates written quietly (dataset ids by their
    mapping) and, per (kind, old base), how many datasets moved a URL away from it at
    all."""

    def __init__(self):
        self.candidates: dict[tuple[tuple[tuple[str, str], str], ...], array] = {}
        # (kind, old base) -> datasets (news or not)
        self.moved_from: Counter[tuple[str, str]] = Counter()
        self.moves: list[dict] = []  # decided at the end: [{"from", "to", "datasets"}]
        self.move_pairs: set[tuple[tuple[str, str], str]] = set()  # decided at the end
        # Edited datasets whose URLs also moved: their events wait for the end of the
        # run (told without what a move explains), [dataset id, version number, …].
        self.edited: dict[tuple[tuple[tuple[str, str], str], ...], array] = {}
        # Edited datasets of those carried by a base mapping (hold): that mapping first.
        self.carried_first: dict[int, Mapping] = {}

    def observe(self, before: dict, after: dict) -> tuple[Mapping | None, bool]:
        """Count a changed dataset's moved bases: (its mapping, True) when it is a
        candidate (only its URLs moved: to be written quietly), (its mapping, False) when
        it moved URLs and changed otherwise too (news, told at the end of the run), and
        (None, False) when no URL moved (news as usual)."""
        mapping = moved_origins(before, after)
        if mapping is None:
            return None, False
        self.moved_from.update(list(mapping))  # the (kind, old base)s, one each
        return mapping, origin_only(before, after, mapping)

    def hold(self, dataset_id: int, number: int, mapping: Mapping,
             carried: Mapping | None = None) -> None:  # fmt: skip
        """An edited dataset whose version ``number`` is written and whose event waits
        for ``decide`` (``moved_part``); ``carried``: the base mapping its identifier
        moved by (identity_moves), applied before ``mapping`` (the few such datasets)."""
        key = tuple(sorted(mapping.items()))
        self.edited.setdefault(key, array("q")).extend((dataset_id, number))
        if carried is not None:
            self.carried_first[dataset_id] = carried

    def moved_part(self, key) -> Mapping:
        """The part of an edited dataset's mapping that was decided a move."""
        return {pair[0]: pair[1] for pair in key if pair in self.move_pairs}

    def add(self, dataset_id: int, mapping: Mapping) -> None:
        key = tuple(sorted(mapping.items()))
        self.candidates.setdefault(key, array("q")).append(dataset_id)

    def pair_counts(self) -> Counter[tuple[tuple[str, str], str]]:
        """Candidates per mapping ((kind, old base), new base)."""
        counts: Counter[tuple[tuple[str, str], str]] = Counter()
        for key, ids in self.candidates.items():
            for pair in key:
                counts[pair] += len(ids)
        return counts

    def decide(self, still_used) -> list[tuple[Mapping, array]]:
        """Settle the run: the moves (kept in ``moves`` for the report) and the
        candidates that are news after all, [(mapping, dataset ids)]. Each mapping of a
        kind passes the conditions on its own. ``still_used(base, inside)`` says whether
        an active dataset of the source still holds a page or file URL on that base and
        not on one of the bases ``inside`` it (asked once per old base, for mappings that
        passed the counts)."""
        counts = self.pair_counts()
        moves = {
            pair: n
            for pair, n in counts.items()
            if n >= MIN_DATASETS and n * 2 > self.moved_from[pair[0]]
        }
        # A prefix gained on one origin (``…`` -> ``…/portal``): URLs on the new base are
        # on the old one too, and do not hold it.
        inside: dict[str, set[str]] = {}
        for (_kind, old), new in moves:
            inside.setdefault(old, set())
            if same_origin(((_kind, old), new)) and len(new) > len(old):
                inside[old].add(new)
        used = {old: still_used(old, tuple(sorted(news))) for old, news in inside.items()}
        moves = {pair: n for pair, n in moves.items() if not used[pair[0][1]]}
        self.move_pairs = set(moves)
        # Reported per (old, new) base, kinds together: a plain move is one line. Every
        # dataset whose URLs the move took counts, the edited ones too (told without
        # the move's part): bb9 F4, the count agrees with what moved.
        reported: Counter[tuple[str, str]] = Counter()
        held = [(key, len(pairs) // 2) for key, pairs in self.edited.items()]
        for key, count in [*((key, len(ids)) for key, ids in self.candidates.items()), *held]:
            for old, new in {(old, new) for (_kind, old), new in key
                             if ((_kind, old), new) in moves}:  # fmt: skip
                reported[old, new] += count
        self.moves = [
            {"from": old, "to": new, "datasets": n}
            for (old, new), n in sorted(reported.items(), key=lambda item: (-item[1], item[0]))
        ]
        return [
            (dict(key), ids)
            for key, ids in self.candidates.items()
            if not all(pair in moves for pair in key)
        ]


def identity_moves(
    listed: Iterable[str], stored: Iterable[str]
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """({listed identifier: stored identifier}, {stored identifier: (old base, new base)})
    for catalogs that identify datasets by URL (a DCAT dataset's IRI or landing page): a
    listed identifier that is not stored takes the stored identifier of a dataset the
    listing does not name. Without it an origin move deletes every dataset and creates it
    again; with it the writer sees the dataset with its URLs moved, and the rules above
    decide whether that is news. A bare origin (rest "" or "/") is no dataset's identity
    and pairs nothing. Two ways, one to one (a key two listed or two stored identifiers
    share pairs nothing):

    * the same path, query and fragment on another origin (http -> https, a new host);
    * moved by one base mapping (a portal moved under a path prefix, on its host or to
      another: ``https://data.x.gov/dataset/abc`` -> ``https://data.x.gov/portal/dataset/abc``):
      each identifier left is paired with the gone one it shares the longest rest with
      on whole segments (as moved_origins pairs URLs), and a mapping old base -> new base
      carries its pairs over when, as for an origin move, ``MIN_DATASETS`` or more are
      its pairs and they are more than half of the stored identifiers on the old base
      that the listing lacks (a coincidence among real deletions and creations is not a
      move). Its bases are then narrowed to the leading path segments all its pairs
      share (``…/dataset`` -> ``…/portal/dataset``), and each carried stored identifier
      is returned with them: the writer stores such a dataset quietly when the mapping
      explains every change (CatalogWriter, ``carried_bases``).

    ``listed``: the run's identifiers (held by the caller anyway); ``stored``: the
    source's active identifiers, streamed once (only the unlisted URLs are kept)."""
    listed = set(listed)
    by_rest: dict[str, list[str]] = {}  # rests compared folded (urls.rest_key, bb9 F3)
    for identifier in listed:
        found = _folded(identifier)
        if found is not None and found[1].strip("/"):
            by_rest.setdefault(found[1], []).append(identifier)
    if not by_rest:
        return {}, {}
    known: set[str] = set()  # listed identifiers that are stored: not new
    gone: list[tuple[str, str, str]] = []  # (identifier, origin, rest) the listing lacks
    for identifier in stored:
        if identifier in listed:
            known.add(identifier)
            continue
        found = _folded(identifier)
        if found is not None and found[1].strip("/"):
            gone.append((identifier, *found))
    unlisted: dict[str, list[str]] = {}  # rest -> stored identifiers the listing lacks
    for identifier, _origin, rest in gone:
        if rest in by_rest:
            unlisted.setdefault(rest, []).append(identifier)
    pairs = {}
    for rest, olds in unlisted.items():
        news = [identifier for identifier in by_rest[rest] if identifier not in known]
        if len(olds) == 1 and len(news) == 1:
            pairs[news[0]] = olds[0]
    taken = set(pairs.values())
    fresh = [identifier for rest, identifiers in by_rest.items() for identifier in identifiers
             if identifier not in known and identifier not in pairs]  # fmt: skip
    left = [entry for entry in gone if entry[0] not in taken]
    if len(fresh) < MIN_DATASETS or len(left) < MIN_DATASETS:
        return pairs, {}
    moved, bases = _base_pairs(fresh, left, gone)
    pairs.update(moved)
    return pairs, bases


def _folded(identifier: str) -> tuple[str, str] | None:
    """split_origin with the rest folded (urls.rest_key): ``/dataset/s0/`` and
    ``/dataset/s0``, ``/%E6%95%B0`` and ``/数`` pair (bb9 F3)."""
    found = split_origin(identifier)
    return found if found is None else (found[0], rest_key(found[1]))


def _base_pairs(fresh: list[str], left: list[tuple[str, str, str]],
                gone: list[tuple[str, str, str]]):  # fmt: skip
    """identity_moves' second way: ({listed: stored}, {stored: (old base, new base)})."""
    by_common: dict[str, tuple[str, str, str] | None] = {}  # rest -> (identifier, origin, prefix)
    for identifier, origin, rest in left:
        for prefix, common in _suffixes(rest):
            known = by_common.setdefault(common, (identifier, origin, prefix))
            if known is not None and known[0] != identifier:
                by_common[common] = None  # one rest of two stored identifiers: unclear
    claims: dict[str, list[tuple[str, tuple[str, str], str]]] = {}  # stored -> claims
    for identifier in fresh:
        origin, rest = _folded(identifier)
        for prefix, common in _suffixes(rest):
            if common not in by_common:
                continue
            old = by_common[common]
            if old is not None and (old[1], old[2]) != (origin, prefix):
                claims.setdefault(old[0], []).append(
                    (identifier, (old[1] + old[2], origin + prefix), common)
                )
            break  # the longest common rest decides, paired or not
    votes: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for stored, found in claims.items():
        if len(found) == 1:  # claimed by one listed identifier only
            identifier, mapping, common = found[0]
            votes.setdefault(mapping, []).append((identifier, stored, common))
    pairs, bases = {}, {}
    for (old, new), members in votes.items():
        if len(members) < MIN_DATASETS:
            continue
        old_origin, old_prefix = split_base(old)
        departed = sum(1 for _identifier, origin, rest in gone
                       if origin == old_origin and _on_base(rest, old_prefix))  # fmt: skip
        if len(members) * 2 <= departed:
            continue
        lead = _shared_lead([common for _listed, _stored, common in members])
        narrowed = (old + lead, new + lead)  # one tuple for all its datasets
        for identifier, stored, _common in members:
            pairs[identifier] = stored
            bases[stored] = narrowed
    return pairs, bases


def _shared_lead(rests: list[str]) -> str:
    """The leading whole path segments every rest has, short of its last named one:
    "/dataset" of "/dataset/a" and "/dataset/b" ("" when they share none)."""
    split = [rest.split("?", 1)[0].split("#", 1)[0].split("/")[1:] for rest in rests]
    lead: list[str] = []
    for position in range(min(len(segments) for segments in split) - 1):
        segment = split[0][position]
        if not segment or any(segments[position] != segment for segments in split):
            break
        lead.append(segment)
    return "".join("/" + segment for segment in lead)


def base_mapping(bases: tuple[str, str]) -> Mapping:
    """The URL mapping of an identifier's base move (identity_moves), pages and files."""
    old, new = bases
    return {(PAGE, old): new, (FILE, old): new}


def moved_by(before: dict, after: dict, mapping: Mapping) -> bool:
    """Whether a URL of ``before`` went, by ``mapping``, to a URL ``after`` has (so the
    dataset's URLs moved in this run, not in an earlier one)."""
    came = {fold_url(value) for _kind, value in _url_values(after)}
    for kind, value in _url_values(before):
        moved = map_url(value, mapping, kind)
        if moved != value and fold_url(moved) in came and fold_url(value) not in came:
            return True
    return False


def written_as(mapped: dict, after: dict) -> dict:
    """``mapped`` (a stored snapshot with its URLs moved) with each URL value that is
    ``after``'s written otherwise (a trailing "/", percent-escapes: urls.fold_url) taken
    as ``after`` writes it: a carried dataset's identifier paired folded (bb9 F3), its
    URLs are compared the same way. Top-level fields and resources' URLs."""
    result = dict(mapped)
    for name, value in mapped.items():
        new = after.get(name)
        if (type(value) is str and type(new) is str and value != new
                and fold_url(value) == fold_url(new)):  # fmt: skip
            result[name] = new
    resources = mapped.get("resources")
    if isinstance(resources, list):
        urls = {fold_url(r.get("url")): r.get("url") for r in after.get("resources") or ()
                if type(r) is dict and type(r.get("url")) is str}  # fmt: skip
        result["resources"] = [
            {**resource, "url": urls.get(fold_url(resource["url"]), resource["url"])}
            if type(resource) is dict and type(resource.get("url")) is str else resource
            for resource in resources
        ]  # fmt: skip
    return result
