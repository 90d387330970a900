"""Quality on the pages: the dataset page's section and rating form, the search page's
minimum and sort, the scenario report's section. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from subscribe.auth import services as auth
from subscribe.quality.job import run_quality
from subscribe.search import indexer
from subscribe.search.service import get_service
from tests.quality_helpers import record, write
from tests.test_web import PASSWORD, csrf_from, login

DAY1 = datetime(2026, 11, 1)
EVIL = '<script>alert("x")</script>评论'


def catalog() -> dict[str, int]:
    ids = write("city", [
        record("good", "公交站点完整数据", modified=DAY1),
        record("poor", "公交站点简略数据", modified=DAY1, description="", publisher="", keywords=[], license=""),
    ])  # fmt: skip
    indexer.apply_changes(get_service().store)
    run_quality(now=DAY1)
    return ids


def test_dataset_page_explains_scores_and_takes_a_rating(app, client):
    ids = catalog()
    page = client.get(f"/datasets/{ids['poor']}?lang=zh", follow_redirects=True).get_data(
        as_text=True
    )
    assert 'id="quality"' in page and "完整性" in page
    assert "使用许可" in page and "注明使用许可或使用条件。" in page  # what to fix
    assert "登录后评分" in page and 'id="rating-form"' not in page

    auth.create_user("rater@example.org", PASSWORD)
    login(client, "rater@example.org")
    page = client.get(f"/datasets/{ids['poor']}").get_data(as_text=True)
    token = csrf_from(page.encode())
    form = {
        "csrf_token": token,
        "completeness": "2",
        "timeliness": "",
        "accuracy": "4",
        "comment": EVIL,
    }
    saved = client.post(f"/datasets/{ids['poor']}/rating", data=form)
    assert saved.status_code == 303
    page = client.get(f"/datasets/{ids['poor']}").get_data(as_text=True)
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;评论" in page and EVIL not in page
    assert "★ 2.0" in page and "★ 4.0" in page
    assert 'name="completeness" value="2" checked' in page  # the form shows my rating

    bad = client.post(f"/datasets/{ids['poor']}/rating", data={**form, "completeness": "9"})
    assert bad.status_code == 422 and 'id="quality"' in bad.get_data(as_text=True)
    assert "请选择 1 到 5 星" in bad.get_data(as_text=True)  # said in the page's language
    empty = {**form, "completeness": "", "accuracy": ""}
    nothing = client.post(f"/datasets/{ids['poor']}/rating", data=empty).get_data(as_text=True)
    assert "请至少为一个维度评分" in nothing and "completeness:" not in nothing
    edited = client.post(f"/datasets/{ids['poor']}/rating", data={**form, "completeness": "5"})
    assert edited.status_code == 303
    assert "★ 5.0" in client.get(f"/datasets/{ids['poor']}").get_data(as_text=True)
    removed = client.post(f"/datasets/{ids['poor']}/rating/delete", data={"csrf_token": token})
    assert removed.status_code == 303
    assert "★" not in client.get(f"/datasets/{ids['poor']}").get_data(as_text=True)


def test_rating_form_needs_sign_in_and_csrf(app, client):
    ids = catalog()
    token = csrf_from(client.get("/").data)
    signed_out = client.post(
        f"/datasets/{ids['good']}/rating", data={"completeness": "3", "csrf_token": token}
    )
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    auth.create_user("rater@example.org", PASSWORD)
    login(client, "rater@example.org")
    forged = client.post(
        f"/datasets/{ids['good']}/rating", data={"completeness": "3", "csrf_token": "x"}
    )
    assert forged.status_code == 400  # the CSRF check refuses it (security.py)


def test_search_page_filters_and_sorts_by_quality(app, client):
    ids = catalog()
    client.get("/?lang=en")
    page = client.get("/?q=公交站点&quality_min=90").get_data(as_text=True)
    assert f'data-dataset-id="{ids["good"]}"' in page
    assert f'data-dataset-id="{ids["poor"]}"' not in page
    assert "Quality at least 90" in page and "Quality 100" in page
    ordered = client.get("/?sort=quality").get_data(as_text=True)
    assert ordered.index(f'data-dataset-id="{ids["good"]}"') < ordered.index(
        f'data-dataset-id="{ids["poor"]}"'
    )
    # A bad minimum in a hand-edited URL is dropped, not an error.
    assert client.get("/?quality_min=500").status_code == 200


def test_scenario_report_page_shows_quality(app, client):
    catalog()
    auth.create_user("rater@example.org", PASSWORD)
    login(client, "rater@example.org")
    token = csrf_from(client.get("/").data)
    created = client.post("/api/v1/scenarios", json={"name": "公交", "q": "公交站点"},
                          headers={"X-CSRF-Token": token})  # fmt: skip
    assert created.status_code == 201, created.json
    page = client.get(f"/scenarios/{created.json['id']}/report").get_data(as_text=True)
    assert 'data-chart="quality-completeness"' in page
    assert "公交站点简略数据" in page  # the weakest member, with what to fix
