"""Resource previews and profiles: formats, masking, encodings, XLSX, JSON, bad input
served by real loopback HTTP servers, the stored cache, join keys and the API."""

from __future__ import annotations

import csv
import io
import json
import random
import socket
import threading
import time
from contextlib import contextmanager

import pytest
from openpyxl import Workbook
from sqlalchemy import select, update
from stdnum.cn import ric, uscc
from werkzeug import Request, Response
from werkzeug.serving import make_server

from subscribe.catalog.models import Resource
from subscribe.csvfield import CSV_FIELD_LIMIT
from subscribe.extensions import db
from subscribe.notify.ssrf import OutboundPolicy
from subscribe.preview import formats, services
from subscribe.preview.models import ResourcePreview
from subscribe.preview.services import make_preview
from tests.catalog_helpers import harvested_resources

LOOPBACK = OutboundPolicy("127.0.0.1,::1")
SETTINGS = {"policy": LOOPBACK, "max_bytes": 2 * 1024 * 1024, "seconds": 10.0,
            "profile_rows": 5000}  # fmt: skip
COUNTIES = ("340102", "340103", "340104", "340111", "340121", "110101", "440305", "330106")
BIRTH_PLACES = ("110101", "110102", "340121", "310101")  # counties older than any birth year


# --- real-looking values (valid check digits) ---------------------------------------------


def make_uscc(rng: random.Random) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "91" + rng.choice(COUNTIES) + "".join(rng.choice(alphabet) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def make_ric(rng: random.Random) -> str:
    body = (
        rng.choice(BIRTH_PLACES)
        + f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        + f"{rng.randint(0, 999):03d}"
    )
    return body + ric.calc_check_digit(body + "0")  # it ignores the last character


def make_mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randint(0, 999_999_999):09d}"


