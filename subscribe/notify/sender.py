"""The delivery loop: claim due deliveries, send them outside any transaction, record.

Webhooks go out in parallel threads; e-mail digests are one message per subscription
holding all its due deliveries (sent whole or retried whole); the inbox is a row. Chat
robots (DingTalk, WeCom, Feishu) get one message per subscription and round listing its
due deliveries (sent or retried whole), one robot per thread, its messages in order; a
robot that answers "too fast" gets nothing more this round (the rest wait, untried).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import insert, select, update
from sqlalchemy.orm.attributes import set_committed_value

from subscribe.auth.models import User
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.notify import chat_message, digest, outbox
from subscribe.notify import health as channel_health
from subscribe.notify.channels import chat, webhook
from subscribe.notify.channels import email as email_channel
from subscribe.notify.channels.webhook import Sent
from subscribe.notify.models import (
    CHAT_CHANNELS,
    Delivery,
    DeliveryAttempt,
    Notification,
    Subscription,
    WebhookEndpoint,
)
from subscribe.notify.ssrf import GuardedSession, OutboundPolicy, guarded_session

log = logging.getLogger(__name__)
FAILING_LIMIT = timedelta(days=5)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# Set when this process committed deliveries that are due now (matching does, in the
# worker that also delivers): a deliverer waiting for its next poll starts at once.
_queued = threading.Event()


def wake() -> None:
    """Deliveries were just committed: a deliverer of this process waiting in
    `wait_for_queued` goes on now instead of at its next poll."""
    _queued.set()


def wait_for_queued(seconds: float) -> bool:
    """Wait up to `seconds` for `wake()`; True when woken (the signal is consumed)."""
    woken = _queued.wait(seconds)
    _queued.clear()
    return woken


_stopping = threading.Event()


def stop_lingering() -> None:
    """The worker is stopping: a deliverer waiting for `wake()` returns now, and none waits
    again (its scheduler waits for running jobs to finish)."""
    _stopping.set()
    _queued.set()


def lingering_stopped() -> bool:
    return _stopping.is_set()


def deliver_due(limit: int = 200, worker: str | None = None) -> int:
    """One round: returns how many deliveries were handled."""
    lease = current_app.config["SUBSCRIBE_DELIVERY_LEASE_SECONDS"]
    ids = outbox.claim_due(worker or worker_name(), limit, lease)
    if not ids:
        _Outbound.close_idle()
        return 0
    deliveries = db.session.scalars(
        select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id)
    ).all()
    handled = len(deliveries)
    # The round's subscriptions in one query, held for the round: each outcome is noted on
    # its subscription (channel health), and a get() per delivery was a query each (the
    # session's identity map holds them only while something does).
    subscriptions = _by_id(Subscription, (d.subscription_id for d in deliveries))
    deliveries = _drop_paused(deliveries, subscriptions)
    hooks, mails, inbox, chats = [], [], [], []
    for delivery in deliveries:
        if delivery.channel == "webhook":
            hooks.append(delivery)
        elif delivery.channel == "email":
            mails.append(delivery)
        elif delivery.channel in CHAT_CHANNELS:
            chats.append(delivery)
        else:
            inbox.append(delivery)
    outbound = _Outbound()
    try:
        _send_webhooks(hooks, outbound)
        _send_emails(mails)
        _send_chats(chats, outbound)
        for delivery in inbox:
            _to_inbox(delivery)
        _write_outcomes()
        db.session.commit()
    except BaseException:
        db.session.info.pop(_OUTCOMES, None)
        outbound.done(keep=False)
        raise
    outbound.done(keep=True)  # its connections serve the next round (closed when idle)
    return handled


def _drop_paused(deliveries: list[Delivery], subscriptions: dict) -> list[Delivery]:
    """The deliveries still wanted: one whose subscription was paused after it was claimed
    (or resent while paused) is cancelled, not sent (pausing cancels what is pending).
    `subscriptions`: the deliveries' subscriptions by id."""
    paused = {sid for sid, subscription in subscriptions.items() if not subscription.active}
    if not paused:
        return deliveries
    for delivery in deliveries:
        if delivery.subscription_id in paused:
            delivery.status, delivery.last_error = "cancelled", "subscription paused"
            delivery.claimed_until = delivery.claimed_by = None
    return [d for d in deliveries if d.subscription_id not in paused]


