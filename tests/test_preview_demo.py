"""Previews of the demo catalog's real files: GB18030 CSVs, XLSX, JSON; join keys."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from subscribe.catalog import services as catalog
from subscribe.catalog.models import Dataset, Resource
from subscribe.demo.portal import start_portal
from subscribe.extensions import db
from subscribe.preview import services
from subscribe.preview.models import ResourcePreview
from tests.search_helpers import harvest

SIZE = 80


@pytest.fixture
def demo(app):
    app.config["SUBSCRIBE_OUTBOUND_ALLOWLIST"] = ["127.0.0.1"]
    server = start_portal(size=SIZE, tick_seconds=3600)
    try:
        harvest(catalog.create_source("demo", "ckan", server.url))
        yield server
    finally:
        server.stop()


def test_demo_files_preview_with_their_encodings_and_keys(demo):
    summary = services.run_previews(limit=500, seconds=600)
    assert summary["previewed"] > 0
    previews = db.session.scalars(select(ResourcePreview)).all()
    ok = [p for p in previews if p.status == "ok"]
    # XML files are not tabular and are never fetched; every other file reads.
    assert ok and len(ok) == len(previews), [
        (p.url, p.reason, p.detail) for p in previews if p.status != "ok"
    ]
    assert {p.kind for p in ok} == {"csv", "xlsx", "json"}
    assert {p.encoding for p in ok if p.kind == "csv"} >= {"utf-8", "gbk"}
    # Conditionally open datasets' files were not fetched.
    closed = db.session.scalars(
        select(Resource.id)
        .join(Dataset)
        .where(Dataset.open_type.in_(("conditional", "on_request")))
    ).all()
    assert closed and not {p.resource_id for p in previews} & set(closed)
    dataset_ids = db.session.scalars(select(Dataset.id)).all()
    keys = services.detected_key_formats(dataset_ids)
    found = set().union(*keys.values())
    assert found == {"cn_admin_code", "cn_uscc"}
    join = services.join_keys(dataset_ids)
    uscc = next(k for k in join["keys"] if k["format"] == "cn_uscc")
    # One pool of organisations: the same 信用代码 appear in several files.
    assert uscc["count"] >= 2 and any(d["values_shared"] for d in uscc["datasets"])
    # Phone numbers (联系电话) are masked in every stored row.
    for preview in ok:
        for column in preview.profile:
            if column["personal"]:
                n = preview.columns.index(column["name"])
                assert all("*" in row[n] for row in preview.rows if row[n])
