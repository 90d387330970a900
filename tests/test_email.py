"""E-mail: messages through a real SMTP server (aiosmtpd on loopback), rendering in both
languages, and the digest clock across time zones and DST changes."""

from __future__ import annotations

import email
import re
import socket
from datetime import UTC, datetime
from email import policy
from email.utils import parsedate_to_datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from subscribe import config
from subscribe.catalog.diff import diff_snapshots
from subscribe.catalog.events import changes_from_diff
from subscribe.notify import digest
from subscribe.notify.digest import change_line, next_digest_at, render
from subscribe.notify.email import EmailError, SmtpSettings, build_message, send
from tests.smtp_helpers import Recorder, RefuseRecipient

BASE_URL = "http://127.0.0.1:5000"
TO = "reader@example.org"
EVIL = "北京 <script>alert('x')</script> 空气质量"


def settings_for(controller, **overrides) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=controller.port, timeout=5.0, **overrides)


def received(handler: Recorder, index: int = 0) -> email.message.EmailMessage:
    return email.message_from_bytes(handler.envelopes[index].content, policy=policy.default)


# --- Items shaped like the webhook payload's data --------------------------------------


def item(event_type="dataset.updated", reason="changed", *, dataset_id=7, title="空气质量日报",
         scenario=(1, "空气监测"), changes=None, url=None, created_at="2024-05-01T00:30:00Z",
         because=None) -> dict:  # fmt: skip
    return {
        "type": event_type,
        "reason": reason,
        "scenario": {"id": scenario[0], "name": scenario[1]} if scenario else None,
        "dataset": {
            "id": dataset_id,
            "title": title,
            "version": 3,
            "url": url or f"https://data.example.cn/dataset/{dataset_id}",
            "api_url": f"{BASE_URL}/api/v1/datasets/{dataset_id}",
        },
        "changes": changes
        if changes is not None
        else [{"kind": "metadata", "fields": {"title": {"old": "a", "new": "b"}}}],
        "matched_because": because if because is not None else {"words": ["空气"]},
        "created_at": created_at,
    }


def digest_items() -> list[dict]:
    return [
        item("dataset.created", "published", dataset_id=1, title="新建 数据集"),
        item(dataset_id=2, title=EVIL, created_at="2024-05-01T01:00:00Z"),
        item(dataset_id=3, title="水质月报", created_at="2024-05-01T02:00:00Z",
             changes=[{"kind": "schema", "name": "water.csv", "added": ["ph"], "removed": []}]),
        item("dataset.deleted", "deleted_upstream", dataset_id=4, title="旧名录"),
        item("dataset.overdue", "overdue", dataset_id=5, title="逾期数据", scenario=None,
             changes=[{"kind": "overdue", "frequency": "daily", "due": "2024-04-02T00:00:00"}]),
    ]  # fmt: skip


# --- Sending ----------------------------------------------------------------------------


def test_immediate_message_arrives_whole(smtp_server):
    controller, handler = smtp_server()
    settings = settings_for(controller)
    subject, text, html = render("immediate", "zh", [item(title=EVIL)], base_url=BASE_URL)
    message = build_message(TO, subject, text, html, "msg_0001", sender=settings.mail_from)

    send(settings, message)

    assert len(handler.envelopes) == 1
    envelope = handler.envelopes[0]
    assert envelope.mail_from == "noreply@localhost"
    assert envelope.rcpt_tos == [TO]
    got = received(handler)
    assert got["From"] == "subscribe <noreply@localhost>"
    assert got["To"] == TO
    # The subject is Chinese, sent as RFC 2047 encoded words, decoded back intact.
    assert got["Subject"] == subject == f"【空气监测】数据集更新：{EVIL}"
    raw_headers = re.split(rb"\r?\n\r?\n", envelope.content, maxsplit=1)[0]
    assert raw_headers.isascii() and b"=?utf-8?" in raw_headers
    assert envelope.content.isascii()  # bodies base64/quoted-printable: no 8BITMIME needed
    assert got["Message-ID"] == "<msg_0001@localhost>"
    assert abs((parsedate_to_datetime(got["Date"]) - datetime.now(UTC)).total_seconds()) < 60
    assert got["List-Unsubscribe"] is None
    assert got.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in got.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in got.iter_parts())

    body_html = got.get_body(("html",)).get_content()
    body_text = got.get_body(("plain",)).get_content()
    assert "<script>" not in body_html
    assert "北京 &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; 空气质量" in body_html
    assert EVIL in body_text  # plain text shows the title as it is
    assert 'href="https://data.example.cn/dataset/7"' in body_html
    assert f'href="{BASE_URL}/api/v1/datasets/7"' in body_html
    assert "https://data.example.cn/dataset/7" in body_text
    assert "元数据变更：标题" in body_text and "元数据变更：标题" in body_html
    assert "命中原因：关键词 空气" in body_text


