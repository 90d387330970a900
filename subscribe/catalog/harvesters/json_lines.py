"""JSON Lines (https://jsonlines.org; .jsonl, .ndjson, ``ckanapi dump``): telling such a
file from one JSON document, and reading it a line at a time, a broken line a bad record.

Why a rule on the lines and not the whole parse: a JSON Lines file with one broken line
is not valid JSON either way, so a parse failure cannot tell "JSON Lines with a bad
record" (read the rest, count the line) from "a JSON document that is broken" (nothing
can be read: the harvest fails). The lines tell them apart: a JSON Lines file's lines
are each a whole JSON object; a pretty-printed document's lines are fragments
(``"title": "x",``, ``{``), and even one written as an array with a record a line has a
separator on every line but the last (``{"a": 1},``), which no JSON parser reads alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TextIO

SAMPLE_LINES = 20  # non-blank lines the rule reads from the file's start
LONGEST_SAMPLED = 1 << 20  # a longer first line is read no further (a one-line document)


@dataclass
class Sniff:
    """What the first lines showed: ``objects`` of ``lines`` non-blank ones were each a
    whole JSON object."""

    lines: int = 0
    objects: int = 0

    def json_lines(self, named: bool) -> bool:
        """JSON Lines when most sampled lines (more than half) are whole JSON objects, and
        the file has two lines or more, or its name says JSON Lines: one line holding one
        object is also a JSON document (a saved API answer with a record array inside),
        read as such unless the name (.jsonl, .ndjson) says otherwise."""
        return self.objects * 2 > self.lines and (self.lines >= 2 or named)

    def hint(self) -> str:
        """Why a file with some object lines was read as one document, for its error."""
        if not self.objects:
            return ""
        return (f" (read as one JSON document: {self.objects} of the first {self.lines} "
                "lines are JSON objects; JSON Lines needs most of them)")  # fmt: skip


def sniff(text: TextIO) -> Sniff:
    """Read up to SAMPLE_LINES non-blank lines from ``text``'s current position (the
    caller rewinds): each at most LONGEST_SAMPLED characters, so a one-line JSON document
    of any size is never read whole here."""
    found = Sniff()
    while found.lines < SAMPLE_LINES:
        line = text.readline(LONGEST_SAMPLED)
        if not line:
            break
        if not line.strip():
            continue
        found.lines += 1
        if len(line) == LONGEST_SAMPLED and not line.endswith(("\n", "\r")):
            break  # cut: not judged whole; a longer line ends the sample
        try:
            found.objects += isinstance(_value(line, found.lines == 1), dict)
        except ValueError:
            continue
    return found


def is_json_lines(text: TextIO, named: bool = False) -> tuple[bool, Sniff]:
    """(whether ``text`` is JSON Lines by Sniff.json_lines, what the sample showed)."""
    found = sniff(text)
    return found.json_lines(named), found


def read_lines(lines: Iterable[str]) -> Iterator[tuple[int, object | ValueError]]:
    """(line number from 1, the line's JSON value or the ValueError saying why it is not
    JSON) for every non-blank line; blank lines are skipped, not numbered away. The
    ValueError's ``members_read`` is {key: value} of the object's scalar members read
    whole before the break (members_before_break): its id, often."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield number, _value(line, number == 1)
        except ValueError as exc:
            error = ValueError(f"not valid JSON: {_reason(exc)}")
            error.members_read = members_before_break(line)
            yield number, error


def members_before_break(line: str) -> dict[str, object]:
    """{key: value} of a broken JSON object line's top-level scalar members that were
    read whole: a string once its quote closed, a number only when another token
    followed it (``"id": 12`` may be 123 cut by the break). {} for anything else."""
    # The pure-Python backend: the C one parses a buffer whole before yielding its
    # events, so a break mid-line would hide the members before it. A broken line only.
    from ijson.backends import python as ijson

    members: dict[str, object] = {}
    depth, key, pending = 0, None, None
    try:
        for _prefix, event, value in ijson.parse(line.lstrip("\ufeff").encode("utf-8")):
            if pending is not None:  # a token followed it: it was whole
                members.setdefault(*pending)
                pending = None
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
            elif depth == 1 and event == "map_key":
                key = value
            elif depth == 1 and key is not None:
                if event == "number":
                    pending = (key, value)
                else:
                    members.setdefault(key, value)
            if depth == 0 and event != "end_map":
                return {}  # not an object
    except Exception:  # the break: what was read before it is all there is
        pass
    return members


def _value(line: str, first: bool) -> object:
    """The line's JSON value; raises ValueError. A UTF-8 BOM is dropped from line 1."""
    if first:
        line = line.removeprefix("\ufeff")
    try:
        return json.loads(line)
    except RecursionError as exc:  # nesting deeper than Python's stack: not a record
        raise ValueError("nested too deep") from exc


def _reason(exc: ValueError) -> str:
    if isinstance(exc, json.JSONDecodeError):
        # "Unterminated string starting at" ends in the word (bb6: "at at column 23").
        return f"{exc.msg.removesuffix(' at')} at column {exc.colno}"
    return str(exc)
