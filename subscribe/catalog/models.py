"""The catalog as stored: the database is the source of truth for everything downstream."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from subscribe.catalog.freshness import overdue_since
from subscribe.catalog.normalize import period_end
from subscribe.extensions import db
from subscribe.models_base import JSONType, utcnow

SOURCE_TYPES = ("ckan", "dcat", "tabular")
RUN_STATUSES = ("queued", "running", "succeeded", "failed")


def source_name_key(name: str) -> str:
    """A source name as its uniqueness and the ``source`` filter compare it: in any case
    (casefold: "BOM", "Bom" and "bom" are one name; "STRASSE" and "straße" too)."""
    return name.strip().casefold()


def _name_key_default(context) -> str:
    """name_key for an INSERT that names no key (insert(Source) bypasses validates)."""
    return source_name_key(context.get_current_parameters()["name"])


class Source(db.Model):
    __tablename__ = "sources"
    __table_args__ = (Index("uq_sources_name_key", "name_key", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # source_name_key(name), set with the name (validates); unique, so two names that
    # differ in case only are refused by the database too. Sources that already differed
    # in case only before migration 0021 keep their names, the later one's key "<key>#<id>"
    # ('#' is in no valid name).
    name_key: Mapped[str] = mapped_column(String(300), default=_name_key_default)
    type: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(2000))
    mapping: Mapped[dict] = mapped_column(JSONType, default=dict)
    # Seconds between scheduled harvests; the worker reads it.
    schedule: Mapped[int] = mapped_column(default=3600)
    enabled: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    runs: Mapped[list[HarvestRun]] = relationship(
        back_populates="source", cascade="all, delete-orphan", passive_deletes=True
    )

    @validates("name")
    def _keep_name_key(self, _key: str, name: str) -> str:
        self.name_key = source_name_key(name)
        return name


class Dataset(db.Model):
    __tablename__ = "datasets"
    __table_args__ = (
        UniqueConstraint("source_id", "identifier", name="uq_datasets_source_identifier"),
        Index("ix_datasets_change_seq", "change_seq"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    identifier: Mapped[str] = mapped_column(String(500))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    publisher: Mapped[str] = mapped_column(String(500), default="", index=True)
    themes: Mapped[list] = mapped_column(JSONType, default=list)
    keywords: Mapped[list] = mapped_column(JSONType, default=list)
    formats: Mapped[list] = mapped_column(JSONType, default=list)
    open_type: Mapped[str] = mapped_column(String(16), default="unknown")
    open_type_raw: Mapped[str] = mapped_column(String(200), default="")
    frequency: Mapped[str] = mapped_column(String(16), default="unknown")
    frequency_raw: Mapped[str] = mapped_column(String(200), default="")
    # A date is stored as the catalog wrote it: the start of its period (sorted and
    # filtered on), its precision (year|half|quarter|month|day|datetime, "" without a
    # date) and the raw text (kept even when it is no date, e.g. "R/P1D"). See normalize.PartialDate.
    issued: Mapped[datetime | None]
    issued_precision: Mapped[str] = mapped_column(String(8), default="")
    issued_raw: Mapped[str] = mapped_column(String(200), default="")
    modified: Mapped[datetime | None] = mapped_column(index=True)
    modified_precision: Mapped[str] = mapped_column(String(8), default="")
    modified_raw: Mapped[str] = mapped_column(String(200), default="")
    # Every language the source gave: {tag: {"title", "description", "keywords"}}.
    translations: Mapped[dict] = mapped_column(JSONType, default=dict)
    # What tells it apart from its twins (rows of a tabular export sharing title and
    # publisher, or an id): {column header: value} of the columns no field holds, e.g.
    # {"所属区县": "西山区"}; {} for a dataset with no twins. See records.DatasetRecord.
    distinguished_by: Mapped[dict] = mapped_column(JSONType, default=dict, server_default="{}")
    landing_page: Mapped[str] = mapped_column(String(2000), default="")
    license: Mapped[str] = mapped_column(String(500), default="")
    contact_point: Mapped[str] = mapped_column(String(500), default="", server_default="")
    record_count: Mapped[int | None] = mapped_column(BigInteger)  # 数据量, as the catalog states
    content_hash: Mapped[str] = mapped_column(String(64))
    # The catalog's short name besides the identifier (records.DatasetRecord.upstream_name:
    # CKAN's package name), NULL when none: carries identity over a change of scheme.
    upstream_name: Mapped[str | None] = mapped_column(String(500))
    # The raw source row this content was built from (tabular exports; see
    # records.RawRecord): an equal fingerprint on re-harvest skips parsing the row.
    source_fingerprint: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(default=1)
    # Monotonic across the whole catalog; the search index applies rows newer than
    # the last sequence it saw (see catalog.sequence).
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    # The last run that wrote this row (created, changed or re-fingerprinted it); runs
    # that found it unchanged leave it be (deletion detection uses the run's SeenIds).
    last_seen_run_id: Mapped[int | None]
    deleted_at: Mapped[datetime | None]
    # The `modified` value a dataset.overdue event was sent for: once per lateness.
    overdue_notified_for: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    source: Mapped[Source] = relationship()
    resources: Mapped[list[Resource]] = relationship(
        back_populates="dataset",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Resource.position",
    )

    @property
    def overdue_since(self) -> datetime | None:
        """When it became late for its declared frequency (None: on time or no schedule),
        counted from the end of the period `modified` names ("2019-Q3" may mean 30
        September), as overdue detection and the report's freshness count."""
        start = period_end(self.modified, self.modified_precision)
        return overdue_since(self.frequency, start, utcnow())


