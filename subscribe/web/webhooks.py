"""Developer pages: webhook endpoints, their secrets, test pings and the delivery log."""

from __future__ import annotations

import secrets

import marshmallow as ma
from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from subscribe.errors import InvalidInputError
from subscribe.models_base import to_naive_utc
from subscribe.notify import services
from subscribe.notify.models import WebhookEndpoint
from subscribe.notify.schemas import RecoverSchema, WebhookCreateSchema, WebhookUpdateSchema
from subscribe.notify.ssrf import OutboundPolicy
from subscribe.web.access import current_user, login_required
from subscribe.web.delivery_log import delivery_log_args, to_delivery
from subscribe.web.paging import page_arg, page_count

blp = Blueprint("webhooks", __name__)

PER_PAGE = 20
ONCE_KEY = "webhook_forms_sent"

FIELD_ERRORS = {
    "url": _l("Enter an http:// or https:// address of at most 2000 characters."),
    "description": _l("Use at most 1000 characters."),
    "since": _l("Enter a date and time."),
}


def _field_errors(messages: dict) -> dict[str, str]:
    return {name: str(FIELD_ERRORS.get(name, _("This value is not valid."))) for name in messages}


def refused_url(error: InvalidInputError) -> dict[str, str]:
    """The URL error of a service refusal (an internal address, a wrong robot URL), with its
    reason: the reason names the address and why, so it is shown as it is."""
    reasons = error.errors.get("url") or [error.message]
    if any("outbound allow-list" in r for r in reasons):  # ssrf.BlockedURL: internal address
        # Said in the page's language; the guard's English (which address, why) follows
        # as the technical detail an operator needs.
        return {"url": _("This address reaches an internal network (private, loopback or "
                         "link-local) and is refused unless an operator allows it in "
                         "SUBSCRIBE_OUTBOUND_ALLOWLIST. Detail: %(reason)s",
                         reason="; ".join(reasons))}  # fmt: skip
    return {"url": _("This address cannot be used: %(reason)s", reason="; ".join(reasons))}


def _once_token() -> str:
    return secrets.token_urlsafe(16)


def _first_submission() -> bool:
    """Forms that reveal a secret carry a one-time token, remembered once used: a reload
    that posts the form again must neither create or rotate again nor show a secret."""
    token = request.form.get("once", "")
    sent = session.get(ONCE_KEY, [])
    if not token or token in sent:
        return False
    session[ONCE_KEY] = [*sent[-9:], token]
    return True


