"""The thin, capped message every channel starts from (the webhook body of PRODUCT.md)."""

from __future__ import annotations

import json
import secrets
from datetime import datetime

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
    """Keep the message under MAX_PAYLOAD_BYTES: long change lists become a summary with
    a link to the dataset's history."""
    if len(json.dumps(body, ensure_ascii=False).encode()) <= MAX_PAYLOAD_BYTES:
        return body
    data = body["data"]
    kinds = sorted({c.get("kind", "") for c in data.get("changes", [])})
    data["changes"] = [{"kind": k} for k in kinds]
    data["changes_truncated"] = True
    data["history_url"] = data["dataset"]["api_url"] + "/history"
    return body


def ping(message_id: str, at: datetime, endpoint_id: int) -> dict:
    return {"type": "webhook.ping", "timestamp": at.isoformat() + "Z",
            "data": {"event_id": message_id, "endpoint_id": endpoint_id}}  # fmt: skip
