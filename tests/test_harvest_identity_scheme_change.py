"""A catalog whose identity scheme changes between harvests keeps its datasets.

An export that drops its id column (or gains one, or empties it), or a CKAN file whose
package loses its ``id``, gave every row a new identifier: each stored dataset was
deleted and created again (two events per dataset to every subscriber, versions
restarted, scenarios' pins lost). Stored identifiers are carried over 1:1 by title and
publisher, landing page, download URL (CKAN: the package name first). Real files on
loopback, real database; the tabular pair is the acceptance tester's (tests/data).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from subscribe.auth import services as auth
from subscribe.catalog import services
from subscribe.catalog.models import CatalogEvent, Dataset
from subscribe.extensions import db
from subscribe.scenarios import services as scenarios
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.conftest import FIXTURES
from tests.search_helpers import harvest, serve
from tests.test_web import PASSWORD, login

DATA = Path(__file__).resolve().parent / "data" / "identity-scheme-change"
WITH_IDS = (DATA / "catalog_with_ids.csv").read_bytes()
WITHOUT_IDS = (DATA / "catalog_without_ids.csv").read_bytes()


def publish(httpserver, body: bytes) -> str:
    httpserver.clear()
    return serve(httpserver, "/catalog.csv", body, "text/csv")


def gbk(text: str) -> bytes:
    return text.encode("gbk")


def without_row(body: bytes, title: str) -> bytes:
    lines = body.decode("gbk").splitlines(keepends=True)
    return gbk("".join(line for line in lines if f",{title}," not in line))


def active() -> dict[int, tuple[str, str]]:
    query = select(Dataset.id, Dataset.identifier, Dataset.title).where(
        Dataset.deleted_at.is_(None)
    )
    return {row[0]: (row[1], row[2]) for row in db.session.execute(query)}


def event_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CatalogEvent))


def counts(run) -> tuple[int, int, int, int]:
    return run.created, run.updated, run.deleted, run.unchanged


def ids_by_title() -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for dataset_id, (_, title) in sorted(active().items()):
        found.setdefault(title, []).append(dataset_id)
    return found


def test_dropping_the_id_column_changes_nothing(app, httpserver):
    source = services.create_source("city", "tabular", publish(httpserver, WITH_IDS))
    first = harvest(source)
    assert first.created == 11 and first.mapping_report["identity"]["column"] == "目录编号"
    before, events = active(), event_count()

    publish(httpserver, WITHOUT_IDS)
    run = harvest(source)
    assert counts(run) == (0, 0, 0, 11)
    assert active() == before  # same dataset ids under the same identifiers
    assert event_count() == events
    carried = run.mapping_report["identity"]["carried_over"]
    assert carried["datasets"] == 11 and carried["by"] == {"title and publisher": 11}
    assert "目录编号" in carried["why"]

    # The next harvest of the same file: still nothing (the identities stay carried).
    run = harvest(source)
    assert counts(run) == (0, 0, 0, 11) and active() == before
    assert run.mapping_report["identity"]["carried_over"]["datasets"] == 11


def test_a_row_removed_with_the_id_column_is_still_deleted(app, httpserver):
    source = services.create_source("city", "tabular", publish(httpserver, WITH_IDS))
    harvest(source)
    removed = ids_by_title()["历年财政预算"]

    publish(httpserver, without_row(WITHOUT_IDS, "历年财政预算"))
    run = harvest(source)
    assert counts(run) == (0, 0, 1, 10)
    assert "历年财政预算" not in ids_by_title()
    deleted = db.session.scalars(select(CatalogEvent).where(CatalogEvent.type == "dataset.deleted"))
    assert [event.dataset_id for event in deleted] == removed


def test_an_edited_row_is_an_update_and_pins_still_apply(app, httpserver):
    source = services.create_source("city", "tabular", publish(httpserver, WITH_IDS))
    harvest(source)
    titles = ids_by_title()
    user = auth.create_user("pins@example.org", "correct horse battery", "user")
    # 空气质量日报 twice (two publishers): pin the school list, exclude the city's report.
    city_air = next(i for i in titles["空气质量日报"] if "SZ002" in _identifier(i))
    scenario = scenarios.create_scenario(user, {"name": "空气", "q": "空气质量",
                                                "include": titles["学校名录"],
                                                "exclude": [city_air]})  # fmt: skip
    indexer.apply_changes(get_service().store)
    members = set(scenarios.member_ids(scenario).tolist())
    assert set(titles["学校名录"]) <= members and city_air not in members
    events = event_count()

    edited = WITHOUT_IDS.decode("gbk").replace("站点位置", "站点位置及车桩数量")
    publish(httpserver, gbk(edited))
    run = harvest(source)
    assert counts(run) == (0, 1, 0, 10)
    assert ids_by_title() == titles
    assert event_count() == events + 1
    (event,) = db.session.scalars(select(CatalogEvent).where(CatalogEvent.id > 0)
                                  .order_by(CatalogEvent.id.desc()).limit(1))  # fmt: skip
    assert event.type == "dataset.updated" and event.dataset_id == titles["公共自行车站点"][0]
    indexer.apply_changes(get_service().store)
    members = set(scenarios.member_ids(scenario).tolist())
    assert set(titles["学校名录"]) <= members and city_air not in members
    other_air = [i for i in titles["空气质量日报"] if i != city_air]
    assert set(other_air) <= members


def _identifier(dataset_id: int) -> str:
    return active()[dataset_id][0].translate({0xFF00 + c: 0x20 + c for c in range(1, 95)})


HEADER = "编号,数据名称,提供部门,更新时间"
ROWS = [
    "A001,道路运输企业名录,市交通运输局,2023-07-01",
    "A002,道路运输企业名录,市交通运输局,2023-06-01",
    "A003,公交线路,市交通运输局,2023-05-01",
    "A004,医院名录,市卫生健康委员会,2023-05-01",
]


def csv(rows: list[str], header: str = HEADER) -> bytes:
    return ("\ufeff" + header + "\n" + "\n".join(rows) + "\n").encode()


def test_rows_sharing_title_and_publisher_keep_their_datasets_in_file_order(app, httpserver):
    """Two stored datasets and two rows of one title and publisher: no 1:1 pair by any
    key, so they pair in file order with creation order (the order they were created in
    from the same file): nothing deleted or created, each keeps its own dates."""
    source = services.create_source("city", "tabular", publish(httpserver, csv(ROWS)))
    harvest(source)
    before = active()
    publish(httpserver, csv([row.partition(",")[2] for row in ROWS], "数据名称,提供部门,更新时间"))
    run = harvest(source)
    assert counts(run) == (0, 0, 0, 4)
    assert active() == before
    carried = run.mapping_report["identity"]["carried_over"]
    assert carried["datasets"] == 4 and carried["by"]["title and publisher, in file order"] == 2


TWINS = [  # told apart only by 所属区县, a column no dataset field holds (black-box run 2)
    "K-1,空气质量日报,区生态环境分局,西山区,2023-06-01,AQI",
    "K-2,空气质量日报,区生态环境分局,东湖区,2023-06-01,AQI",
    "K-3,空气质量日报,区生态环境分局,南城区,2023-06-01,AQI",
    "K-4,献血点,市卫生健康委员会,,2023-04-01,献血点位置",
]
TWINS_HEADER = "目录编号,数据名称,提供部门,所属区县,更新日期,数据摘要"


def test_twins_told_apart_by_an_unmapped_column_keep_their_datasets_and_pins(app, httpserver):
    source = services.create_source(
        "twin", "tabular", publish(httpserver, csv(TWINS, TWINS_HEADER))
    )
    harvest(source)
    before = active()
    twins = ids_by_title()["空气质量日报"]
    user = auth.create_user("twins@example.org", "long password")
    pinned = scenarios.create_scenario(
        user, {"name": "pinned", "q": "献血", "filters": {}, "include": [twins[1]], "exclude": []}
    )
    without_ids = [row.partition(",")[2] for row in TWINS]
    publish(httpserver, csv(without_ids, TWINS_HEADER.partition(",")[2]))
    events = event_count()
    run = harvest(source)
    assert counts(run) == (0, 0, 0, 4) and event_count() == events
    assert active() == before
    indexer.apply_changes(get_service().store)
    assert twins[1] in scenarios.member_ids(pinned)
    # The id column back: the same datasets again, by the stored ids.
    publish(httpserver, csv(TWINS, TWINS_HEADER))
    run = harvest(source)
    assert counts(run) == (0, 0, 0, 4) and active() == before


def test_a_new_id_column_keeps_the_hash_identities(app, httpserver):
    rows = [row.partition(",")[2] for row in ROWS[2:]]
    source = services.create_source("city", "tabular",
                                    publish(httpserver, csv(rows, "数据名称,提供部门,更新时间")))  # fmt: skip
    harvest(source)
    before = active()
    assert all(identifier.startswith("sha1:") for identifier, _ in before.values())
    publish(httpserver, csv([*ROWS[2:], "A005,公园名录,市园林局,2023-05-01"]))
    run = harvest(source)
    assert counts(run) == (1, 0, 0, 2)
    assert {i: v for i, v in active().items() if i in before} == before
    assert run.mapping_report["identity"]["column"] == "编号"


def test_ids_emptied_fall_back_to_the_landing_page_and_keep_their_datasets(app, httpserver):
    header = "编号,数据名称,提供部门,详情页"
    rows = [f"A00{n},{title},市交通运输局,https://data.example.cn/d/{n}"
            for n, title in enumerate(["道路运输企业名录", "道路运输企业名录", "公交线路"], 1)]  # fmt: skip
    source = services.create_source("city", "tabular", publish(httpserver, csv(rows, header)))
    harvest(source)
    before = active()
    emptied = [row.partition(",")[2] for row in rows]
    publish(httpserver, csv(["," + row for row in emptied], header))
    run = harvest(source)
    assert counts(run) == (0, 0, 0, 3) and active() == before
    carried = run.mapping_report["identity"]["carried_over"]
    assert carried["datasets"] == 3 and carried["by"].get("landing page") == 2


HDX = FIXTURES / "catalogs"


def test_a_ckan_package_that_loses_its_id_keeps_its_dataset(app, httpserver):
    shown = (HDX / "hdx_unesco_dataset_package_show_result.json").read_bytes()
    payload = (HDX / "hdx_unesco_update_dataset_payload.json").read_bytes()
    url = serve(httpserver, "/package.json", shown, "application/json")
    source = services.create_source("hdx", "ckan", url)
    assert harvest(source).created == 1
    (dataset_id,) = active()
    events = event_count()

    httpserver.clear()
    serve(httpserver, "/package.json", payload, "application/json")
    run = harvest(source)
    assert (run.created, run.deleted) == (0, 0) and run.updated == 1
    assert list(active()) == [dataset_id]
    types = db.session.scalars(select(CatalogEvent.type).order_by(CatalogEvent.id)).all()
    assert types[events:] == ["dataset.updated"]

    run = harvest(source)  # the payload again: nothing
    assert counts(run) == (0, 0, 0, 1) and list(active()) == [dataset_id]


def test_an_id_emptied_on_one_row_keeps_its_dataset(app, httpserver):
    """The chain is the same (the 编号 column), but one row falls back to the hash:
    more fallback rows than the last run is a reason to look."""
    source = services.create_source("city", "tabular", publish(httpserver, csv(ROWS)))
    harvest(source)
    before = active()
    run = harvest(source)  # the usual re-harvest: nothing to look for, no stored rows read
    assert counts(run) == (0, 0, 0, 4) and "carried_over" not in run.mapping_report["identity"]
    publish(httpserver, csv([*ROWS[:3], "," + ROWS[3].partition(",")[2]]))
    run = harvest(source)
    assert counts(run) == (0, 0, 0, 4) and active() == before
    identity = run.mapping_report["identity"]
    assert identity["rows_by"] == {"编号": 3, "title and publisher": 1}
    assert identity["carried_over"]["datasets"] == 1
    assert "1 more rows" in identity["carried_over"]["why"]

    run = harvest(source)  # the same file again: carried again, nothing written
    assert counts(run) == (0, 0, 0, 4) and active() == before


def test_the_operator_page_says_what_kept_its_identity(app, httpserver):
    """The source page shows the carried-over count and how (not only the API's report)."""
    source = services.create_source("city", "tabular", publish(httpserver, WITH_IDS))
    harvest(source)
    client = app.test_client()
    auth.create_user("ops@example.org", PASSWORD, role="operator")
    db.session.commit()
    assert login(client, "ops@example.org").status_code == 302
    page = client.get(f"/operators/sources/{source.id}").get_data(as_text=True)
    assert 'class="carried-over"' not in page  # nothing carried by a plain harvest

    publish(httpserver, WITHOUT_IDS)
    harvest(source)
    page = client.get(f"/operators/sources/{source.id}").get_data(as_text=True)
    assert 'data-carried="11"' in page
    assert "11 个数据集沿用了原标识" in page and "按 标题与发布机构 11" in page
