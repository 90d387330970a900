"""gunicorn settings for the web process: `make run` passes this file with -c, and
`gunicorn wsgi:app` run from the project directory reads it by itself (gunicorn's
default ./gunicorn.conf.py). Command-line flags override it."""

from subscribe.gunicorn_errors import REQUEST_LINE_LIMIT, install

# A legal search fits (see subscribe/gunicorn_errors.py); gunicorn's default, 4094 bytes,
# refused a 500-character Chinese q. A longer line is a JSON 400, not gunicorn's HTML.
limit_request_line = REQUEST_LINE_LIMIT
install()
