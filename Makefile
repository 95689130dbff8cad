# Two commands on a fresh machine with Python 3.11 or newer:
#   make demo   installs into .venv, migrates and seeds SQLite, prints logins, serves
#   make test   installs the development tools and runs every suite
# Python 3.11 when installed, else the system's python3 (3.11 or newer).
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
HOST ?= 127.0.0.1
PYTEST_ARGS ?=

.PHONY: demo serve test lint install install-dev requirements i18n

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python requirements.txt pyproject.toml
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: install
	HOST=$(HOST) PORT=$(PORT) $(BIN)/market demo

serve: install
	HOST=$(HOST) PORT=$(PORT) $(BIN)/market serve

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy

# SQLite runs everything, browser tests included; PostgreSQL runs the same
# suite against a throwaway database (the browser suite runs once, on SQLite).
test: install-dev
	scripts/ensure-test-services
	$(MAKE) --no-print-directory lint
	MARKET_TEST_DB=sqlite $(BIN)/pytest $(PYTEST_ARGS)
	MARKET_TEST_DB=postgresql $(BIN)/pytest -m "not browser" $(PYTEST_ARGS)

# Re-pin after changing pyproject.toml dependencies.
requirements:
	$(BIN)/pip install -q uv
	$(BIN)/uv pip compile -q pyproject.toml -o requirements.txt
	$(BIN)/uv pip compile -q pyproject.toml --extra dev -o requirements-dev.txt

# Refresh the message catalogues after changing texts; then translate in the .po files.
i18n: install-dev
	mkdir -p var
	$(BIN)/pybabel extract -F babel.cfg -k N_ -o var/messages.pot --no-location --sort-output .
	$(BIN)/pybabel update -i var/messages.pot -d market/locale -D messages --no-fuzzy-matching --ignore-obsolete
