"""Chat robot pages: add a DingTalk / WeCom / Feishu group robot, send it a test message,
read its delivery log, delete it. The signing secret is never shown back, and the robot
URL (a credential) is shown masked."""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from subscribe.errors import InvalidInputError
from subscribe.notify import chat_endpoints, services
from subscribe.notify.channels.chat import mask_url
from subscribe.notify.models import CHAT_CHANNELS, WebhookEndpoint
from subscribe.notify.schemas import ChatEndpointCreateSchema
from subscribe.web.access import current_user, login_required
from subscribe.web.delivery_log import delivery_log_args, to_delivery
from subscribe.web.paging import page_arg, page_count
from subscribe.web.webhooks import refused_url

blp = Blueprint("chat", __name__)

PER_PAGE = 20
FIELD_ERRORS = {
    "kind": _l("Choose DingTalk, WeCom or Feishu."),
    "url": _l("Enter the robot's webhook address (http:// or https://, at most 2000 characters)."),
    "secret": _l("Use at most 200 characters."),
    "description": _l("Use at most 1000 characters."),
}


def _field_errors(messages: dict) -> dict[str, str]:
    return {name: str(FIELD_ERRORS.get(name, _("This value is not valid."))) for name in messages}


def _service_errors(error: InvalidInputError) -> dict[str, str]:
    errors = refused_url(error) if "url" in error.errors else {}
    if "secret" in error.errors:
        errors["secret"] = _("WeCom robots do not sign messages: leave the secret empty.")
    return errors


def _render_index(form: dict, errors: dict, status: int = 200):
    result = chat_endpoints.list_chat_endpoints(current_user(), page_arg(), PER_PAGE)
    return render_template(
        "chat/index.html",
        result=result,
        pages=page_count(result["total"], PER_PAGE),
        page_url=lambda number: url_for(".index", page=number),
        form=form,
        errors=errors,
        kinds=CHAT_CHANNELS,
        shapes=chat_endpoints.URL_SHAPES,
        mask=mask_url,
    ), status


@blp.get("/chat-endpoints")
@login_required
def index():
    kind = request.args.get("kind")
    return _render_index({"kind": kind if kind in CHAT_CHANNELS else "dingtalk", "url": "",
                          "description": ""}, {})  # fmt: skip


@blp.post("/chat-endpoints")
@login_required
def create():
    # The secret is never put back into the form, even when the form comes back with errors.
    form = {name: request.form.get(name, "").strip() for name in ("kind", "url", "description")}
    secret = request.form.get("secret", "").strip()
    try:
        values = ChatEndpointCreateSchema().load({**form, "secret": secret})
    except ma.ValidationError as error:
        return _render_index(form, _field_errors(error.messages), 422)
    try:
        endpoint = chat_endpoints.create_chat_endpoint(
            current_user(), values["kind"], values["url"], values["secret"], values["description"]
        )
    except InvalidInputError as error:
        return _render_index(form, _service_errors(error), 422)
    flash(_("Robot added. Send it a test message to check that it reaches the group."), "success")
    return redirect(url_for(".show", endpoint_id=endpoint.id))


def _render_endpoint(endpoint: WebhookEndpoint, form: dict, errors: dict, status: int = 200):
    return render_template(
        "chat/endpoint.html",
        endpoint=endpoint,
        masked=mask_url(endpoint.kind, endpoint.url),
        form=form,
        errors=errors,
        **delivery_log_args(endpoint),
    ), status


@blp.get("/chat-endpoints/<int:endpoint_id>")
@login_required
def show(endpoint_id: int):
    endpoint = chat_endpoints.get_chat_endpoint(current_user(), endpoint_id)
    return _render_endpoint(endpoint, {"description": endpoint.description}, {})


@blp.post("/chat-endpoints/<int:endpoint_id>")
@login_required
def update(endpoint_id: int):
    """Description, and a new signing secret when one is typed (empty keeps the old one,
    unless "stop signing" is ticked)."""
    endpoint = chat_endpoints.get_chat_endpoint(current_user(), endpoint_id)
    form = {"description": request.form.get("description", "").strip()}
    values: dict = dict(form)
    secret = request.form.get("secret", "").strip()
    if secret or request.form.get("unsign") == "on":
        values["secret"] = secret
    errors = {}
    if len(form["description"]) > 1000:
        errors["description"] = str(FIELD_ERRORS["description"])
    if len(secret) > 200:
        errors["secret"] = str(FIELD_ERRORS["secret"])
    if errors:
        return _render_endpoint(endpoint, form, errors, 422)
    try:
        chat_endpoints.update_chat_endpoint(endpoint, values)
    except InvalidInputError as error:
        return _render_endpoint(endpoint, form, _service_errors(error), 422)
    flash(_("Robot saved."), "success")
    return redirect(url_for(".show", endpoint_id=endpoint.id))


@blp.post("/chat-endpoints/<int:endpoint_id>/test")
@login_required
def test(endpoint_id: int):
    endpoint = chat_endpoints.get_chat_endpoint(current_user(), endpoint_id)
    delivery, attempt = chat_endpoints.send_test(endpoint)
    if attempt.succeeded:
        flash(_("Test message delivered in %(ms)s ms.", ms=attempt.duration_ms), "success")
    else:
        flash(_("Test message failed: %(error)s", error=attempt.error or "—"), "error")
    return to_delivery(endpoint, delivery)


@blp.post("/chat-endpoints/<int:endpoint_id>/enable")
@login_required
def enable(endpoint_id: int):
    services.enable_endpoint(chat_endpoints.get_chat_endpoint(current_user(), endpoint_id))
    flash(_("Robot enabled."), "success")
    return redirect(url_for(".show", endpoint_id=endpoint_id))


@blp.post("/chat-endpoints/<int:endpoint_id>/deliveries/<string:message_id>/resend")
@login_required
def resend(endpoint_id: int, message_id: str):
    endpoint = chat_endpoints.get_chat_endpoint(current_user(), endpoint_id)
    delivery = services.resend(endpoint, message_id)
    flash(_("Message %(id)s queued to be sent again.", id=delivery.message_id), "success")
    return to_delivery(endpoint, delivery)


@blp.post("/chat-endpoints/<int:endpoint_id>/delete")
@login_required
def delete(endpoint_id: int):
    services.delete_endpoint(chat_endpoints.get_chat_endpoint(current_user(), endpoint_id))
    flash(_("Robot deleted, with the subscriptions that used it."), "success")
    return redirect(url_for(".index"))
