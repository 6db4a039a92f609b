# Jointly: `make run` serves the embedded set-up, `make test` runs lint and the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PORT ?= 5000
export PORT

.PHONY: run serve test lint format bench clean help

help:
	@echo "make run     set up .venv, migrate, seed and serve on http://127.0.0.1:$(PORT)"
	@echo "make serve   the production topology (gunicorn, worker, scheduler) on the configured services"
	@echo "make test    ruff + the whole test suite (SQLite; PostgreSQL with TEST_DATABASE_URL)"
	@echo "make bench   benchmarks, results in bench/results/"
	@echo "make lint    ruff check and format check"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

run: $(VENV)/.run-deps
	$(FLASK) db upgrade
	$(FLASK) seed
	$(FLASK) staff ensure-admin
	$(BIN)/python -m flask --app wsgi run --host 127.0.0.1 --port $(PORT) --no-debugger --no-reload

# Production on this machine: check-config, migrations, then gunicorn (gunicorn.conf.py), the
# worker and the scheduler against the services in the environment or .env; Ctrl-C stops all three.
serve: $(VENV)/.run-deps
	$(BIN)/python deploy/serve.py

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev-deps
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(VENV)/.dev-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
