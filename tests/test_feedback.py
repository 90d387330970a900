"""数据纠错: error reports — counts, lifecycle, API, notifications (both backends)."""

from __future__ import annotations

import pytest

from subscribe.auth import services as auth
from subscribe.catalog.models import Dataset, Resource, Source
from subscribe.extensions import db
from subscribe.feedback.models import ErrorReport
from subscribe.feedback.services import confirmed_report_counts


@pytest.fixture
def datasets(app):
    """Three datasets of one source; the first has two resources."""
    source = Source(name="fb", type="ckan", url="https://example.org")
    db.session.add(source)
    db.session.flush()
    rows = [Dataset(source_id=source.id, identifier=f"d{i}", title=f"数据集 {i}",
                    content_hash="h") for i in range(3)]  # fmt: skip
    db.session.add_all(rows)
    db.session.flush()
    db.session.add_all([
        Resource(dataset_id=rows[0].id, position=0, name="表一", format="CSV",
                 url="https://example.org/1.csv"),
        Resource(dataset_id=rows[0].id, position=1, name="表二", format="CSV",
                 url="https://example.org/2.csv"),
        Resource(dataset_id=rows[1].id, position=0, name="别的表", format="CSV",
                 url="https://example.org/3.csv"),
    ])  # fmt: skip
    db.session.commit()
    return rows


def test_confirmed_counts_are_resolved_reports_per_dataset(datasets):
    user = auth.create_user("r@example.org", "correct horse battery")
    first, second, third = (d.id for d in datasets)
    states = [(first, "resolved"), (first, "resolved"), (first, "rejected"), (first, "open"),
              (second, "resolved"), (second, "acknowledged"), (third, "open")]  # fmt: skip
    for dataset_id, state in states:
        db.session.add(ErrorReport(dataset_id=dataset_id, user_id=user.id, description="错",
                                   state=state))  # fmt: skip
    db.session.add(ErrorReport(dataset_id=second, description="spam", state="resolved",
                               hidden=True))  # fmt: skip
    db.session.commit()
    assert confirmed_report_counts() == {first: 2, second: 1}
    assert confirmed_report_counts([second, third]) == {second: 1}
    assert confirmed_report_counts([]) == {}
