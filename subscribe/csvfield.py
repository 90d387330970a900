"""The longest CSV cell this service reads, set once for the process.

Python's csv module refuses a field over 131,072 characters by default, a limit real
files pass (a catalog description pasted whole, a long text column in a data file). Its
limit is process-wide, so one value is set here and every reader imports this module:
the harvest's export reader (`catalog.harvesters.tabular_read`) and the resource
preview (`preview.read`) then behave the same whichever was imported first.

A cell past `CSV_FIELD_LIMIT` (characters) is a read error: its row a counted bad
record in a harvest, a `parse_error` in a preview. The limit bounds what one row can
hold in memory; records cut titles to 10,000 characters anyway.
"""

from __future__ import annotations

import csv

CSV_FIELD_LIMIT = 4 * 1024 * 1024

csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))
