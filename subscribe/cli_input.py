"""Command-line input checked by the API's own marshmallow schemas."""

from __future__ import annotations

import click
import marshmallow as ma


def load(schema: ma.Schema, body: dict) -> dict:
    """`schema.load(body)`: what the API would accept, so the CLI accepts the same.

    Raises click.UsageError (exit code 2) naming every refused field, e.g.
    "url: Must be an http(s) URL.; name: …"."""
    try:
        return schema.load(body)
    except ma.ValidationError as exc:
        raise click.UsageError(_field_errors(exc.messages)) from exc


def _field_errors(messages: dict) -> str:
    return "; ".join(
        f"{field}: {' '.join(map(str, errors)) if isinstance(errors, list) else errors}"
        for field, errors in messages.items()
    )
