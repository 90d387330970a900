"""行为记录: the append-only audit trail of who did what, and when."""