def _show_secret(endpoint: WebhookEndpoint, rotated: bool):
    """The secret in this one response, never stored or cached: it is shown once."""
    response = make_response(
        render_template(
            "webhooks/secret.html",
            endpoint=endpoint,
            secret=endpoint.secret,
            rotated=rotated,
            grace_hours=current_app.config["SUBSCRIBE_WEBHOOK_ROTATION_GRACE_HOURS"],
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _render_index(form: dict, errors: dict, status: int = 200):
    result = services.list_endpoints(current_user(), page_arg(), PER_PAGE)
    return render_template(
        "webhooks/index.html",
        result=result,
        pages=page_count(result["total"], PER_PAGE),
        page_url=lambda number: url_for(".index", page=number),
        form=form,
        errors=errors,
        once=_once_token(),
    ), status


@blp.get("/webhooks")
@login_required
def index():
    return _render_index({"url": "", "description": ""}, {})


@blp.post("/webhooks")
@login_required
def create():
    form = {"url": request.form.get("url", "").strip(),
            "description": request.form.get("description", "").strip()}  # fmt: skip
    try:
        values = WebhookCreateSchema().load(form)
    except ma.ValidationError as error:
        return _render_index(form, _field_errors(error.messages), 422)
    if not _first_submission():
        flash(_("This form was already sent. A secret is shown only once."), "error")
        return redirect(url_for(".index"))
    try:
        endpoint = services.create_endpoint(current_user(), values["url"], values["description"])
    except InvalidInputError as error:  # an internal address: refused before it is stored
        return _render_index(form, refused_url(error), 422)
    return _show_secret(endpoint, rotated=False)


def _render_endpoint(endpoint: WebhookEndpoint, form: dict, errors: dict, status: int = 200):
    return render_template(
        "webhooks/endpoint.html",
        endpoint=endpoint,
        form=form,
        errors=errors,
        once=_once_token(),
        grace_hours=current_app.config["SUBSCRIBE_WEBHOOK_ROTATION_GRACE_HOURS"],
        **delivery_log_args(endpoint),
    ), status


@blp.get("/webhooks/<int:endpoint_id>")
@login_required
def show(endpoint_id: int):
    endpoint = services.get_endpoint(current_user(), endpoint_id)
    return _render_endpoint(
        endpoint, {"url": endpoint.url, "description": endpoint.description}, {}
    )


@blp.post("/webhooks/<int:endpoint_id>")
@login_required
def update(endpoint_id: int):
    endpoint = services.get_endpoint(current_user(), endpoint_id)
    form = {"url": request.form.get("url", "").strip(),
            "description": request.form.get("description", "").strip()}  # fmt: skip
    try:
        values = WebhookUpdateSchema().load(form)
    except ma.ValidationError as error:
        return _render_endpoint(endpoint, form, _field_errors(error.messages), 422)
    try:
        services.update_endpoint(endpoint, values)
    except InvalidInputError as error:
        return _render_endpoint(endpoint, form, refused_url(error), 422)
    flash(_("Endpoint saved."), "success")
    return redirect(url_for(".show", endpoint_id=endpoint.id))


@blp.post("/webhooks/<int:endpoint_id>/rotate")
@login_required
def rotate(endpoint_id: int):
    endpoint = services.get_endpoint(current_user(), endpoint_id)
    if not _first_submission():
        flash(_("This form was already sent. A secret is shown only once."), "error")
        return redirect(url_for(".show", endpoint_id=endpoint.id))
    grace = current_app.config["SUBSCRIBE_WEBHOOK_ROTATION_GRACE_HOURS"]
    return _show_secret(services.rotate_secret(endpoint, grace), rotated=True)


@blp.post("/webhooks/<int:endpoint_id>/ping")
@login_required
def ping(endpoint_id: int):
    endpoint = services.get_endpoint(current_user(), endpoint_id)
    policy = OutboundPolicy(current_app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"])
    delivery, attempt = services.ping(endpoint, policy)
    if attempt.succeeded:
        flash(_("Test ping answered HTTP %(status)s in %(ms)s ms.",
                status=attempt.status_code, ms=attempt.duration_ms), "success")  # fmt: skip
    else:
        flash(_("Test ping failed: %(error)s", error=attempt.error or "—"), "error")
    return to_delivery(endpoint, delivery)


@blp.post("/webhooks/<int:endpoint_id>/enable")
@login_required
def enable(endpoint_id: int):
    services.enable_endpoint(services.get_endpoint(current_user(), endpoint_id))
    flash(_("Endpoint enabled. Recover its failed messages below if you want them."), "success")
    return redirect(url_for(".show", endpoint_id=endpoint_id))


@blp.post("/webhooks/<int:endpoint_id>/recover")
@login_required
def recover(endpoint_id: int):
    endpoint = services.get_endpoint(current_user(), endpoint_id)
    try:
        since = RecoverSchema().load({"since": request.form.get("since", "")})["since"]
    except ma.ValidationError as error:
        return _render_endpoint(endpoint, {"url": endpoint.url,
                                           "description": endpoint.description},
                                _field_errors(error.messages), 422)  # fmt: skip
    # The form's time is in the zone the pages show times in (Flask-Babel's); to_naive_utc
    # keeps 0001-01-01T00:00 at +08:00 on the calendar (flask_babel.to_utc overflowed: 500).
    local = since if since.tzinfo is not None else since.replace(tzinfo=get_timezone())
    count = services.recover(endpoint, to_naive_utc(local))
    flash(_("%(count)s failed messages queued again.", count=count), "success")
    return redirect(url_for(".show", endpoint_id=endpoint.id, _anchor="log"))


@blp.post("/webhooks/<int:endpoint_id>/deliveries/<string:message_id>/resend")
@login_required
def resend(endpoint_id: int, message_id: str):
    endpoint = services.get_endpoint(current_user(), endpoint_id)
    delivery = services.resend(endpoint, message_id)
    flash(_("Message %(id)s queued to be sent again.", id=delivery.message_id), "success")
    return to_delivery(endpoint, delivery)


@blp.post("/webhooks/<int:endpoint_id>/delete")
@login_required
def delete(endpoint_id: int):
    services.delete_endpoint(services.get_endpoint(current_user(), endpoint_id))
    flash(_("Endpoint deleted, with the subscriptions that used it."), "success")
    return redirect(url_for(".index"))
