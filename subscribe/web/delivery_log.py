"""What the webhook and chat robot pages share: an endpoint's delivery log (status chips,
pages, resend links) and the way back to one of its messages.

Both blueprints name their endpoint page `.show` and their resend action `.resend`, so the
links here are made relative to whichever blueprint is serving the request.
"""

from __future__ import annotations

from flask import redirect, request, url_for

from subscribe.notify import services
from subscribe.notify.models import DELIVERY_STATUSES, WebhookEndpoint
from subscribe.web.paging import page_arg, page_count

LOG_PER_PAGE = 20


def delivery_log_args(endpoint: WebhookEndpoint) -> dict:
    """The template arguments of an endpoint page's "Delivery log" section (see
    webhooks/_macros.html `delivery_log_section`): the page of messages asked for by
    `?page=` and `?status=` (an unknown status shows all), and the message `?opened=`."""
    wanted = request.args.get("status")
    wanted = wanted if wanted in DELIVERY_STATUSES else None
    log = services.endpoint_deliveries(endpoint, page_arg(), LOG_PER_PAGE, wanted)
    return {
        "log": log,
        "pages": page_count(log["total"], LOG_PER_PAGE),
        "page_url": lambda number: url_for(
            ".show", endpoint_id=endpoint.id, status=wanted, page=number, _anchor="log"
        ),
        "status_filter": wanted,
        "statuses": DELIVERY_STATUSES,
        "opened": request.args.get("opened"),
        "resend_url": lambda message_id: url_for(
            ".resend", endpoint_id=endpoint.id, message_id=message_id
        ),
    }


def to_delivery(endpoint: WebhookEndpoint, delivery):
    """Back to the endpoint page with the delivery's log entry open (its response shows there)."""
    return redirect(url_for(".show", endpoint_id=endpoint.id, opened=delivery.message_id,
                            _anchor=f"delivery-{delivery.message_id}"))  # fmt: skip
