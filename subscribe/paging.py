"""One page of a query: the {items, total, page, per_page} every list endpoint answers."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from subscribe.extensions import db


def paginate(query: Select, page: int, per_page: int) -> dict:
    """The `page`-th slice of an ordered query, with the number of rows in all."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    items = db.session.scalars(query.offset((page - 1) * per_page).limit(per_page)).all()
    return {"items": list(items), "total": total, "page": page, "per_page": per_page}
