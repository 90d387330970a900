"""The search API's compiled page dump gives exactly marshmallow's output."""

from __future__ import annotations

import json
from datetime import datetime

import marshmallow as ma
import pytest

from subscribe.search.engine import Filters
from subscribe.search.schemas import DatasetPageSchema, compiled_dump, dump_dataset_page
from subscribe.search.service import search_datasets
from tests.search_helpers import load_catalogs

QUERIES = ("", "示例市", "公交 站点", "education", "示例市 不存在的词", "%")


@pytest.fixture
def catalog(app, httpserver):
    load_catalogs(httpserver)


def as_json(value) -> str:
    return json.dumps(value, ensure_ascii=False)  # 1 and 1.0 differ here, not in ==


def test_the_page_dumps_are_marshmallows(app, catalog):
    """The compiled dump of a page of models is marshmallow's, and so is the API's page of
    summaries (hits read as dicts of the shown columns, summaries=True): the same page, to
    the byte, for every query and sort."""
    schema = DatasetPageSchema()
    pages = 0
    with app.test_request_context():
        for q in QUERIES:
            for sort in ("relevance", "newest"):
                models = search_datasets(q, Filters(), sort, 1, 50)
                summaries = search_datasets(q, Filters(), sort, 1, 50, summaries=True)
                pages += bool(summaries["items"])
                assert all(isinstance(item, dict) for item in summaries["items"])
                expected = as_json(schema.dump(models))
                assert as_json(dump_dataset_page(models)) == expected
                assert as_json(dump_dataset_page(summaries)) == expected
    assert pages >= 8


class _Plain(ma.Schema):
    text = ma.fields.String()
    number = ma.fields.Integer(dump_default=7)
    ratio = ma.fields.Float(allow_none=True)
    flag = ma.fields.Boolean()
    when = ma.fields.DateTime()
    words = ma.fields.List(ma.fields.String())
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer(allow_none=True))
    renamed = ma.fields.String(data_key="other", attribute="source")


class _Object:
    def __init__(self, **values):
        self.__dict__.update(values)


@pytest.mark.parametrize(
    "values",
    [
        {"text": "空气", "number": 3, "ratio": 0.5, "flag": True, "when": datetime(2024, 3, 1, 8),
         "words": ["a", None], "counts": {"x": 1, "y": None}, "source": "s"},
        {"text": None, "number": "12", "ratio": 2, "flag": 1, "when": None, "words": None,
         "counts": None, "source": 5},
        {"text": "absent fields take their default or are left out"},
    ],
)  # fmt: skip
def test_plain_fields_dump_as_marshmallow_dumps_them(values):
    schema = _Plain()
    dump = compiled_dump(schema)
    for obj in (values, _Object(**values)):
        assert as_json(dump(obj)) == as_json(schema.dump(obj))


def test_fields_it_does_not_know_are_refused():
    class Other(ma.Schema):
        url = ma.fields.Url()

    with pytest.raises(TypeError):
        compiled_dump(Other())
