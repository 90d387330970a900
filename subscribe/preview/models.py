"""One stored preview per resource, keyed by the content it was made from."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from subscribe.extensions import db
from subscribe.models_base import JSONType, utcnow

PREVIEW_STATUSES = ("ok", "failed")


class ResourcePreview(db.Model):
    """The first rows and column profile of one resource file, or why there are none.

    Fresh while the resource's check hash (`resources.sha256`, written by the resource
    check) is the one it was made from (`resource_sha256`) or equals the hash of the
    bytes it read (`content_sha256`); a check that sees new content makes it stale and
    the preview job (or the next request) makes it again.
    """

    __tablename__ = "resource_previews"

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(
        ForeignKey("resources.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16))  # ok | failed
    reason: Mapped[str | None] = mapped_column(String(32))  # failed: a code (services.REASONS)
    detail: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str] = mapped_column(String(2000))  # the URL fetched
    content_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    resource_sha256: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(8))  # csv | xlsx | xls | json
    encoding: Mapped[str | None] = mapped_column(String(32))
    bytes_read: Mapped[int] = mapped_column(BigInteger, default=0)
    truncated: Mapped[bool] = mapped_column(default=False)  # only the file's head was read
    rows_read: Mapped[int] = mapped_column(default=0)  # rows profiled
    complete: Mapped[bool] = mapped_column(default=False)  # every row was read
    row_estimate: Mapped[int | None] = mapped_column(BigInteger)  # CSV lines when not complete
    columns: Mapped[list] = mapped_column(JSONType, default=list)
    rows: Mapped[list] = mapped_column(JSONType, default=list)  # first rows, personal masked
    profile: Mapped[list] = mapped_column(JSONType, default=list)  # one dict per column
    key_formats: Mapped[list] = mapped_column(JSONType, default=list)  # e.g. ["cn_admin_code"]
    notes: Mapped[list] = mapped_column(JSONType, default=list)
    seconds: Mapped[float] = mapped_column(Float, default=0.0)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
