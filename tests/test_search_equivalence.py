"""The engine's fast paths answer exactly what its plain paths do.

Frequent terms are held dense (one vector add instead of a scatter of their ids) and
the title bonuses are computed over the whole id range when many datasets qualify;
ids, order, totals, facets and scores must not depend on which form a term took.
"""

from __future__ import annotations

import pytest

from subscribe.search import engine as engine_module
from subscribe.search.engine import Filters, SearchEngine
from subscribe.search.query import parse
from subscribe.search.service import get_service
from tests.search_helpers import load_catalogs

QUERIES = (
    "示例市", "数据", "公交 站点", "空气质量", "空氣質量 日报", "公交站", "示例市公交线路站点信息",
    '"公交 线路"', "数据 -公交", "education", "air quality", "grants program", "示例市 疫苗 不存在的词",
    "出租车运营", "信息 数据 示例市", "空氣品質 監測", "資料 -臺北市", "\"空氣品質\" 監測",
    "公共數據", "Air quality measurements",
)  # fmt: skip
SORTS = ("relevance", "newest", "title")


@pytest.fixture
def catalog(app, httpserver):
    load_catalogs(httpserver)


def answers(engine: SearchEngine) -> list:
    found = []
    for q in QUERIES:
        for sort in SORTS:
            for filters in (Filters(), Filters(format=["CSV"])):
                result = engine.search(parse(q), filters, sort=sort, per_page=50)
                found.append((q, sort, result.ids, result.total, result.facets,
                              result.scores, result.partial))  # fmt: skip
    return found


def fresh_engine() -> SearchEngine:
    service = get_service()
    service.refresh(force=True)
    return SearchEngine(service.text, service.columns)


def test_dense_and_sparse_terms_give_the_same_answers(app, catalog, monkeypatch):
    by_form = {}
    for dense in (False, True, None):  # None: frequent terms dense, the others sparse
        with monkeypatch.context() as patch:
            if dense is not None:
                patch.setattr(engine_module, "_is_dense", lambda _count, _size, d=dense: d)
            engine = fresh_engine()
            by_form[dense] = answers(engine)
            assert answers(engine) == by_form[dense]  # again, from the engine's cache
    assert sum(result[3] for result in by_form[False]) > 100  # the queries do find datasets
    assert by_form[True] == by_form[False]
    assert by_form[None] == by_form[False]


def test_scores_summed_for_a_page_equal_those_summed_for_every_match(app, catalog):
    """Scores are summed only for the datasets a search ranks (engine.scores_at): the
    page of another sort (its ids alone) gets the same floats as relevance, which sums
    them for every match."""
    engine = fresh_engine()
    compared = 0
    for q in QUERIES:
        every = engine.search(parse(q), Filters(), sort="relevance", per_page=100)
        for sort in ("newest", "title"):
            page = engine.search(parse(q), Filters(), sort=sort, per_page=100)
            assert set(page.ids) == set(every.ids) or every.total > 100
            for dataset_id in set(page.ids) & set(every.ids):
                assert page.scores[dataset_id] == every.scores[dataset_id], (q, sort)
                compared += 1
    assert compared > 100
