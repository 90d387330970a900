"""The column-mapping report's reasons read in the page's language.

A tabular harvest says why each header became a field (a rule, a known name, a value
test), why a column was ignored, why a column identifies rows or not and why identities
were carried over. The run's report and the API keep the English texts (clients match
on them); the operators' pages translate them (web/reasons.mapping_reason), with every
reason the harvesters write covered: a reworded or new one shows up here.
"""

from __future__ import annotations

import re

import pytest
from flask_babel import force_locale
from markupsafe import escape

from subscribe.auth import services as auth
from subscribe.catalog import services as catalog
from subscribe.catalog.harvesters import tabular_identity
from subscribe.catalog.harvesters.tabular_carry import TabularCarryOver
from subscribe.catalog.harvesters.tabular_headers import RULES
from subscribe.web.reasons import mapping_reason
from tests.search_helpers import harvest, serve
from tests.test_web import PASSWORD, login

# Words of the English reasons: none may be left in a Chinese page's reason.
ENGLISH = re.compile(
    r"\b(?:the|of|its|values?|columns?|header|rows?|named|mapping|used|only|where|empty|"
    r"distinct|fit|known|name|suggests|but|unknown|hash|won|rule|field|page|number|taken|"
    r"identity|identities|carried|packages?|changed|phones?|portal|dataset|modified|"
    r"issued|publisher|themes|keywords|formats|license|description)\b"
)  # fmt: skip

HEADER = ["序号", "数据目录名称", "资源名称", "数据提供方", "来源单位", "发布机构", "更新时间",
          "最后更新", "门户网址", "备用", "下载地址", "格式", "备注", "", "数据量", "目录编号",
          "字符编码", "开放属性", "更新周期", "关键词", "数据领域", "摘要", "发布日期", "日期",
          "首页链接"]  # fmt: skip


def _export() -> bytes:
    """A file whose columns take every path of the column decision: a rule, a known name,
    a value test passed and failed, a portal page, a header known only by its values, an
    ignored column, no header, a fallback column, a column the mapping leaves out, an id
    column that repeats a value."""
    lines = [",".join(HEADER)]
    for n in range(1, 8):
        lines.append(",".join([
            str(n), f"数据{n}", f"资源{n}", "市统计局", f"0871-6{n}123456", "市政府", f"2019-0{n}-01",
            "见附件", "http://portal.example.org/", f"http://x.example.org/d/{n}",
            f"http://x.example.org/f/{n}.csv", "CSV", "无", "x", "100",
            "A001" if n < 6 else f"A00{n}", "UTF-8", "无条件开放", "每月", "人口", "统计", "摘要",
            "2018-01-01", "2019-01-01", f"http://y.example.org/{n % 2}",
        ]))  # fmt: skip
    return ("\n".join(lines) + "\n").encode()


def _reasons(report: dict) -> list[str]:
    identity = report["identity"]
    found = [column["reason"] for column in report["columns"]]
    found.append(identity["reason"])
    found += [rejected["reason"] for rejected in identity.get("rejected", ())]
    return found


def _translated_fully(english: str, shown: str) -> None:
    assert shown != english, english
    words = re.sub(r"https?://[\w./-]+", "", shown)  # a cell's value is shown as written
    assert not ENGLISH.search(words), (english, shown)


def test_every_header_rule_has_a_translation(app):
    with app.test_request_context():  # Chinese: the default
        for _field, _test, reason in RULES:
            _translated_fully(reason, mapping_reason(reason))


