"""Custom scenarios (自定义场景): a saved query with pinned and excluded datasets."""
