"""The local SMTP sink `make run` starts, and the demo mailbox page that reads it."""

from __future__ import annotations

import re
import socket

import pytest

from subscribe.auth import services as auth
from subscribe.demo import mailsink
from subscribe.demo.mailbox import delivery_order, read_mail, read_mailbox
from subscribe.notify.email import SmtpSettings, build_message, send

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def sink(tmp_path):
    """The real sink (aiosmtpd) on loopback, writing a Maildir under tmp_path."""
    port = free_port()
    controller = mailsink.start(tmp_path / "mailbox", port)
    yield SmtpSettings(port=port), tmp_path / "mailbox"
    controller.stop()


def mail(to: str, subject: str, html: str = "<p>变更</p>"):
    return build_message(to, subject, f"{subject}\n正文", html)


def test_sink_keeps_every_message_with_its_envelope(sink):
    settings, folder = sink
    send(settings, mail("Ana@Example.org", "第一封"))
    send(settings, mail(["bo@example.org", "ana@example.org"], "第二封"))
    newest, oldest = read_mailbox(folder)
    assert (newest.subject, oldest.subject) == ("第二封", "第一封")
    assert oldest.recipients == ["ana@example.org"]  # the envelope, lower-cased
    assert newest.recipients == ["bo@example.org", "ana@example.org"]
    assert oldest.text.startswith("第一封\n正文") and oldest.html.strip() == "<p>变更</p>"
    assert oldest.sender == "subscribe <noreply@localhost>" and oldest.date is not None
    assert [m.subject for m in read_mailbox(folder, recipient="BO@example.org")] == ["第二封"]
    assert read_mail(folder, oldest.key).subject == "第一封"
    assert read_mail(folder, "../../etc/passwd") is None
    assert read_mail(folder, "nope") is None


def test_sink_drops_the_oldest_beyond_its_limit(tmp_path):
    port = free_port()
    controller = mailsink.Controller(
        mailsink.BoundedMailbox(tmp_path / "box", limit=2), hostname="127.0.0.1", port=port
    )
    controller.start()
    try:
        for n in range(3):
            send(SmtpSettings(port=port), mail("ana@example.org", f"第{n}封"))
    finally:
        controller.stop()
    assert [m.subject for m in read_mailbox(tmp_path / "box")] == ["第2封", "第1封"]


def test_delivery_order_reads_the_time_not_the_text():
    names = ["1795998256.M98765P1Q2.vm", "1795998256.M403784P1Q3.vm", "1795998255.M999999P1Q1.vm"]
    assert sorted(names, key=delivery_order) == [names[2], names[0], names[1]]
    assert sorted(names) != [names[2], names[0], names[1]]  # as text they would not


def test_no_maildir_reads_as_empty(tmp_path):
    assert read_mailbox(tmp_path / "absent") == []
    assert read_mail(tmp_path / "absent", "x") is None


def csrf_from(page: bytes) -> str:
    return re.search(rb'name="csrf-token" content="([^"]+)"', page).group(1).decode()


def login(client, email: str) -> None:
    token = csrf_from(client.get("/login").data)
    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                           "csrf_token": token})  # fmt: skip
    assert response.status_code == 302


@pytest.fixture
def mailbox_app(app, sink):
    settings, folder = sink
    app.config.update(SUBSCRIBE_MAIL_SINK=True, SUBSCRIBE_MAILBOX_DIR=str(folder),
                      SUBSCRIBE_SMTP_PORT=settings.port)  # fmt: skip
    auth.create_user("ana@example.org", PASSWORD)
    auth.create_user("ops@example.org", PASSWORD, role="operator")
    send(settings, mail("ana@example.org", "给安娜", '<p style="color:red">给安娜</p>'))
    send(settings, mail("bo@example.org", "给博"))
    return app


def test_users_see_their_own_mail_operators_see_all(mailbox_app, client):
    assert client.get("/mailbox/").status_code == 302  # log in first
    login(client, "ana@example.org")
    page = client.get("/mailbox/").get_data(as_text=True)
    assert "给安娜" in page and "给博" not in page
    [ana, bo] = sorted(read_mailbox(mailbox_app.config["SUBSCRIBE_MAILBOX_DIR"]),
                       key=lambda m: m.subject != "给安娜")  # fmt: skip
    shown = client.get(f"/mailbox/{ana.key}").get_data(as_text=True)
    assert "给安娜" in shown and f"/mailbox/{ana.key}/html" in shown
    assert client.get(f"/mailbox/{bo.key}").status_code == 404  # not hers
    assert client.get(f"/mailbox/{bo.key}/html").status_code == 404

    html = client.get(f"/mailbox/{ana.key}/html")
    assert html.status_code == 200 and 'style="color:red"' in html.get_data(as_text=True)
    csp = html.headers["Content-Security-Policy"]
    assert "sandbox" in csp and "script-src" not in csp and "default-src 'none'" in csp
    assert html.headers["X-Frame-Options"] == "SAMEORIGIN"

    client.post("/logout", data={"csrf_token": csrf_from(client.get("/").data)})
    login(client, "ops@example.org")
    page = client.get("/mailbox/").get_data(as_text=True)
    assert "给安娜" in page and "给博" in page
    assert client.get(f"/mailbox/{bo.key}").status_code == 200


def test_mailbox_is_absent_without_the_sink(app, client):
    app.config["SUBSCRIBE_MAIL_SINK"] = False
    auth.create_user("ana@example.org", PASSWORD)
    login(client, "ana@example.org")
    assert client.get("/mailbox/").status_code == 404
    assert "/mailbox/" not in client.get("/").get_data(as_text=True)  # no nav link
