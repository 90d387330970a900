"""The percolator and the single-document matcher agree with the search engine (brute force)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from subscribe.catalog.models import Dataset, DatasetVersion, Source
from subscribe.extensions import db
from subscribe.search.docmatch import MatchSpec, analyse, matches
from subscribe.search.engine import Filters
from subscribe.search.percolate import ChangedDocs, Percolator, slots
from subscribe.search.query import parse
from subscribe.search.service import get_service
from tests.search_helpers import load_catalogs

# 空氣品質, 資料: traditional words with a regional reading (search/regional.py)
WORDS = ["交通", "公交", "站点", "监测", "空气质量", "数据", "示例市", "企业", "公车", "空氣", "school",
         "grants", "education", "statistics", "信息", "名录", "网约车", "公共数据", "的", "质量日报",
         "空氣品質", "資料", "监测数据"]  # fmt: skip
PUBLISHERS = ["市交通运输局", "市生态环境局", "NCES", "Office for Civil Rights", "市教育局"]
THEMES = ["交通出行", "生态环境", "医疗卫生", "education"]


def query_text(words, phrase, excluded) -> str:
    parts = list(words)
    if phrase:
        parts.append('"' + " ".join(phrase) + '"')
    parts += ["-" + w for w in excluded]
    return " ".join(parts)


specs = st.builds(
    lambda words, phrase, excluded, publisher, theme, open_type, pins, drops: (
        query_text(words, phrase, excluded),
        Filters(publisher=publisher, theme=theme, open_type=open_type),
        pins, drops,
    ),
    st.lists(st.sampled_from(WORDS), max_size=2),
    st.lists(st.sampled_from(WORDS), max_size=2),
    st.lists(st.sampled_from(WORDS), max_size=1),
    st.lists(st.sampled_from(PUBLISHERS), max_size=2),
    st.lists(st.sampled_from(THEMES), max_size=1),
    st.lists(st.sampled_from(["unconditional", "conditional", "unknown"]), max_size=1),
    st.lists(st.integers(min_value=1, max_value=120), max_size=3),
    st.lists(st.integers(min_value=1, max_value=120), max_size=2),
)  # fmt: skip


@pytest.fixture
def documents(app, httpserver):
    load_catalogs(httpserver)
    names = dict(db.session.execute(select(Source.id, Source.name)).all())
    rows = db.session.execute(
        select(Dataset.id, Dataset.source_id, DatasetVersion.snapshot).join(
            DatasetVersion,
            (DatasetVersion.dataset_id == Dataset.id) & (DatasetVersion.number == Dataset.version),
        )
    ).all()
    get_service().refresh(force=True)
    return [analyse(r.id, r.source_id, names[r.source_id], r.snapshot) for r in rows]


def test_matchers_agree_with_the_search_engine(documents):
    engine = get_service().engine

    @given(spec=specs)
    @settings(max_examples=150, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def agree(spec):
        q, filters, include, exclude = spec
        match_spec = MatchSpec(parse(q), filters, frozenset(include), frozenset(exclude))
        mask, _scores = engine.members(parse(q), filters, include, exclude, match_spec.pins_only)
        by_engine = {d.id for d in documents if d.id < len(mask) and mask[d.id]}
        one_by_one = {d.id for d in documents if matches(match_spec, d)}
        changed = ChangedDocs(documents)
        as_bitset = {documents[slot].id for slot in slots(changed.evaluate(match_spec))}
        assert one_by_one == by_engine, q
        assert as_bitset == by_engine, q
        # Completeness: a scenario with any member among the changed documents is woken.
        if by_engine:
            assert 0 in Percolator({0: match_spec}).candidates(changed)

    agree()


def test_percolator_finds_exactly_the_scenarios_brute_force_finds(documents):
    """Many scenarios at once, changes in a random subset of documents: the scenarios with
    a member among them are exactly those the percolator wakes and verifies."""

    @given(
        scenario_specs=st.lists(specs, min_size=20, max_size=60),
        picks=st.sets(st.integers(0, 110), max_size=40),
    )
    @settings(max_examples=25, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def agree(scenario_specs, picks):
        changed_docs = [documents[i % len(documents)] for i in sorted(picks)]
        match_specs = {
            n: MatchSpec(parse(q), f, frozenset(inc), frozenset(exc))
            for n, (q, f, inc, exc) in enumerate(scenario_specs)
        }
        brute = {n: {d.id for d in changed_docs if matches(s, d)} for n, s in match_specs.items()}
        percolator = Percolator(match_specs)
        changed = ChangedDocs(changed_docs)
        found = {n: set() for n in match_specs}
        for n in percolator.candidates(changed):
            found[n] = {changed_docs[slot].id for slot in slots(changed.evaluate(match_specs[n]))}
        assert found == brute

    agree()


def test_a_shared_memo_analyses_as_without_it():
    """Matching analyses a batch's snapshots with one memo (a change's before and after
    share most of their text): each document is the one analysed alone."""
    before = {"title": "空气质量日报", "description": "北京市 每日 空气质量 监测", "keywords": ["环境"],
              "publisher": "市生态环境局", "themes": ["生态环境"], "modified": "2024-05-01T00:00:00"}  # fmt: skip
    after = {**before, "title": "空气质量日报（更新）"}
    memo: dict = {}
    for snapshot in (before, after, before):
        assert analyse(7, 1, "src", snapshot, memo) == analyse(7, 1, "src", snapshot)
    assert len([k for k in memo if isinstance(k, str)]) == 3  # two titles, one body
