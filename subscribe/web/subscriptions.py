"""Subscription pages: the list, the form to subscribe or change one, unsubscribe."""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from subscribe.api import parse_id
from subscribe.auth.preferences import user_timezone
from subscribe.catalog import services as catalog
from subscribe.errors import ConflictError, InvalidInputError
from subscribe.notify import chat_endpoints, services
from subscribe.notify.channels import chat
from subscribe.notify.models import (
    CADENCES,
    CHANNELS,
    CHAT_CHANNELS,
    DATASET_EVENTS,
    OPT_IN_EVENTS,
    PUSH_KINDS,
    Subscription,
)
from subscribe.notify.schemas import SubscriptionCreateSchema, SubscriptionUpdateSchema
from subscribe.scenarios import services as scenarios
from subscribe.web import labels
from subscribe.web.access import current_user, login_required
from subscribe.web.paging import page_arg, page_count

blp = Blueprint("subscriptions", __name__)

PER_PAGE = 20
CHOICES = 200  # the user's scenarios and endpoints offered in the form's selects
TIMEZONES = ("Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Tokyo", "UTC",
             "Europe/London", "Europe/Berlin", "America/New_York")  # fmt: skip

# Shown instead of the schemas' and services' English messages, per field.
FIELD_ERRORS = {
    "scenario_id": _l("Choose one of your scenarios."),
    "dataset_id": _l("This dataset does not exist."),
    "endpoint_id": _l("A webhook subscription needs one of your webhook endpoints."),
    "events": _l("Choose at least one event."),
    "timezone": _l("Unknown time zone: use a name like Asia/Shanghai."),
    "hour": _l("Choose an hour from 0 to 23."),
}


def int_arg(value: str | None) -> int | None:
    return parse_id(value)


def scenario_url(scenario_id: int) -> str:
    return url_for("web.scenarios.show", scenario_id=scenario_id)


def field_errors(messages: dict, channel: str = "") -> dict[str, str]:
    default = _("Choose one of the options.")
    errors = {name: str(FIELD_ERRORS.get(name, default)) for name in messages}
    if channel in CHAT_CHANNELS and "endpoint_id" in errors:
        errors["endpoint_id"] = _("Choose one of your %(app)s robots.",
                                  app=labels.CHANNELS[channel])  # fmt: skip
    return errors


def _target(user, subscription: Subscription) -> dict:
    """What a subscription follows, as a name and a link."""
    if subscription.scenario_id is not None:
        scenario = scenarios.get_scenario(user, subscription.scenario_id)
        return {"kind": _("Scenario"), "name": scenario.name,
                "url": scenario_url(scenario.id)}  # fmt: skip
    dataset = catalog.get_dataset(subscription.dataset_id)
    return {"kind": _("Dataset"), "name": dataset.title,
            "url": url_for("web.search.dataset", dataset_id=dataset.id)}  # fmt: skip


@blp.get("/subscriptions")
@login_required
def index():
    user = current_user()
    result = services.list_subscriptions(user, page_arg(), PER_PAGE)
    endpoints = {
        s.endpoint_id: _endpoint_name(user, s.endpoint_id)
        for s in result["items"]
        if s.endpoint_id is not None
    }
    return render_template(
        "subscriptions/index.html",
        result=result,
        pages=page_count(result["total"], PER_PAGE),
        targets={s.id: _target(user, s) for s in result["items"]},
        endpoints=endpoints,
        page_url=lambda number: url_for(".index", page=number),
    )


def _endpoint_name(user, endpoint_id: int) -> str:
    """A webhook's URL; a chat robot's description, or its URL masked (a credential)."""
    if endpoint_id in _chat_ids(user):
        endpoint = chat_endpoints.get_chat_endpoint(user, endpoint_id)
        return endpoint.description or chat.mask_url(endpoint.kind, endpoint.url)
    return services.get_endpoint(user, endpoint_id).url


def _chat_ids(user) -> set[int]:
    return {e.id for e in chat_endpoints.list_chat_endpoints(user, 1, CHOICES)["items"]}


def _posted_endpoint(form, channel: str) -> str | None:
    """Each endpoint channel has its own select (endpoint_id, endpoint_id_dingtalk, …);
    the one of the chosen channel counts."""
    if channel == "webhook":
        return form.get("endpoint_id") or None
    if channel in CHAT_CHANNELS:
        return form.get(f"endpoint_id_{channel}") or None
    return None


def _form_from_request(editing: bool) -> dict:
    """The posted form as the schemas' input: strings, which they check and convert."""
    form = request.form
    channel = form.get("channel", "")
    values = {
        "events": form.getlist("events"),
        "channel": channel,
        # Only webhooks and chat robots have an endpoint; the selects stay in the form for
        # the other channels.
        "endpoint_id": _posted_endpoint(form, channel),
        "cadence": form.get("cadence", ""),
        "hour": form.get("hour", ""),
        "weekday": form.get("weekday", ""),
        "timezone": form.get("timezone", "").strip() or user_timezone(current_user()),
        "push": form.get("push", ""),
    }
    if editing:
        values["active"] = form.get("active") == "on"
        values["catch_up"] = form.get("catch_up") == "on"
    else:
        values["scenario_id"] = form.get("scenario_id") or None
        values["dataset_id"] = form.get("dataset_id") or None
    return values


