"""The user's settings page: language and time zone (auth/preferences.py)."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import refresh

from subscribe.auth import preferences
from subscribe.web import i18n
from subscribe.web.access import current_user, login_required

blp = Blueprint("settings", __name__)


def _render(user, errors: dict, status: int = 200):
    return render_template(
        "settings/index.html", user=user, zones=preferences.all_zones(), errors=errors,
        default_zone=current_app.config["SUBSCRIBE_DISPLAY_TIMEZONE"],
    ), status  # fmt: skip


@blp.get("/settings")
@login_required
def index():
    return _render(current_user(), {})


@blp.post("/settings")
@login_required
def save():
    user = current_user()
    locale = request.form.get("locale", "")
    zone = request.form.get("timezone", "").strip()
    errors = {}
    if locale not in ("", *preferences.LANGUAGES):
        errors["locale"] = _("Choose one of the options.")
    if zone and not preferences.is_zone(zone):
        errors["timezone"] = _("Unknown time zone: use a name like Asia/Shanghai.")
    if errors:
        return _render(user, errors, 400)
    preferences.save(user, {"locale": locale or None, "timezone": zone or None})
    refresh()  # the flash below and the next page speak the newly chosen language
    flash(_("Settings saved."), "success")
    response = redirect(url_for("web.settings.index"))
    if locale:  # signed out later, the pages keep speaking it
        response.set_cookie(i18n.COOKIE, locale, max_age=i18n.COOKIE_MAX_AGE, samesite="Lax",
                            httponly=True)  # fmt: skip
    return response