def company_rows(n: int, seed: int = 7) -> list[list[str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        rows.append([
            f"示例企业{i}有限公司", make_uscc(rng), rng.choice(COUNTIES), make_ric(rng),
            make_mobile(rng), f"2023年{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
            f"{rng.randint(1, 9_999_999):,}.00", str(rng.randint(1, 500)),
        ])  # fmt: skip
    return rows


HEADER = ["企业名称", "统一社会信用代码", "行政区划代码", "法人身份证号", "联系电话", "成立日期",
          "注册资本(元)", "员工人数"]  # fmt: skip


def csv_bytes(header, rows, encoding="utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(header, rows) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append([int(v) if v.isdigit() and len(v) < 6 else v for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- formats and masking ------------------------------------------------------------------


def test_formats_are_detected_by_validation_not_by_shape():
    rng = random.Random(1)
    codes = [make_uscc(rng) for _ in range(200)]
    assert formats.detect("统一社会信用代码", codes).format == "cn_uscc"
    assert formats.detect("代码", codes).format == "cn_uscc"  # values alone suffice
    # Same shape, wrong check digits: no format, whatever the header says.
    broken = [c[:-1] + ("0" if c[-1] != "0" else "1") for c in codes]
    assert formats.detect("统一社会信用代码", broken) is None
    ids = [make_ric(rng) for _ in range(100)]
    assert formats.detect("身份证号", ids).format == "cn_id_card"
    assert formats.detect("区划代码", list(COUNTIES)).format == "cn_admin_code"
    assert formats.detect("邮政编码", ["510000", "110000", "340000"]) is None  # postcodes
    assert formats.detect("编号", ["999901", "123456", "000001"]) is None
    assert formats.detect("手机", [make_mobile(rng) for _ in range(50)]).format == "cn_mobile"
    assert (
        formats.detect("电话", ["0551-62345678", "(010)87654321", "13912345678"]).format
        == "cn_phone"
    )
    assert formats.detect("日期", ["2023年5月1日", "2023-06-02", "2023/7/3"]).format == "cn_date"
    assert formats.detect("金额（万元）", ["1,200.5", "300", "¥45"]).format == "cn_amount"
    assert formats.detect("数量", ["1,200.5", "300"]) is None  # amounts need a header word
    # A share threshold: 1 of 10 invalid still passes 0.9, 2 of 10 do not.
    mixed = [make_uscc(rng) for _ in range(9)] + ["N/A-CODE"]
    assert formats.detect("信用代码", mixed).format == "cn_uscc"
    assert formats.detect("信用代码", mixed[:8] + ["x", "y"]) is None


def test_personal_identifiers_are_masked():
    assert formats.mask("360426199101010071", "cn_id_card") == "360426********0071"
    assert formats.mask("13812345678", "cn_mobile") == "138****5678"
    assert formats.mask("0551-62345678", "cn_phone") == "0551-****5678"
    assert formats.mask("+86 138 1234 5678") == "+86 138 **** 5678"


# --- real HTTP servers --------------------------------------------------------------------


@contextmanager
def serving(handler):
    """A werkzeug server on an ephemeral loopback port; handler(request) -> Response."""
    server = make_server("127.0.0.1", 0, Request.application(handler), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def test_gb18030_csv_is_read_and_profiled(httpserver):
    rows = company_rows(120)
    rows[0][0] = "𠮷野家餐饮有限公司"  # only GB18030 (not GBK) encodes this character
    httpserver.expect_request("/gb.csv").respond_with_data(
        csv_bytes(HEADER, rows, "gb18030"), content_type="text/csv"
    )
    answer = make_preview(httpserver.url_for("/gb.csv"), "CSV", **SETTINGS)
    assert answer["status"] == "ok", answer
    assert answer["encoding"] == "gb18030"
    assert answer["columns"] == HEADER
    assert answer["rows"][0][0] == "𠮷野家餐饮有限公司"
    assert len(answer["rows"]) == 50 and answer["rows_read"] == 120 and answer["complete"]
    by_name = {c["name"]: c for c in answer["profile"]}
    assert by_name["统一社会信用代码"]["format"] == "cn_uscc"
    assert by_name["行政区划代码"]["format"] == "cn_admin_code"
    assert by_name["法人身份证号"]["format"] == "cn_id_card"
    assert by_name["联系电话"]["format"] == "cn_mobile"
    assert by_name["成立日期"]["format"] == "cn_date"
    assert by_name["注册资本(元)"]["format"] == "cn_amount"
    assert by_name["员工人数"]["type"] == "integer"
    assert by_name["行政区划代码"]["distinct"] == len({r[2] for r in rows})
    assert answer["key_formats"] == ["cn_admin_code", "cn_uscc"]
    # Personal identifiers never appear in clear: rows, examples, min and max.
    text = json.dumps(answer, ensure_ascii=False)
    for row in rows:
        assert row[3] not in text and row[4] not in text
    assert answer["rows"][0][3] == formats.mask(rows[0][3], "cn_id_card")
    assert by_name["法人身份证号"]["min"].count("*") == 8


def test_gbk_csv_and_semicolons(httpserver):
    body = "名称;金额(元)\n东湖区图书馆;1,200\n西山区文化馆;300\n".encode("gbk")
    httpserver.expect_request("/gbk.csv").respond_with_data(body, content_type="text/csv")
    answer = make_preview(httpserver.url_for("/gbk.csv"), "CSV", **SETTINGS)
    assert answer["status"] == "ok" and answer["encoding"] == "gbk"
    assert answer["rows"] == [["东湖区图书馆", "1,200"], ["西山区文化馆", "300"]]
    amount = answer["profile"][1]
    assert (amount["format"], amount["min"], amount["max"]) == ("cn_amount", "300", "1,200")


def test_a_legacy_xls_data_file_is_previewed(httpserver):
    """.xls files (BIFF, many Chinese portals' data downloads) are read with xlrd: the
    first sheet's first non-blank row is the header, date cells read as dates."""
    from pathlib import Path

    book = Path(__file__).resolve().parent / "data" / "tabular-xls" / "catalog.xls"
    httpserver.expect_request("/book.xls").respond_with_data(
        book.read_bytes(), content_type="application/vnd.ms-excel"
    )
    answer = make_preview(httpserver.url_for("/book.xls"), "XLS", **SETTINGS)
    assert answer["status"] == "ok", answer
    assert answer["kind"] == "xls"
    assert answer["columns"][0] == "示例市公共数据开放目录（2024年）"  # the merged title row
    assert any(note.startswith("first of 2 sheets") for note in answer["notes"])
    first_date = next(row for row in answer["rows"] if "公交站点位置信息" in row)
    assert "2023-06-01" in first_date


def test_xlsx_is_streamed_read_only(httpserver):
    rows = company_rows(80, seed=3)
    httpserver.expect_request("/book.xlsx").respond_with_data(
        xlsx_bytes(HEADER, rows), content_type="application/octet-stream"
    )
    answer = make_preview(httpserver.url_for("/book.xlsx"), "XLSX", **SETTINGS)
    assert answer["status"] == "ok", answer
    assert answer["kind"] == "xlsx" and answer["columns"] == HEADER and answer["rows_read"] == 80
    by_name = {c["name"]: c for c in answer["profile"]}
    assert by_name["统一社会信用代码"]["format"] == "cn_uscc"
    assert by_name["员工人数"]["type"] == "integer"
    assert "*" in answer["rows"][0][4]


def test_json_records_one_level_down(httpserver):
    records = [{"区划代码": c, "名称": f"区{n}", "人口": n * 1000} for n, c in enumerate(COUNTIES)]
    body = json.dumps({"code": 200, "data": records}, ensure_ascii=False).encode()
    httpserver.expect_request("/api").respond_with_data(body, content_type="application/json")
    answer = make_preview(httpserver.url_for("/api"), "API", **SETTINGS)
    assert answer["status"] == "ok", answer
    assert answer["columns"] == ["区划代码", "名称", "人口"]
    assert answer["profile"][0]["format"] == "cn_admin_code"
    assert answer["profile"][2]["type"] == "integer"


@pytest.mark.parametrize(
    ("body", "content_type", "declared", "reason"),
    [
        (b"<!DOCTYPE html><html><body>\xe7\x99\xbb\xe5\xbd\x95</body></html>", "text/html", "CSV", "html"),
        (b"<html><head></head></html>", "text/csv", "CSV", "html"),  # HTML served as CSV
        (bytes(range(256)) * 40, "text/csv", "CSV", "binary"),
        (b"%PDF-1.7\n%\xe2\xe3", "text/csv", "CSV", "binary"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "application/vnd.ms-excel", "XLS", "parse_error"),
        (b"PK\x03\x04 this is no workbook", "application/octet-stream", "XLSX", "parse_error"),
        (b'[{"a": 1}, {"a": 2', "application/json", "JSON", "parse_error"),
        (b'{"code": 200, "msg": "ok"}', "application/json", "JSON", "no_table"),
        (b"", "text/csv", "CSV", "empty"),
        (b"\x81\xfe\x82\xff\x83\xfd" * 2000, "text/csv", "CSV", "bad_encoding"),
        (b'a,b\n"unclosed,\x00', "text/csv", "CSV", "binary"),
    ],
)  # fmt: skip
def test_bad_files_get_a_reason(httpserver, body, content_type, declared, reason):
    httpserver.expect_request("/file").respond_with_data(body, content_type=content_type)
    answer = make_preview(httpserver.url_for("/file"), declared, **SETTINGS)
    assert (answer["status"], answer["reason"]) == ("failed", reason), answer
    assert answer["detail"]


def test_http_errors_and_the_ssrf_guard(httpserver):
    httpserver.expect_request("/gone").respond_with_data("no", status=404)
    answer = make_preview(httpserver.url_for("/gone"), "CSV", **SETTINGS)
    assert (answer["reason"], answer["detail"]) == ("http_error", "HTTP 404")
    guarded = {**SETTINGS, "policy": OutboundPolicy("")}
    answer = make_preview(httpserver.url_for("/gone"), "CSV", **guarded)
    assert answer["reason"] == "blocked" and "loopback" in answer["detail"]
    assert make_preview("ftp://example.org/a.csv", "CSV", **SETTINGS)["reason"] == "unsupported_url"
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    answer = make_preview(f"http://127.0.0.1:{port}/a.csv", "CSV", **SETTINGS)
    assert answer["reason"] == "connection"


def test_a_2_gb_csv_is_read_only_to_the_cap():
    """A lazily generated 2 GB CSV: the preview stops at the byte cap, keeps its rows."""
    line = "340102,示例市东湖区,123456.78\n".encode()
    total = 2 * 1024**3
    sent = {"bytes": 0}

    def huge(request):
        def body():
            yield "区划代码,名称,金额(元)\n".encode()
            for _ in range(total // len(line)):
                sent["bytes"] += len(line) * 1000
                yield line * 1000

        return Response(body(), content_type="text/csv",
                        headers={"Content-Length": str(total)})  # fmt: skip

    with serving(huge) as base:
        answer = make_preview(f"{base}/huge.csv", "CSV", **SETTINGS)
    assert answer["status"] == "ok", answer
    assert answer["truncated"] and not answer["complete"]
    assert answer["bytes_read"] == SETTINGS["max_bytes"]
    assert answer["rows_read"] == SETTINGS["profile_rows"]
    assert answer["profile"][0]["format"] == "cn_admin_code"
    assert "only the first" in answer["notes"][0]
    assert sent["bytes"] < 64 * 1024 * 1024  # the server was stopped early, not drained


def test_a_server_dripping_bytes_is_cut_by_the_time_cap():
    def drip(request):
        def body():
            yield b"a,b\n"
            for n in range(1000):
                time.sleep(0.05)
                yield f"{n},x\n".encode()

        return Response(body(), content_type="text/csv")

    with serving(drip) as base:
        started = time.monotonic()
        answer = make_preview(f"{base}/slow.csv", "CSV", **{**SETTINGS, "seconds": 1.0})
        elapsed = time.monotonic() - started
    assert answer["status"] == "ok" and answer["truncated"], answer
    assert 0 < answer["rows_read"] < 1000
    assert elapsed < 20  # bounded by the cap (1 s) plus one read, not the 50 s body


# --- stored previews, the API, join keys --------------------------------------------------


def _catalog_csv(base: str) -> bytes:
    rows = [
        ("QY-1", "示例市企业登记信息", "无条件开放", "CSV", f"{base}/companies.csv"),
        ("QY-2", "示例市企业年报（Excel）", "无条件开放", "XLSX", f"{base}/reports.xlsx"),
        ("QY-3", "示例市区县人口", "无条件开放", "CSV", f"{base}/population.csv"),
        ("QY-4", "示例市企业社保缴纳", "有条件开放", "CSV", f"{base}/secret.csv"),
        ("QY-5", "示例市网页", "无条件开放", "CSV", f"{base}/page.csv"),
    ]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["目录编号", "目录名称", "数源单位", "开放属性", "资源格式", "下载地址"])
    for code, title, open_type, fmt, url in rows:
        writer.writerow([code, title, "市市场监管局", open_type, fmt, url])
    return out.getvalue().encode()


@pytest.fixture
def files(app, httpserver):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1", "::1"]
    app.config["SUBSCRIBE_PREVIEW_MAX_BYTES"] = 2 * 1024 * 1024
    base = httpserver.url_for("").rstrip("/")
    companies = company_rows(60)
    serve = httpserver.expect_request
    serve("/companies.csv").respond_with_data(csv_bytes(HEADER, companies, "gb18030"),
                                              content_type="text/csv")  # fmt: skip
    serve("/reports.xlsx").respond_with_data(xlsx_bytes(HEADER, company_rows(30, seed=9)))
    population = [[c, f"区{n}", str(1000 * n)] for n, c in enumerate(COUNTIES)]
    serve("/population.csv").respond_with_data(
        csv_bytes(["行政区划代码", "区县", "人口"], population)
    )
    serve("/secret.csv").respond_with_data(b"must never be fetched", status=500)
    serve("/page.csv").respond_with_data(
        b"<!doctype html><title>404</title>", content_type="text/html"
    )
    serve("/catalog.csv").respond_with_data(_catalog_csv(base), content_type="text/csv")
    codes = ("QY-1", "QY-2", "QY-3", "QY-4", "QY-5")
    return harvested_resources("city", f"{base}/catalog.csv", codes)


def test_preview_api_makes_stores_and_serves_from_cache(client, files, httpserver):
    answer = client.get(f"/api/v1/resources/{files['QY-1']}/preview")
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["status"] == "ok" and body["encoding"] == "gbk" and len(body["rows"]) == 50
    assert body["key_formats"] == ["cn_admin_code", "cn_uscc"]
    fetched = len(httpserver.log)
    again = client.get(f"/api/v1/resources/{files['QY-1']}/preview").json
    assert len(httpserver.log) == fetched  # served from the stored preview
    assert again["content_sha256"] == body["content_sha256"]
    # A resource check that sees new content makes the stored preview stale.
    db.session.execute(update(Resource).where(Resource.id == files["QY-1"]).values(sha256="f" * 64))
    db.session.commit()
    client.get(f"/api/v1/resources/{files['QY-1']}/preview")
    assert len(httpserver.log) == fetched + 1
    # The same content as the check saw: fresh, not fetched again.
    db.session.execute(
        update(Resource).where(Resource.id == files["QY-1"]).values(sha256=body["content_sha256"])
    )
    db.session.commit()
    client.get(f"/api/v1/resources/{files['QY-1']}/preview")
    assert len(httpserver.log) == fetched + 1


def test_not_open_datasets_are_never_fetched_and_bad_files_say_why(client, files, httpserver):
    answer = client.get(f"/api/v1/resources/{files['QY-4']}/preview").json
    assert (answer["status"], answer["reason"]) == ("not_open", "not_open")
    assert "never fetched" in answer["message"]
    assert not [entry for entry, _ in httpserver.log if entry.path == "/secret.csv"]
    page = client.get(f"/api/v1/resources/{files['QY-5']}/preview")
    assert page.status_code == 200
    assert (page.json["status"], page.json["reason"]) == ("failed", "html")
    assert "web page" in page.json["message"]
    missing = client.get("/api/v1/resources/999999/preview")
    assert missing.status_code == 404 and set(missing.json) == {
        "code",
        "status",
        "message",
        "errors",
    }


def test_job_previews_open_files_and_join_keys_follow(client, files, httpserver):
    summary = services.run_previews(limit=50)
    assert summary["previewed"] == 4  # the conditionally open one is never fetched
    assert not [entry for entry, _ in httpserver.log if entry.path == "/secret.csv"]
    assert services.run_previews(limit=50)["previewed"] == 0  # all fresh now
    ids = {code: db.session.get(Resource, rid).dataset_id for code, rid in files.items()}
    keys = services.detected_key_formats(ids.values())
    assert keys == {ids["QY-1"]: {"cn_admin_code", "cn_uscc"},
                    ids["QY-2"]: {"cn_admin_code", "cn_uscc"},
                    ids["QY-3"]: {"cn_admin_code"}}  # fmt: skip
    # The scenario's join keys, over the API.
    client.post(
        "/api/v1/auth/register", json={"email": "a@example.org", "password": "long password"}
    )
    token = client.post("/api/v1/auth/tokens",
                        json={"email": "a@example.org", "password": "long password"}).json  # fmt: skip
    headers = {"Authorization": f"Bearer {token['token']}"}
    scenario = client.post("/api/v1/scenarios", headers=headers,
                           json={"name": "企业与区县", "q": "示例市"}).json  # fmt: skip
    answer = client.get(f"/api/v1/scenarios/{scenario['id']}/join-keys", headers=headers)
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["members"] == 5 and body["previewed"] == 3  # QY-5 is a web page
    admin = next(k for k in body["keys"] if k["format"] == "cn_admin_code")
    assert admin["count"] == 3 and admin["label_zh"] == "行政区划代码"
    population = next(d for d in admin["datasets"] if d["id"] == ids["QY-3"])
    assert population["columns"] == ["行政区划代码"] and population["values_shared"] == 1.0
    assert next(k for k in body["keys"] if k["format"] == "cn_uscc")["count"] == 2
    assert client.get(f"/api/v1/scenarios/{scenario['id']}/join-keys").status_code == 401
    # Table Schema fields for the bundle's datapackage.json.
    schemas = services.table_schemas(files.values())
    fields = {f["name"]: f for f in schemas[files["QY-1"]]["fields"]}
    assert fields["统一社会信用代码"]["detected_format"] == "cn_uscc"
    assert fields["统一社会信用代码"]["type"] == "string"
    assert fields["员工人数"] == {"name": "员工人数", "type": "integer"}
    assert "personal" in fields["法人身份证号"]["description"]
    assert db.session.scalar(select(ResourcePreview.status).where(
        ResourcePreview.resource_id == files["QY-5"])) == "failed"  # fmt: skip


def test_bundle_datapackage_records_detected_formats_as_table_schema(app, client, files, tmp_path):
    from tests.test_bundles import build_all, download

    app.config["SUBSCRIBE_BUNDLE_DIR"] = str(tmp_path / "bundles")
    services.run_previews(limit=50)
    client.post(
        "/api/v1/auth/register", json={"email": "b@example.org", "password": "long password"}
    )
    token = client.post("/api/v1/auth/tokens",
                        json={"email": "b@example.org", "password": "long password"}).json  # fmt: skip
    headers = {"Authorization": f"Bearer {token['token']}"}
    scenario = client.post("/api/v1/scenarios", headers=headers,
                           json={"name": "企业", "q": "示例市"}).json  # fmt: skip
    queued = client.post(f"/api/v1/scenarios/{scenario['id']}/bundles", json={}, headers=headers)
    assert queued.status_code == 202 and build_all() == 1
    bundle = client.get(f"/api/v1/bundles/{queued.json['id']}", headers=headers).json
    package = json.loads(download(client, headers, bundle).read("datapackage.json"))
    by_title = {r["dataset"]["title"]: r for r in package["resources"]}
    companies = by_title["示例市企业登记信息"]
    assert companies["profile"] == "tabular-data-resource"
    fields = {f["name"]: f for f in companies["schema"]["fields"]}
    assert [f["name"] for f in companies["schema"]["fields"]] == HEADER
    assert fields["统一社会信用代码"]["detected_format"] == "cn_uscc"
    assert fields["行政区划代码"]["detected_format"] == "cn_admin_code"
    assert fields["成立日期"] == {**fields["成立日期"], "type": "date", "format": "any"}
    assert "schema" not in by_title["示例市网页"]  # no readable preview: no schema claimed


def test_pages_show_previews_reasons_and_join_keys(client, files):
    from subscribe.auth import services as auth
    from subscribe.scenarios import services as scenarios
    from tests.test_web import PASSWORD, login

    def dataset_page(code: str) -> str:
        dataset_id = db.session.get(Resource, files[code]).dataset_id
        return client.get(f"/datasets/{dataset_id}").get_data(as_text=True)

    # Nothing previewed yet: the dataset page offers to make it (and fetches nothing).
    assert "预览此文件" in dataset_page("QY-1")
    page = client.get(f"/resources/{files['QY-1']}/preview")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "统一社会信用代码" in html and "行政区划代码" in html and "已脱敏" in html
    assert 'data-format="cn_uscc"' in html and "GBK" in html
    row = company_rows(60)[0]
    assert row[1] in html and row[3] not in html and formats.mask(row[3], "cn_id_card") in html
    # Stored now: the dataset page shows its first rows.
    assert row[0] in dataset_page("QY-1")
    assert "有条件开放" in dataset_page("QY-4") and "不会下载文件" in dataset_page("QY-4")
    web_page = client.get(f"/resources/{files['QY-5']}/preview").get_data(as_text=True)
    assert 'data-reason="html"' in web_page and "返回的是网页" in web_page
    assert client.get("/resources/999999/preview").status_code == 404
    # The scenario report lists the join keys.
    services.run_previews(limit=50)
    alice = auth.create_user("alice@example.org", PASSWORD)
    scenario = scenarios.create_scenario(alice, {"name": "企业与区县", "q": "示例市", "filters": {},
                                                 "include": [], "exclude": []})  # fmt: skip
    login(client, alice.email)
    report = client.get(f"/scenarios/{scenario.id}/report").get_data(as_text=True)
    assert "3 个数据集含 行政区划代码" in report and "2 个数据集含 统一社会信用代码" in report
    assert "依据 5 个数据集中 3 个可读取的预览" in report
    # The members tab says it in one line, linking to the report (hbreak F17).
    members = client.get(f"/scenarios/{scenario.id}").get_data(as_text=True)
    assert 'id="join-keys-summary"' in members and "3 个数据集含 行政区划代码" in members
    assert f"/scenarios/{scenario.id}/report#join-keys" in members


def test_previews_made_on_request_are_rate_limited_stored_ones_are_not(app, client, files):
    app.config["SUBSCRIBE_LIMIT_PREVIEW"] = "2 per minute"
    assert client.get(f"/api/v1/resources/{files['QY-1']}/preview").status_code == 200
    assert client.get(f"/resources/{files['QY-2']}/preview").status_code == 200
    refused = client.get(f"/api/v1/resources/{files['QY-3']}/preview")
    assert refused.status_code == 429
    assert set(refused.json) == {"code", "status", "message", "errors"}
    for _ in range(3):  # stored (or never fetched): answered whatever the count
        assert client.get(f"/api/v1/resources/{files['QY-1']}/preview").status_code == 200
        assert client.get(f"/api/v1/resources/{files['QY-4']}/preview").status_code == 200


def test_same_content_elsewhere_is_reused_without_a_fetch(client, files, httpserver):
    first = client.get(f"/api/v1/resources/{files['QY-1']}/preview").json
    # QY-3's check says it holds the same bytes as QY-1's file (a mirror).
    db.session.execute(
        update(Resource).where(Resource.id == files["QY-3"]).values(sha256=first["content_sha256"])
    )
    db.session.commit()
    fetched = len(httpserver.log)
    twin = client.get(f"/api/v1/resources/{files['QY-3']}/preview").json
    assert len(httpserver.log) == fetched
    assert twin["columns"] == first["columns"] and twin["key_formats"] == first["key_formats"]


def test_nul_characters_past_the_head_are_dropped_before_storing(files, httpserver):
    # NULs deep in a file (past the sniffed head) reach neither PostgreSQL nor a 500.
    body = b"name,note\n" + b"a,b\n" * 2100 + b"x\x00y,\x00\n"  # past the 8 KB sniff
    httpserver.expect_request("/nul.csv").respond_with_data(body, content_type="text/csv")
    values = make_preview(httpserver.url_for("/nul.csv"), "CSV", **SETTINGS)
    assert values["status"] == "ok", values
    stored = services.store(db.session.get(Resource, files["QY-1"]), values)
    assert stored.status == "ok" and stored.profile[0]["max"] == "xy"


def test_a_file_the_guard_refuses_says_blocked_whatever_its_format(app, client, httpserver):
    """bb6: download URLs at internal addresses with no format said `not_tabular`, the
    same with format CSV `blocked`: the guard is asked before the format. Nothing is
    fetched; an allowed address with no tabular format stays not_tabular."""
    from subscribe.catalog.records import ResourceRecord
    from tests.quality_helpers import record, write

    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = []
    urls = {"meta": "http://169.254.169.254/latest/meta-data/", "local": "http://localhost:8080/x",
            "numeric": "http://2130706433/a", "csv": httpserver.url_for("/a.csv"),
            "pdf": "https://data.example.gov.cn/a.pdf"}  # fmt: skip
    formats_ = {"csv": "CSV", "pdf": "PDF"}
    resources = [ResourceRecord(url=url, name=key, format=formats_.get(key, ""))
                 for key, url in urls.items()]  # fmt: skip
    dataset_id = write("ssrf", [record("x", resources=resources)])["x"]
    answers = {
        r.name: client.get(f"/api/v1/resources/{r.id}/preview").json
        for r in db.session.scalars(select(Resource))
    }
    for key in ("meta", "local", "numeric", "csv"):
        assert (answers[key]["status"], answers[key]["reason"]) == ("failed", "blocked"), key
        assert "refused" in answers[key]["detail"] and answers[key]["message"], answers[key]
    assert answers["pdf"]["status"] == "not_tabular"
    page = client.get(f"/datasets/{dataset_id}")  # lists the same answers, stored or not
    assert page.status_code == 200 and "latest/meta-data" in page.text
    assert httpserver.log == []


def test_a_cell_past_the_default_csv_limit_previews(httpserver):
    """A 200,000-character cell (over Python csv's default 131,072) is read, whether or
    not the harvester was imported first: subscribe.csvfield sets one limit for both.
    One past CSV_FIELD_LIMIT (a preview reads that far only with a larger byte cap) is
    a parse error."""
    body = b'a,b\n"' + b"x" * 200_000 + b'",1\nshort,2\n'
    httpserver.expect_request("/long.csv").respond_with_data(body, content_type="text/csv")
    answer = make_preview(httpserver.url_for("/long.csv"), "CSV", **SETTINGS)
    assert answer["status"] == "ok", answer
    assert [len(row[0]) for row in answer["rows"]] == [200_000, 5], answer["rows"]
    huge = b'a,b\n"' + b"x" * (CSV_FIELD_LIMIT + 1) + b'",1\n'
    httpserver.expect_request("/huge.csv").respond_with_data(huge, content_type="text/csv")
    roomy = {**SETTINGS, "max_bytes": 2 * CSV_FIELD_LIMIT}
    answer = make_preview(httpserver.url_for("/huge.csv"), "CSV", **roomy)
    assert (answer["status"], answer["reason"]) == ("failed", "parse_error"), answer
