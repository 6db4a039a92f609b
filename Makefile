# Jointly: `make run` serves the embedded set-up, `make test` runs lint and the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app wsgi
PORT ?= 5000
export PORT
NPM ?= npm
# Test processes (pytest-xdist); each has its own database. 0 runs the suite in this process.
# Two per core: much of the suite waits on servers, browsers and subprocesses, not the CPU. Each
# test module runs whole in one worker (--dist loadscope), so that a module's servers (nginx,
# gunicorn, the HTML checker) are set up once, not once per worker that gets one of its tests; the
# longest modules first (tests/conftest.py, LONGEST_FIRST), so that no long one is left to the end.
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) * 2 )))

.PHONY: run serve test test-faults lint lint-once format bench clean help translations

help:
	@echo "make run     set up .venv, migrate, seed and serve on http://127.0.0.1:$(PORT)"
	@echo "make serve   the production topology (gunicorn, worker, scheduler) on the configured services"
	@echo "make test    ruff + the whole test suite (SQLite; PostgreSQL with TEST_DATABASE_URL)"
	@echo "make test-faults  the fault drills (own PostgreSQL, Redis, processes; about 4 minutes)"
	@echo "make bench   benchmarks, results in bench/results/"
	@echo "make lint    ruff check and format check, mypy, and a duplicate-code check (pylint)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "Jointly needs Python 3.11 or newer, and '$(PYTHON)' is $$($(PYTHON) --version 2>/dev/null || echo 'not found')."; \
	  echo "Install it and name it, e.g.: make PYTHON=python3.11 $(MAKECMDGOALS)"; exit 1; } >&2
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.run-deps

# Test tools from npm (the Nu HTML checker); the install scripts are not needed (Java is the system's).
node_modules/.installed: package.json package-lock.json
	@if command -v $(NPM) >/dev/null; then \
	  $(NPM) ci --ignore-scripts --no-audit --no-fund --loglevel=error && touch $@; \
	else \
	  echo "npm not found: the HTML validity tests will skip (apt-get install npm)" >&2; \
	fi

run: $(VENV)/.run-deps
	$(FLASK) db upgrade
	$(FLASK) seed
	$(FLASK) staff ensure-admin
	$(BIN)/python -m flask --app wsgi run --host 127.0.0.1 --port $(PORT) --no-debugger --no-reload

# Production on this machine: check-config, migrations, then gunicorn (gunicorn.conf.py), the
# worker and the scheduler against the services in the environment or .env; Ctrl-C stops all three.
serve: $(VENV)/.run-deps
	$(BIN)/python deploy/serve.py

# ruff, the type check (mypy, settings in pyproject.toml) and pylint's duplicate-code check only.
lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pylint --disable=all --enable=duplicate-code petition

# What `make test` runs beside the suite: `make lint`, unless it already passed on these very files.
# CI runs `make test` once per database on one checkout, and the second run need not lint again
# (pylint's duplicate-code check alone is ~20 s of CPU). The key is the content of every file the
# linters read (Python, their configuration, the pinned versions in requirements-dev.txt); any
# change, added or deleted file gives a new key and a full `make lint`. Outside a git work tree
# (an unpacked archive) there is no list of files to hash: no key, and the lint always runs.
LINT_KEY = git rev-parse --is-inside-work-tree >/dev/null 2>&1 && \
	git ls-files -z --cached --others --exclude-standard -- '*.py' '*.pyi' pyproject.toml \
	'requirements*.txt' | LC_ALL=C sort -z | xargs -0 sha256sum 2>&1 | sha256sum | cut -c1-16

lint-once: $(VENV)/.dev-deps
	@key=$$($(LINT_KEY)); \
	if [ -n "$$key" ] && [ "$$(cat .lint-passed 2>/dev/null)" = "$$key" ]; then \
		echo "make lint passed on these same files earlier (key $$key in .lint-passed): not run again"; \
	else \
		$(MAKE) --no-print-directory lint && echo "$$key" > .lint-passed; \
	fi

format: $(VENV)/.dev-deps
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Python's bytecode caches are written even where PYTHONDONTWRITEBYTECODE is set: every test process
# rewrote the asserts of all ~100 test modules (pytest caches that in tests/__pycache__), about 5 s
# of CPU each, and the many processes the suite starts compiled whatever had no cache yet.
# The lint runs beside the suite (it needs one core for half a minute while the suite waits on its
# servers) and prints when the suite is done; either failing fails the target.
test: $(VENV)/.dev-deps node_modules/.installed
	@lint_log=$$(mktemp); $(MAKE) --no-print-directory lint-once >"$$lint_log" 2>&1 & lint=$$!; \
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadscope --no-loadscope-reorder -m "not faults" $(PYTEST_ARGS); suite=$$?; \
	wait $$lint; linted=$$?; echo "== make lint (run beside the suite)"; cat "$$lint_log"; rm -f "$$lint_log"; \
	if [ $$linted -ne 0 ]; then echo "make lint failed" >&2; fi; \
	[ $$suite -eq 0 ] && [ $$linted -eq 0 ]

# Fault drills (own PostgreSQL, Redis, gunicorn, worker, failing SMTP): minutes of outages, run by CI.
test-faults: $(VENV)/.dev-deps
	$(BIN)/python -m pytest -m faults $(PYTEST_ARGS)

bench: $(VENV)/.dev-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache

# Catalogues (docs: README, Languages): the strings of the code and templates into
# petition/translations/messages.pot, merged into every language's messages.po, compiled to .mo.
BABEL := $(BIN)/pybabel
TRANSLATIONS := petition/translations
translations: $(VENV)/.dev-deps
	$(BABEL) --quiet extract -F babel.cfg -k _l -k lazy_gettext -k N_ --no-location \
	  --sort-output --project=Jointly --msgid-bugs-address=- -o $(TRANSLATIONS)/messages.pot .
	$(BABEL) --quiet update --no-fuzzy-matching -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS)
	$(BABEL) compile --statistics -d $(TRANSLATIONS)
