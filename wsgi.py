"""WSGI entry point: `gunicorn wsgi:app` (or `flask --app wsgi run`).

A web process answers people's searches: its search columns load and its index reader
opens and warms from the start, on threads of their own (search/service.py), not on
the first search. gunicorn imports this module in each worker (run it without
--preload: threads started before the fork would not exist in the workers).
"""

from subscribe import create_app
from subscribe.jobs.memory import limit_arenas
from subscribe.search.service import get_service

# Before any thread starts (the search keeper and warm, gunicorn's request threads):
# each thread's malloc arena kept what it freed (~20 MB less RSS under the query mix).
limit_arenas()

app = create_app()
with app.app_context():
    get_service().serve_in_background(app)
