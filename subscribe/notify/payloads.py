"""The thin, capped message every channel starts from (the webhook body of PRODUCT.md)."""

from __future__ import annotations

import json
import secrets
from datetime import datetime

from subscribe.catalog.text import TITLE_SHOWN, shorten

MAX_PAYLOAD_BYTES = 32_000  # receivers get ids, links and what changed, not whole datasets


def new_message_id() -> str:
    """Standard Webhooks message id: the receiver's dedupe key, kept across retries."""
    return "msg_" + secrets.token_hex(12)


def message(message_id: str, event_type: str, at: datetime, base_url: str, *, dataset_id: int,
            snapshot: dict | None, version: int | None, changes: list, reason: str | None = None,
            scenario: dict | None = None, matched_because: dict | None = None,
            suggestion: dict | None = None) -> dict:  # fmt: skip
    """The webhook body (PRODUCT.md): dataset.url is the dataset's page here, the one the
    Atom feed, chat messages and feedback events link (it was the publisher's landing
    page when there was one, else the API URL: api_url twice); api_url its JSON."""
    snapshot = snapshot or {}
    base_url = base_url.rstrip("/")
    data: dict = {
        "event_id": message_id,
        "dataset": {
            "id": dataset_id,
            "title": snapshot.get("title", ""),
            "version": version,
            "url": f"{base_url}/datasets/{dataset_id}",
            "api_url": f"{base_url}/api/v1/datasets/{dataset_id}",
        },
        "changes": changes,
    }
    if snapshot.get("distinguished_by"):  # twins: what tells this one apart (所属区县: 西山区)
        data["dataset"]["distinguished_by"] = snapshot["distinguished_by"]
    if scenario is not None:
        data["scenario"] = scenario
    if reason is not None:
        data["reason"] = reason
    if matched_because is not None:
        data["matched_because"] = matched_because
    if suggestion is not None:  # dataset.suggested: {"fit", "reasons", "text": {"zh", "en"}}
        data["suggestion"] = suggestion
    body = {"type": event_type, "timestamp": at.isoformat() + "Z", "data": data}
    return cap(body)


def cap(body: dict) -> dict:
    """Keep the message under MAX_PAYLOAD_BYTES (UTF-8 JSON), thinnest last:

    - the dataset's title is cut to TITLE_CHARS ("…" last) in every message;
    - over the cap, the changes become their kinds, `changes_truncated: true` and
      `history_url` (the dataset's history in the API) say where the rest is;
    - still over, every other text is cut to TEXT_CHARS and `text_truncated: true`;
    - still over, only ids, links, title, reason and the kinds are kept.

    Returns `body`, changed in place."""
    data = body["data"]
    dataset = data.get("dataset")
    if isinstance(dataset, dict) and isinstance(dataset.get("title"), str):
        dataset["title"] = shorten(dataset["title"], TITLE_CHARS)
    if _size(body) <= MAX_PAYLOAD_BYTES:
        return body
    data["changes"] = change_kinds(data.get("changes"))
    data["changes_truncated"] = True
    if isinstance(dataset, dict) and dataset.get("api_url"):
        data["history_url"] = dataset["api_url"] + "/history"
    if _size(body) <= MAX_PAYLOAD_BYTES:
        return body
    body["data"] = data = _cut_texts(data)
    data["text_truncated"] = True
    if _size(body) <= MAX_PAYLOAD_BYTES:
        return body
    body["data"] = {key: _thin(key, value) for key, value in data.items() if key in _CORE}
    return body


TITLE_CHARS = TITLE_SHOWN  # a dataset's title in a message (its page and API: whole)
TEXT_CHARS = 500  # any other text, when a message is over the cap without its changes
MAX_KINDS = 50
# What a message keeps when nothing else fits: ids, links and what changed.
_CORE = frozenset({"event_id", "dataset", "changes", "changes_truncated", "history_url",
                   "text_truncated", "reason", "scenario", "report"})  # fmt: skip
_CORE_FIELDS = frozenset({"id", "title", "version", "url", "api_url", "state", "name"})


def thin_changes(item: dict) -> dict:
    """An events API item over MAX_PAYLOAD_BYTES with its changes as their kinds and
    `changes_truncated: true` (the dataset's history has them whole); `item` otherwise."""
    if _size(item) <= MAX_PAYLOAD_BYTES:
        return item
    return {**item, "changes": change_kinds(item.get("changes")), "changes_truncated": True}


def change_kinds(changes: list | None) -> list[dict]:
    """A change list as its kinds alone, once each, sorted: [{"kind": …}], at most
    MAX_KINDS, each cut to TEXT_CHARS (what a message over the cap keeps of its changes)."""
    kinds = sorted({str(c.get("kind", "")) for c in changes or [] if isinstance(c, dict)})
    return [{"kind": shorten(kind, TEXT_CHARS)} for kind in kinds[:MAX_KINDS]]


def _size(body: dict) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode())


def _cut_texts(value):
    """`value` with every string (keys too) cut to TEXT_CHARS characters."""
    if isinstance(value, str):
        return shorten(value, TEXT_CHARS)
    if isinstance(value, dict):
        return {shorten(str(k), TEXT_CHARS): _cut_texts(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cut_texts(item) for item in value]
    return value


def _thin(key: str, value):
    if isinstance(value, dict) and key in {"dataset", "scenario", "report"}:
        return {k: v for k, v in value.items() if k in _CORE_FIELDS}
    return value


def ping(message_id: str, at: datetime, endpoint_id: int) -> dict:
    return {"type": "webhook.ping", "timestamp": at.isoformat() + "Z",
            "data": {"event_id": message_id, "endpoint_id": endpoint_id}}  # fmt: skip
