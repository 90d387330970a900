"""Full-text search over the catalog: Whoosh for text, in-memory columns for filters and facets."""
