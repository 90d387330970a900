"""数据纠错: structured error reports on datasets, handled by operators."""
