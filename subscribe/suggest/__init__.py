"""Suggestions per scenario: datasets it is missing, each with its reason (issue 20 A)."""
