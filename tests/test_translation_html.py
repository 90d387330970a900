"""Descriptions in other languages are turned into text as the description is (bb9 F13):
no markup in `translations`, none searchable; translations stored as HTML before read
the same afterwards (no update)."""

from __future__ import annotations

import copy
from pathlib import Path

from sqlalchemy import select

from subscribe.catalog import services
from subscribe.catalog.diff import diff_snapshots
from subscribe.catalog.models import Dataset
from subscribe.extensions import db
from subscribe.search import indexer
from subscribe.search.engine import Filters
from subscribe.search.service import get_service, search_datasets
from tests.search_helpers import harvest, serve

GRAPH = Path(__file__).resolve().parent / "data" / "html-translations-bb9" / "c.jsonld"


def test_html_translations_are_text_and_their_markup_is_not_searchable(app, httpserver):
    url = serve(httpserver, "/c.jsonld", GRAPH.read_bytes(), "application/ld+json")
    run = harvest(services.create_source("eu", "dcat", url))
    assert run.created == 2
    dataset = db.session.scalar(select(Dataset).where(Dataset.title == "HTML测试"))
    english = dataset.translations["en"]["description"]
    assert "English description <x>" in english and "<" not in english.replace("<x>", "")
    assert "<script" not in english and "alert(1)" not in english
    assert dataset.translations["zh"]["description"] == "中文描述"
    indexer.apply_changes(get_service().store)
    found = search_datasets("script alert", Filters(), "relevance", 1, 20, partial=False)
    assert found["total"] == 0


def test_translations_stored_as_html_before_read_the_same():
    html = {"en": {"title": "HTML test", "description": "<p>English <i>description</i></p>"}}
    text = {"en": {"title": "HTML test", "description": "English description"}}
    old, new = {"title": "t", "translations": html}, {"title": "t", "translations": text}
    assert diff_snapshots(old, new) == {}
    edited = copy.deepcopy(text)
    edited["en"]["description"] = "Another description"
    assert "translations" in diff_snapshots(old, {"title": "t", "translations": edited})["fields"]
