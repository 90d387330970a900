"""Languages: Chinese by default, English on request, remembered in a cookie."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, has_request_context, redirect, request
from flask_babel import get_translations, refresh
from markupsafe import escape

from subscribe.auth.preferences import save, user_timezone
from subscribe.extensions import babel
from subscribe.web.access import current_user

log = logging.getLogger(__name__)

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
PACKAGE_TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"


def init_app(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LANGUAGE
    # Stored times are naive UTC; pages show them where the users are (China by default).
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config["SUBSCRIBE_DISPLAY_TIMEZONE"]
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(translations_directory(app))
    babel.init_app(app, locale_selector=select_language, timezone_selector=select_timezone)
    install_text_gettext(app)
    # Flask-Babel caches the locale in g, which lives as long as the app context: one
    # held around several requests (a test, a CLI command) would keep the first choice.
    app.before_request(refresh)
    app.before_request(switch_language)
    app.context_processor(
        lambda: {
            "current_language": select_language(),
            "language_url": language_url,
        }
    )
    # A global, not context: imported macros see it too. "搜索词：空气质量", "Words: air".
    app.jinja_env.globals["colon"] = lambda: "：" if select_language() == "zh" else ": "


def install_text_gettext(app: Flask) -> None:
    """Translations are text, not HTML: templates get them escaped, so a quote mark in a
    translated string cannot end the attribute it sits in (the search box hint did).

    Jinja's newstyle gettext marks the translated string safe and escapes only the
    %(placeholders)s; escaping the string first keeps both right. No msgstr holds markup.
    """
    translations = get_translations  # per request: the locale is chosen per request
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: escape(translations().ugettext(s)),
        ngettext=lambda s, p, n: escape(translations().ungettext(s, p, n)),
        newstyle=True,
        pgettext=lambda c, s: escape(translations().upgettext(c, s)),
        npgettext=lambda c, s, p, n: escape(translations().unpgettext(c, s, p, n)),
    )


def select_language() -> str:
    """Only an explicit choice counts, never Accept-Language: browsers (and the test
    browser) say en-US, yet the product speaks Chinese unless the user asks otherwise.
    The signed-in user's saved language comes first, then the `lang` cookie."""
    user = _signed_in_user()
    if user is not None and user.locale in LANGUAGES:
        return user.locale
    chosen = request.cookies.get(COOKIE, "")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def select_timezone() -> str:
    """The signed-in user's zone, else SUBSCRIBE_DISPLAY_TIMEZONE."""
    return user_timezone(_signed_in_user())


def _signed_in_user():
    if not has_request_context() or request.path.startswith("/api/"):
        return None  # the API speaks JSON, and its bearer users are not the session's
    return current_user()


def language_url(language: str) -> str:
    """This page (with its query) in the other language."""
    args = request.args.copy()
    args["lang"] = language
    return request.path + "?" + urlencode(list(args.items(multi=True)))


def switch_language():
    """`?lang=en` on any page: remember the choice and reload the page without it."""
    chosen = request.args.get("lang")
    if chosen is None or request.method != "GET" or request.path.startswith("/api/"):
        return None
    args = request.args.copy()
    args.pop("lang")
    query = urlencode(list(args.items(multi=True)))
    response = redirect(request.path + ("?" + query if query else ""))
    user = current_user()
    if chosen in LANGUAGES and user is not None and user.locale and user.locale != chosen:
        # A signed-in user who saved a language and now switches: the switch is the newer
        # choice (otherwise the saved one would win and the switch would seem broken).
        save(user, {"locale": chosen})
    if chosen in LANGUAGES:
        response.set_cookie(COOKIE, chosen, max_age=COOKIE_MAX_AGE, samesite="Lax", httponly=True)
    return response


def translations_directory(app: Flask) -> Path:
    """Where the compiled catalogs are: the package's, when `make` has compiled them
    from the current .po files; else compiled now into the instance folder.

    The .mo files are build output (binary, not in git). Compiling on demand keeps
    `flask run`, gunicorn or an installed package working without the Makefile; it takes
    milliseconds and happens only when the package's .mo is missing or older.
    """
    if not _stale(PACKAGE_TRANSLATIONS):
        return PACKAGE_TRANSLATIONS
    target = Path(app.instance_path) / "translations"
    try:
        compile_catalogs(PACKAGE_TRANSLATIONS, target)
    except OSError as error:  # a read-only instance folder: pages fall back to English
        log.warning("Could not compile translations into %s: %s", target, error)
    return target


def _stale(root: Path) -> bool:
    for po in root.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            return True
    return False


def compile_catalogs(source: Path, target: Path) -> None:
    """Every .po under source → .mo under target, each written atomically (several
    processes may start at once)."""
    for po in source.glob("*/LC_MESSAGES/*.po"):
        mo = target / po.relative_to(source).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as handle:
            catalog = read_po(handle)
        fd, temporary = tempfile.mkstemp(dir=mo.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            write_mo(handle, catalog)
        os.replace(temporary, mo)
