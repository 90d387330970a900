"""`make run`: migrate, configure the demo, then run every part of the stack together.

One command for a newcomer. Each part is its own process, as in production; if one
exits, the others are stopped too, so nothing is left half-running. Ports are checked
before anything starts (subscribe/devports.py). The side parts (demo portal, webhook
receiver, SMTP sink) and the access log write to files under <instance>/logs, so the
banner, printed once the web app answers, stays on screen above the worker's log.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from flask_migrate import upgrade

from subscribe import config as config_module
from subscribe import create_app
from subscribe.demo.cli import DEMO_EMAIL, DEMO_PASSWORD, setup_demo_account, setup_demo_source
from subscribe.devports import PortChoice, PortTaken, Resolved, is_free, resolve
from subscribe.digits import ascii_int

READY_TIMEOUT = 90.0  # seconds for the web app's first /healthz (a cold SQLite migrate)
GUNICORN_CONFIG = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
STOPPING = threading.Event()  # set when a part exits (and, through stopping(), by signals)
# Ctrl-C / SIGTERM append their number here: a handler must take no lock. It runs in the
# main thread between two bytecodes, possibly inside STOPPING.wait() or .set() holding
# the Event's (non-reentrant) lock, and Event.set() there waits for it forever: a second
# Ctrl-C left `make run` hanging with every part already stopped.
SIGNALLED: list[int] = []


def on_signal(signum: int, _frame) -> None:
    SIGNALLED.append(signum)  # atomic, lock-free


def stopping() -> bool:
    return bool(SIGNALLED) or STOPPING.is_set()


@dataclass(frozen=True)
class Part:
    name: str
    argv: list[str]
    log: Path | None = None  # None: the terminal


def port_choices(settings: dict) -> list[PortChoice]:
    """The ports this run needs, by setting, in the order they are checked."""
    choices = [PortChoice("PORT", "web app", 5000)]
    if settings["SUBSCRIBE_DEMO"]:
        choices.append(PortChoice("SUBSCRIBE_DEMO_PORT", "demo portal", 5001))
        choices.append(PortChoice("SUBSCRIBE_DEMO_RECEIVER_PORT", "demo webhook receiver", 5002))
    if settings["SUBSCRIBE_MAIL_SINK"]:
        choices.append(PortChoice("SUBSCRIBE_SMTP_PORT", "local SMTP sink", 1025))
    return choices


def prepare(app) -> None:
    with app.app_context():
        quiet_upgrade()
        setup_demo_source()
        setup_demo_account()


def quiet_upgrade() -> None:
    """Migrate to head; Alembic's lines ("Running upgrade 0001 -> 0002") are shown only if it
    fails, so a newcomer's terminal has the banner, not ten lines of migration log."""
    log = io.StringIO()  # alembic.ini's handler writes to the sys.stderr of its fileConfig
    try:
        with contextlib.redirect_stderr(log):
            upgrade()
    except BaseException:
        sys.stderr.write(log.getvalue())
        raise


def logs_dir(app) -> Path:
    return Path(app.config["INSTANCE_PATH"]) / "logs"


def commands(app) -> list[Part]:
    """Every process `make run` starts, with where its output goes."""
    flask = [sys.executable, "-m", "flask", "--app", "subscribe"]
    config, logs = app.config, logs_dir(app)
    parts = []
    if config["SUBSCRIBE_MAIL_SINK"]:
        parts.append(Part("mail sink", [sys.executable, "-m", "subscribe.demo.mailsink",
                                        "--port", str(config["SUBSCRIBE_SMTP_PORT"]),
                                        "--dir", config["SUBSCRIBE_MAILBOX_DIR"]],
                          logs / "mail-sink.log"))  # fmt: skip
    if config["SUBSCRIBE_DEMO"]:
        parts.append(Part("demo portal", [*flask, "demo", "portal"], logs / "demo-portal.log"))
        parts.append(Part("webhook receiver", [*flask, "demo", "receiver"],
                          logs / "demo-receiver.log"))  # fmt: skip
    parts.append(Part("worker", [*flask, "worker"]))
    # gunicorn.conf.py, as production reads it: the request line limit (a legal search fits)
    # and gunicorn's own refusals (a longer line) as JSON in the error shape.
    web = [sys.executable, "-m", "gunicorn", "wsgi:app", "--config", str(GUNICORN_CONFIG),
           "--bind", f"127.0.0.1:{config['PORT']}",
           "--workers", "2", "--threads", "4", "--log-level", "warning",
           "--access-logfile", config["SUBSCRIBE_ACCESS_LOG"]]  # fmt: skip
    parts.append(Part("web", web))
    return parts


