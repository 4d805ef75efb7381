# The two commands: `make run` (the whole system on embedded defaults) and `make test`.
# Needs only Python 3.11+; everything else is installed into .venv from requirements*.txt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test chaos lint install install-dev procfile clean

run: $(VENV)/.installed
	$(PY) -m bmc.launcher run

test: $(VENV)/.installed-dev
	$(PY) -m bmc.launcher test $(ARGS)

# Faults under load, with the books kept (bench/chaos.py, docs/operations.md): about 5 minutes.
# `make chaos CHAOS_DATABASE_URL=postgres://postgres@127.0.0.1:5432/chaos` adds PostgreSQL's round.
chaos: $(VENV)/.installed
	$(PY) bench/chaos.py $(ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/bin/python:
	$(PYTHON) -c 'import sys; sys.exit("Python 3.11+ is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/bin/python
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

# The Procfile is derived from bmc/queues.py; tests/test_topology.py checks they agree.
procfile: $(VENV)/.installed
	$(PY) -m bmc.queues > Procfile

clean:
	rm -rf var/ .pytest_cache
