"""身份证号 and phone numbers are masked everywhere a preview value is shown (acceptance
round bb3: valid IDs whose county code is younger than their holder, IDs inside text, with
spaces, full-width or with a lowercase x were shown in full). Inputs in tests/data/privacy-bb3."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import select, update
from stdnum.cn import ric

from subscribe.catalog.models import Resource
from subscribe.extensions import db
from subscribe.preview import formats, services
from subscribe.preview.models import ResourcePreview
from subscribe.preview.profile import mask_rows, profile_table
from tests.catalog_helpers import harvested_resources

DATA = Path(__file__).parent / "data" / "privacy-bb3"
ROOT = Path(__file__).parent.parent


def read_csv(name: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO((DATA / name).read_text(encoding="utf-8"))))


def valid_ids(name: str) -> list[str]:
    """The file's 18-character values whose GB 11643 check digit is right."""
    return [row[1] for row in read_csv(name)[1:] if ric.calc_check_digit(row[1]) == row[1][-1]]


IDS_VARIED = valid_ids("ids_varied.csv")
ALLVALID = valid_ids("people_allvalid.csv")
MOBILES = [row[2] for row in read_csv("people_allvalid.csv")[1:]]


def with_check(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


def assert_nothing_in_full(text: str, numbers) -> None:
    """None of `numbers` anywhere in `text`, nor written with other case, spaces or
    full-width digits (NFKC)."""
    folded = unicodedata.normalize("NFKC", text).upper()
    squeezed = re.sub(r"(?<=\d)[ -](?=[\dX])", "", folded)
    for number in numbers:
        assert number not in folded and number not in squeezed, number


# --- what an ID number is -------------------------------------------------------------------


def test_the_testers_ids_are_ids_whatever_their_county_is_younger_than_them():
    assert len(IDS_VARIED) == 8 and len(ALLVALID) == 10
    # 530102 五华区 (1983-), 310115 浦东新区 (1992-), 510107 (1990-), 320506 (2000-):
    # python-stdnum's cn.ric refuses these for anyone born before; they are IDs all the same.
    assert all(formats.is_id_number(v) for v in IDS_VARIED + ALLVALID)
    assert formats.is_id_number("11010519491231002x")  # lowercase check character
    assert formats.is_id_number("１１０１０５１９４９１２３１００２Ｘ")  # full-width
    assert formats.is_id_number("110105 19491231 002X")
    assert formats.is_id_number("110105491231002")  # first generation, 15 digits
    assert formats.is_id_number(with_check("91104419900101001"))  # 外国人永久居留身份证 (2023)


@pytest.mark.parametrize(
    "number",
    [
        "110105194912310021",  # check digit wrong (X is right)
        "202312010000123456",  # an order number: no province 20
        with_check("20231201000012345"),  # right check digit, still no province
        with_check("11010520231399001"),  # month 13
        with_check("11010521000101001"),  # born in the future
        "123456789012345",  # 15 digits: no county 123456
        "1101051949123100211",  # 19 digits hold no ID
    ],
)
def test_numbers_that_are_no_id_stay_as_they_are(number):
    assert not formats.is_id_number(number)
    assert formats.redact(number) == number
    assert formats.redact(f"订单号 {number} 已发货") == f"订单号 {number} 已发货"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("申请人 11010519491231002X 已办结", "申请人 110105********002X 已办结"),
        ("申请人11010519491231002x已办结", "申请人110105********002x已办结"),
        ("110105 19491231 002X", "110105 ******** 002X"),
        ("1101-0519-4912-3100-2X", "1101-05**-****-**00-2X"),
        ("证件：１１０１０５１９４９１２３１００２Ｘ", "证件：１１０１０５********００２Ｘ"),
        ("旧证 110105491231002 换发", "旧证 110105******002 换发"),
        ("李1 440305199003071236；李2 530102198001010007",
         "李1 440305********1236；李2 530102********0007"),
        ("电话 139 1234 0000，或 +86-139-1234-0001", "电话 139 **** 0000，或 +86-139-****-0001"),
        ("手机13912340000/13912340001", "手机139****0000/139****0001"),
        ("手机：１３９１２３４００００", "手机：１３９****００００"),
        ("联系 010-62345678 或 (0551)62345678", "联系 010-****5678 或 (0551)****5678"),
        ("2019-12-31 至 2020-01-01，共 1,234,567 元", None),  # dates and amounts stay
        ("编号 2023 0001 1234 5678 9012 345", None),  # 23 digits in groups: no ID
    ],
)  # fmt: skip
def test_ids_and_phones_inside_text_are_masked(text, shown):
    assert formats.redact(text) == (shown or text)
    assert formats.redact(formats.redact(text)) == (shown or text)  # idempotent


