"""Catalog sources, datasets, resources, versions and harvests."""
