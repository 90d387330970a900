"""The worker process: scheduled jobs and their runs."""
