"""Bulk download bundles: a zip of a scenario's data with a Frictionless datapackage.json."""
