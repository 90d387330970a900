"""What a portal upgrade or an Excel re-export rewrites without saying anything new is
no news (bb8 F7, F8, F13, F2): a date written otherwise with the same meaning
(1998-12-31 → 1998-12-31T00:00:00Z, 2021-11-11 → 2021/11/11), keywords reordered, an
unrendered template placeholder as a description, full-width format names. Stored quietly
(no version, no event); beside a real edit the event tells only the edit. Real catalogs
(tests/data/date-spelling-bb8, SOURCE.md) served on loopback to a real harvest into the
real database (SQLite, or PostgreSQL with SUBSCRIBE_TEST_DATABASE_URL).
"""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from subscribe.catalog import services, text
from subscribe.catalog.diff import diff_snapshots
from subscribe.catalog.models import CatalogEvent, Dataset, DatasetVersion
from subscribe.catalog.normalize import normalize_format, parse_formats
from subscribe.extensions import db
from tests.search_helpers import harvest, serve

DATA = Path(__file__).parent / "data" / "date-spelling-bb8"
ED_4251, ED_2541 = "ED-4251", "ED-2541"
ARCGIS = "http://data-nces.opendata.arcgis.com/datasets/241d217035b14c188e976325b5ce253a_0"


def totals() -> tuple[int, int]:
    return (db.session.scalar(select(func.count()).select_from(CatalogEvent)),
            db.session.scalar(select(func.count()).select_from(DatasetVersion)))  # fmt: skip


def stored(identifier: str) -> Dataset:
    db.session.expire_all()
    return db.session.scalars(select(Dataset).where(Dataset.identifier == identifier)).one()


def catalog(**edits) -> dict:
    """edu.json with {identifier: {field: value}} edits."""
    data = json.loads((DATA / "edu.json").read_text("utf-8"))
    for item in data["dataset"]:
        item.update(edits.get(item["identifier"], {}))
    return data


def publish(httpserver, data: dict) -> str:
    httpserver.clear()
    body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    return serve(httpserver, "/data.json", body, "application/json")


def last_event() -> CatalogEvent:
    db.session.expire_all()
    return db.session.scalars(select(CatalogEvent).order_by(CatalogEvent.id.desc())).first()


def test_a_date_or_keywords_written_otherwise_are_stored_quietly(app, httpserver):
    source = services.create_source("edu", "dcat", publish(httpserver, catalog()))
    assert harvest(source).created == 3
    before = totals()
    keywords = catalog()["dataset"][1]["keyword"]
    assert stored(ED_4251).modified_precision == "day"

    # The portal's new writer: the day as a time of that day, keywords in another order.
    respelled = {ED_4251: {"modified": "1998-12-31T00:00:00Z"},
                 ED_2541: {"keyword": keywords[::-1]}}  # fmt: skip
    run = harvest_at(httpserver, source, catalog(**respelled))
    assert (run.updated, run.unchanged) == (0, 3)
    assert totals() == before  # no version, no event
    row = stored(ED_4251)  # but the new text is stored
    assert (row.modified_raw, row.modified_precision) == ("1998-12-31T00:00:00Z", "datetime")
    reordered = stored(ED_2541).keywords
    assert reordered == [" ".join(k.split()) for k in keywords[::-1]]

    # A real edit beside the noise: the event tells the edit alone, tags as added/removed.
    edited = {ED_4251: {"modified": "1998-12-31"},  # back to the day: still no news
              ED_2541: {"keyword": ["Rehabilitation", *keywords[:2], "Added tag"][::-1]}}  # fmt: skip
    run = harvest_at(httpserver, source, catalog(**edited))
    assert (run.updated, run.unchanged) == (1, 2)
    event = last_event()
    assert event.dataset_id == stored(ED_2541).id
    (metadata,) = event.changes
    removed = [k for k in reordered if k not in keywords[:2] and k != "Rehabilitation"]
    assert metadata["fields"] == {"keywords": {"added": ["Added tag"], "removed": removed}}
    version = db.session.scalars(
        select(DatasetVersion).where(DatasetVersion.dataset_id == event.dataset_id)
        .order_by(DatasetVersion.number.desc())
    ).first()  # fmt: skip
    assert version.diff["fields"] == metadata["fields"]

    # A time on another day (in UTC) is a change of the date, told as such.
    run = harvest_at(httpserver, source, catalog(**{**edited, ED_4251: {
        "modified": "1998-12-31T23:30:00-05:00"}}))  # fmt: skip
    assert run.updated == 1
    fields = last_event().changes[0]["fields"]
    assert fields["modified"] == {"old": "1998-12-31T00:00:00", "new": "1999-01-01T04:30:00"}