def test_digest_arrives_with_counts_groups_and_links(smtp_server):
    controller, handler = smtp_server()
    settings = settings_for(controller, mail_from="数据订阅 <digest@mail.example.org>")
    items = digest_items()
    subject, text, html = render("digest", "zh", items, base_url=BASE_URL, timezone="Asia/Shanghai")
    send(settings, build_message(TO, subject, text, html, "<digest-42@mail.example.org>"))

    # Built without a sender: send() puts the configured From on it.
    assert handler.envelopes[0].mail_from == "digest@mail.example.org"
    got = received(handler)
    assert got["From"].addresses[0].display_name == "数据订阅"
    assert got["From"].addresses[0].addr_spec == "digest@mail.example.org"
    assert got["Subject"] == "数据变更摘要：共 5 项"
    assert got["Message-ID"] == "<digest-42@mail.example.org>"
    body_text = got.get_body(("plain",)).get_content()
    body_html = got.get_body(("html",)).get_content()
    # Counts per type, over the whole digest, then per scenario group and type.
    assert "共 5 项：新增 1，更新 2，下线 1，逾期未更新 1" in body_text
    assert "<span>更新 <strong>2</strong></span>" in body_html
    assert "== 空气监测 (4) ==" in body_text and "-- 更新 (2) --" in body_text
    assert "== 单个数据集订阅 (1) ==" in body_text
    assert body_text.index("== 空气监测") < body_text.index("== 单个数据集订阅")
    assert body_text.index("-- 新增 (1)") < body_text.index("-- 更新 (2)")
    assert body_text.index("-- 更新 (2)") < body_text.index("-- 下线 (1)")
    for n in range(1, 6):
        assert f'href="https://data.example.cn/dataset/{n}"' in body_html
        assert f"https://data.example.cn/dataset/{n}\n" in body_text
    assert "<script>" not in body_html and "&lt;script&gt;" in body_html
    assert "表结构变化：water.csv，新增列 ph" in body_text
    assert "应于 2024-04-02 00:00 前更新（更新频率：daily）" in body_text
    assert "2024-05-01 09:00 Asia/Shanghai" in body_text  # 01:00Z shown in the user's zone
    assert f'href="{BASE_URL}/subscriptions"' in body_html  # manage link: the subscriptions page


def test_login_then_send(smtp_server):
    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret"
        seen.append((mechanism, auth_data.login))
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535

    controller, handler = smtp_server(authenticator=authenticator, auth_require_tls=False)
    message = build_message(TO, "hello", "text", "<p>html</p>")
    send(settings_for(controller, user="mailer", password="s3cret"), message)
    assert len(handler.envelopes) == 1 and seen[0][1] == b"mailer"

    with pytest.raises(EmailError) as failed:
        send(settings_for(controller, user="mailer", password="wrong"), message)
    assert failed.value.code == 535 and failed.value.permanent
    assert "login failed: 535" in str(failed.value)
    assert len(handler.envelopes) == 1


