"""Where the Whoosh index lives, which copy is current, and how far it has caught up.

Layout under <instance>/search/: one folder per built index and a CURRENT file naming
the one in use. A rebuild writes a new folder while the old one keeps serving, then
replaces CURRENT atomically; readers notice on their next refresh.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from whoosh import columns, fields, index

from subscribe.search.analysis import ANALYSIS_VERSION, analyzer, gram_analyzer

APPLIED_FILE = "applied.json"


SCHEMA_FIELDS = ("id", "title", "body", "grams")


def is_current_schema(ix: index.Index) -> bool:
    """Was the index built with this version's fields and analysis (else the follower
    rebuilds)? Terms and positions of an older analysis answer phrases differently."""
    if set(ix.schema.names()) != set(SCHEMA_FIELDS):
        return False
    return getattr(ix.schema["title"].analyzer, "version", 1) == ANALYSIS_VERSION


def make_schema() -> fields.Schema:
    """Only what text search needs; filters and facets live in columns (columns.py)."""
    text = analyzer()
    return fields.Schema(
        # A column only: documents are found by number (indexer.existing_documents), and
        # an indexed NUMERIC's 16 precision terms per document cost the writer a file
        # stat per posting in Whoosh's length lookup.
        id=fields.COLUMN(columns.NumericColumn("q")),
        title=fields.TEXT(analyzer=text, phrase=True),
        body=fields.TEXT(analyzer=text, phrase=True),
        # The title again as character bigrams: substrings the segmenter cut apart.
        grams=fields.TEXT(analyzer=gram_analyzer(), phrase=False),
    )


class IndexStore:
    def __init__(self, root: Path | str):
        self.root = Path(root)

    @property
    def pointer(self) -> Path:
        return self.root / "CURRENT"

    def current_dir(self) -> Path | None:
        try:
            name = self.pointer.read_text().strip()
        except FileNotFoundError:
            return None
        path = self.root / name
        return path if index.exists_in(path) else None

    def open_current(self, create: bool = False) -> index.Index | None:
        """The index in use; only the writer may create it (two creators would race)."""
        path = self.current_dir()
        if path is None:
            if not create:
                return None
            path = self.create_new()
            self.swap(path)
        return index.open_dir(path)

    def create_new(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        path = self.root / f"index-{stamp}"
        path.mkdir(parents=True)
        index.create_in(path, make_schema())
        write_applied(path, 0)
        return path

    def swap(self, path: Path) -> None:
        """Make `path` current (atomic rename) and remove superseded copies."""
        previous = self.current_dir()
        temporary = self.pointer.with_suffix(".tmp")
        temporary.write_text(path.name)
        os.replace(temporary, self.pointer)
        if previous is not None and previous != path:
            # Readers holding the old copy keep their open files (POSIX), so removal is safe.
            shutil.rmtree(previous, ignore_errors=True)


def read_applied(path: Path) -> int:
    try:
        return int(json.loads((path / APPLIED_FILE).read_text())["seq"])
    except (FileNotFoundError, ValueError, KeyError):
        return 0


def applied_mtime(path: Path) -> float | None:
    """When the applied sequence was last written (POSIX seconds), None without one."""
    try:
        return (path / APPLIED_FILE).stat().st_mtime
    except FileNotFoundError:
        return None


def write_applied(path: Path, seq: int) -> None:
    temporary = path / (APPLIED_FILE + ".tmp")
    temporary.write_text(json.dumps({"seq": seq}))
    os.replace(temporary, path / APPLIED_FILE)
