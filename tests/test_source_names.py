"""Source names are one name in any case (black-box run 5, L2): `bom` and `BOM` could
both be created, and `?source=Bom` then matched neither."""

from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from subscribe.catalog import services
from subscribe.catalog.models import Source
from subscribe.errors import ConflictError
from subscribe.extensions import db
from subscribe.search.service import catalog_spelling

URL = "/api/v1/sources"


def body(name: str) -> dict:
    return {"name": name, "type": "ckan", "url": "https://example.org"}


def test_a_name_taken_in_another_case_is_a_conflict(client, operator_headers):
    assert client.post(URL, json=body("bom"), headers=operator_headers).status_code == 201
    for name in ("BOM", "Bom", "bOm"):
        response = client.post(URL, json=body(name), headers=operator_headers)
        assert response.status_code == 409, name
        assert response.json["errors"] == {"name": ["taken"]}
        assert "'bom'" in response.json["message"] and response.json["code"] == 409
    assert db.session.scalars(select(Source.name)).all() == ["bom"]


def test_renaming_checks_other_sources_in_any_case_not_itself(client, operator_headers):
    first = client.post(URL, json=body("city"), headers=operator_headers).json
    other = client.post(URL, json=body("county"), headers=operator_headers).json
    clash = client.patch(f"{URL}/{other['id']}", json={"name": "CITY"}, headers=operator_headers)
    assert clash.status_code == 409 and clash.json["errors"] == {"name": ["taken"]}
    itself = client.patch(f"{URL}/{first['id']}", json={"name": "City"}, headers=operator_headers)
    assert itself.status_code == 200 and itself.json["name"] == "City"
    assert services.find_source("CITY").id == first["id"]


def test_the_database_refuses_a_name_in_another_case(app):
    """The unique index on name_key: two requests racing past the check."""
    services.create_source("gbk", "ckan", "https://example.org")
    db.session.add(Source(name="GBK", type="ckan", url="https://example.org"))
    with pytest.raises(IntegrityError, match="name_key"):
        db.session.flush()
    db.session.rollback()


def test_the_source_filter_matches_a_name_in_any_case(app):
    services.create_source("bom", "ckan", "https://example.org")
    assert catalog_spelling("source", ["Bom"]) == ["bom"]
    assert catalog_spelling("source", [" BOM "]) == ["bom"]
    assert catalog_spelling("source", ["other"]) == ["other"]  # kept as typed


def test_names_differing_in_case_from_before_survive_the_migration(app):
    """Existing duplicates must not break the upgrade: both are kept by name (scenarios
    and links name them), the later one keyed "<key>#<id>"; a filter in a third spelling
    finds both, each spelling of its own finds its own, a new third one is refused."""
    db.session.remove()
    downgrade(revision="0020_dataset_distinguished_by")
    with db.engine.begin() as conn:
        for name in ("bom", "BOM", "other"):
            conn.execute(
                text("INSERT INTO sources (name, type, url, mapping, schedule, enabled, "
                     "created_at) VALUES (:name, 'ckan', 'https://e.org', '{}', 3600, "
                     "true, '2026-01-01')"),
                {"name": name},
            )  # fmt: skip
    upgrade()
    rows = db.session.execute(select(Source.id, Source.name, Source.name_key).order_by(Source.id))
    (bom_id, *_), (upper_id, *_), _ = rows = rows.all()
    assert [(name, key) for _, name, key in rows] == [
        ("bom", "bom"), ("BOM", f"bom#{upper_id}"), ("other", "other")
    ]  # fmt: skip
    assert catalog_spelling("source", ["Bom"]) == ["BOM", "bom"]
    assert catalog_spelling("source", ["BOM"]) == ["BOM"]
    with pytest.raises(ConflictError) as refused:
        services.create_source("bOM", "ckan", "https://example.org")
    assert refused.value.errors == {"name": ["taken"]}