def test_server_down_is_an_email_error():
    # A bound socket that does not listen: connecting to it is refused, and no other
    # process can take the port while the test runs.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        with pytest.raises(EmailError) as failed:
            send(SmtpSettings(port=port, timeout=5.0), build_message(TO, "s", "t", "<p>h</p>"))
    assert "connection refused" in str(failed.value)
    assert f"127.0.0.1:{port}" in failed.value.reason
    assert failed.value.code is None and not failed.value.permanent


def test_temporary_refusal_on_data_is_an_email_error(smtp_server):
    controller, handler = smtp_server(Recorder(data_reply="451 try later"))
    with pytest.raises(EmailError) as failed:
        send(settings_for(controller), build_message(TO, "摘要", "t", "<p>h</p>"))
    assert failed.value.code == 451 and not failed.value.permanent
    assert "451 try later" in str(failed.value)
    assert handler.envelopes == []


def test_refused_recipient_is_a_permanent_email_error(smtp_server):
    controller, _handler = smtp_server(RefuseRecipient())
    with pytest.raises(EmailError) as failed:
        send(settings_for(controller), build_message(TO, "s", "t", "<p>h</p>"))
    assert failed.value.code == 550 and failed.value.permanent
    assert TO in str(failed.value) and "No such user" in str(failed.value)


def test_silent_server_times_out():
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings = SmtpSettings(port=silent.getsockname()[1], timeout=0.2)
        with pytest.raises(EmailError, match="timed out after 0.2 s during connect"):
            send(settings, build_message(TO, "s", "t", "<p>h</p>"))


# --- Messages and settings --------------------------------------------------------------


def test_message_id_is_kept_or_fresh():
    one = build_message(
        TO, "s", "t", "<p>h</p>", "msg_abc", sender="订阅 <noreply@mail.example.cn>"
    )
    again = build_message(
        TO, "s", "t", "<p>h</p>", "msg_abc", sender="订阅 <noreply@mail.example.cn>"
    )
    assert one["Message-ID"] == again["Message-ID"] == "<msg_abc@mail.example.cn>"
    assert build_message(TO, "s", "t", "h", "<x.1@h.example>")["Message-ID"] == "<x.1@h.example>"
    dated = build_message(TO, "s", "t", "h", date=datetime(2024, 5, 1, 8, 0))  # naive = UTC
    assert parsedate_to_datetime(dated["Date"]) == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    fresh = {build_message(TO, "s", "t", "h")["Message-ID"] for _ in range(3)}
    assert len(fresh) == 3 and all(m.endswith("@localhost>") for m in fresh)
    with pytest.raises(ValueError):
        build_message(TO, "s", "t", "h", "bad id\r\nBcc: x@y")
    with pytest.raises(ValueError):
        build_message([], "s", "t", "h")


def test_subject_is_one_line_and_display_names_are_encoded():
    message = build_message(
        ["张三 <zhang@example.org>", "b@example.org"], "a\r\nBcc: x@y", "t", "h"
    )
    assert message["Subject"] == "a Bcc: x@y"
    parsed = email.message_from_bytes(message.as_bytes(), policy=policy.default)
    assert [a.addr_spec for a in parsed["To"].addresses] == ["zhang@example.org", "b@example.org"]
    assert parsed["To"].addresses[0].display_name == "张三"