def test_whole_cells_keep_their_masks():
    assert formats.mask("11010519491231002X", "cn_id_card") == "110105********002X"
    assert formats.redact("11010519491231002X") == "110105********002X"
    assert formats.redact("110105491231002") == "110105******002"
    assert formats.redact("13912340000") == "139****0000"
    assert formats.redact("139****0000", "cn_mobile") == "139****0000"  # stays masked


# --- profiles and rows ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ids_varied.csv", "people_allvalid.csv", "people.csv"])
def test_id_columns_of_the_testers_files_are_personal_and_masked(name):
    header, *rows = read_csv(name)
    profile = profile_table(header, rows, True)
    ids = next(c for c in profile if c["name"].startswith("身份证"))
    assert (ids["format"], ids["personal"]) == ("cn_id_card", True)
    shown = json.dumps({"profile": profile, "rows": mask_rows(rows, profile)}, ensure_ascii=False)
    # people.csv: 3 of 10 check digits are wrong; under the header word the column is
    # personal all the same (half must pass), and every cell of it is masked.
    assert_nothing_in_full(shown, [row[1] for row in rows] + [r[2] for r in rows if len(r) > 2])
    assert ids["min"].startswith(("110105*", "530102*")) and "*" in ids["max"]


def test_a_column_that_is_mostly_something_else_shows_no_id_anywhere():
    notes = ["已办结", "受理中", f"申请人 {IDS_VARIED[0]} 已办结", IDS_VARIED[1],
             f"电话 {MOBILES[0]}", "退回", "补正材料", "已归档", "转办", "待审"]  # fmt: skip
    right = with_check("11010520200101001")
    orders = [right[:-1] + ("1" if right[-1] == "0" else "0"), "202312010000123456"]
    header = ["备注", "订单号", "编码"]
    rows = [[n, orders[i % 2], "0" + str(i)] for i, n in enumerate(notes)]
    profile = profile_table(header, rows, True)
    assert [c["format"] for c in profile] == [None, None, None]
    shown = json.dumps({"profile": profile, "rows": mask_rows(rows, profile)}, ensure_ascii=False)
    assert_nothing_in_full(shown, IDS_VARIED[:2] + MOBILES[:1])
    assert orders[0] in shown and orders[1] in shown  # not IDs: shown as they are


def test_a_header_that_is_an_id_is_masked_too():
    # A file without a header row: its first row is read as the header.
    header = ["李0", IDS_VARIED[0]]
    profile = profile_table(header, [["李1", IDS_VARIED[1]]], True)
    shown = services.redact_preview({"columns": header, "profile": profile, "rows": []})
    assert_nothing_in_full(json.dumps(shown, ensure_ascii=False), IDS_VARIED[:2])
    assert shown["columns"][1] == shown["profile"][1]["name"] == "110105********002X"


# --- every way out: API, pages, join keys, bundles' schemas, stored previews ----------------


@pytest.fixture
def people(app, httpserver):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1", "::1"]
    base = httpserver.url_for("").rstrip("/")
    for name in ("ids_varied.csv", "people_allvalid.csv", "people.csv"):
        httpserver.expect_request(f"/files/{name}").respond_with_data(
            (DATA / name).read_bytes(), content_type="text/csv"
        )
    listing = (DATA / "people_catalog_v3.csv").read_text(encoding="utf-8")
    httpserver.expect_request("/catalog.csv").respond_with_data(
        listing.replace("http://127.0.0.1:5720", base).encode(), content_type="text/csv"
    )
    return harvested_resources("people", f"{base}/catalog.csv", ("P1", "P2", "P3"))


EVERY_ID = IDS_VARIED + ALLVALID + valid_ids("people.csv")


def test_the_api_and_the_pages_show_no_id_in_full(client, people):
    for code, resource_id in people.items():
        answer = client.get(f"/api/v1/resources/{resource_id}/preview")  # no token
        assert answer.status_code == 200 and answer.json["status"] == "ok", (code, answer.json)
        assert_nothing_in_full(answer.get_data(as_text=True), EVERY_ID + MOBILES)
        column = answer.json["profile"][1]
        assert (column["format"], column["personal"]) == ("cn_id_card", True)
        page = client.get(f"/resources/{resource_id}/preview").get_data(as_text=True)
        assert_nothing_in_full(page, EVERY_ID + MOBILES)
        dataset_id = db.session.get(Resource, resource_id).dataset_id
        dataset_page = client.get(f"/datasets/{dataset_id}").get_data(as_text=True)
        assert "530102********" in dataset_page or "110105********" in dataset_page
        assert_nothing_in_full(dataset_page, EVERY_ID + MOBILES)
    fields = services.table_schemas(people.values())
    assert "personal data" in fields[people["P3"]]["fields"][1]["description"]


