"""The scenario builder's state (query, filters, pins, exclusions) carried in links and forms."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import MultiDict

from subscribe.api import parse_id
from subscribe.scenarios.models import Scenario
from subscribe.scenarios.schemas import ScenarioCreateSchema
from subscribe.search.service import FILTER_FIELDS
from subscribe.web.search import DATE_FIELDS, SearchLinks, search_args

# Shown instead of marshmallow's English messages, per field of ScenarioCreateSchema.
FIELD_ERRORS = {
    "name": _l("Give the scenario a name of 1 to 200 characters."),
    "description": _l("Keep the description under 5,000 characters."),
    "q": _l("Use at most 500 characters of search words."),
    "filters": _l("A filter is not valid; remove it and choose again."),
    "include": _l("Some pinned datasets are not valid or no longer exist."),
    "exclude": _l("Some excluded datasets are not valid or no longer exist."),
}


@dataclass
class BuilderState:
    """What the builder shows: `args` are loaded search arguments (as on the search
    page), the rest is the scenario being made."""

    args: dict
    include: list[int] = field(default_factory=list)
    exclude: list[int] = field(default_factory=list)
    name: str = ""
    description: str = ""

    def preview(self) -> Scenario:
        """An unsaved scenario of this state, for counting its members with the same
        code that counts a saved one's."""
        return Scenario(q=self.args["q"], filters=stored_filters(self.args),
                        include=self.include, exclude=self.exclude)  # fmt: skip


def _ids(values: list[str]) -> list[int]:
    return list(dict.fromkeys(i for i in map(parse_id, values) if i is not None))


def state_from_values(values: MultiDict) -> BuilderState:
    """The state a builder link or form carries."""
    return BuilderState(
        args=search_args(values),
        include=_ids(values.getlist("include")),
        exclude=_ids(values.getlist("exclude")),
        name=values.get("name", ""),
        description=values.get("description", ""),
    )


def state_from_scenario(scenario: Scenario) -> BuilderState:
    """A saved scenario opened for editing."""
    pairs = [("q", scenario.q or "")]
    for name, value in (scenario.filters or {}).items():
        pairs.extend((name, item) for item in (value if isinstance(value, list) else [value]))
    state = state_from_values(MultiDict(pairs))
    state.include, state.exclude = list(scenario.include), list(scenario.exclude)
    state.name, state.description = scenario.name, scenario.description or ""
    return state


def stored_filters(args: dict) -> dict:
    """The filters of search arguments as a scenario keeps them (dates as ISO text)."""
    filters: dict = {name: list(args[name]) for name in FILTER_FIELDS if args[name]}
    filters.update({name: args[name].isoformat() for name in DATE_FIELDS if args[name]})
    return filters


def scenario_values(form: MultiDict) -> dict:
    """The save form through the API's ScenarioCreateSchema (raises ValidationError)."""
    filters: dict = {name: form.getlist(name) for name in FILTER_FIELDS if form.getlist(name)}
    filters.update({name: form[name] for name in DATE_FIELDS if form.get(name, "").strip()})
    return ScenarioCreateSchema().load(
        {
            "name": form.get("name", "").strip(),
            "description": form.get("description", ""),
            "q": form.get("q", ""),
            "filters": filters,
            "include": [v for v in form.getlist("include") if v.strip()],
            "exclude": [v for v in form.getlist("exclude") if v.strip()],
        }
    )


def form_errors(messages: dict) -> dict[str, str]:
    """One translated message per field (the schema's and the services' come in English)."""
    return {name: str(FIELD_ERRORS.get(name, FIELD_ERRORS["filters"])) for name in messages}


class BuilderLinks(SearchLinks):
    """The search page's links, pointing at the builder and carrying the whole state."""

    def __init__(self, state: BuilderState, base_url: str):
        super().__init__(state.args)
        self.state = state
        self.base_url = base_url

    def _params(self, **changes) -> list[tuple[str, str]]:
        # "b" says the state is in the URL: an edit page without it starts from the
        # saved scenario, with it from the URL (even when every filter was removed).
        carried = {
            "b": "1",
            "include": self.state.include,
            "exclude": self.state.exclude,
            "name": self.state.name,
            "description": self.state.description,
        }
        carried.update(
            {name: self.args[name].isoformat() for name in DATE_FIELDS if self.args[name]}
        )
        return super()._params(**{**carried, **changes})

    def url(self, **changes) -> str:
        return self.base_url + "?" + urlencode(self._params(**changes))

    def pin(self, dataset_id: int) -> str:
        """Pin the dataset (no longer excluded), or unpin it when it is pinned."""
        include, exclude = self._toggled(self.state.include, self.state.exclude, dataset_id)
        return self.url(include=include, exclude=exclude)

    def leave_out(self, dataset_id: int) -> str:
        """Exclude the dataset (no longer pinned), or take it back when it is excluded."""
        exclude, include = self._toggled(self.state.exclude, self.state.include, dataset_id)
        return self.url(include=include, exclude=exclude)

    @staticmethod
    def _toggled(own: list[int], other: list[int], dataset_id: int) -> tuple[list, list]:
        if dataset_id in own:
            return [i for i in own if i != dataset_id], other
        return [*own, dataset_id], [i for i in other if i != dataset_id]

    def hidden_fields(self, *leave_out: str) -> list[tuple[str, str]]:
        """The state as (name, value) pairs for a form's hidden inputs, minus `leave_out`
        (the fields the form shows itself)."""
        return [(name, value) for name, value in self._params() if name not in leave_out]