class Resource(db.Model):
    __tablename__ = "resources"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(default=0)
    identifier: Mapped[str | None] = mapped_column(String(500))
    name: Mapped[str] = mapped_column(Text, default="")
    format: Mapped[str] = mapped_column(String(50), default="")
    url: Mapped[str] = mapped_column(String(2000))
    size: Mapped[int | None] = mapped_column(BigInteger)
    checksum: Mapped[str | None] = mapped_column(String(200))
    # What the last content check saw (catalog/checks.py): validators for a conditional
    # GET, then length, hash and, for CSV, the shape of the table.
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified_header: Mapped[str | None] = mapped_column(String(100))
    content_length: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    row_count: Mapped[int | None]
    columns: Mapped[list | None] = mapped_column(JSONType)
    truncated: Mapped[bool] = mapped_column(default=False)  # larger than the download cap
    checked_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    failures: Mapped[int] = mapped_column(default=0)  # consecutive failed checks
    unavailable: Mapped[bool] = mapped_column(default=False)
    last_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)

    dataset: Mapped[Dataset] = relationship(back_populates="resources")


class DatasetVersion(db.Model):
    """A snapshot of a dataset each time its canonical form changed, with the field diff."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "number", name="uq_versions_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    number: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))  # created | updated | deleted | restored
    snapshot: Mapped[dict] = mapped_column(JSONType)
    diff: Mapped[dict] = mapped_column(JSONType, default=dict)
    harvest_run_id: Mapped[int | None] = mapped_column(
        ForeignKey("harvest_runs.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CatalogEvent(db.Model):
    """A change to one dataset, written in the same transaction as its version.

    Matching turns these into scenario events (scenarios/matching.py); `before` and
    `after` are the canonical snapshots, so a scenario can be judged on both sides.
    """

    __tablename__ = "catalog_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(32))  # dataset.created|updated|deleted|overdue
    version: Mapped[int]
    changes: Mapped[list] = mapped_column(JSONType, default=list)  # [{"kind", …}]
    before: Mapped[dict | None] = mapped_column(JSONType)
    after: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Cursor(db.Model):
    """How far a follower job has read a stream (e.g. matching over catalog_events)."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class HarvestRun(db.Model):
    __tablename__ = "harvest_runs"
    __table_args__ = (Index("ix_harvest_runs_source_started", "source_id", "started_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    trigger: Mapped[str] = mapped_column(String(16), default="manual")  # manual|schedule|cli
    incremental: Mapped[bool] = mapped_column(default=False)
    since: Mapped[datetime | None]
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    deleted: Mapped[int] = mapped_column(default=0)
    bad: Mapped[int] = mapped_column(default=0)
    # Up to SUBSCRIBE_HARVEST_MAX_ERRORS_KEPT {"reference", "reason"} of bad records.
    errors: Mapped[list] = mapped_column(JSONType, default=list)
    error: Mapped[str | None] = mapped_column(Text)  # why the run as a whole failed
    # Tabular runs: which column became which field and why, ignored columns, identity
    # (harvesters/tabular.py documents the shape).
    mapping_report: Mapped[dict | None] = mapped_column(JSONType)

    source: Mapped[Source] = relationship(back_populates="runs")


class ChangeCounter(db.Model):
    """One row holding the catalog's change sequence.

    Harvest batches take numbers with an UPDATE on this row, which also holds a row
    lock until commit on PostgreSQL: sequences therefore become visible in order,
    and the index follower never skips a number that commits late.
    """

    __tablename__ = "change_counter"

    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
