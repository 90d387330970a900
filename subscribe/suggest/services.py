"""Suggestions for a scenario over the live search index, and the 👍 / 👎 feedback."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from sqlalchemy import select

from subscribe.auth.models import User
from subscribe.catalog.models import Dataset
from subscribe.errors import NotFoundError
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.scenarios import services as scenarios
from subscribe.scenarios.models import Scenario
from subscribe.search.indexer import body_text, other_languages_text
from subscribe.search.service import SearchService, get_service
from subscribe.suggest import profile as model
from subscribe.suggest import reasons
from subscribe.suggest.models import SuggestionFeedback

MAX_SUGGESTIONS = 100  # the API pages through at most this many


class IndexCorpus:
    """The search index and columns as the model's `Corpus` (profile.py)."""

    def __init__(self, service: SearchService):
        self.service = service
        self.columns = service.columns
        self.size = self.columns.capacity
        self.live_count = self.columns.live_count

    def visible(self) -> np.ndarray:
        return self.service.engine.visible(self.size)

    def presence(self, field: str, term: str) -> np.ndarray:
        ids, _tf = self.service.text.postings(field, term)
        return np.asarray(ids, dtype=np.int64)

    def publisher_of(self):
        return self.columns.publisher, self.columns.publishers.values

    def theme_masks(self, names: Iterable[str]) -> dict[str, np.ndarray]:
        ordinals = self.columns.themes.vocabulary.ordinals
        return {
            name: self.columns.themes.mask_any([ordinals[name]])
            for name in names
            if name in ordinals
        }

    def texts(self, ids: list[int]) -> dict[int, tuple[str, str, str, list[str]]]:
        return {doc.id: (doc.title, doc.body, doc.publisher, doc.themes) for doc in docs(ids)}


def doc_of(dataset_id: int, row) -> model.Doc:
    """A dataset (row or snapshot dict) as the model reads it: the index's own texts."""
    get = row.get if isinstance(row, dict) else lambda name: getattr(row, name, None)
    title, description = get("title") or "", get("description") or ""
    other = other_languages_text(get("translations"), title, description)
    body = body_text(
        description,
        get("keywords"),
        get("publisher"),
        get("themes"),
        other,
        get("distinguished_by"),
    )
    return model.Doc(dataset_id, title, body, get("publisher") or "", list(get("themes") or ()))


def docs(ids: list[int]) -> list[model.Doc]:
    found = []
    for start in range(0, len(ids), 500):
        rows = db.session.execute(
            select(Dataset.id, Dataset.title, Dataset.description, Dataset.keywords,
                   Dataset.publisher, Dataset.themes, Dataset.translations,
                   Dataset.distinguished_by)
            .where(Dataset.id.in_(ids[start : start + 500]))
        ).all()  # fmt: skip
        found += [doc_of(r.id, r) for r in rows]
    return found


def key_formats(ids: Iterable[int]) -> dict[int, set[str]]:
    """Join key formats the resource preview detected (issue 19), when that part exists."""
    try:
        from subscribe.preview.services import detected_key_formats
    except ImportError:
        return {}
    ids = list(ids)
    return detected_key_formats(ids) if ids else {}


def negatives(scenario: Scenario) -> list[int]:
    return list(
        db.session.scalars(
            select(SuggestionFeedback.dataset_id).where(
                SuggestionFeedback.scenario_id == scenario.id, SuggestionFeedback.vote == "down"
            )
        )
    )


def scenario_profile(scenario: Scenario, corpus: IndexCorpus | None = None) -> model.Profile:
    """The scenario's profile over the current index (members, pins, votes, join keys)."""
    if corpus is None:
        service = get_service()
        service.refresh()
        corpus = IndexCorpus(service)
    members = np.asarray(scenarios.member_ids(scenario), dtype=np.int64)
    chosen = model.sample(members, scenario.include or ())
    return model.build(
        corpus, members, scenario.include or (), negatives(scenario), scenario.exclude or (),
        keys=key_formats(chosen),
    )  # fmt: skip


def suggestions(scenario: Scenario, limit: int = 10) -> list[dict]:
    """The best `limit` (≤ MAX_SUGGESTIONS) datasets for the scenario, best first:
    [{"dataset": Dataset, "fit": float (≈1: as close as a typical member),
      "reasons": [dict, …] (profile.explain), "reason": {"zh": str, "en": str}}]."""
    limit = max(0, min(limit, MAX_SUGGESTIONS))
    service = get_service()
    service.refresh()
    corpus = IndexCorpus(service)
    profile = scenario_profile(scenario, corpus)
    ranked = model.candidates(corpus, profile, limit * 2 if profile.keys else limit)
    if not ranked:
        return []
    ids = [i for i, _fit in ranked]
    rows = {d.id: d for d in db.session.scalars(select(Dataset).where(Dataset.id.in_(ids)))}
    keys = key_formats(ids) if profile.keys else {}
    found = []
    for dataset_id, fit in ranked:
        dataset = rows.get(dataset_id)
        if dataset is None:
            continue
        doc = doc_of(dataset_id, dataset)
        doc.keys = set(keys.get(dataset_id, ()))
        fit += model.key_bonus(profile, doc.keys)
        explained = model.explain(profile, doc)
        found.append({"dataset": dataset, "fit": round(fit, 4), "reasons": explained,
                      "reason": reasons.both(explained)})  # fmt: skip
    found.sort(key=lambda s: (-s["fit"], s["dataset"].id))
    return found[:limit]


def give_feedback(user: User, scenario: Scenario, dataset_id: int, vote: str) -> SuggestionFeedback:
    """👍 pins the dataset to the scenario, 👎 excludes it and remembers it as a negative.
    Either way the vote is kept (the latest wins). Raises NotFoundError for a dataset
    that does not exist or was deleted."""
    dataset = db.session.get(Dataset, dataset_id)
    if dataset is None or dataset.deleted_at is not None:
        raise NotFoundError("No such dataset.")
    feedback = db.session.scalar(
        select(SuggestionFeedback).where(
            SuggestionFeedback.scenario_id == scenario.id,
            SuggestionFeedback.dataset_id == dataset_id,
        )
    )
    if feedback is None:
        feedback = SuggestionFeedback(
            scenario_id=scenario.id, dataset_id=dataset_id, user_id=user.id
        )
        db.session.add(feedback)
    feedback.vote = vote
    feedback.created_at = utcnow()
    include = [i for i in scenario.include or () if i != dataset_id]
    exclude = [i for i in scenario.exclude or () if i != dataset_id]
    if vote == "up":
        include.append(dataset_id)
    else:
        exclude.append(dataset_id)
    scenarios.update_scenario(scenario, {"include": include, "exclude": exclude})  # commits
    return feedback


def voted_down(user_ids: Iterable[int]) -> dict[int, set[int]]:
    """user id → datasets the user voted down in any scenario (never pushed to them)."""
    found: dict[int, set[int]] = {}
    rows = db.session.execute(
        select(SuggestionFeedback.user_id, SuggestionFeedback.dataset_id).where(
            SuggestionFeedback.user_id.in_(list(user_ids)), SuggestionFeedback.vote == "down"
        )
    )
    for user_id, dataset_id in rows:
        found.setdefault(user_id, set()).add(dataset_id)
    return found