def _existing(user, form: dict, dataset) -> list[Subscription]:
    """The user's subscriptions to the target the new-subscription form is for: the page
    shows them as "subscribed", each with a link."""
    if dataset is not None:
        return services.subscriptions_of(user, dataset_id=dataset.id)
    scenario_id = int_arg(str(form.get("scenario_id") or ""))
    return services.subscriptions_of(user, scenario_id=scenario_id) if scenario_id else []


def _render_form(subscription, form: dict, errors: dict, dataset=None, status: int = 200,
                 duplicate: int | None = None):  # fmt: skip
    user = current_user()
    return render_template(
        "subscriptions/form.html",
        subscription=subscription,
        existing=[] if subscription else _existing(user, form, dataset),
        duplicate=duplicate,
        target=_target(user, subscription) if subscription else None,
        dataset=dataset,
        form=form,
        errors=errors,
        scenarios=scenarios.list_scenarios(user, 1, CHOICES)["items"],
        endpoints=services.list_endpoints(user, 1, CHOICES)["items"],
        events=_events_for(dataset is not None or bool(subscription and subscription.dataset_id)),
        chat_endpoints=chat_endpoints.list_chat_endpoints(user, 1, CHOICES)["items"],
        chat_channels=CHAT_CHANNELS,
        mask=chat.mask_url,
        channels=CHANNELS,
        cadences=CADENCES,
        push_kinds=PUSH_KINDS,
        weekdays=labels.WEEKDAYS,
        timezones=TIMEZONES,
    ), status


def _events_for(one_dataset: bool) -> tuple[str, ...]:
    """The events offered: the dataset events and the opt-in ones, less those only a
    scenario's subscription can receive when the target is one dataset."""
    events = (*DATASET_EVENTS, *OPT_IN_EVENTS)
    return tuple(e for e in events if not (one_dataset and e in services.SCENARIO_ONLY_EVENTS))


@blp.route("/subscriptions/new", methods=["GET", "POST"])
@login_required
def new():
    user = current_user()
    dataset_id = int_arg(request.values.get("dataset_id"))
    # A dataset named in the link must exist (404 otherwise); a scenario is checked on save.
    dataset = catalog.get_dataset(dataset_id) if dataset_id else None
    if request.method == "GET":
        # A robot's or endpoint's page links here with its channel and id chosen.
        channel = request.args.get("channel")
        form = {"scenario_id": request.args.get("scenario_id"), "events": list(DATASET_EVENTS),
                "channel": channel if channel in CHANNELS else "inbox",
                "endpoint_id": int_arg(request.args.get("endpoint_id")),
                "cadence": "immediate", "hour": 8, "weekday": 0,
                "timezone": user_timezone(user), "push": "alert"}  # fmt: skip
        return _render_form(None, form, {}, dataset)
    form = _form_from_request(editing=False)
    try:
        services.create_subscription(user, SubscriptionCreateSchema().load(dict(form)))
    except ma.ValidationError as error:
        return _render_form(None, form, field_errors(error.messages, form["channel"]), dataset, 422)
    except InvalidInputError as error:
        return _render_form(None, form, field_errors(error.errors, form["channel"]), dataset, 422)
    except ConflictError as error:
        return _render_form(None, form, {}, dataset, 409, error.errors["subscription_id"][0])
    flash(_("Subscribed."), "success")
    return redirect(url_for(".index"))


@blp.route("/subscriptions/<int:subscription_id>/edit", methods=["GET", "POST"])
@login_required
def edit(subscription_id: int):
    user = current_user()
    subscription = services.get_subscription(user, subscription_id)
    if request.method == "GET":
        form = {name: getattr(subscription, name) for name in (
            "events", "channel", "endpoint_id", "cadence", "hour", "weekday", "timezone",
            "push", "active")}  # fmt: skip
        return _render_form(subscription, form, {})
    form = _form_from_request(editing=True)
    try:
        values = SubscriptionUpdateSchema().load(dict(form))
        services.update_subscription(user, subscription, values)
    except ma.ValidationError as error:
        return _render_form(
            subscription, form, field_errors(error.messages, form["channel"]), status=422
        )
    except InvalidInputError as error:
        return _render_form(
            subscription, form, field_errors(error.errors, form["channel"]), status=422
        )
    except ConflictError as error:
        return _render_form(subscription, form, {}, status=409,
                            duplicate=error.errors["subscription_id"][0])  # fmt: skip
    flash(_("Subscription saved."), "success")
    return redirect(url_for(".index"))


@blp.post("/subscriptions/<int:subscription_id>/delete")
@login_required
def delete(subscription_id: int):
    services.delete_subscription(services.get_subscription(current_user(), subscription_id))
    flash(_("Unsubscribed."), "success")
    return redirect(url_for(".index"))
