"""Catalogs for quality tests, written by the real catalog writer (as a harvest writes)."""

from __future__ import annotations

from datetime import datetime

from subscribe.catalog import services
from subscribe.catalog.harvest import claim_run
from subscribe.catalog.models import Dataset, HarvestRun
from subscribe.catalog.records import DatasetRecord, ResourceRecord
from subscribe.catalog.writer import CatalogWriter
from subscribe.extensions import db
from subscribe.models_base import utcnow

FULL = {
    "description": "本数据集记录全市各空气质量监测站点每日发布的六项污染物浓度及空气质量指数。",
    "publisher": "市生态环境局",
    "themes": ["生态环境"],
    "keywords": ["空气质量", "AQI"],
    "license": "CC-BY-4.0",
    "contact_point": "data@example.gov.cn",
    "frequency": "monthly",
}


def record(identifier: str, title: str = "空气质量日报数据", *, modified: datetime | None = None,
           resources: list[ResourceRecord] | None = None, **fields) -> DatasetRecord:  # fmt: skip
    """A complete dataset unless fields say otherwise (e.g. publisher="")."""
    values = {**FULL, **fields}
    if resources is None:
        resources = [ResourceRecord(url=f"https://data.example.gov.cn/{identifier}.csv", name="数据",
                                    format="CSV")]  # fmt: skip
    return DatasetRecord(identifier=identifier, title=title, modified=modified or utcnow(),
                         resources=resources, **values)  # fmt: skip


def write(source_name: str, records: list[DatasetRecord]) -> dict[str, int]:
    """Write records as one harvest of the source (created on first use); identifier → id."""
    from sqlalchemy import select

    from subscribe.catalog.models import Source

    source = db.session.scalar(select(Source).where(Source.name == source_name))
    if source is None:
        source = services.create_source(source_name, "ckan", f"http://{source_name}.example")
    run = services.queue_harvest(source)
    assert claim_run(run.id)
    writer = CatalogWriter(db.session.get(HarvestRun, run.id), batch_size=100)
    for item in records:
        writer.add(item)
    writer.flush()
    finished = db.session.get(HarvestRun, run.id)
    finished.status, finished.finished_at = "succeeded", utcnow()
    db.session.commit()
    return dict(
        db.session.execute(
            select(Dataset.identifier, Dataset.id).where(Dataset.source_id == source.id)
        ).all()
    )
