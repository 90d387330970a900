"""`make run`'s plan: which processes start, and the demo source only with SUBSCRIBE_DEMO."""

from __future__ import annotations

from sqlalchemy import select

from subscribe.catalog.models import Source
from subscribe.demo.cli import setup_demo_source
from subscribe.devstack import commands
from subscribe.extensions import db


def names(app) -> list[str]:
    return [name for name, _argv in commands(app)]


def test_default_runs_portal_worker_and_web_on_port(app):
    app.config.update(SUBSCRIBE_DEMO=True, PORT=5123)
    assert names(app) == ["portal", "worker", "web"]
    web = dict(commands(app))["web"]
    assert "127.0.0.1:5123" in web and "wsgi:app" in web


def test_demo_off_runs_no_portal_and_adds_no_source(app):
    app.config["SUBSCRIBE_DEMO"] = False
    assert names(app) == ["worker", "web"]
    assert setup_demo_source() is None
    assert db.session.scalars(select(Source)).all() == []


def test_demo_source_is_configured_once(app):
    app.config.update(SUBSCRIBE_DEMO=True, SUBSCRIBE_DEMO_PORT=5999)
    first = setup_demo_source()
    again = setup_demo_source()
    assert first.id == again.id and first.url == "http://127.0.0.1:5999"
    assert (first.type, first.schedule) == ("ckan", 20)


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
        == [("inbox", "alert")] * 3 + [("inbox", "bundle")] + [("webhook", "alert")] * 3
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
