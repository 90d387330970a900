"""Login, logout and registration pages (the same session as the JSON API)."""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from subscribe.auth import services
from subscribe.auth.schemas import LoginSchema, RegisterSchema
from subscribe.auth.sessions import end_session, start_session
from subscribe.errors import ConflictError, UnauthorizedError
from subscribe.extensions import limiter
from subscribe.web.access import current_user, safe_next

blp = Blueprint("auth", __name__)

# Shown instead of marshmallow's English messages, per field.
FIELD_ERRORS = {
    "email": _l("Enter a valid e-mail address."),
    "password": _l("Use a password of 8 to 256 characters."),
}


def _limit(setting: str):
    """The API's rate limits apply to the forms too (same settings), POST only."""
    return limiter.limit(lambda: current_app.config[setting], methods=["POST"])


def _form_errors(error: ma.ValidationError) -> dict[str, str]:
    return {
        name: str(FIELD_ERRORS.get(name, _("This value is not valid."))) for name in error.messages
    }


@blp.route("/login", methods=["GET", "POST"])
@_limit("SUBSCRIBE_LIMIT_LOGIN")
def login():
    next_url = safe_next(request.values.get("next"), url_for("web.search.index"))
    if request.method == "GET":
        return render_template("auth/login.html", next=next_url, errors={}, email="")
    email = request.form.get("email", "")
    try:
        body = LoginSchema().load({"email": email, "password": request.form.get("password", "")})
        user = services.authenticate(body["email"], body["password"])
    except (ma.ValidationError, UnauthorizedError):
        # One message for every failure: say nothing about which accounts exist.
        flash(_("E-mail or password is wrong."), "error")
        return render_template("auth/login.html", next=next_url, errors={}, email=email), 401
    start_session(user)
    flash(_("Welcome back, %(email)s.", email=user.email), "success")
    return redirect(next_url)


@blp.post("/logout")
def logout():
    # POST with the CSRF token: a GET link could be triggered by any page (an <img>).
    end_session()
    flash(_("You have logged out."), "success")
    return redirect(url_for("web.search.index"))


@blp.route("/register", methods=["GET", "POST"])
@_limit("SUBSCRIBE_LIMIT_REGISTER")
def register():
    # Where the visitor was going (a login link's `next`, e.g. a subscribe form): kept.
    next_url = safe_next(request.values.get("next"), url_for("web.search.index"))
    if current_user() is not None and request.method == "GET":
        return redirect(next_url)
    if request.method == "GET":
        return render_template("auth/register.html", errors={}, email="", next=next_url)
    email = request.form.get("email", "")
    password = request.form.get("password", "")
    errors: dict[str, str] = {}
    try:
        body = RegisterSchema().load({"email": email, "password": password})
    except ma.ValidationError as error:
        errors = _form_errors(error)
    if not errors and password != request.form.get("password_confirm", ""):
        errors["password_confirm"] = _("The two passwords differ.")
    if not errors:
        try:
            user = services.create_user(body["email"], body["password"])
        except ConflictError:
            errors["email"] = _("An account with this e-mail already exists.")
    if errors:
        return render_template("auth/register.html", errors=errors, email=email, next=next_url), 422
    start_session(user)
    flash(_("Your account is ready."), "success")
    return redirect(next_url)
