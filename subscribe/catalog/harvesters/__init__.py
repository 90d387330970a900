"""Harvesters: one function per catalog format, all yielding catalog.records shapes."""
