"""Browser test helpers: screenshots, logging in through the pages, users and catalogs."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from subscribe.auth import services as auth

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
PASSWORD = "correct horse battery"


def screenshot(page, name: str) -> Path:
    """The whole page as test-output/screenshots/<name>.png, for people to review."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_sideways_scroll(page, what: str) -> None:
    """The page fits the phone's width: no sideways scrolling. Against the screen, not
    innerWidth: an emulated phone widens its layout viewport to the content (a 501px-wide
    page had an innerWidth of 501 on a 390px screen), so scrollWidth <= innerWidth
    held for every page however wide. ``what``: the page, for the message."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.screen.width")
    assert overflow <= 0, f"{what} is {overflow}px wider than the phone"


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.org"


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    role: str
    password: str = PASSWORD


def create_user(live_server, email: str | None = None, role: str = "user") -> Account:
    """An account made with the auth service ("operator" role for operators' pages)."""
    with live_server.app.app_context():
        user = auth.create_user(email or unique_email(role), PASSWORD, role)
        return Account(user.id, user.email, user.role)


def login(page, live_server, email: str, password: str = PASSWORD) -> None:
    """Log in through the login page, as a person would, and wait for the redirect."""
    page.goto(live_server.url("/login"))
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form.form button[type=submit]")
