"""Text that is a whole number, as ASCII digits only.

str.isdigit() also takes "²" and other superscripts, which int() refuses: a query string
`?source=²` answered 500 where a check used isdigit() alone. Every place that turns text
into a number after such a check uses `ascii_int` instead.
"""

from __future__ import annotations


def ascii_int(text: str | None) -> int | None:
    """The number `text` spells in ASCII digits ("042" → 42), else None ("²", "٣", "-1",
    "1.5", "", None)."""
    if text and text.isascii() and text.isdigit():
        return int(text)
    return None
