"""Re-harvesting a tabular export: rows whose raw text is unchanged are not parsed again.

Each dataset keeps a fingerprint of the raw row it was built from (and of the mapping and
code version); a re-harvest parses only rows whose fingerprint is new. Counted by
wrapping the row parser, on a real export served on loopback into the real database.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run, execute_run
from subscribe.catalog.harvesters import tabular
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.models_base import utcnow
from tests.catalog_helpers import LOOPBACK, serve_csv_rows

HEADER = "资源名称,资源提供方,数据主题,更新周期,开放状态,资源格式,数据更新时间,详情页网址\n"
ROWS = [
    f"示例市数据集{n},市局{n % 3},交通出行,每月,无条件开放,CSV、JSON,2024-03-0{n % 9 + 1},"
    f"https://data.example.cn/d/{n}"
    for n in range(12)
]


def serve(httpserver, rows: list[str]) -> str:
    return serve_csv_rows(httpserver, HEADER, rows, bom=True)


@pytest.fixture
def parsed(monkeypatch) -> list[str]:
    """Titles of the rows the harvester parsed into records."""
    titles: list[str] = []
    real = tabular._record

    def counting(*args):
        record = real(*args)
        titles.append(record.title)
        return record

    monkeypatch.setattr(tabular, "_record", counting)
    return titles


def harvest(source):
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    return execute_run(run)


def counts(run) -> tuple:
    return run.status, run.created, run.updated, run.unchanged, run.deleted, run.bad


def fingerprints() -> dict[str, str | None]:
    rows = db.session.execute(select(Dataset.title, Dataset.source_fingerprint))
    return dict(rows.all())


def test_unchanged_rows_are_not_parsed_again(app, httpserver, parsed):
    source = services.create_source("city", "tabular", serve(httpserver, ROWS))
    assert counts(harvest(source)) == ("succeeded", 12, 0, 0, 0, 0)
    assert len(parsed) == 12
    stored = fingerprints()
    assert all(stored.values()) and len(set(stored.values())) == 12

    parsed.clear()
    assert counts(harvest(source)) == ("succeeded", 0, 0, 12, 0, 0)
    assert parsed == []  # every row as stored: no row parsed

    edited = [*ROWS[:3], ROWS[3].replace("每月", "每年"), *ROWS[4:11]]  # last row gone
    serve(httpserver, edited)
    parsed.clear()
    assert counts(harvest(source)) == ("succeeded", 0, 1, 10, 1, 0)
    assert parsed == ["示例市数据集3"]
    gone = db.session.scalar(select(Dataset).where(Dataset.title == "示例市数据集11"))
    assert gone.deleted_at is not None  # deletion detection still sees unparsed rows
    three = db.session.scalar(select(Dataset).where(Dataset.title == "示例市数据集3"))
    assert three.frequency == "yearly" and three.source_fingerprint != stored["示例市数据集3"]

    serve(httpserver, ROWS)  # the deleted row is back: parsed, restored
    parsed.clear()
    assert counts(harvest(source)) == ("succeeded", 0, 2, 10, 0, 0)
    assert sorted(parsed) == ["示例市数据集11", "示例市数据集3"]


def test_a_mapping_change_parses_every_row_again(app, httpserver, parsed):
    source = services.create_source("city", "tabular", serve(httpserver, ROWS))
    harvest(source)
    before = fingerprints()
    source.mapping = {"fields": {"themes": None}}  # 数据主题 no longer read
    db.session.commit()
    parsed.clear()
    run = harvest(source)
    assert counts(run) == ("succeeded", 0, 12, 0, 0, 0)
    assert len(parsed) == 12
    assert all(d.themes == [] for d in db.session.scalars(select(Dataset)))
    assert not set(before.values()) & set(fingerprints().values())


def test_a_new_code_version_parses_every_row_again(app, httpserver, parsed, monkeypatch):
    source = services.create_source("city", "tabular", serve(httpserver, ROWS))
    harvest(source)
    monkeypatch.setattr(tabular, "FINGERPRINT_VERSION", "tabular-test")
    parsed.clear()
    run = harvest(source)
    # Same output from the "new" code: parsed and compared, no change recorded.
    assert counts(run) == ("succeeded", 0, 0, 12, 0, 0)
    assert len(parsed) == 12
    parsed.clear()
    assert counts(harvest(source)) == ("succeeded", 0, 0, 12, 0, 0)
    assert parsed == []  # the new fingerprints were stored


def test_an_export_moved_on_the_same_portal_is_not_parsed_again(app, httpserver, parsed):
    # Links are resolved against the export's origin only ("/x" keeps nothing of the
    # path), so a new path for the same file (a dated name) keeps every fingerprint.
    source = services.create_source("city", "tabular", serve(httpserver, ROWS))
    harvest(source)
    body = ("\ufeff" + HEADER + "\n".join(ROWS) + "\n").encode("utf-8")
    httpserver.expect_request("/2026/catalog-1130.csv").respond_with_data(body)
    services.update_source(source, {"url": httpserver.url_for("/2026/catalog-1130.csv")})
    parsed.clear()
    assert counts(harvest(source)) == ("succeeded", 0, 0, 12, 0, 0)
    assert parsed == []
    prefix = tabular._fingerprint_prefix
    assert prefix(["a"], {}, "http://x.cn/a.csv") == prefix(["a"], {}, "http://x.cn/b/c.csv?d=1")
    assert prefix(["a"], {}, "http://x.cn/a.csv") != prefix(["a"], {}, "https://x.cn/a.csv")
    assert prefix(["a"], {}, "http://x.cn/a.csv") != prefix(["a"], {}, "http://y.cn/a.csv")
    # The premise: a relative link resolves the same against both paths.
    assert tabular._urls("/d/1 //cdn.x.cn/f.csv", "http://x.cn/a.csv") == tabular._urls(
        "/d/1 //cdn.x.cn/f.csv", "http://x.cn/b/c.csv?d=1"
    )


def test_preview_and_direct_harvests_still_give_records(app, httpserver):
    from subscribe.catalog.harvesters.base import HarvestContext, make_session
    from subscribe.catalog.records import DatasetRecord

    ctx = HarvestContext(url=serve(httpserver, ROWS), session=make_session(LOOPBACK))
    items = list(tabular.harvest(ctx))
    assert len(items) == 12 and all(isinstance(item, DatasetRecord) for item in items)
    assert all(item.identifier == f"https://data.example.cn/d/{n}" for n, item in enumerate(items))


def test_batches_grow_only_while_raw_rows_are_unchanged(app, httpserver, monkeypatch):
    # A batch of rows nearly all as stored writes one stamp a row: up to 4x batch_size of
    # them go in one transaction; rows that must be built keep batch_size.
    from subscribe.catalog.writer import CatalogWriter

    app.config["SUBSCRIBE_HARVEST_BATCH_SIZE"] = 5
    sizes: list[int] = []
    real = CatalogWriter._write_batch
    monkeypatch.setattr(CatalogWriter, "_write_batch",
                        lambda self, items: (sizes.append(len(items)), real(self, items))[1])  # fmt: skip
    rows = [
        f"示例市数据集{n},市局{n % 3},交通出行,每月,无条件开放,CSV,2024-03-01,https://data.example.cn/d/{n}"
        for n in range(60)
    ]
    source = services.create_source("city", "tabular", serve(httpserver, rows))
    assert counts(harvest(source)) == ("succeeded", 60, 0, 0, 0, 0)
    assert max(sizes) == 5

    sizes.clear()
    assert counts(harvest(source)) == ("succeeded", 0, 0, 60, 0, 0)
    assert sizes[0] == 5 and max(sizes) == 20

    sizes.clear()
    edited = [row.replace("每月", "每年") if n >= 30 else row for n, row in enumerate(rows)]
    serve(httpserver, edited)
    assert counts(harvest(source)) == ("succeeded", 0, 30, 30, 0, 0)
    # The batch reaching the edited half is still 4x; after it, batch_size again.
    assert sizes[:3] == [5, 20, 20] and max(sizes[3:]) == 5


def test_rows_are_parsed_outside_the_write_lock_and_decided_on_what_is_stored_then(
    app, httpserver, monkeypatch
):
    # An edited row is parsed before its batch takes the write lock; a new version of its
    # dataset committed meanwhile (here by another connection, as a resource check does)
    # must be seen under the lock: the harvest's version comes after it, not beside it.
    from subscribe.catalog.models import ChangeCounter, DatasetVersion

    source = services.create_source("city", "tabular", serve(httpserver, ROWS))
    harvest(source)
    three = db.session.scalar(select(Dataset.id).where(Dataset.title == "示例市数据集3"))
    db.session.commit()
    real = tabular._record

    def parse_beside_a_change(*args):
        with db.engine.begin() as other:
            snapshot = other.scalar(select(DatasetVersion.snapshot)
                                    .where(DatasetVersion.dataset_id == three))  # fmt: skip
            seq = other.scalar(ChangeCounter.__table__.update()
                               .values(value=ChangeCounter.value + 1)
                               .returning(ChangeCounter.value))  # fmt: skip
            other.execute(Dataset.__table__.update().where(Dataset.id == three)
                          .values(version=2, change_seq=seq))  # fmt: skip
            other.execute(DatasetVersion.__table__.insert().values(
                dataset_id=three, number=2, kind="updated", snapshot=snapshot,
                diff={"content": [{"kind": "resource_changed"}]}, created_at=utcnow()))  # fmt: skip
        return real(*args)

    monkeypatch.setattr(tabular, "_record", parse_beside_a_change)
    serve(httpserver, [*ROWS[:3], ROWS[3].replace("每月", "每年"), *ROWS[4:]])
    assert counts(harvest(source)) == ("succeeded", 0, 1, 11, 0, 0)
    numbers = db.session.scalars(select(DatasetVersion.number)
                                 .where(DatasetVersion.dataset_id == three)
                                 .order_by(DatasetVersion.number)).all()  # fmt: skip
    assert numbers == [1, 2, 3]
    stored = db.session.get(Dataset, three)
    assert (stored.version, stored.frequency) == (3, "yearly")