def demo_environment(app) -> None:
    """With the demo, check resources far more often than their declared frequency would
    (a daily file every few seconds) and score quality every 30 s, so a newcomer sees
    content changes and explained scores within a minute."""
    if app.config["SUBSCRIBE_DEMO"]:
        os.environ.setdefault("SUBSCRIBE_CHECK_INTERVAL_SCALE", "0.001")
        os.environ.setdefault("SUBSCRIBE_OUTBOUND_ALLOWLIST", "127.0.0.1,::1")
        # Quality scores follow the first harvest and the checks within a minute (the
        # day's blend is the same however often it runs).
        os.environ.setdefault("SUBSCRIBE_QUALITY_POLL_SECONDS", "30")


def _relative(path: Path | str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def banner(app, moved: list[str]) -> str:
    """What runs where: the last thing printed before the log."""
    config = app.config
    base = config["SUBSCRIBE_BASE_URL"]
    logs = logs_dir(app)
    access = config["SUBSCRIBE_ACCESS_LOG"]
    lines = [*moved, "", "subscribe is running (Ctrl-C stops everything):"]
    rows = [("web app", f"{base}/"), ("API docs", f"{base}/api/v1/docs"),
            ("health", f"{base}/healthz")]  # fmt: skip
    if config["SUBSCRIBE_DEMO"]:
        rows += [
            ("demo portal", f"http://127.0.0.1:{config['SUBSCRIBE_DEMO_PORT']}/  "
                            f"(log: {_relative(logs / 'demo-portal.log')})"),
            ("demo login", f"{DEMO_EMAIL} / {DEMO_PASSWORD}  (operator, 3 scenarios)"),
            ("webhook receiver", f"http://127.0.0.1:{config['SUBSCRIBE_DEMO_RECEIVER_PORT']}"
                                 f"/hook  (what it receives: tail -f "
                                 f"{_relative(logs / 'demo-receiver.log')})"),
        ]  # fmt: skip
    else:
        rows.append(("webhooks", f"add an endpoint at {base}/webhooks (a local receiver "
                                 "needs SUBSCRIBE_OUTBOUND_ALLOWLIST=127.0.0.1)"))  # fmt: skip
    if config["SUBSCRIBE_MAIL_SINK"]:
        rows.append(("demo mailbox", f"{base}/mailbox  (every e-mail sent, kept by the "
                                     f"local SMTP sink on 127.0.0.1:{config['SUBSCRIBE_SMTP_PORT']})"))  # fmt: skip
    else:
        rows.append(("e-mail", f"SMTP server {config['SUBSCRIBE_SMTP_HOST']}:"
                               f"{config['SUBSCRIBE_SMTP_PORT']}"))  # fmt: skip
    rows.append(("access log", "below" if access == "-" else
                 f"{_relative(access)}  (SUBSCRIBE_ACCESS_LOG=- shows it here)"))  # fmt: skip
    width = max(len(label) for label, _ in rows) + 2
    lines += [f"  {label.ljust(width)}{value}" for label, value in rows]
    lines.append("The worker's log follows.\n")
    return "\n".join(lines)


def start(parts: list[Part]) -> list[tuple[Part, subprocess.Popen]]:
    """Each part in a process group of its own (`process_group=0`): Ctrl-C reaches only
    this process, which stops every part with one SIGTERM (stop_all). With the terminal's
    SIGINT as well, gunicorn's threaded workers got a second quit signal inside their
    first one's handler and deadlocked in ThreadPoolExecutor.shutdown, orphaned, still
    holding the web port after `make run` had exited."""
    children = []
    for part in parts:
        if part.log is None:
            children.append((part, subprocess.Popen(part.argv, process_group=0)))
            continue
        part.log.parent.mkdir(parents=True, exist_ok=True)
        with part.log.open("ab") as out:
            children.append((part, subprocess.Popen(part.argv, stdout=out, stderr=out,
                                                    process_group=0)))  # fmt: skip
    return children


def _exit_line(part: Part, code: int | None) -> str:
    where = f"; see {_relative(part.log)}" if part.log else ""
    return f"{part.name} exited with {code}{where}; stopping the rest"


def wait_until_ready(url: str, children, timeout: float = READY_TIMEOUT) -> str | None:
    """None once `url` answers 200; else the line saying which part stopped (or that
    the web app never answered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping():
        for part, child in children:
            if child.poll() is not None:
                return _exit_line(part, child.returncode)
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return None
        except OSError:
            pass
        time.sleep(0.3)
    if stopping():
        return "stopped before the web app was ready"
    return f"the web app did not answer {url} within {timeout:g} s; stopping"


def stop_all(children) -> None:
    for _part, child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for _part, child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()


def smtp_server_running(environ=os.environ) -> bool:
    """Is SUBSCRIBE_SMTP_PORT set to a port something already listens on, with the sink
    not asked for by name? Then that is the user's own SMTP server (`python -m aiosmtpd
    -n -l 127.0.0.1:8025`, a mail catcher): mail goes there and no sink is started. The
    sink used to claim the port and stop `make run` as "already in use"."""
    raw = environ.get("SUBSCRIBE_SMTP_PORT", "").strip()
    port = ascii_int(raw)
    if port is None or environ.get("SUBSCRIBE_MAIL_SINK", "").strip():
        return False
    return not is_free(port)


def resolve_ports(environ=os.environ) -> list[Resolved]:
    """Check (and where allowed, move) every port before anything starts."""
    if environ.get("SUBSCRIBE_BASE_URL", "").strip() and not environ.get("PORT", "").strip():
        environ["PORT"] = "5000"  # links point at this port: never move it silently
    if smtp_server_running(environ):
        environ["SUBSCRIBE_MAIL_SINK"] = "0"  # the banner then names that SMTP server
    settings = config_module.from_environment()
    return resolve(port_choices(settings), environ)


def main() -> int:
    try:
        resolved = resolve_ports()
    except PortTaken as exc:
        print(f"make run: {exc}", file=sys.stderr, flush=True)
        return 2
    app = create_app()
    whats = {c.setting: c.what for c in port_choices(app.config)}
    moved = [note for r in resolved if (note := r.note(whats[r.setting]))]
    prepare(app)
    demo_environment(app)
    # SIGHUP too (the terminal closed): the parts, in their own process groups, do not
    # get it from the terminal and would outlive `make run`.
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    children = start(commands(app))
    problem = wait_until_ready(f"{app.config['SUBSCRIBE_BASE_URL']}/healthz", children)
    if problem:
        print(f"make run: {problem}", file=sys.stderr, flush=True)
        stop_all(children)
        return 1
    print(banner(app, moved), flush=True)
    exit_code = 0
    while not stopping():
        for part, child in children:
            if child.poll() is not None:
                print(f"make run: {_exit_line(part, child.returncode)}", flush=True)
                exit_code = child.returncode or 1
                STOPPING.set()
        if not STOPPING.is_set():
            time.sleep(0.5)  # not STOPPING.wait(): a signal may land inside it (SIGNALLED)
    stop_all(children)
    return exit_code


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