def test_settings_from_config(monkeypatch):
    for name in ("SUBSCRIBE_SMTP_HOST", "SUBSCRIBE_SMTP_PORT"):  # set by conftest
        monkeypatch.delenv(name)
    assert SmtpSettings.from_config(config.from_environment()) == SmtpSettings()
    assert SmtpSettings() == SmtpSettings(
        host="127.0.0.1", port=1025, user="", password="", starttls=False, ssl=False,
        timeout=15.0, mail_from="subscribe <noreply@localhost>",
    )  # fmt: skip
    for name, value in {
        "SUBSCRIBE_SMTP_HOST": "smtp.example.org", "SUBSCRIBE_SMTP_PORT": "587",
        "SUBSCRIBE_SMTP_USER": "u", "SUBSCRIBE_SMTP_PASSWORD": "p w",
        "SUBSCRIBE_SMTP_STARTTLS": "1", "SUBSCRIBE_SMTP_TIMEOUT": "7.5",
        "SUBSCRIBE_MAIL_FROM": "数据订阅 <news@example.org>",
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    settings = SmtpSettings.from_config(config.from_environment())
    assert settings == SmtpSettings("smtp.example.org", 587, "u", "p w", True, False, 7.5,
                                    "数据订阅 <news@example.org>")  # fmt: skip
    assert "p w" not in repr(settings)
    monkeypatch.setenv("SUBSCRIBE_SMTP_SSL", "1")
    with pytest.raises(ValueError, match="exclude each other"):
        SmtpSettings.from_config(config.from_environment())


# --- Rendering --------------------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "en-US", "en_GB"])
def test_english_by_locale(locale):
    subject, text, html = render("digest", locale, digest_items(), base_url=BASE_URL)
    assert subject == "Digest: 5 changes"
    assert "5 changes: New 1, Updated 2, Removed 1, Overdue 1" in text
    assert "== Single-dataset subscriptions (1) ==" in text
    assert "Matched because: words 空气" in text
    assert '<html lang="en">' in html and "Manage subscriptions" in html
    # The link goes where its words say: the subscriptions page, not the home page.
    assert f'href="{BASE_URL}/subscriptions"' in html
    assert f"Manage subscriptions: {BASE_URL}/subscriptions" in text
    subject, text, html = render("immediate", locale, item(), base_url=BASE_URL)
    assert subject == "[空气监测] Dataset updated: 空气质量日报"
    assert "Metadata changed: Title" in text and "Matched because: words 空气" in text
    assert "变更" not in text and "命中原因" not in html


@pytest.mark.parametrize("locale", ["zh", None, "", "fr", "zh-TW"])
def test_chinese_by_default(locale):
    subject, text, html = render("immediate", locale, [item("dataset.created", "now_matches")])
    assert subject == "【空气监测】新进入场景：空气质量日报"
    assert "新符合场景条件" in text and '<html lang="zh-CN">' in html
    assert "Matched" not in text


def test_english_digest_of_one_is_singular():
    subject, _text, _html = render("digest", "en", [item()], scenario_name="Air")
    assert subject == "[Air] Digest: 1 change"


def test_unsafe_and_relative_links():
    evil = item(url="javascript:alert(1)")
    evil["dataset"]["api_url"] = "/api/v1/datasets/7"
    _subject, text, html = render("immediate", "en", evil, base_url=BASE_URL + "/")
    assert "javascript:" not in html and "javascript:" not in text
    assert f'href="{BASE_URL}/api/v1/datasets/7"' in html  # the title links to the API
    _subject, text, html = render("immediate", "en", evil)  # no base URL: no relative link
    assert "href=" not in html.split("<hr", 1)[0]


def test_whole_webhook_bodies_render_like_their_data():
    data = item()
    body = {"type": data.pop("type"), "timestamp": data.pop("created_at"), "data": data}
    assert render("immediate", "zh", body, base_url=BASE_URL) == render(
        "immediate", "zh", item(), base_url=BASE_URL
    )


def test_digest_lists_a_bounded_number_but_counts_all(monkeypatch):
    monkeypatch.setattr(digest, "MAX_DIGEST_ITEMS", 2)
    items = [item(dataset_id=n, title=f"数据集{n}") for n in range(1, 6)]
    subject, text, html = render("digest", "zh", items)
    assert subject == "【空气监测】数据变更摘要：共 5 项"
    assert "-- 更新 (5) --" in text
    assert "数据集2" in text and "数据集3" not in text
    assert "另有 3 项变更未在此列出。" in text and "另有 3 项变更未在此列出。" in html


def test_render_refuses_what_it_cannot_show():
    with pytest.raises(ValueError):
        render("immediate", "zh", [item(), item()])
    with pytest.raises(ValueError):
        render("digest", "zh", [])
    with pytest.raises(ValueError):
        render("weekly", "zh", [item()])


# --- The digest clock --------------------------------------------------------------------


def sub(cadence="daily", hour=8, weekday=0, timezone="Asia/Shanghai"):
    return SimpleNamespace(cadence=cadence, hour=hour, weekday=weekday, timezone=timezone)


def utc(*args) -> datetime:
    return datetime(*args)  # naive UTC, as stored


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2024, 5, 1, 23, 0), utc(2024, 5, 2, 0, 0)),  # 07:00 local: today 08:00
        (utc(2024, 5, 1, 23, 59, 59), utc(2024, 5, 2, 0, 0)),
        (utc(2024, 5, 2, 0, 0), utc(2024, 5, 3, 0, 0)),  # exactly 08:00: strictly after
        (utc(2024, 5, 2, 0, 30), utc(2024, 5, 3, 0, 0)),  # 08:30 local: tomorrow
        (utc(2024, 5, 1, 12, 0), utc(2024, 5, 2, 0, 0)),  # 20:00 local
        (utc(2024, 12, 31, 16, 0), utc(2025, 1, 1, 0, 0)),  # local midnight, new year
    ],
)
def test_daily_shanghai_0800(after, expected):
    assert next_digest_at(sub(), after) == expected


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2024, 5, 1, 12, 0), utc(2024, 5, 6, 1, 0)),  # Wednesday → Monday 09:00 (+8)
        (utc(2024, 5, 6, 0, 59), utc(2024, 5, 6, 1, 0)),  # Monday 08:59 local
        (utc(2024, 5, 6, 1, 0), utc(2024, 5, 13, 1, 0)),  # Monday 09:00: next week
        (utc(2024, 5, 5, 16, 30), utc(2024, 5, 6, 1, 0)),  # Monday 00:30 local, Sunday UTC
    ],
)
def test_weekly_monday_0900(after, expected):
    assert next_digest_at(sub("weekly", hour=9, weekday=0), after) == expected