def harvest_at(httpserver, source, data: dict):
    publish(httpserver, data)
    return harvest(source)


def test_an_excel_re_export_writing_dates_with_slashes_is_no_update(app, httpserver):
    body = (DATA / "cn2_gbk.csv").read_bytes()  # GBK, 上架日期 2021-11-11
    source = services.create_source(
        "cn2", "tabular", serve(httpserver, "/cn2.csv", body, "text/csv")
    )
    assert harvest(source).created == 4
    before = totals()
    httpserver.clear()
    slashed = body.replace(b"2021-11-11", b"2021/11/11").replace(b"2020-02-02", b"2020/2/2")
    serve(httpserver, "/cn2.csv", slashed, "text/csv")
    run = harvest(source)
    assert (run.updated, run.unchanged) == (0, 4)
    assert totals() == before
    assert sorted(db.session.scalars(select(Dataset.issued_raw))) == [
        "2019-12-12", "2020/2/2", "2021/11/11", "2022-01-05"]  # fmt: skip

    # Another day is an update.
    httpserver.clear()
    serve(httpserver, "/cn2.csv", slashed.replace(b"2021/11/11", b"2021/11/12"), "text/csv")
    run = harvest(source)
    assert run.updated == 1
    fields = last_event().changes[0]["fields"]
    assert fields["issued"] == {"old": "2021-11-11T00:00:00", "new": "2021-11-12T00:00:00"}


def test_same_date_rule_in_the_diff():
    def snap(value, precision, raw, **more):
        return {"title": "t", "modified": value, "modified_precision": precision,
                "modified_raw": raw, "resources": [], **more}  # fmt: skip

    day = snap("2019-03-05T00:00:00", "day", "2019-03-05")
    # the same day at a finer precision, written otherwise, or back at the day's
    assert (
        diff_snapshots(day, snap("2019-03-05T00:00:00", "datetime", "2019-03-05T00:00:00Z")) == {}
    )
    assert diff_snapshots(day, snap("2019-03-05T14:30:00", "datetime", "2019-03-05 14:30")) == {}
    assert diff_snapshots(day, snap("2019-03-05T00:00:00", "day", "2019年3月5日")) == {}
    month = snap("2019-03-01T00:00:00", "month", "2019-03")
    assert diff_snapshots(month, snap("2019-03-01T00:00:00", "month", "2019年3月")) == {}
    assert diff_snapshots(snap(None, "", "-"), snap(None, "", "暂无")) == {}
    fraction = snap("2019-10-31T13:03:59.519877", "datetime", "2019-10-31T13:03:59.519877")
    assert (
        diff_snapshots(fraction, snap("2019-10-31T13:03:59", "datetime", "2019-10-31T13:03:59Z"))
        == {}
    )
    # news: another day, another time, a month made a day, a date appearing, a real edit
    for other in (snap("2019-03-06T00:00:00", "datetime", "2019-03-06T00:00:00Z"),
                  snap("2019-03-01T00:00:00", "day", "2019-03-01")):  # fmt: skip
        assert "modified" in diff_snapshots(day, other)["fields"]
    made_a_day = diff_snapshots(month, snap("2019-03-01T00:00:00", "day", "2019-03-01"))
    assert set(made_a_day["fields"]) == {"modified_precision", "modified_raw"}
    at = snap("2019-03-05T10:00:00", "datetime", "2019-03-05T10:00:00Z")
    assert "modified" in diff_snapshots(at, snap("2019-03-05T11:00:00", "datetime", "x"))["fields"]
    assert set(diff_snapshots(snap(None, "", "-"), day)["fields"]) == {
        "modified", "modified_precision", "modified_raw"}  # fmt: skip
    edited = diff_snapshots(day, snap("2019-03-05T00:00:00", "datetime", "2019-03-05T00:00:00Z",
                                      title="new"))  # fmt: skip
    assert edited == {"fields": {"title": {"old": "t", "new": "new"}}}


