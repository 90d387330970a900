"""The inbox: the user's notifications, marking them read, the unread badge in the nav."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup, escape

from subscribe.notify import digest, services
from subscribe.notify.models import Notification
from subscribe.web import changes, labels
from subscribe.web.access import current_user, login_required, safe_next
from subscribe.web.filters import safe_url
from subscribe.web.i18n import select_language
from subscribe.web.paging import page_arg, page_count
from subscribe.web.subscriptions import scenario_url

blp = Blueprint("inbox", __name__)

PER_PAGE = 20


def _id(value) -> int | None:
    # Payloads are JSON kept for years: take only what still has the expected shape.
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def links(notification: Notification) -> list[tuple[str, str]]:
    """Where a notification points: its dataset, scenario, bundle or webhook endpoint."""
    payload = _dict(notification.payload)
    data = _dict(payload.get("data"))
    dataset, scenario, bundle = (_dict(data.get(key)) for key in ("dataset", "scenario", "bundle"))
    found = []
    if dataset_id := _id(dataset.get("id")) or _id(data.get("dataset_id")):
        found.append((_("Dataset"), url_for("web.search.dataset", dataset_id=dataset_id)))
    if scenario_id := _id(scenario.get("id")):
        found.append((_("Scenario"), scenario_url(scenario_id)))
    if bundle_id := _id(bundle.get("id")):
        found.append((_("Bundle"), url_for("web.scenarios.bundle", bundle_id=bundle_id)))
    if download := safe_url(bundle.get("download_url")):
        found.append((_("Download the bundle"), download))
    if notification.type == "report.state":  # the reporter's own error report
        found.append((_("My error reports"), url_for("web.reports.mine")))
    if endpoint_id := _id(payload.get("endpoint_id")) or _id(data.get("endpoint_id")):
        if payload.get("kind") in (None, "webhook"):
            found.append(
                (_("Webhook endpoint"), url_for("web.webhooks.show", endpoint_id=endpoint_id))
            )
        else:  # a chat robot's page (the webhooks' would answer 404)
            found.append((_("Chat robot"), url_for("web.chat.show", endpoint_id=endpoint_id)))
    return found


def title(notification: Notification) -> str:
    """The stored title, except bundle.ready, report.state, webhook.disabled,
    subscription.failing and source.removed, which are said in the page's language."""
    data = _dict(_dict(notification.payload).get("data"))
    if notification.type == "source.removed":  # stored in the user's language then
        name, count = _dict(data.get("source")).get("name"), data.get("datasets")
        if not isinstance(name, str) or _id(count) is None:
            return notification.title
        return ngettext("Source %(name)s was removed: %(num)s dataset you follow is gone",
                        "Source %(name)s was removed: %(num)s datasets you follow are gone",
                        count, name=name)  # fmt: skip
    if notification.type == "report.state":
        report, dataset = _dict(data.get("report")), _dict(data.get("dataset"))
        state = labels.REPORT_STATES.get(str(report.get("state")))
        if state is None or _id(report.get("id")) is None:
            return notification.title
        return _("Your error report #%(id)s: %(state)s — %(title)s", id=report["id"],
                 state=state, title=str(dataset.get("title") or ""))  # fmt: skip
    if notification.type == "webhook.disabled" and data.get("url"):  # older: no data
        return digest.notice_line(_dict(notification.payload), select_language())
    if notification.type == "subscription.failing":  # stored in the owner's language then
        subscription_id, error = _id(data.get("subscription_id")), data.get("error")
        if subscription_id is None or not isinstance(error, str):
            return notification.title
        channel = labels.CHANNELS.get(str(data.get("channel")), str(data.get("channel")))
        return _("Subscription #%(id)s cannot deliver (%(channel)s): %(error)s",
                 id=subscription_id, channel=channel, error=error)  # fmt: skip
    if notification.type != "bundle.ready":
        return notification.title
    count = _dict(data.get("bundle")).get("file_count")
    if not isinstance(count, int):
        return notification.title
    ready = ngettext("Bundle ready: %(num)s file", "Bundle ready: %(num)s files", count)
    name = _dict(data.get("scenario")).get("name") or data.get("title")
    return f"{name}: {ready}" if isinstance(name, str) and name else ready


def _data(notification: Notification) -> dict:
    return _dict(_dict(notification.payload).get("data"))


def summary(notification: Notification, names: changes.ResourceNames) -> dict:
    """{"headline": why it reached the user (scenario events), "sentences": what changed}."""
    data = _data(notification)
    reason = data.get("reason") if isinstance(data.get("reason"), str) else None
    headline = changes.describe_event(notification.type, reason) if reason else ""
    suggested = _dict(_dict(data.get("suggestion")).get("text"))  # dataset.suggested: why
    if suggested:
        headline = str(suggested.get("en" if select_language() == "en" else "zh") or headline)
    return {"headline": headline, "sentences": changes.describe_all(data.get("changes"), names)}


@blp.get("/inbox")
@login_required
def index():
    unread = request.args.get("unread") == "1"
    result = services.notifications(current_user(), page_arg(), PER_PAGE, unread)
    names = changes.ResourceNames.of_datasets(
        _id(_dict(_data(n).get("dataset")).get("id")) for n in result["items"]
    )
    return render_template(
        "inbox/index.html",
        result=result,
        unread=unread,
        links=links,
        title=title,
        summary=lambda notification: summary(notification, names),
        pages=page_count(result["total"], PER_PAGE),
        page_url=lambda number: url_for(".index", page=number, unread="1" if unread else None),
        here=request.full_path.rstrip("?"),
    )


def _back() -> str:
    return safe_next(request.form.get("next"), url_for(".index"))


@blp.post("/inbox/<int:notification_id>/read")
@login_required
def read(notification_id: int):
    services.mark_read(current_user(), notification_id)
    return redirect(_back())


@blp.post("/inbox/read-all")
@login_required
def read_all():
    count = services.mark_all_read(current_user())
    flash(_("%(count)s notifications marked read.", count=count), "success")
    return redirect(_back())


def nav_label() -> Markup:
    """The nav's inbox link text with the unread count (one COUNT, signed-in pages only)."""
    text = escape(str(labels.NAV["inbox"]))
    user = current_user()
    count = services.unread_count(user) if user is not None else 0
    if not count:
        return text
    title = _("%(count)s unread", count=count)
    return text + Markup(' <span class="badge unread-count" title="{}">{}</span>').format(
        title, count
    )


@blp.app_context_processor
def inbox_badge() -> dict:
    # A function, so the COUNT runs only where base.html shows the signed-in nav.
    return {"inbox_nav_label": nav_label}
