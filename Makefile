# The two commands a newcomer needs: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench clean messages

# Compiled translations (.mo) are build output, not in git; made from the .po here.
# (The app also compiles them into its instance folder when run without make.)
MO_FILES := $(patsubst %.po,%.mo,$(wildcard subscribe/translations/*/LC_MESSAGES/*.po))

# pip -qq: errors only (a machine's pip.conf can add pages of harmless index warnings).
PIP_QUIET := -qq --disable-pip-version-check

$(STAMP): setup.cfg pyproject.toml
	@if [ -d $(VENV) ]; then echo "Updating $(VENV): setup.cfg or pyproject.toml changed..."; \
	 else echo "Setting up $(VENV) (first time: about a minute)..."; fi
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install $(PIP_QUIET) --upgrade pip
	@$(BIN)/pip install $(PIP_QUIET) -e '.[test]'
	@touch $(STAMP)

## run: migrate, configure the demo, start web + worker + demo portal on http://127.0.0.1:$${PORT:-5000}
run: $(STAMP) $(MO_FILES)
	@$(BIN)/python -m subscribe.devstack

# Test processes (pytest-xdist workers); TEST_WORKERS=0 runs the suite in one process.
TEST_WORKERS ?= 2

## test: lint, then the whole suite (SQLite; PostgreSQL too when SUBSCRIBE_TEST_DATABASE_URL is set)
test: $(STAMP) $(MO_FILES)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n $(TEST_WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## bench: the catalog-scale benchmarks (minutes; not part of test)
bench: $(STAMP)
	$(BIN)/python bench/harvest.py

%.mo: %.po | $(STAMP)
	@$(BIN)/pybabel --quiet compile -i $< -o $@

## messages: pull new msgids from the web app's code and templates into every .po
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --no-wrap -o $(VENV)/messages.pot .
	$(BIN)/pybabel update -i $(VENV)/messages.pot -d subscribe/translations --no-wrap

clean:
	rm -rf $(VENV) instance .pytest_cache
