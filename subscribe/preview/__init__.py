"""Previews and profiles of tabular resources, and join keys across a scenario's datasets."""