_KEPT_LOCK = threading.Lock()


# A kept session whose connections sent nothing for this long is closed by the next
# round that finds nothing due: open keep-alive connections are not held while idle.
KEEP_IDLE_SECONDS = 30.0


class _Outbound:
    """A round's guarded session and sending threads, made on first use.

    A round hands them on to the next one (kept on the app, taken by one round at a
    time), so webhooks to an endpoint reuse its keep-alive connections whether they come
    as a backlog or one by one as matching queues them; the SSRF guard vets the address
    of every connection it opens. A round with nothing due closes them once they have
    been idle KEEP_IDLE_SECONDS; a failed round closes them at once."""

    KEY = "subscribe.outbound"

    def __init__(self) -> None:
        with _KEPT_LOCK:
            # (settings, session, pool, monotonic time of the last round that used them)
            self._kept = current_app.extensions.pop(self.KEY, None)

    @classmethod
    def close_idle(cls) -> None:
        """Close the kept session and threads if they have been idle long enough."""
        with _KEPT_LOCK:
            kept = current_app.extensions.get(cls.KEY)
            if kept is None or time.monotonic() - kept[3] < KEEP_IDLE_SECONDS:
                return
            del current_app.extensions[cls.KEY]
        kept[2].shutdown(wait=True)
        kept[1].close()

    def get(self) -> tuple[GuardedSession, ThreadPoolExecutor]:
        config = current_app.config
        policy = OutboundPolicy(config["SUBSCRIBE_OUTBOUND_ALLOWLIST"])
        threads = config["SUBSCRIBE_DELIVERY_THREADS"]
        settings = (repr(policy), threads)
        if self._kept is None or self._kept[0] != settings:
            self.done(keep=False)  # the allow-list or thread count changed
            session = guarded_session(policy, pool_maxsize=threads)
            self._kept = (settings, session, ThreadPoolExecutor(threads, "deliver"), 0.0)
        self._kept = (*self._kept[:3], time.monotonic())
        return self._kept[1], self._kept[2]

    def done(self, keep: bool) -> None:
        kept, self._kept = self._kept, None
        if kept is not None and keep:
            with _KEPT_LOCK:  # another thread's round may have kept its own: one is enough
                kept, current_app.extensions[self.KEY] = (
                    current_app.extensions.get(self.KEY),
                    kept,
                )
        if kept is not None:
            kept[2].shutdown(wait=True)
            kept[1].close()


