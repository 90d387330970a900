"""Scenario services: ownership, validation of pins, members, report and timeline."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from subscribe.auth.models import User
from subscribe.catalog.models import Dataset
from subscribe.errors import InvalidInputError, NotFoundError
from subscribe.extensions import db
from subscribe.models_base import utcnow
from subscribe.paging import paginate
from subscribe.quality.report import describe_weakest
from subscribe.scenarios.models import Scenario, ScenarioEvent
from subscribe.scenarios.report import build_report
from subscribe.search.docmatch import pins_only
from subscribe.search.engine import Filters
from subscribe.search.query import parse
from subscribe.search.service import catalog_spelling, get_service, search_datasets


def get_scenario(user: User, scenario_id: int) -> Scenario:
    """The caller's scenario; someone else's is as missing as one that never existed."""
    scenario = db.session.get(Scenario, scenario_id)
    if scenario is None or scenario.user_id != user.id:
        raise NotFoundError("No such scenario.")
    return scenario


def list_scenarios(user: User, page: int, per_page: int) -> dict:
    query = select(Scenario).where(Scenario.user_id == user.id).order_by(Scenario.id.desc())
    return paginate(query, page, per_page)


def _check_pins(values: dict, scenario: Scenario | None = None) -> None:
    """Pinned and excluded ids, repeats dropped (first kept), must name real datasets
    and no id may be both pinned and excluded (the scenario's stored list counts when an
    update gives only the other; an update naming neither is not checked, so a scenario
    stored before this rule can still be renamed): raises InvalidInputError (422) naming the ids under
    errors.include / errors.exclude."""
    wanted = {
        key: list(dict.fromkeys(values[key])) for key in ("include", "exclude") if key in values
    }
    include = wanted.get("include", scenario.include if scenario else [])
    exclude = wanted.get("exclude", scenario.exclude if scenario else [])
    if wanted and (both := sorted(set(include or ()) & set(exclude or ()))):
        raise InvalidInputError(
            f"Datasets {both} are both pinned and excluded: a dataset is one or the other.",
            {"include": [f"also excluded: {both}"], "exclude": [f"also pinned: {both}"]},
        )
    ids = {i for found in wanted.values() for i in found}
    known = set()
    for start in range(0, len(ids), 1000):
        chunk = sorted(ids)[start : start + 1000]
        known.update(db.session.scalars(select(Dataset.id).where(Dataset.id.in_(chunk))))
    errors = {
        key: [f"unknown dataset ids: {sorted(set(found) - known)}"]
        for key, found in wanted.items()
        if set(found) - known
    }
    if errors:
        raise InvalidInputError("Some pinned or excluded datasets do not exist.", errors)
    values.update(wanted)


def _stored_filters(filters: dict) -> dict:
    """Filters as JSON: dates as ISO strings, empty lists dropped, values as the catalog
    spells them (`csv` → `CSV`: search and event matching compare them exactly)."""
    stored = {}
    for key, value in filters.items():
        if isinstance(value, datetime):
            stored[key] = value.isoformat()
        elif isinstance(value, list) and value:
            stored[key] = catalog_spelling(key, value)
        elif value:
            stored[key] = value
    return stored


def create_scenario(user: User, values: dict) -> Scenario:
    _check_pins(values)
    values["filters"] = _stored_filters(values.get("filters") or {})
    scenario = Scenario(user_id=user.id, feed_token=secrets.token_urlsafe(24), **values)
    db.session.add(scenario)
    db.session.commit()
    return scenario


def update_scenario(scenario: Scenario, values: dict) -> Scenario:
    _check_pins(values, scenario)
    if "filters" in values:
        values["filters"] = _stored_filters(values["filters"])
    for key, value in values.items():
        setattr(scenario, key, value)
    scenario.updated_at = utcnow()
    db.session.commit()
    return scenario


def delete_scenario(scenario: Scenario) -> None:
    db.session.delete(scenario)
    db.session.commit()


def filters_of(scenario: Scenario) -> Filters:
    stored = dict(scenario.filters or {})
    for key in ("modified_from", "modified_to"):
        if stored.get(key):
            stored[key] = datetime.fromisoformat(stored[key])
    return Filters(**stored)


def is_pins_only(scenario: Scenario) -> bool:
    """No words and no filters: the scenario holds its pinned datasets only."""
    return pins_only(parse(scenario.q), filters_of(scenario))


def members_page(scenario: Scenario, sort: str, page: int, per_page: int) -> dict:
    """Members = search(q, filters) + include − exclude, through the search's own code
    (never partial matches: members meet every word; no words and no filters: the pinned
    datasets only)."""
    filters = filters_of(scenario)
    return search_datasets(
        scenario.q, filters, sort, page, per_page, scenario.include, scenario.exclude,
        partial=False, pins_only=pins_only(parse(scenario.q), filters),
    )  # fmt: skip


def member_ids(scenario: Scenario):
    service = get_service()
    service.refresh()
    query, filters = parse(scenario.q), filters_of(scenario)
    mask, _scores = service.engine.members(
        query, filters, scenario.include, scenario.exclude, pins_only(query, filters)
    )
    return mask.nonzero()[0]


def pinned_datasets(ids: list[int]) -> list[Dataset]:
    """The datasets behind pinned or excluded ids, in the ids' order (the builder lists
    them by title); ids of datasets that no longer exist are left out."""
    rows = {d.id: d for d in db.session.scalars(select(Dataset).where(Dataset.id.in_(ids)))}
    return [rows[i] for i in ids if i in rows]


def report(scenario: Scenario) -> dict:
    return describe_weakest(build_report(get_service().columns, member_ids(scenario)))


def events_page(scenario: Scenario, page: int, per_page: int) -> dict:
    query = (
        select(ScenarioEvent)
        .where(ScenarioEvent.scenario_id == scenario.id)
        .options(joinedload(ScenarioEvent.catalog_event))
        .order_by(ScenarioEvent.id.desc())
    )
    return paginate(query, page, per_page)


def scenario_for_feed(scenario_id: int, token: str | None, user: User | None) -> Scenario:
    """The scenario whose feed is asked for: by its feed token, or its owner's login."""
    scenario = db.session.get(Scenario, scenario_id)
    if scenario is not None:
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError, a 500).
        if (
            token
            and scenario.feed_token
            and secrets.compare_digest(token.encode(), scenario.feed_token.encode())
        ):
            return scenario
        if not token and user is not None and user.id == scenario.user_id:
            return scenario
    raise NotFoundError("No such scenario feed.")


def recent_events(scenario: Scenario, limit: int = 50) -> list[ScenarioEvent]:
    return list(
        db.session.scalars(
            select(ScenarioEvent)
            .options(joinedload(ScenarioEvent.catalog_event))
            .where(ScenarioEvent.scenario_id == scenario.id)
            .order_by(ScenarioEvent.id.desc())
            .limit(limit)
        )
    )
