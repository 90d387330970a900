"""What a harvest run decided by rule is on the operators' source page, in its language,
not only in the API's mapping report: renamed datasets paired with their stored ones
(tabular_rename) and origin moves (origins.py), each with why subscribers were not told
of them as deletions, creations or updates. Real harvest series on loopback portals (the
ones of test_harvest_origin_move and test_harvest_tabular_rename)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from flask_babel import force_locale
from flask_babel import gettext as _

from subscribe.auth import services as auth
from subscribe.catalog import services
from subscribe.extensions import db
from tests.search_helpers import harvest as harvest_tabular
from tests.search_helpers import serve
from tests.test_harvest_bad_row_keeps import BB7, serve_csv
from tests.test_harvest_origin_move import Portal, move_source
from tests.test_harvest_origin_move import harvest as harvest_dcat
from tests.test_harvest_tabular_rename import csv
from tests.test_web import PASSWORD, login

BAD_ROW_KEEPS = BB7 / "four.csv"
WHY_MOVED = ("Nothing was announced to subscribers: every URL of these datasets moved to the "
             "new address together (scheme, host, port or a path prefix), the rest of each "
             "path the same and nothing else changed. The new URLs are stored without "
             "versions or events.")  # fmt: skip


def source_page(app, client, source, lang: str) -> str:
    auth.create_user("ops@example.org", PASSWORD, role="operator")
    db.session.commit()
    assert login(client, "ops@example.org").status_code == 302
    page = client.get(f"/operators/sources/{source.id}?lang={lang}", follow_redirects=True)
    assert page.status_code == 200
    return page.get_data(as_text=True)


def run_item(page: str, run_id: int) -> str:
    """The history entry of one run (its <li>), tags dropped, entities read."""
    found = re.search(rf'<li class="version[^"]*" data-run="{run_id}".*?</li>\s*(?=<li class="version|</ol>)',
                      page, re.S)  # fmt: skip
    assert found, run_id
    return found.group(0)


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_origin_move_is_on_the_run_in_the_page_language(app, httpserver, lang):
    portal = Portal(httpserver, 8)
    portal.url_identifiers = True  # identified by landing pages: they keep them too
    source = services.create_source("moving", "dcat", portal.url("127.0.0.1"))
    first = harvest_dcat(source)
    move_source(source, portal.url("localhost"))
    moved = harvest_dcat(source)
    old, new = f"http://127.0.0.1:{portal.port}", f"http://localhost:{portal.port}"
    assert moved.mapping_report["origin_moves"] == [{"from": old, "to": new, "datasets": 8}]
    later = harvest_dcat(source)  # the identities carried over again: no move to tell

    page = source_page(app, app.test_client(), source, lang)
    assert "data-moved-identifiers" not in run_item(page, later.id)
    assert "data-moves" not in run_item(page, later.id)
    item = run_item(page, moved.id)
    assert f'data-from="{old}" data-to="{new}"' in item
    shown = text(item)
    with app.test_request_context(), force_locale(lang):
        why = _(WHY_MOVED)
    assert why in shown
    assert 'data-moved-identifiers="8"' in item
    if lang == "zh":
        assert f"{old} → {new} , 共 8 个数据集" in shown
        assert "1 个地址已迁移" in shown and "8 个以地址为标识的数据集在迁移后沿用了原标识" in shown
        assert "Nothing was announced" not in page
    else:
        assert f"{old} → {new} , 8 datasets" in shown
        assert "1 address moved" in shown
    assert "data-moves" not in run_item(page, first.id)  # the first harvest moved nothing


WHY_RENAMED = ("Subscribers were told of a new title of the same dataset, not of a dataset "
               "withdrawn and a new one: same publisher, one title contains the other, "
               "differs only by characters added or removed, or is similar with the same "
               "description; no other period, no clearly different description, and neither "
               "had another candidate.")  # fmt: skip
# Five renamed titles of one publisher; the page lists three and says how many more.
RENAMES = [("企业信用修复名单", "企业信用修复名单（第二版）"), ("全市公共厕所分布", "全市公共厕所点位分布"),
           ("学校名录（试行）", "学校名录"), ("医疗机构名录", "医疗机构名录（2024年）"),
           ("公共图书馆名录", "公共图书馆名录（修订）")]  # fmt: skip


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_renamed_datasets_are_on_the_run_in_the_page_language(app, httpserver, lang):
    url = serve(httpserver, "/list.csv", csv([(old, "市发展改革委") for old, _ in RENAMES]),
                "text/csv")  # fmt: skip
    source = services.create_source("list", "tabular", url)
    first = harvest_tabular(source)
    httpserver.clear()
    serve(httpserver, "/list.csv", csv([(new, "市发展改革委") for _, new in RENAMES]), "text/csv")
    renamed = harvest_tabular(source)
    assert (renamed.created, renamed.updated, renamed.deleted) == (0, 5, 0)
    assert renamed.mapping_report["identity"]["carried_over"]["by"] == {"renamed title": 5}

    page = source_page(app, app.test_client(), source, lang)
    item = run_item(page, renamed.id)
    assert 'data-renamed="5"' in item
    listed = re.findall(r'<li data-from="([^"]+)" data-to="([^"]+)">', item)
    assert len(listed) == 3 and set(listed) < set(RENAMES)
    shown = text(item)
    with app.test_request_context(), force_locale(lang):
        why = _(WHY_RENAMED)
    assert why in shown
    old, new = listed[0]
    if lang == "zh":
        assert "5 个数据集改了标题，仍作为原数据集" in shown and "另有 2 项" in shown
        assert f"{old} → {new}" in shown and ("新标题包含旧标题" in shown or "旧标题" in shown)
        assert "renamed" not in shown
    else:
        assert "5 datasets renamed, each kept as the same dataset" in shown
        assert "and 2 more" in shown and f"{old} → {new}" in shown
    assert "data-renamed" not in run_item(page, first.id)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_datasets_bad_records_kept_are_on_the_run_in_the_page_language(app, httpserver, lang):
    """Bad input loses nothing (writer.mark_unseen_deleted), and the run says so on the
    source page, not only in the API's mapping report: a row whose id was read before its
    quote broke keeps its dataset (kept_by_bad_records); a row cut before its id holds
    back the deletion of the one dataset not seen (deletions_held_back)."""
    good = BAD_ROW_KEEPS.read_text(encoding="utf-8")
    source = services.create_source("bb7", "tabular", serve_csv(httpserver, good))
    first = harvest_tabular(source)
    serve_csv(httpserver, good.replace("C005,", 'C005,"', 1))  # the quote after the id
    kept = harvest_tabular(source)
    assert (kept.bad, kept.deleted, kept.mapping_report["kept_by_bad_records"]) == (1, 0, 1)
    serve_csv(httpserver, good.replace("C005,", '"C005,', 1))  # the id itself cut
    held = harvest_tabular(source)
    assert (held.bad, held.deleted) == (1, 0)
    assert held.mapping_report["deletions_held_back"]["datasets_unseen"] == 1

    page = source_page(app, app.test_client(), source, lang)
    kept_item, held_item = run_item(page, kept.id), run_item(page, held.id)
    assert 'data-kept-by-bad-records="1"' in kept_item and "data-deletions" not in kept_item
    assert 'data-deletions-held-back="1"' in held_item and "data-kept-by" not in held_item
    if lang == "zh":
        assert "1 个数据集保持原样：有无法读取的记录指明了它们，因此不删除、不更改。" in text(
            kept_item
        )
        assert "1 个数据集未删除：无法读取的记录可能就是它们。" in text(held_item)
        assert "本次有 1 条记录无法读取" in text(held_item)
        assert "not deleted" not in page and "kept as it was" not in page
    else:
        assert ("1 dataset kept as it was: a bad record names it, so it is not deleted and "
                "not changed.") in text(kept_item)  # fmt: skip
        assert "1 dataset not deleted: unreadable records could be it." in text(held_item)
        assert "(1 record of this run could not be read.)" in text(held_item)
    assert "data-kept-by" not in run_item(page, first.id)
    assert "data-deletions" not in run_item(page, first.id)
