"""Writing the Whoosh index: follow the change sequence, or rebuild from scratch and swap.

This is the node's one writer (Whoosh allows one per index); the worker runs
`apply_changes` every second, `flask search reindex` runs `rebuild`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from whoosh import index
from whoosh.writing import LockError

from subscribe.catalog import sequence
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.search.store import IndexStore, read_applied, write_applied

log = logging.getLogger(__name__)
BODY_LIMIT = 4000  # characters of description indexed; enough to find, cheap to build

_COLUMNS = (Dataset.id, Dataset.title, Dataset.description, Dataset.keywords,
            Dataset.publisher, Dataset.themes, Dataset.translations, Dataset.deleted_at,
            Dataset.change_seq)  # fmt: skip


def body_text(
    description: str, keywords: list, publisher: str, themes: list, other_languages: str = ""
) -> str:
    """The indexed `body` field; the document matcher builds the same text."""
    return " ".join(
        [(description or "")[:BODY_LIMIT], " ".join(keywords or []), publisher or "",
         " ".join(themes or []), other_languages]
    )  # fmt: skip


def other_languages_text(translations: dict | None, title: str, description: str) -> str:
    """The translations' titles, descriptions and keywords that the shown ones do not
    already hold, so every language finds the dataset ("Air quality", "空气质量")."""
    shown = {title or "", description or ""}
    texts = []
    for entry in (translations or {}).values():
        texts.extend(entry.get(name) or "" for name in ("title", "description"))
        texts.extend(entry.get("keywords") or ())
    return " ".join(dict.fromkeys(t for t in texts if t and t not in shown))[:BODY_LIMIT]


def document(row) -> dict:
    other = other_languages_text(row.translations, row.title, row.description)
    body = body_text(row.description, row.keywords, row.publisher, row.themes, other)
    return {"id": row.id, "title": row.title or "", "body": body, "grams": row.title or ""}


def apply_changes(store: IndexStore, batch: int = 2000) -> int:
    """Index every dataset change newer than the index's applied sequence."""
    ix = store.open_current(create=True)
    path = Path(ix.storage.folder)
    applied = read_applied(path)
    done = 0
    while True:
        rows = db.session.execute(
            select(*_COLUMNS)
            .where(Dataset.change_seq > applied)
            .order_by(Dataset.change_seq)
            .limit(batch)
        ).all()
        if not rows:
            return done
        try:
            writer = ix.writer(timeout=5.0, compound=False)
        except LockError:
            log.warning("search index is locked by another writer; will retry")
            return done
        for row in rows:
            if row.deleted_at is not None:
                writer.delete_by_term("id", row.id)
            else:
                writer.update_document(**document(row))
        writer.commit()
        applied = rows[-1].change_seq
        write_applied(path, applied)
        done += len(rows)


def rebuild(store: IndexStore, on_total: Callable[[int], None] = lambda n: None,
            on_progress: Callable[[int], None] = lambda n: None, procs: int = 2) -> Path:  # fmt: skip
    """Build a fresh index from the database while the current one keeps serving, then swap."""
    start_seq = sequence.current()  # later changes are applied by the follower after the swap
    alive = Dataset.deleted_at.is_(None)
    on_total(db.session.scalar(select(func.count()).select_from(Dataset).where(alive)))
    path = store.create_new()
    # Separate (not compound) segment files are memory-mapped as they are; a compound
    # file is copied into memory when opened, which costs a reader the index size in RAM.
    writer = index.open_dir(path).writer(
        procs=procs, batchsize=1000, limitmb=128, multisegment=procs > 1, compound=False
    )
    try:
        rows = db.session.execute(
            select(*_COLUMNS).where(alive).order_by(Dataset.id).execution_options(yield_per=2000)
        )
        for count, row in enumerate(rows, 1):
            writer.add_document(**document(row))
            if count % 1000 == 0:
                on_progress(1000)
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    write_applied(path, start_seq)
    store.swap(path)
    apply_changes(store)
    return path
