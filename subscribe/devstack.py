"""`make run`: migrate, configure the demo, then run web, worker and demo portal together.

One command for a newcomer. Each part is its own process, as in production; if one
exits, the others are stopped too, so nothing is left half-running.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from flask_migrate import upgrade

from subscribe import create_app
from subscribe.demo.cli import DEMO_EMAIL, DEMO_PASSWORD, setup_demo_account, setup_demo_source


def prepare(app) -> None:
    with app.app_context():
        upgrade()
        setup_demo_source()
        setup_demo_account()


def commands(app) -> list[tuple[str, list[str]]]:
    flask = [sys.executable, "-m", "flask", "--app", "subscribe"]
    port = app.config["PORT"]
    procs = []
    if app.config["SUBSCRIBE_DEMO"]:
        procs.append(("portal", [*flask, "demo", "portal"]))
    procs.append(("worker", [*flask, "worker"]))
    web = [sys.executable, "-m", "gunicorn", "wsgi:app", "--bind", f"127.0.0.1:{port}",
           "--workers", "2", "--threads", "4", "--access-logfile", "-"]  # fmt: skip
    procs.append(("web", web))
    return procs


def demo_environment(app) -> None:
    """With the demo, check resources far more often than their declared frequency would
    (a daily file every few seconds), so a newcomer sees content changes within a minute."""
    if app.config["SUBSCRIBE_DEMO"]:
        os.environ.setdefault("SUBSCRIBE_CHECK_INTERVAL_SCALE", "0.001")
        os.environ.setdefault("SUBSCRIBE_OUTBOUND_ALLOWLIST", "127.0.0.1,::1")


def main() -> int:
    app = create_app()
    prepare(app)
    demo_environment(app)
    children = [(name, subprocess.Popen(argv)) for name, argv in commands(app)]
    base = app.config["SUBSCRIBE_BASE_URL"]
    print(
        f"\nsubscribe is starting:\n  web and API   {base}/\n  API docs      {base}/api/v1/docs\n"
        f"  health        {base}/healthz"
        + (
            f"\n  demo portal   http://127.0.0.1:{app.config['SUBSCRIBE_DEMO_PORT']}/"
            f"\n  demo login    {DEMO_EMAIL} / {DEMO_PASSWORD} (operator, 3 scenarios)"
            if app.config["SUBSCRIBE_DEMO"]
            else ""
        )
        + "\nCtrl-C stops everything.\n",
        flush=True,
    )
    stopping = False

    def stop(*_args) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    exit_code = 0
    while not stopping:
        for name, child in children:
            if child.poll() is not None:
                print(f"{name} exited with {child.returncode}; stopping the rest", flush=True)
                exit_code, stopping = child.returncode or 1, True
        time.sleep(0.5)
    for _name, child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for _name, child in children:
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
    return exit_code


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