def test_identity_and_carry_over_reasons_are_translated(app):
    verdicts = [
        tabular_identity._verdict(0, 0, 0, "", 10)[1],
        tabular_identity._verdict(3, 3, 1, "x", 10)[1],
        tabular_identity._verdict(10, 2, 9, "A001", 10)[1],
        tabular_identity._verdict(10, 6, 2, "A001", 10)[1],
        tabular_identity._verdict(10, 10, 1, "A001", 10)[1],
    ]
    by_column = {"method": "column", "field": "identifier", "column": "目录编号", "then": []}
    by_hash = {"method": "hash"}
    carry = TabularCarryOver(by_hash, lambda: [], lambda ids: {})
    again = TabularCarryOver({**by_column, "carried_over": {"datasets": 3}}, lambda: [],
                             lambda ids: {})  # fmt: skip
    fewer = TabularCarryOver({**by_column, "rows_by": {"目录编号": 9, "hash": 1}}, lambda: [],
                             lambda ids: {})  # fmt: skip
    whys = [carry.why(by_column), TabularCarryOver(by_column, None, None).why(by_hash),
            again.why(by_column), fewer.why({**by_column, "rows_by": {"目录编号": 6, "hash": 4}}),
            "4 packages name no id (identified by name)",
            "packages identified by name last time show their id"]  # fmt: skip
    assert all(whys) and len(set(verdicts)) == 5
    with app.test_request_context():  # Chinese: the default
        for reason in verdicts + whys:
            _translated_fully(reason, mapping_reason(reason))
        assert mapping_reason(whys[0]) == "唯一标识从标题与提供方的哈希改为列 目录编号"
        assert mapping_reason("named for another field in the mapping") == "映射中已指定给其他字段"
        assert mapping_reason("some text no harvester writes") == "some text no harvester writes"
    with app.test_request_context(), force_locale("en"):
        assert mapping_reason(verdicts[2]) == verdicts[2]  # English pages: as written


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_source_page_shows_the_mapping_reasons_in_its_language(app, client, httpserver,
                                                                  lang):  # fmt: skip
    url = serve(httpserver, "/catalog.csv", _export(), "text/csv")
    source = catalog.create_source("city", "tabular", url,
                                   mapping={"fields": {"publisher": "数据提供方"}})  # fmt: skip
    run = harvest(source)
    report = run.mapping_report
    english = _reasons(report)
    # Two rejected id candidates repeat their top value first on one row: each names its
    # own (the stand-in, a NUL byte PostgreSQL's JSONB refuses, was left for one of them).
    assert not any("\x00" in reason for reason in english), english
    assert "one value (http://y.example.org/1) on 4 of 7 rows" in english
    # The file takes the decision's every path (a reason for each kind).
    joined = "\n".join(english)
    for phrase in ("known name", "of values fit", "won (", "header suggests modified",
                   "a portal page", "header unknown; its values are landing_page",
                   "but its values are phones/e-mails", "the mapping names another column",
                   "no rule recognises", "no header text", "a running number",
                   "named in the source's mapping", "one value (A001) on 5 of 7 rows",
                   "values are distinct"):  # fmt: skip
        assert phrase in joined, phrase

    auth.create_user("ops@example.org", PASSWORD, "operator")
    login(client, "ops@example.org")
    page = client.get(f"/operators/sources/{source.id}?lang={lang}", follow_redirects=True)
    page = page.get_data(as_text=True)
    with app.test_request_context(), force_locale(lang):
        shown = [mapping_reason(reason) for reason in english]
    for reason, text in zip(english, shown, strict=True):
        assert str(escape(text)) in page, text
        if lang == "zh":
            _translated_fully(reason, text)
        else:  # as written, a field's code (landing_page) named as the page names it
            assert text.lower().replace(" ", "_") == reason.lower().replace(" ", "_")
    if lang == "zh":
        assert "已知列名 数据目录名称；100% 的取值符合" in page
        assert "known name" not in page
    # The API keeps the harvester's English texts (clients match on them).
    api = client.get(f"/api/v1/sources/{source.id}").json["mapping_report"]
    assert _reasons(api) == english


def test_the_last_update_preference_is_said_in_chinese(app):
    """bb8 F24: the reason a 最后更新时间 column won is translated like the rest."""
    from flask_babel import force_locale

    from subscribe.web.reasons import mapping_reason

    reason = "known name 最后更新时间; names the last update: preferred over a bare update date; 100% of values fit"
    with app.test_request_context(), force_locale("zh"):
        shown = mapping_reason(reason)
    assert "列名指最近一次更新：优先于单纯的“更新时间”" in shown, shown
    assert "preferred" not in shown and "of values fit" not in shown, shown