def _by_id(model, ids) -> dict:
    """The rows with these ids (None skipped), in one query."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}


# --- webhooks ------------------------------------------------------------------------
def _send_webhooks(deliveries: list[Delivery], outbound: _Outbound) -> None:
    endpoints = _by_id(WebhookEndpoint, (d.endpoint_id for d in deliveries))
    ready = []
    for delivery in deliveries:
        endpoint = endpoints.get(delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled:
            _finish(delivery, Sent(None, "", 0, error=_disabled_error(endpoint)), final=True)
        else:
            ready.append((delivery, endpoint.url, webhook.valid_secrets(endpoint)))
    if not ready:
        return
    session, pool = outbound.get()
    results = _in_threads(
        pool, current_app.config["SUBSCRIBE_DELIVERY_THREADS"],
        lambda r: webhook.send(session, r[1], r[2], r[0].message_id, r[0].payload), ready,
    )  # fmt: skip
    now = utcnow()  # one time for the round's outcomes: equal outcomes are one UPDATE
    outcomes = list(zip((r[0] for r in ready), results, strict=True))
    failed = {delivery.endpoint_id for delivery, sent in outcomes if not sent.ok}
    # Endpoints whose every webhook of the round succeeded are noted in one UPDATE; one
    # that failed at all goes through _record, outcome by outcome in order, as before.
    _note_healthy([endpoints[i] for i in {d.endpoint_id for d, _s in outcomes} - failed], now)
    for delivery, sent in outcomes:
        endpoint = endpoints[delivery.endpoint_id] if delivery.endpoint_id in failed else None
        _record(delivery, sent, endpoint, now)


def _in_threads(pool: ThreadPoolExecutor, threads: int, work: Callable, items: list) -> list:
    """[work(item) for item in items], the items shared by up to `threads` tasks of the
    pool, each taking the next item until none is left (in order, as pool.map hands them
    out): a Future, a queue hand-over and a wake-up per webhook cost ~0.1 ms of CPU each.
    An exception in `work` is raised here once every task has ended."""
    results: list = [None] * len(items)
    numbers = iter(range(len(items)))  # next() on it is one step under the GIL

    def drain() -> None:
        for number in numbers:
            results[number] = work(items[number])

    tasks = [pool.submit(drain) for _ in range(min(threads, len(items)))]
    for task in tasks:
        task.exception()  # waits for it
    for task in tasks:
        task.result()
    return results


def _note_healthy(endpoints: list[WebhookEndpoint], now: datetime) -> None:
    """These endpoints answered 2xx to all of the round's webhooks: their last success
    is `now` and they are not failing (written by `_write_outcomes`, for all at once)."""
    for endpoint in endpoints:
        set_committed_value(endpoint, "last_success_at", now)
        set_committed_value(endpoint, "failing_since", None)
    if endpoints:
        _outcomes()["updates"].setdefault(
            (WebhookEndpoint.__table__, (("last_success_at", now), ("failing_since", None))), []
        ).extend(endpoint.id for endpoint in endpoints)


def _record(delivery: Delivery, sent: Sent, endpoint: WebhookEndpoint | None,
            now: datetime | None = None) -> None:  # fmt: skip
    now = now or utcnow()
    if endpoint is not None:
        if sent.ok:
            endpoint.last_success_at, endpoint.failing_since = now, None
        else:
            endpoint.failing_since = endpoint.failing_since or now
    # This outcome first, then the disabling: its subscription's health says why it
    # stops (the 410), as every other subscription on the endpoint does.
    _finish(delivery, sent, final=sent.disable, now=now)
    if endpoint is not None and not sent.ok:
        if sent.disable:
            disable_endpoint(endpoint, f"the receiver asked to stop (HTTP {sent.status})",
                             code="receiver_asked", status=sent.status)  # fmt: skip
        elif now - endpoint.failing_since > FAILING_LIMIT:
            disable_endpoint(endpoint, "failing for more than 5 days", code="failing")


def record_ping(delivery: Delivery, sent: Sent) -> None:
    """A test ping is tried once and logged; it does not retry or count against the endpoint."""
    _finish(delivery, sent, final=True)
    _write_outcomes()


# The round's outcomes, written before its commit by `_write_outcomes`: {"attempts": attempt
# rows (one executemany), "updates": {(table, the new column values as a tuple of (name,
# value)): row ids}}. A round's successes share their values (one `now`), so they are one
# UPDATE ... WHERE id IN (...): the unit of work's UPDATE per delivery and per endpoint (its
# per-row parameter processing, one statement each for the database) was ~a third of the
# sender's CPU, and an ORM object per attempt a tenth of it.
_OUTCOMES = "subscribe.delivery_outcomes"


def _outcomes() -> dict:
    return db.session.info.setdefault(_OUTCOMES, {"attempts": [], "updates": {}})


def _write_outcomes() -> None:
    outcomes = db.session.info.pop(_OUTCOMES, None)
    if not outcomes:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        _write_outcomes_postgresql(connection, outcomes)
        return
    for (table, values), ids in outcomes["updates"].items():
        for start in range(0, len(ids), _IDS_PER_UPDATE):
            chunk = ids[start : start + _IDS_PER_UPDATE]
            db.session.execute(update(table).where(table.c.id.in_(chunk)).values(dict(values)))
    if outcomes["attempts"]:
        db.session.execute(insert(DeliveryAttempt.__table__), outcomes["attempts"])


_ATTEMPT_COLUMNS = (("delivery_id", "bigint"), ("started_at", "timestamp"), ("duration_ms", "integer"),
                    ("status_code", "integer"), ("error", "text"), ("succeeded", "boolean"),
                    ("response_body", "text"))  # fmt: skip
_INSERT_ATTEMPTS = (
    f"INSERT INTO delivery_attempts ({', '.join(c for c, _t in _ATTEMPT_COLUMNS)}) "
    f"SELECT {', '.join(c for c, _t in _ATTEMPT_COLUMNS)} FROM unnest("
    + ", ".join(f"%s::{t}[]" for _c, t in _ATTEMPT_COLUMNS)
    + f") WITH ORDINALITY AS a({', '.join(c for c, _t in _ATTEMPT_COLUMNS)}, n) ORDER BY n"
)


def _write_outcomes_postgresql(connection, outcomes: dict) -> None:
    """The same rows and values through the driver, ids and attempt columns as arrays: an
    UPDATE ... WHERE id = ANY(ids) per new state and one INSERT ... SELECT FROM unnest of
    the round's attempts (in their order, as ids are given), instead of SQLAlchemy's
    IN list of a parameter per id and an executemany of a row per attempt (~17 ms of the
    sender's main thread a round of 200)."""
    run = connection.exec_driver_sql
    for (table, values), ids in outcomes["updates"].items():
        names = ", ".join(f"{name} = %s" for name, _value in values)
        run(f"UPDATE {table.name} SET {names} WHERE id = ANY(%s::bigint[])",
            (*(value for _name, value in values), ids))  # fmt: skip
    attempts = outcomes["attempts"]
    if attempts:
        run(_INSERT_ATTEMPTS, tuple([a[c] for a in attempts] for c, _t in _ATTEMPT_COLUMNS))


_IDS_PER_UPDATE = 500  # a round is SUBSCRIBE_DELIVERY_BATCH (200) deliveries by default


def _finish(
    delivery: Delivery, sent: Sent, final: bool = False, now: datetime | None = None
) -> None:
    """Record one attempt's outcome: the delivery's new state and its attempt row, written
    by `_write_outcomes` before the round commits (the session's flush does not write the
    delivery a second time, row by row)."""
    now = now or utcnow()
    if delivery.subscription_id is not None:
        channel_health.record(db.session.get(Subscription, delivery.subscription_id), sent.ok,
                              sent.error or (f"HTTP {sent.status}" if sent.status else None), now)  # fmt: skip
    attempts = delivery.attempts + 1
    values = {"attempts": attempts, "last_status": sent.status, "last_error": sent.error,
              "claimed_until": None, "claimed_by": None}  # fmt: skip
    if sent.ok:
        values["status"], values["delivered_at"] = "succeeded", now
    else:
        delay = None if final else outbox.retry_delay(attempts, sent.retry_after)
        if delay is None:
            values["status"] = "failed"
        else:
            values["status"], values["next_attempt_at"] = "pending", now + timedelta(seconds=delay)
    # The object shows its new state at once, as loaded values without change history
    # (what set_committed_value does, in one dict update instead of a call per column:
    # those were a tenth of the sender's CPU); `_write_outcomes` writes it.
    vars(delivery).update(values)
    outcomes = _outcomes()
    outcomes["updates"].setdefault((Delivery.__table__, tuple(values.items())), []).append(
        delivery.id
    )
    outcomes["attempts"].append({
        "delivery_id": delivery.id, "started_at": now, "duration_ms": sent.duration_ms,
        "status_code": sent.status, "error": sent.error, "succeeded": sent.ok,
        "response_body": sent.body[: webhook.MAX_RESPONSE_BYTES] if sent.body else None,
    })  # fmt: skip


def _disabled_error(endpoint: WebhookEndpoint | None) -> str:
    """A delivery's and its subscription's error when its endpoint is off (or gone)."""
    reason = endpoint.disabled_reason if endpoint is not None else None
    return f"endpoint disabled: {reason}" if reason else "endpoint disabled"


def disable_endpoint(endpoint: WebhookEndpoint, reason: str, *, code: str = "",
                     status: int | None = None) -> None:  # fmt: skip
    """Stop sending, and tell the owner in the inbox and by e-mail. The e-mail's data
    names the endpoint, why (`reason_code`: receiver_asked | failing, with the answer's
    `status`) and how to enable it again (its page, the API call), for digest.render."""
    if not endpoint.enabled:
        return
    endpoint.enabled, endpoint.disabled_reason = False, reason
    # A chat robot's URL is a credential: named masked, as the pages show it.
    url = endpoint.url if endpoint.kind == "webhook" else chat.mask_url(endpoint.kind, endpoint.url)
    base = current_app.config["SUBSCRIBE_BASE_URL"].rstrip("/")
    where = "webhooks" if endpoint.kind == "webhook" else "chat-endpoints"
    data = {"endpoint_id": endpoint.id, "kind": endpoint.kind, "url": url, "reason": reason,
            "reason_code": code, "status": status,
            "page_url": f"{base}/{where}/{endpoint.id}",
            "enable_url": f"{base}/api/v1/{where}/{endpoint.id}/enable"}  # fmt: skip
    if endpoint.kind == "webhook":  # what failed meanwhile can be sent again
        data["recover_url"] = f"{base}/api/v1/webhooks/{endpoint.id}/recover"
    body = {"type": "webhook.disabled", "timestamp": utcnow().isoformat() + "Z", "data": data}
    # The inbox title in the owner's language, as the e-mail (Chinese unless English was
    # chosen; it was English for everyone); the inbox page says it in its own (web/inbox).
    owner = db.session.get(User, endpoint.user_id)
    title = digest.notice_line(body, owner.locale if owner is not None else None)
    db.session.add(Notification(user_id=endpoint.user_id, type="webhook.disabled", title=title,
                                payload={"endpoint_id": endpoint.id, "reason": reason,
                                         "kind": endpoint.kind, **body}))  # fmt: skip
    db.session.add(Delivery(
        message_id=f"msg_disabled_{endpoint.id}_{int(utcnow().timestamp())}", user_id=endpoint.user_id,
        channel="email", event_type="webhook.disabled", payload=body,
    ))  # fmt: skip
    # Every subscription on it says why it stops, not an earlier failure (a 500 another
    # delivery got) until its own next attempt.
    for subscription in db.session.scalars(
        select(Subscription).where(Subscription.endpoint_id == endpoint.id)
    ):
        subscription.last_error = _disabled_error(endpoint)[: channel_health.MAX_ERROR]
        subscription.failing_since = subscription.failing_since or utcnow()
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)