def test_tags_reordered_are_no_change_and_a_change_is_added_and_removed():
    old = {"keywords": ["a", "b", "c"], "themes": ["x", "y"], "resources": []}
    assert diff_snapshots(old, {**old, "keywords": ["c", "a", "b"], "themes": ["y", "x"]}) == {}
    changed = diff_snapshots(old, {**old, "keywords": ["d", "c", "a"], "themes": []})
    assert changed["fields"] == {"keywords": {"added": ["d"], "removed": ["b"]},
                                 "themes": {"added": [], "removed": ["x", "y"]}}  # fmt: skip


def test_a_template_placeholder_is_no_description(app, httpserver, monkeypatch):
    for placeholder in ("{{default.description}}", " {{ item.notes }} ", "${description}",
                        "%(description)s", "<p>{{default.description}}</p>"):  # fmt: skip
        assert text.clean_description(placeholder) == "", placeholder
    for real in ("See {{x}} below", "{x}", "100%", "Use ${HOME}/data"):
        assert text.clean_description(real) == real

    # Stored before the rule (the placeholder read as text), then read again: the
    # placeholder goes without a version or an event.
    monkeypatch.setattr(text, "is_template_placeholder", lambda value: False)
    source = services.create_source("edu", "dcat", publish(httpserver, catalog()))
    assert harvest(source).created == 3
    assert stored(ARCGIS).description == "{{default.description}}"
    before = totals()
    monkeypatch.undo()
    run = harvest(source)
    assert (run.updated, run.unchanged) == (0, 3)
    assert totals() == before
    assert stored(ARCGIS).description == ""


def test_full_width_formats_fold_to_one_name(app, httpserver):
    # /work/bb8/inputs/cn/cn1_bom.csv's 数据格式 ＣＳＶ，ＸＬＳＸ beside CSV
    assert parse_formats("ＣＳＶ，ＸＬＳＸ") == ["CSV", "XLSX"]
    assert parse_formats(["ｘｌｓｘ", "ＣＳＶ／ＪＳＯＮ"]) == ["XLSX", "CSV", "JSON"]
    assert normalize_format("．ｃｓｖ") == "CSV"
    body = ("资源名称,资源提供方,资源格式\n城市公交站点信息,市交通运输局,ＣＳＶ，ＸＬＳＸ\n"
            "公交线路,市交通运输局,CSV\n").encode()  # fmt: skip
    source = services.create_source("cn1", "tabular", serve(httpserver, "/c.csv", body, "text/csv"))
    assert harvest(source).created == 2
    assert sorted(map(tuple, db.session.scalars(select(Dataset.formats)))) == [
        ("CSV",), ("CSV", "XLSX")]  # fmt: skip

    # Stored before the fold: read again, no change (dataset formats and a resource's).
    old = {
        "formats": ["ＣＳＶ", "ＸＬＳＸ"],
        "resources": [{"url": "http://x/a", "format": "ＣＳＶ"}],
    }
    new = {"formats": ["XLSX", "CSV"], "resources": [{"url": "http://x/a", "format": "CSV"}]}
    assert diff_snapshots(old, new) == {}
    assert diff_snapshots(old, {**new, "formats": ["CSV"]})["fields"]["formats"]
