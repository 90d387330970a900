"""`make run`'s plan: which processes start, and the demo source only with SUBSCRIBE_DEMO."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from subscribe import config as config_module
from subscribe import devstack
from subscribe.catalog.models import Source
from subscribe.demo.cli import setup_demo_source
from subscribe.demo.mailbox import read_mailbox
from subscribe.devports import PortChoice, PortTaken, is_free, resolve
from subscribe.devstack import commands
from subscribe.extensions import db
from subscribe.notify.email import SmtpSettings, build_message, send
from subscribe.search.schemas import Q_MAX

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def names(app) -> list[str]:
    return [part.name for part in commands(app)]


def test_default_runs_sink_portal_receiver_worker_and_web_on_port(app):
    app.config.update(SUBSCRIBE_DEMO=True, SUBSCRIBE_MAIL_SINK=True, PORT=5123,
                      SUBSCRIBE_ACCESS_LOG="/tmp/x/access.log")  # fmt: skip
    assert names(app) == ["mail sink", "demo portal", "webhook receiver", "worker", "web"]
    parts = {part.name: part for part in commands(app)}
    web = parts["web"].argv
    assert "127.0.0.1:5123" in web and "wsgi:app" in web
    assert web[web.index("--access-logfile") + 1] == "/tmp/x/access.log"
    assert parts["web"].log is None and parts["worker"].log is None  # the terminal
    logs = {parts[name].log.name for name in ("mail sink", "demo portal", "webhook receiver")}
    assert logs == {"mail-sink.log", "demo-portal.log", "demo-receiver.log"}


def test_demo_off_runs_no_portal_and_adds_no_source(app):
    app.config.update(SUBSCRIBE_DEMO=False, SUBSCRIBE_MAIL_SINK=False)
    assert names(app) == ["worker", "web"]
    assert setup_demo_source() is None
    assert db.session.scalars(select(Source)).all() == []


def test_demo_source_is_configured_once(app):
    app.config.update(SUBSCRIBE_DEMO=True, SUBSCRIBE_DEMO_PORT=5999)
    first = setup_demo_source()
    again = setup_demo_source()
    assert first.id == again.id and first.url == "http://127.0.0.1:5999"
    assert (first.type, first.schedule) == ("ckan", 20)
    app.config["SUBSCRIBE_DEMO_PORT"] = 6001  # the portal moved (its port was taken)
    moved = setup_demo_source()
    assert moved.id == first.id and moved.url == "http://127.0.0.1:6001"


def test_the_demo_source_moves_its_stored_urls_with_the_portal(app):
    """Every URL the demo portal writes is on its own origin: when it starts on another
    port, the stored ones follow at once (files stay reachable; the next harvest
    settles the move without events, tests/test_harvest_origin_move.py)."""
    from subscribe.catalog.models import Dataset, Resource

    app.config.update(SUBSCRIBE_DEMO=True, SUBSCRIBE_DEMO_PORT=5999)
    source = setup_demo_source()
    dataset = Dataset(source_id=source.id, identifier="a", title="A", content_hash="x",
                      landing_page="http://127.0.0.1:5999/dataset/a")  # fmt: skip
    db.session.add(dataset)
    db.session.flush()
    db.session.add_all([
        Resource(dataset_id=dataset.id, position=0, url="http://127.0.0.1:5999/files/a.csv"),
        Resource(dataset_id=dataset.id, position=1, url="http://127.0.0.1:59990/files/b.csv"),
    ])  # fmt: skip
    db.session.commit()
    app.config["SUBSCRIBE_DEMO_PORT"] = 6001
    setup_demo_source()
    db.session.expire_all()
    assert dataset.landing_page == "http://127.0.0.1:6001/dataset/a"
    urls = sorted(db.session.scalars(select(Resource.url)))
    assert urls == ["http://127.0.0.1:59990/files/b.csv", "http://127.0.0.1:6001/files/a.csv"]


def test_demo_endpoint_follows_the_receiver_port(app):
    from subscribe.demo.cli import receiver_url, setup_demo_account
    from subscribe.notify.models import WebhookEndpoint

    app.config.update(SUBSCRIBE_DEMO=True, SUBSCRIBE_DEMO_RECEIVER_PORT=5002)
    setup_demo_account()
    app.config["SUBSCRIBE_DEMO_RECEIVER_PORT"] = 6002
    setup_demo_account()
    [endpoint] = db.session.scalars(select(WebhookEndpoint)).all()
    assert endpoint.url == receiver_url() == "http://127.0.0.1:6002/hook"


def test_demo_account_with_scenarios_and_inbox_subscriptions(app):
    from subscribe.auth.services import authenticate
    from subscribe.demo.cli import DEMO_EMAIL, DEMO_PASSWORD, setup_demo_account
    from subscribe.notify.models import Subscription
    from subscribe.scenarios.models import Scenario

    app.config["SUBSCRIBE_DEMO"] = True
    user = setup_demo_account()
    assert setup_demo_account().id == user.id  # once
    assert authenticate(DEMO_EMAIL, DEMO_PASSWORD).role == "operator"
    assert len(db.session.scalars(select(Scenario)).all()) == 3
    kinds = [(s.channel, s.push) for s in db.session.scalars(select(Subscription))]
    assert (
        sorted(kinds)
        == [("email", "alert")]
        + [("inbox", "alert")] * 2
        + [("inbox", "bundle")]
        + [("webhook", "alert")] * 3
    )
    app.config["SUBSCRIBE_DEMO"] = False
    assert setup_demo_account() is None


def test_demo_receiver_verifies_and_deduplicates():
    from werkzeug.test import Client

    from subscribe.demo.receiver import make_receiver
    from subscribe.notify.channels.webhook import headers
    from subscribe.notify.services import new_secret

    secret, printed = new_secret(), []
    client = Client(make_receiver(lambda: [secret], printed.append))
    body = '{"type":"dataset.updated","timestamp":"2026-01-01T00:00:00Z","data":{"dataset":{"title":"公交","version":3},"changes":[{"kind":"content"}]}}'
    signed = headers([secret], "msg_1", body)
    assert client.post("/hook", data=body, headers=signed).status_code == 204
    assert client.post("/hook", data=body, headers=signed).status_code == 204  # a retry
    forged = headers([new_secret()], "msg_2", body)
    assert client.post("/hook", data=body, headers=forged).status_code == 400
    assert printed[0].startswith("✓ dataset.updated") and "公交 v3 [content]" in printed[0]
    assert printed[1].startswith("· duplicate msg_1") and printed[2].startswith("✗")
    # A browser opening the banner's URL is told what this is; nothing is logged as rejected.
    page = client.get("/hook")
    assert page.status_code == 200 and "demo-receiver.log" in page.get_data(as_text=True)
    assert len(printed) == 3
    ping = '{"type":"webhook.ping","timestamp":"2026-01-01T00:00:00Z","data":{"endpoint_id":1}}'
    client.post("/hook", data=ping, headers=headers([secret], "msg_3", ping))
    assert printed[3] == f"✓ {'webhook.ping':<16} msg_3" and "endpoint_id" in printed[4]


# --- Ports: checked before anything starts ---------------------------------------------


@pytest.fixture
def listening():
    """A port some other program holds (a listening socket), released after the test."""
    sockets = []

    def hold() -> int:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sockets.append(sock)
        return sock.getsockname()[1]

    yield hold
    for sock in sockets:
        sock.close()


def test_a_taken_default_port_is_replaced_by_a_free_one(listening):
    taken = listening()
    environ: dict[str, str] = {}
    [web, demo] = resolve(
        [PortChoice("PORT", "web app", free_port()), PortChoice("SUBSCRIBE_DEMO_PORT", "demo portal", taken)],
        environ,
    )  # fmt: skip
    assert web.moved_from is None and environ["PORT"] == str(web.port)
    assert demo.moved_from == taken and demo.port != taken and is_free(demo.port)
    assert environ["SUBSCRIBE_DEMO_PORT"] == str(demo.port)  # children see the new port
    note = demo.note("demo portal")
    assert f"port {taken} is in use" in note and "SUBSCRIBE_DEMO_PORT" in note


def test_a_moved_port_leaves_the_next_parts_default_alone(listening):
    taken = listening()
    if not is_free(taken + 1):
        pytest.skip(f"port {taken + 1} happens to be in use")
    portal, receiver = resolve(
        [PortChoice("SUBSCRIBE_DEMO_PORT", "demo portal", taken),
         PortChoice("SUBSCRIBE_DEMO_RECEIVER_PORT", "demo webhook receiver", taken + 1)],
        {},
    )  # fmt: skip
    assert portal.port not in (taken, taken + 1)
    assert (receiver.port, receiver.moved_from) == (taken + 1, None)


def test_a_taken_port_the_user_set_is_a_one_line_error_naming_the_setting(listening):
    taken = listening()
    environ = {"SUBSCRIBE_DEMO_PORT": str(taken)}
    with pytest.raises(PortTaken) as error:
        resolve([PortChoice("SUBSCRIBE_DEMO_PORT", "demo portal", 5001)], environ)
    message = str(error.value)
    assert "\n" not in message
    assert f"port {taken}" in message and "set SUBSCRIBE_DEMO_PORT" in message
    with pytest.raises(PortTaken, match="not a port number"):
        resolve([PortChoice("PORT", "web app", 5000)], {"PORT": "web"})


def test_two_settings_on_one_port_are_refused():
    port = free_port()
    environ = {"PORT": str(port), "SUBSCRIBE_DEMO_PORT": str(port)}
    with pytest.raises(PortTaken, match="SUBSCRIBE_DEMO_PORT"):
        resolve(
            [PortChoice("PORT", "web app", 5000), PortChoice("SUBSCRIBE_DEMO_PORT", "demo portal", 5001)],
            environ,
        )  # fmt: skip


def stack_environment(tmp_path, **ports) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SUBSCRIBE_")}
    env.pop("PORT", None)
    env.update({"SUBSCRIBE_INSTANCE_PATH": str(tmp_path / "instance"), "PYTHONUNBUFFERED": "1",
                "SUBSCRIBE_DEMO_TICK_SECONDS": "0"})  # fmt: skip
    env.update({key: str(value) for key, value in ports.items()})
    return env


def test_make_run_stops_at_once_when_a_set_port_is_taken(tmp_path, listening):
    taken = listening()
    env = stack_environment(tmp_path, PORT=free_port(), SUBSCRIBE_DEMO_PORT=taken)
    result = subprocess.run([sys.executable, "-m", "subscribe.devstack"], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"make run: port {taken} for the demo portal is already in use: set "
        f"SUBSCRIBE_DEMO_PORT to a free port (端口 {taken} 已被占用：请设置 "
        "SUBSCRIBE_DEMO_PORT=其他端口)"
    ]
    assert "running" not in result.stdout  # no banner, nothing started
    assert not (tmp_path / "instance" / "logs").exists()


def test_make_run_prints_the_banner_last_and_serves_the_mailbox(tmp_path, listening):
    """The whole stack as `make run` starts it: a taken receiver default moves, the
    banner comes once the web app answers, and an e-mail reaches the demo mailbox."""
    ports = {"PORT": free_port(), "SUBSCRIBE_DEMO_PORT": free_port(),
             "SUBSCRIBE_SMTP_PORT": free_port()}  # fmt: skip
    env = stack_environment(tmp_path, **ports)
    # The receiver keeps its default; hold the default so it has to move.
    held = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        held.bind(("127.0.0.1", 5002))
        held.listen()
    except OSError:
        held.close()  # someone else holds it: it has to move all the same
    stack = subprocess.Popen([sys.executable, "-m", "subscribe.devstack"], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            line = stack.stdout.readline()
            assert line or stack.poll() is None, "make run stopped:\n" + "".join(lines)
            lines.append(line)
            if line.startswith("The worker's log follows."):
                break
        output = "".join(lines)
        assert "subscribe is running" in output, output
        assert "Running upgrade" not in output and "alembic" not in output  # quiet migrations
        base = f"http://127.0.0.1:{ports['PORT']}"
        banner = output[output.index("subscribe is running") :]
        for expected in (f"web app           {base}/", f"API docs          {base}/api/v1/docs",
                         f"demo portal       http://127.0.0.1:{ports['SUBSCRIBE_DEMO_PORT']}/",
                         "demo login        demo@example.org / subscribe-demo",
                         f"demo mailbox      {base}/mailbox", "access log        "):  # fmt: skip
            assert expected in banner, banner
        assert "port 5002 is in use, so the demo webhook receiver uses" in output
        assert "SUBSCRIBE_DEMO_RECEIVER_PORT" in output
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as response:
            assert response.status == 200  # the banner came after the web app answered
        # The longest legal Chinese query (4,500 bytes URL-encoded) reaches the app, and one
        # past Q_MAX gets the app's JSON 400, not gunicorn's HTML 414 (request line > 4094).
        longest = f"{base}/api/v1/datasets?q={quote('空' * Q_MAX)}&per_page=20"
        with urllib.request.urlopen(longest, timeout=30) as response:
            assert response.status == 200 and "items" in json.load(response)
        with pytest.raises(urllib.error.HTTPError) as too_long:
            urllib.request.urlopen(f"{base}/api/v1/datasets?q={quote('空' * 600)}", timeout=30)
        assert too_long.value.code == 400
        assert json.load(too_long.value)["code"] == 400
        # Past gunicorn's request line limit (8190 bytes; field case 15's 2,000 characters,
        # 18 KB URL-encoded): its refusal in the error shape, not its HTML 414, on the API
        # and the pages alike (gunicorn answers before any route).
        for path in ("/api/v1/datasets", "/"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(f"{base}{path}?q={quote('空气' * 1000)}", timeout=30)
            assert refused.value.code == 400
            assert refused.value.headers["Content-Type"] == "application/json"
            answer = json.load(refused.value)
            assert set(answer) == {"code", "status", "message", "errors"} and answer["code"] == 400
            assert "at most 500 characters" in answer["message"]

        message = build_message("someone@example.org", "测试邮件", "正文", "<p>正文</p>")
        send(SmtpSettings(port=ports["SUBSCRIBE_SMTP_PORT"]), message)
        # (the demo account's own e-mail subscription may have sent some too)
        [mail] = read_mailbox(tmp_path / "instance" / "mailbox", recipient="someone@example.org")
        assert (mail.subject, mail.recipients) == ("测试邮件", ["someone@example.org"])
        assert (tmp_path / "instance" / "logs" / "access.log").exists()
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(timeout=60)
        stack.stdout.close()
        held.close()
    assert stack.returncode == 0


def test_a_signal_inside_the_stop_events_lock_still_stops(monkeypatch):
    """Ctrl-C lands between two bytecodes of the main thread, possibly while it holds the
    lock of threading.Event (inside wait() or set(), e.g. handling a first Ctrl-C). A
    handler calling Event.set() then waited for that lock forever: a second Ctrl-C hung
    `make run` with every part stopped. The handler takes no lock."""
    monkeypatch.setattr(devstack, "SIGNALLED", [])
    monkeypatch.setattr(devstack, "STOPPING", threading.Event())
    assert not devstack.stopping()
    with devstack.STOPPING._cond:  # held, as inside STOPPING.wait()/set()
        handler = threading.Thread(target=devstack.on_signal, args=(signal.SIGINT, None),
                                   daemon=True)  # fmt: skip
        handler.start()
        handler.join(timeout=5)
        returned = not handler.is_alive()
    assert returned, "the signal handler blocked on the stop event's lock"
    assert devstack.stopping()


def test_a_running_smtp_server_on_the_set_port_is_used_not_fought(listening, monkeypatch):
    """`SUBSCRIBE_SMTP_PORT=8025 make run` beside one's own aiosmtpd on 8025: mail goes to
    it and no sink starts (the sink used to stop make run: "port 8025 … already in use")."""
    held = listening()
    for name in ("PORT", "SUBSCRIBE_DEMO_PORT", "SUBSCRIBE_DEMO_RECEIVER_PORT"):
        monkeypatch.setenv(name, str(free_port()))
    monkeypatch.delenv("SUBSCRIBE_MAIL_SINK", raising=False)
    monkeypatch.setenv("SUBSCRIBE_SMTP_PORT", str(held))
    resolved = devstack.resolve_ports()
    assert "SUBSCRIBE_SMTP_PORT" not in {r.setting for r in resolved}
    assert os.environ["SUBSCRIBE_MAIL_SINK"] == "0"
    config = config_module.from_environment()
    assert not config["SUBSCRIBE_MAIL_SINK"] and config["SUBSCRIBE_SMTP_PORT"] == held

    # Asked for by name, the sink still needs its port: the one line naming the setting.
    monkeypatch.setenv("SUBSCRIBE_MAIL_SINK", "1")
    with pytest.raises(PortTaken, match="SUBSCRIBE_SMTP_PORT"):
        devstack.resolve_ports()


def test_every_part_runs_in_a_process_group_of_its_own(tmp_path):
    """Ctrl-C (SIGINT to the terminal's process group) reaches make run alone; it stops the
    parts with one SIGTERM each. Gunicorn's threaded workers getting the terminal's SIGINT
    and then the master's quit signal deadlocked, orphaned, holding the web port."""
    parts = [devstack.Part("to the terminal", [sys.executable, "-c", "import time; time.sleep(30)"]),
             devstack.Part("to a log", [sys.executable, "-c", "import time; time.sleep(30)"],
                           tmp_path / "logs" / "part.log")]  # fmt: skip
    children = devstack.start(parts)
    try:
        for _part, child in children:
            assert os.getpgid(child.pid) == child.pid != os.getpgid(0)
    finally:
        devstack.stop_all(children)
    assert all(child.poll() is not None for _part, child in children)
