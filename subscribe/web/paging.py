"""Paged lists: the `?page=` argument and the number of pages."""

from __future__ import annotations

import math

import marshmallow as ma
from flask import request

from subscribe.api import PageArgsSchema


def page_arg() -> int:
    """`?page=` of a paged list; anything the API would refuse shows page 1 (URLs get
    edited by hand)."""
    try:
        return PageArgsSchema().load({"page": request.args.get("page", "1")})["page"]
    except ma.ValidationError:
        return 1


def page_count(total: int, per_page: int) -> int:
    """Pages for the pager: at least one, so an empty list still has its page 1."""
    return max(1, math.ceil(total / per_page))
