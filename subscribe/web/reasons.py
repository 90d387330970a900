"""Why a harvest set a record or row aside, in the page's language.

The harvesters write their reasons in English (the API's `errors[].reason` and the
mapping report keep them so: clients match on them). Pages show the usual ones
translated: each pattern below is one reason a harvester writes (tabular.py,
writer.py, listed_twice.py, ckan.py, dcat_us.py, dcat_ap.py), its variable parts kept
as given. A reason no pattern knows (an exception's own text) is shown as written.
"""

from __future__ import annotations

import re

from flask_babel import lazy_gettext as _l

# (pattern, message with the pattern's named groups as placeholders)
_REASONS = [
    (r"missing title \(column (?P<column>.+) is empty\)",
     _l("missing title (column %(column)s is empty)")),
    (r"exact duplicate of (?P<reference>.+)", _l("exact duplicate of %(reference)s")),
    (r"duplicate identifier with different content in one listing; the first was kept",
     _l("duplicate identifier with different content in one listing; the first was kept")),
    (r"unreadable (?:row|record|package): (?P<error>.*)", _l("unreadable: %(error)s")),
    (r"(?:dataset|package) has no (?:dct:)?title", _l("no title")),
    (r"package has no id or name", _l("package has no id or name")),
    (r"listed again with a later modified date \((?P<kept>.*)\); that entry was kept, this "
     r"one \(modified (?P<modified>.*)\) set aside",
     _l("listed again with a later modified date (%(kept)s); that entry was kept, this one "
        "(modified %(modified)s) set aside")),
    (r"another entry with this identifier has different content \(modified (?P<kept>.*)\); "
     r"one is kept whatever the file's order: the later modified, else by content\. This "
     r"one \(modified (?P<modified>.*)\) set aside",
     _l("another entry with this identifier has different content (modified %(kept)s); the "
        "later modified is kept, else one by content. This one (modified %(modified)s) set "
        "aside")),
    (r"above the header \(a title or group row\)", _l("above the header (a title or group row)")),
    (r"a footer \(label: value cells, no title\)", _l("a footer (label: value cells, no title)")),
    (r"the header row repeated", _l("the header row repeated")),
    (r"one text across the row \(a merged title or footnote\)",
     _l("one text across the row (a merged title or footnote)")),
    (r"a note or footnote", _l("a note or footnote")),
]  # fmt: skip
NOT_GIVEN = _l("not given")  # listed_twice's word for a missing modified date
_COMPILED = [(re.compile(pattern, re.S), message) for pattern, message in _REASONS]


def harvest_reason(text) -> str:
    """`text` (a harvest's reason for a bad record or skipped row) in the page's language."""
    if not isinstance(text, str):
        return "" if text is None else str(text)
    for pattern, message in _COMPILED:
        if match := pattern.fullmatch(text):
            parts = {key: str(NOT_GIVEN) if value == "not given" else value
                     for key, value in match.groupdict().items()}  # fmt: skip
            return str(message) % parts
    return text
