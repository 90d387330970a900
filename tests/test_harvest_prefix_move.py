"""A portal whose pages gain or drop a path prefix on its own host (…/dataset/x <->
…/portal/dataset/x) is a move like an origin change (bb9 F1): datasets identified by
something else than their URL (id-N) and a portal moving back after a recognised move
were 8 ``dataset.updated`` each (landing_page only), while the same paths on another
host were quiet. Real portals on loopback, real database."""

from __future__ import annotations

import pytest

from subscribe.catalog import services
from subscribe.catalog.origins import moved_origins, origin_only
from tests.test_harvest_origin_move import (
    Portal,
    active_identities,
    events,
    harvest,
    stored_urls,
    versions,
)


def prefixed(portal: Portal, prefix: str, datasets=None) -> None:
    for n in datasets if datasets is not None else range(portal.count):
        portal.paths[n] = f"{prefix}/dataset/ds{n}"


@pytest.mark.parametrize("url_identifiers", [False, True])
def test_pages_gaining_and_dropping_a_prefix_on_their_host_are_a_move(app, httpserver,
                                                                       url_identifiers):  # fmt: skip
    portal = Portal(httpserver, 8)
    portal.url_identifiers = url_identifiers
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    assert harvest(source).created == 8
    before_versions = versions()
    base = f"http://127.0.0.1:{portal.port}"

    prefixed(portal, "/portal")
    moved = harvest(source)
    assert (moved.created, moved.updated, moved.deleted, moved.unchanged) == (0, 0, 0, 8)
    assert [(m["from"], m["to"]) for m in moved.mapping_report["origin_moves"]] in (
        [(base, f"{base}/portal")], [(f"{base}/dataset", f"{base}/portal/dataset")])  # fmt: skip
    assert all(u.startswith(f"{base}/portal/dataset/") for u in stored_urls(source))

    prefixed(portal, "")  # and back
    back = harvest(source)
    assert (back.created, back.updated, back.deleted, back.unchanged) == (0, 0, 0, 8)
    assert len(back.mapping_report["origin_moves"]) == 1
    assert all(u.startswith(f"{base}/dataset/") for u in stored_urls(source))
    assert events("dataset.updated") == 0 and events("dataset.deleted") == 0
    assert versions() == before_versions

    again = harvest(source)
    assert "origin_moves" not in (again.mapping_report or {})


def test_half_the_pages_gaining_a_prefix_is_news(app, httpserver):
    portal = Portal(httpserver, 10)
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    prefixed(portal, "/portal", range(6))  # the other 4 keep the old base: two homes
    run = harvest(source)
    assert (run.updated, run.unchanged) == (6, 4)
    assert events("dataset.updated") == 6
    assert "origin_moves" not in (run.mapping_report or {})


def test_a_prefix_renamed_on_one_host_is_no_move():
    """/v1 -> /v2 is not a prefix gained or dropped: an edit, as before."""
    before = {"landing_page": "https://h.example/v1/dataset/a"}
    assert moved_origins(before, {"landing_page": "https://h.example/v2/dataset/a"}) is None
    gained = {"landing_page": "https://h.example/v1/portal/dataset/a"}
    mapping = moved_origins(before, gained)
    assert mapping == {("page", "https://h.example/v1"): "https://h.example/v1/portal"}
    assert origin_only(before, gained, mapping)
    # A page of the origin left outside the base: mapping back is not exact.
    page, license_ = "https://h.example/dataset/a", "https://h.example/license"
    with_license = {"landing_page": page, "license": license_}
    after = {"landing_page": "https://h.example/portal/dataset/a", "license": license_}
    mapping = moved_origins(with_license, after)
    assert mapping == {("page", "https://h.example"): "https://h.example/portal"}
    assert not origin_only(with_license, after, mapping)


def test_a_dataset_published_later_at_a_moved_url_is_new(app, httpserver):
    """bb9 F2: after a move the stored identifier stayed the old URL, so a new dataset
    published at it later took the moved dataset's identity (its title an update of the
    dataset subscribers pinned, the moved one created anew). The identity follows the
    move: the new one is created, the moved one unchanged."""
    portal = Portal(httpserver, 8)
    portal.url_identifiers = True
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    harvest(source)
    ids = active_identities(source)
    prefixed(portal, "/portal")
    harvest(source)
    base = f"http://127.0.0.1:{portal.port}"
    assert active_identities(source) == {
        id_: f"{base}/portal/dataset/ds{n}" for n, id_ in enumerate(sorted(ids))
    }
    portal.count = 9
    portal.paths[8], portal.titles[8] = "/dataset/ds0", "New at the old URL"
    run = harvest(source)
    assert (run.created, run.updated, run.deleted, run.unchanged) == (1, 0, 0, 8)
    assert events("dataset.updated") == 0 and events("dataset.deleted") == 0
    now = active_identities(source)
    assert {id_: now[id_] for id_ in ids} == {
        id_: f"{base}/portal/dataset/ds{n}" for n, id_ in enumerate(sorted(ids))
    }
    (new,) = set(now) - set(ids)
    assert now[new] == f"{base}/dataset/ds0"


def publish_pages(httpserver, pages: list[str]) -> None:
    """A DCAT-US data.json of datasets identified by their landing pages ``pages``."""
    datasets = [{"title": f"Dataset {n}", "publisher": {"name": "Bureau"},
                 "modified": "2024-01-01", "landingPage": page}
                for n, page in enumerate(pages)]  # fmt: skip
    httpserver.clear()
    httpserver.expect_request("/data.json").respond_with_json({"dataset": datasets})


@pytest.mark.parametrize(
    ("old", "new"),
    [("/dataset/s{n}/", "/portal/dataset/s{n}"),
     ("/dataset/%E6%95%B0%E6%8D%AE{n}", "/portal/dataset/数据{n}")],
    ids=["trailing-slash", "percent-encoded"],
)  # fmt: skip
def test_identifiers_written_otherwise_across_a_move_are_the_same(app, httpserver, old, new):
    """bb9 F3: …/dataset/sN/ -> …/portal/dataset/sN, and a percent-encoded path read
    decoded after the move, were 8 deleted + 8 created: the rests are compared with a
    trailing "/" and percent-escapes folded (urls.rest_key), the URLs stored as written."""
    host = "https://data.qa.example"
    publish_pages(httpserver, [host + old.format(n=n) for n in range(8)])
    source = services.create_source("moving", "dcat", httpserver.url_for("/data.json"))
    assert harvest(source).created == 8
    ids = active_identities(source)
    publish_pages(httpserver, [host + new.format(n=n) for n in range(8)])
    run = harvest(source)
    assert (run.created, run.updated, run.deleted, run.unchanged) == (0, 0, 0, 8)
    assert events("dataset.updated") == 0 and events("dataset.deleted") == 0
    assert len(run.mapping_report["origin_moves"]) == 1
    now = active_identities(source)
    assert now.keys() == ids.keys()
    assert sorted(now.values()) == sorted(host + new.format(n=n) for n in range(8))
    assert stored_urls(source) == {host + new.format(n=n) for n in range(8)}