def local_hour(at: datetime, zone: str) -> tuple:
    local = at.replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
    return local.date().isoformat(), local.hour, local.minute


def test_daily_new_york_keeps_its_hour_across_both_dst_changes():
    ny = sub(hour=8, timezone="America/New_York")
    # Spring forward on Sunday 2024-03-10: 08:00 EST is 13:00Z, 08:00 EDT is 12:00Z.
    assert next_digest_at(ny, utc(2024, 3, 8, 14, 0)) == utc(2024, 3, 9, 13, 0)
    assert next_digest_at(ny, utc(2024, 3, 9, 13, 0)) == utc(2024, 3, 10, 12, 0)
    assert next_digest_at(ny, utc(2024, 3, 10, 12, 0)) == utc(2024, 3, 11, 12, 0)
    # Fall back on Sunday 2024-11-03: back from 12:00Z to 13:00Z.
    assert next_digest_at(ny, utc(2024, 11, 2, 11, 0)) == utc(2024, 11, 2, 12, 0)
    assert next_digest_at(ny, utc(2024, 11, 2, 12, 0)) == utc(2024, 11, 3, 13, 0)
    assert next_digest_at(ny, utc(2024, 11, 3, 12, 30)) == utc(2024, 11, 3, 13, 0)
    assert next_digest_at(ny, utc(2024, 11, 3, 13, 0)) == utc(2024, 11, 4, 13, 0)
    # A month of digests in a row: one a day, always 08:00 local.
    at, seen = utc(2024, 10, 20), []
    for _ in range(30):
        at = next_digest_at(ny, at)
        seen.append(local_hour(at, "America/New_York"))
    assert {(hour, minute) for _day, hour, minute in seen} == {(8, 0)}
    assert len({day for day, _hour, _minute in seen}) == 30


