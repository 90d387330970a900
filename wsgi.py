"""WSGI entry point: `gunicorn wsgi:app`."""

from subscribe import create_app

app = create_app()