# --- chat robots ---------------------------------------------------------------------
def chat_body(endpoint: WebhookEndpoint, group: list[Delivery], subscription) -> dict:
    """The message for one group of deliveries (one subscription's, or a lone one)."""
    base = current_app.config["SUBSCRIBE_BASE_URL"]
    if group[0].event_type == "chat.test":
        return chat_message.test_message(endpoint.kind, base, endpoint.description)
    digest_mode = subscription is not None and subscription.cadence != "immediate"
    timezone = subscription.timezone if subscription is not None else None
    return chat_message.render(endpoint.kind, [d.payload for d in group], base,
                               digest_mode=digest_mode, timezone=timezone)  # fmt: skip


def _send_chats(deliveries: list[Delivery], outbound: _Outbound) -> None:
    endpoints = _by_id(WebhookEndpoint, (d.endpoint_id for d in deliveries))
    subscriptions = _by_id(Subscription, (d.subscription_id for d in deliveries))
    groups: dict[int, dict] = defaultdict(dict)  # endpoint → group key → deliveries
    for delivery in deliveries:
        endpoint = endpoints.get(delivery.endpoint_id)
        if endpoint is None or not endpoint.enabled or endpoint.kind != delivery.channel:
            error = _disabled_error(endpoint if endpoint and not endpoint.enabled else None)
            _finish(delivery, Sent(None, "", 0, error=error), final=True)
            continue
        key = delivery.subscription_id or f"single-{delivery.id}"
        groups[endpoint.id].setdefault(key, []).append(delivery)
    if not groups:
        return
    # Rendered here (bodies are plain data), sent in threads that do not touch the session.
    jobs = []
    for endpoint_id, by_key in groups.items():
        endpoint = endpoints[endpoint_id]
        bodies = [chat_body(endpoint, group, subscriptions.get(group[0].subscription_id))
                  for group in by_key.values()]  # fmt: skip
        jobs.append(((endpoint.kind, endpoint.url, endpoint.secret), list(by_key.values()), bodies))
    session, pool = outbound.get()
    results = list(pool.map(lambda job: _send_in_order(session, *job[0], job[2]), jobs))
    for (_robot, group_list, _bodies), sent_list in zip(jobs, results, strict=True):
        for group, sent in zip(group_list, sent_list, strict=True):
            for delivery in group:
                if isinstance(sent, Sent):
                    _record(delivery, sent, endpoints[delivery.endpoint_id])
                else:  # not tried: the robot asked us to slow down
                    _postpone(delivery, sent)


