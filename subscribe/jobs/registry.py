"""The jobs the worker runs, registered explicitly: name, function, interval, who runs it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from flask import Flask

from subscribe.jobs import jobs


@dataclass(frozen=True)
class JobSpec:
    name: str
    function: Callable[[], object]
    seconds: float
    description: str
    # Leader-only jobs run on one worker in the cluster; the others run on every node
    # (each node has its own search index; any number of workers may deliver).
    leader_only: bool = True


def job_specs(app: Flask) -> list[JobSpec]:
    c = app.config
    poll = c["SUBSCRIBE_WORKER_POLL_SECONDS"]
    return [
        JobSpec("enqueue-harvests", jobs.enqueue_due_harvests, max(poll, 5.0),
                "Queue a harvest for every source whose schedule has come round"),
        JobSpec("run-harvests", jobs.run_queued_harvests, poll, "Run queued harvests, oldest first"),
        JobSpec("check-resources", jobs.check_resources, c["SUBSCRIBE_CHECK_POLL_SECONDS"],
                "Check due resource files: conditional GET, size, SHA-256, CSV schema"),
        JobSpec("preview-resources", jobs.preview_resources, c["SUBSCRIBE_PREVIEW_POLL_SECONDS"],
                "Preview and profile open datasets' tabular files that have none or a stale one"),
        JobSpec("detect-overdue", jobs.detect_overdue, c["SUBSCRIBE_OVERDUE_POLL_SECONDS"],
                "One dataset.overdue per dataset late for its declared frequency"),
        JobSpec("match-events", jobs.match_events, c["SUBSCRIBE_MATCH_POLL_SECONDS"],
                "Match catalog events to scenarios; write scenario events and deliveries"),
        JobSpec("score-quality", jobs.score_quality, c["SUBSCRIBE_QUALITY_POLL_SECONDS"],
                "Score every dataset's completeness, timeliness and accuracy; daily history"),
        JobSpec("cleanup", jobs.clean_up, c["SUBSCRIBE_CLEANUP_POLL_SECONDS"],
                "Delete job runs and delivery attempts past their retention"),
        JobSpec("audit-retention", jobs.expire_audit, c["SUBSCRIBE_CLEANUP_POLL_SECONDS"],
                "Delete audit trail entries older than SUBSCRIBE_AUDIT_RETENTION_DAYS"),
        JobSpec("build-bundles", jobs.build_bundles, c["SUBSCRIBE_BUNDLE_POLL_SECONDS"],
                "Build queued download bundles; delete expired ones", leader_only=False),
        JobSpec("deliver", partial(jobs.deliver_notifications, linger=c["SUBSCRIBE_DELIVERY_POLL_SECONDS"]),
                c["SUBSCRIBE_DELIVERY_POLL_SECONDS"],
                "Send due webhooks, e-mails and inbox notifications", leader_only=False),
        JobSpec("update-search-index", jobs.update_search_index, c["SUBSCRIBE_INDEX_POLL_SECONDS"],
                "Apply catalog changes to this node's search index", leader_only=False),
    ]  # fmt: skip
