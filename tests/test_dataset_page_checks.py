"""The dataset page shows a resource whose URL the SSRF guard refused (check state
`blocked`), as the API's `check` does: beside the resource, in the page's language."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from subscribe.catalog.check_jobs import run_resource_checks
from subscribe.catalog.records import ResourceRecord
from subscribe.models_base import utcnow
from tests.quality_helpers import record, write

INSIDE = "http://10.255.255.1/aqi.csv"
ZH = "未抓取：此地址指向内部网络"
EN = "Not fetched: this URL points to an internal address"


def _row(page: str, name: str) -> str:
    """The resources table's row of the resource named ``name``."""
    rows = re.findall(r"<tr>.*?</tr>", page, re.S)
    (row,) = [r for r in rows if name in r]
    return row


def test_a_blocked_resource_says_so_beside_it_in_both_languages(app, client, httpserver):
    app.config["SUBSCRIBE_CHECK_HOST_RATE"] = 0.0
    httpserver.expect_request("/ok.csv").respond_with_data("a,b\n1,2\n", content_type="text/csv")
    resources = [ResourceRecord(url=INSIDE, name="内部文件", format="CSV"),
                 ResourceRecord(url=httpserver.url_for("/ok.csv"), name="公开文件", format="CSV")]  # fmt: skip
    dataset_id = write("page", [record("x", resources=resources)])["x"]
    api = client.get(f"/api/v1/datasets/{dataset_id}").json["resources"]
    assert [r["check"]["state"] for r in api] == ["unchecked", "unchecked"]
    page = client.get(f"/datasets/{dataset_id}").get_data(as_text=True)
    assert ZH not in page  # not checked yet: nothing to say

    summary = run_resource_checks(limit=100, now=utcnow() + timedelta(days=8))
    assert summary["blocked"] == 1 and httpserver.log  # the other one was fetched
    (blocked,) = [r for r in client.get(f"/api/v1/datasets/{dataset_id}").json["resources"]
                  if r["check"]["state"] == "blocked"]  # fmt: skip
    assert blocked["url"] == INSIDE and "private address" in blocked["check"]["reason"]

    page = client.get(f"/datasets/{dataset_id}").get_data(as_text=True)
    inside, public = _row(page, "内部文件"), _row(page, "公开文件")
    assert ZH in inside and ZH not in public and EN not in page
    assert html.escape(blocked["check"]["reason"], quote=True) in inside  # the guard's reason
    english = client.get(f"/datasets/{dataset_id}?lang=en", follow_redirects=True).get_data(
        as_text=True
    )
    assert EN in _row(english, "内部文件") and EN not in _row(english, "公开文件")
