"""The demo mailbox: every e-mail the local SMTP sink took (SUBSCRIBE_MAIL_SINK).

Operators see every message; other users see the messages sent to their own address.
The HTML part is served on its own, sandboxed, so an e-mail's markup never runs in the
app's pages.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template

from subscribe.demo.mailbox import Mail, read_mail, read_mailbox
from subscribe.web.access import current_user, login_required

blp = Blueprint("mailbox", __name__, url_prefix="/mailbox")

# The e-mail's own HTML: its inline styles may apply, nothing else (no script, no
# remote images, no forms); framed only by our own page.
MAIL_HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'self'; sandbox allow-popups allow-popups-to-escape-sandbox"
)


@blp.before_request
def sink_only():
    if not current_app.config.get("SUBSCRIBE_MAIL_SINK"):
        abort(404)


def _directory() -> str:
    return current_app.config["SUBSCRIBE_MAILBOX_DIR"]


def _visible(mail: Mail | None) -> Mail:
    user = current_user()
    if mail is None or not (user.is_operator or user.email.lower() in mail.recipients):
        abort(404)
    return mail


@blp.get("/")
@login_required
def index():
    user = current_user()
    recipient = None if user.is_operator else user.email
    mails = read_mailbox(_directory(), recipient=recipient)
    return render_template("mailbox/index.html", mails=mails, everyone=user.is_operator,
                           smtp=f"{current_app.config['SUBSCRIBE_SMTP_HOST']}:"
                                f"{current_app.config['SUBSCRIBE_SMTP_PORT']}")  # fmt: skip


@blp.get("/<key>")
@login_required
def show(key: str):
    mail = _visible(read_mail(_directory(), key))
    return render_template("mailbox/show.html", mail=mail)


@blp.get("/<key>/html")
@login_required
def html_part(key: str):
    mail = _visible(read_mail(_directory(), key))
    if not mail.html:
        abort(404)
    response = current_app.response_class(mail.html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = MAIL_HTML_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