def test_weekly_new_york_across_dst():
    sunday = sub("weekly", hour=8, weekday=6, timezone="America/New_York")
    assert next_digest_at(sunday, utc(2024, 3, 4)) == utc(2024, 3, 10, 12, 0)  # EDT
    assert next_digest_at(sunday, utc(2024, 3, 10, 12, 0)) == utc(2024, 3, 17, 12, 0)
    assert next_digest_at(sunday, utc(2024, 10, 28)) == utc(2024, 11, 3, 13, 0)  # EST


def test_skipped_and_repeated_local_hours():
    # 02:00 does not exist on 2024-03-10 in New York: the digest goes at 03:00 EDT.
    two = sub(hour=2, timezone="America/New_York")
    assert next_digest_at(two, utc(2024, 3, 9, 8, 0)) == utc(2024, 3, 10, 7, 0)
    assert next_digest_at(two, utc(2024, 3, 10, 7, 0)) == utc(2024, 3, 11, 6, 0)
    # 01:00 happens twice on 2024-11-03: one digest (the first), then the next day.
    one = sub(hour=1, timezone="America/New_York")
    assert next_digest_at(one, utc(2024, 11, 3, 4, 0)) == utc(2024, 11, 3, 5, 0)
    assert next_digest_at(one, utc(2024, 11, 3, 5, 0)) == utc(2024, 11, 4, 6, 0)


def test_clock_defaults_and_errors():
    after = utc(2024, 5, 1, 23, 0)
    assert next_digest_at(sub("immediate"), after) == after
    unset = SimpleNamespace(cadence="daily", hour=None, weekday=None, timezone=None)
    assert next_digest_at(unset, after) == utc(2024, 5, 2, 0, 0)  # 08:00 Asia/Shanghai
    assert next_digest_at(sub(), after.replace(tzinfo=UTC)) == utc(2024, 5, 2, 0, 0)
    with pytest.raises(ValueError):
        next_digest_at(sub("hourly"), after)
    with pytest.raises(ValueError):
        next_digest_at(sub(hour=24), after)


def test_changed_fields_are_named_as_on_the_pages():
    """E-mails (and the Atom feed) name fields in words; a date's raw text and precision
    go with the date instead of showing as fields of their own."""
    change = {"kind": "metadata", "fields": {"modified": {}, "modified_raw": {},
                                             "modified_precision": {}, "frequency": {},
                                             "some_new_field": {}}}  # fmt: skip
    assert change_line(change, "zh") == "元数据变更：更新日期、更新周期、some new field"
    assert (
        change_line(change, "en") == "Metadata changed: Modified, Update frequency, some new field"
    )
    assert change_line({"kind": "metadata", "fields": {"modified_raw": {}}}, "zh") == (
        "元数据变更：modified raw"  # alone, it is the change
    )


def test_a_files_own_change_is_named_by_the_file_not_its_upstream_id():
    """hbreak F4: '元数据变更：442a5fec-…' told the reader nothing; the diff carries the
    file's name and the line shows it (changes stored before that still show the id)."""
    old = [
        {"identifier": "442a5fec-d5d6", "name": "空气质量日报", "url": "http://x/a.csv", "size": 1}
    ]
    new = [{**old[0], "size": 2}]
    (change,) = changes_from_diff(diff_snapshots({"resources": old}, {"resources": new}))
    line = digest.change_line(change, "zh")
    assert "空气质量日报" in line and "442a5fec" not in line
    legacy = {key: value for key, value in change.items() if key != "name"}
    assert "442a5fec-d5d6" in digest.change_line(legacy, "zh")


def test_the_suite_sends_no_mail_to_the_default_port(app):
    """Mail sent by a test without its own server is refused (conftest): it never reaches
    `make run`'s sink on 1025 or a developer's own server (found by a black-box run: the
    demo mailbox filled with the suite's mail)."""
    port = app.config["SUBSCRIBE_SMTP_PORT"]
    assert port != 1025 and app.config["SUBSCRIBE_SMTP_HOST"] == "127.0.0.1"
    with pytest.raises(EmailError, match="connection refused"):
        send(SmtpSettings(port=port, timeout=5.0), build_message(TO, "s", "t", "<p>h</p>"))