def _send_in_order(session, kind: str, url: str, secret: str, bodies: list[dict]) -> list:
    """Send one robot's messages in order; after a rate-limit answer the rest are not sent
    (each becomes the seconds to wait instead of a Sent)."""
    results: list = []
    wait: float | None = None
    for body in bodies:
        if wait is not None:
            results.append(wait)
            continue
        sent = chat.send(session, kind, url, secret, body)
        results.append(sent)
        if not sent.ok and sent.retry_after is not None:
            wait = sent.retry_after
    return results


def _postpone(delivery: Delivery, seconds: float) -> None:
    """Due again after `seconds`, without an attempt (nothing was sent)."""
    delivery.status, delivery.next_attempt_at = "pending", utcnow() + timedelta(seconds=seconds)
    delivery.claimed_until = delivery.claimed_by = None


# --- e-mail and inbox ----------------------------------------------------------------
def _send_emails(deliveries: list[Delivery]) -> None:
    """Digest deliveries of one subscription go out as one message (sent whole or retried
    whole); every other e-mail goes alone."""
    users = _by_id(User, (d.user_id for d in deliveries))
    subscriptions = _by_id(Subscription, (d.subscription_id for d in deliveries))
    groups = defaultdict(list)
    for delivery in deliveries:
        subscription = subscriptions.get(delivery.subscription_id)
        if subscription is not None and subscription.cadence != "immediate":
            groups["digest", subscription.id].append(delivery)
        else:
            groups["single", delivery.id].append(delivery)
    for group in groups.values():
        first = group[0]
        error = email_channel.send_payloads(
            users.get(first.user_id), subscriptions.get(first.subscription_id),
            [d.payload for d in group], first.message_id,
        )  # fmt: skip
        sent = Sent(250 if error is None else None, "", 0, error=error)
        for delivery in group:
            _finish(delivery, sent)


def _to_inbox(delivery: Delivery) -> None:
    data = delivery.payload.get("data", {})
    dataset = data.get("dataset", {})
    title = digest.twin_title(dataset.get("title"), dataset) or delivery.event_type
    if delivery.event_type == "bundle.ready":  # in the owner's language, as the e-mail
        owner = db.session.get(User, delivery.user_id)
        count = data["bundle"]["file_count"]
        if digest.language(owner.locale if owner is not None else None) == "en":
            title = f"bundle ready: {count} file{'s' if count != 1 else ''}"
        else:
            title = f"数据包已就绪：{count} 个文件"
    # One item per change and user: it names every scenario of the user's it matched.
    names = [s.get("name", "") for s in data.get("scenarios") or [data.get("scenario") or {}]]
    scenario = "、".join(n for n in names if n)
    db.session.add(Notification(
        user_id=delivery.user_id, delivery_id=delivery.id, type=delivery.event_type,
        title=f"{scenario}: {title}" if scenario else title, payload=delivery.payload,
    ))  # fmt: skip
    _finish(delivery, Sent(200, "", 0))