def _store_as_before(resource_id: int) -> None:
    """A preview as the code before this fix stored it: the IDs in full, no format."""
    header, *rows = read_csv("ids_varied.csv")
    profile = [
        {"name": name, "type": "string", "format": None, "format_label": None,
         "format_share": None, "personal": False, "empty_share": 0.0, "distinct": 8,
         "distinct_exact": True, "min": min(c), "max": max(c), "examples": list(c[:3])}
        for name, c in zip(header, zip(*rows, strict=True), strict=True)
    ]  # fmt: skip
    db.session.execute(
        update(ResourcePreview)
        .where(ResourcePreview.resource_id == resource_id)
        .values(rows=rows, profile=profile, columns=header, detail=f"cell {rows[0][1]}")
    )
    db.session.commit()


def test_previews_stored_before_the_fix_are_masked_when_read(client, people):
    resource_id = people["P3"]
    client.get(f"/api/v1/resources/{resource_id}/preview")
    _store_as_before(resource_id)
    raw = db.session.scalar(select(ResourcePreview.rows).where(
        ResourcePreview.resource_id == resource_id))  # fmt: skip
    assert raw[2][1] == "530102198001010007"  # stored in full, as before
    answer = client.get(f"/api/v1/resources/{resource_id}/preview")
    assert answer.json["rows"][2][1] == "530102********0007"
    assert answer.json["profile"][1]["min"] == "110105********002X"
    assert answer.json["detail"] == "cell 110105********002X"
    dataset_id = db.session.get(Resource, resource_id).dataset_id
    for html in (client.get(f"/datasets/{dataset_id}").get_data(as_text=True),
                 client.get(f"/resources/{resource_id}/preview").get_data(as_text=True)):  # fmt: skip
        assert_nothing_in_full(html, IDS_VARIED)
    # The same bytes linked elsewhere reuse the stored preview: masked when copied.
    twin = db.session.get(Resource, people["P2"])
    stored = db.session.scalar(select(ResourcePreview).where(
        ResourcePreview.resource_id == resource_id))  # fmt: skip
    twin.sha256 = stored.content_sha256
    db.session.commit()
    copied = services.store(twin, services.same_content(twin))
    assert_nothing_in_full(json.dumps(copied.rows + copied.profile), IDS_VARIED)


def test_the_migration_masks_stored_previews_at_rest(client, people):
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext

    resource_id = people["P3"]
    client.get(f"/api/v1/resources/{resource_id}/preview")
    _store_as_before(resource_id)
    path = ROOT / "migrations" / "versions" / "0018_mask_stored_previews.py"
    spec = importlib.util.spec_from_file_location("mask_stored_previews", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with db.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        migration.upgrade()
    db.session.expire_all()
    stored = db.session.scalar(select(ResourcePreview).where(
        ResourcePreview.resource_id == resource_id))  # fmt: skip
    assert stored.rows[2][1] == "530102********0007"
    assert_nothing_in_full(
        json.dumps([stored.rows, stored.profile, stored.columns, stored.detail]), IDS_VARIED
    )


def test_a_bundle_schema_names_the_files_columns_or_is_left_out(client, people):
    """Acceptance run 4 #3: a file whose first row of data stands as its column names got
    a schema naming the masked values (530102********0038) beside a file whose header
    holds them in full: a header mismatch for a Frictionless validator. Such a file gets
    no schema; every other keeps one naming its columns as the file does."""
    headerless, other = people["P3"], people["P1"]
    for resource_id in (headerless, other):  # previewed on the spot, as a visitor would
        assert client.get(f"/api/v1/resources/{resource_id}/preview").json["status"] == "ok"
    preview = db.session.scalar(
        select(ResourcePreview).where(ResourcePreview.resource_id == headerless)
    )
    profile = [dict(column) for column in preview.profile]
    profile[1]["name"] = IDS_VARIED[0]  # the first row's ID, read as a column name
    db.session.execute(update(ResourcePreview).where(ResourcePreview.id == preview.id)
                       .values(profile=profile))  # fmt: skip
    db.session.commit()
    schemas = services.table_schemas([headerless, other])
    assert headerless not in schemas
    stored = db.session.scalar(
        select(ResourcePreview.profile).where(ResourcePreview.resource_id == other)
    )
    assert [f["name"] for f in schemas[other]["fields"]] == [c["name"] for c in stored]
