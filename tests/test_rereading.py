"""A better reading of unchanged catalog text is stored quietly, not pushed as an update.

When the vocabulary or a parser improves (每两周 read as biweekly instead of monthly), the
next harvest re-reads rows whose raw text has not changed. Subscribers must not get a
`dataset.updated` per dataset for it: the catalog said the same thing. The new value is
stored (filters and pages show it) with no new version and no event. A raw text that did
change upstream is still an update. Real tabular export on loopback, real database.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from subscribe.catalog import services
from subscribe.catalog.harvesters import tabular
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion
from subscribe.extensions import db
from tests.search_helpers import harvest, serve

HEADER = "资源名称,资源提供方,更新周期,开放状态,资源格式,数据更新时间,详情页网址\n"
ROWS = [
    f"示例市数据集{n},市局,每月,无条件开放,CSV,2024-03-0{n + 1},https://data.example.cn/d/{n}"
    for n in range(4)
]


def export(httpserver, rows: list[str]) -> str:
    httpserver.clear()
    body = (HEADER + "\n".join(rows) + "\n").encode("utf-8")
    return serve(httpserver, "/catalog.csv", body, "text/csv")


def totals() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(CatalogEvent)),
            db.session.scalar(select(func.count()).select_from(DatasetVersion)))  # fmt: skip


def frequencies() -> dict[str, str]:
    return dict(db.session.execute(select(Dataset.title, Dataset.frequency)).all())


def test_a_new_reading_of_unchanged_text_is_stored_without_an_event(app, httpserver, monkeypatch):
    source = services.create_source("city", "tabular", export(httpserver, ROWS))
    assert harvest(source).created == 4
    before = totals()
    assert set(frequencies().values()) == {"monthly"}

    # The next release reads 每月 differently (and, as such releases do, bumps the
    # fingerprint version so stored rows are parsed again).
    real = tabular._frequency
    monkeypatch.setattr(tabular, "FINGERPRINT_VERSION", "test-next-reading")
    monkeypatch.setattr(tabular, "_frequency",
                        lambda text: ("quarterly", text) if text == "每月" else real(text))  # fmt: skip
    run = harvest(source)
    assert (run.updated, run.unchanged) == (0, 4)
    assert totals() == before  # no version, no event
    assert set(frequencies().values()) == {"quarterly"}  # but the new reading is stored

    # A raw text that changed upstream is an update, with its event and version.
    export(httpserver, [ROWS[0].replace("每月", "每年"), *ROWS[1:]])
    run = harvest(source)
    assert (run.updated, run.unchanged) == (1, 3)
    assert totals() == (before[0] + 1, before[1] + 1)
    event = db.session.scalars(select(CatalogEvent).order_by(CatalogEvent.id.desc())).first()
    assert event.type == "dataset.updated"
    (metadata,) = event.changes
    # Its "old" is the new reading: the latest version's snapshot was brought up to date.
    assert metadata["fields"]["frequency"] == {"old": "quarterly", "new": "yearly"}
    assert metadata["fields"]["frequency_raw"] == {"old": "每月", "new": "每年"}


@pytest.fixture
def release(monkeypatch):
    """Installs "the next release": the reading code's source differs (as an edited
    normalize.py would), FINGERPRINT_VERSION stays as it was."""

    def install(edited_module: str) -> None:
        real = tabular._module_source
        monkeypatch.setattr(tabular, "_module_source",
                            lambda name: real(name) + (b"# edited" if name == edited_module else b""))  # fmt: skip
        tabular.reading_code.cache_clear()

    yield install
    tabular.reading_code.cache_clear()  # after monkeypatch has put _module_source back


@pytest.mark.parametrize("edited", tabular.READING_MODULES)
def test_a_new_reading_reaches_unchanged_rows_without_a_version_bump(app, httpserver,
                                                                     monkeypatch, release, edited):  # fmt: skip
    """Rows whose raw text is unchanged are skipped by fingerprint; the fingerprint covers
    the reading code, so a release reading 每月 differently parses them again by itself."""
    source = services.create_source("city", "tabular", export(httpserver, ROWS))
    assert harvest(source).created == 4
    before = totals()
    real = tabular._frequency
    monkeypatch.setattr(tabular, "_frequency",
                        lambda text: ("quarterly", text) if text == "每月" else real(text))  # fmt: skip
    release(edited)
    run = harvest(source)
    assert (run.updated, run.unchanged) == (0, 4)
    assert totals() == before  # quietly: no version, no event
    assert set(frequencies().values()) == {"quarterly"}


def test_the_same_code_keeps_fingerprints(app, httpserver):
    """Without a release nothing is parsed again (the digest is stable)."""
    first = tabular.reading_code()
    tabular.reading_code.cache_clear()
    assert tabular.reading_code() == first
    prefix = tabular._fingerprint_prefix(["标题"], {"title": [0]}, "http://x.cn/a.csv")
    assert prefix == tabular._fingerprint_prefix(["标题"], {"title": [0]}, "http://x.cn/a.csv")


def test_a_resource_format_read_since_is_filled_in_without_an_event(app, httpserver, monkeypatch):
    """Addresses like …/api?format=CSV gave a resource no format before the query was
    read. The next harvest fills it in, resource id kept, with no version and no event."""
    from subscribe.catalog.models import Resource

    header = "资源名称,资源提供方,资源格式,下载地址\n"
    rows = [f"示例市接口{n},市局,CSV;JSON,https://api.example.cn/d{n}?format=CSV;"
            f"https://api.example.cn/d{n}?format=JSON" for n in range(3)]  # fmt: skip
    httpserver.clear()
    url = serve(httpserver, "/api.csv", (header + "\n".join(rows) + "\n").encode(), "text/csv")
    source = services.create_source("apis", "tabular", url)
    monkeypatch.setattr(tabular, "_query_format", lambda url: "")  # the earlier release
    assert harvest(source).created == 3
    before = totals()
    ids = db.session.scalars(select(Resource.id).order_by(Resource.id)).all()
    assert set(db.session.scalars(select(Resource.format))) == {""}

    monkeypatch.undo()
    monkeypatch.setattr(tabular, "FINGERPRINT_VERSION", "test-format-from-query")
    run = harvest(source)
    assert (run.updated, run.unchanged) == (0, 3)
    assert totals() == before  # no version, no event
    stored = db.session.execute(select(Resource.id, Resource.format).order_by(Resource.id)).all()
    assert [tuple(row) for row in stored] == list(zip(ids, ["CSV", "JSON"] * 3, strict=True))
