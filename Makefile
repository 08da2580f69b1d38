# `make run`: the panel on its embedded default (SQLite, filesystem broker) with the demo provider.
# `make test`: ruff, mypy and pytest against Postgres and Redis (required when CI is set).

VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
export PATH := $(BIN):$(PATH)

.PHONY: run test lint messages bench production-check clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

# The Japanese catalog is compiled here (gettext's msgfmt), never committed.
messages: $(STAMP)
	python manage.py compilemessages --ignore '$(VENV)' --verbosity 0

run: $(STAMP) messages
	python manage.py migrate --noinput
	python manage.py collectstatic --noinput --verbosity 0
	honcho start -f Procfile

lint: $(STAMP)
	ruff check .
	ruff format --check .
	mypy .
	bandit -r . -x ./tests,./.venv -ll -q

test: lint messages
	vars=$$(python scripts/test_services.py) && env $$vars pytest

# Caddy (Debian's caddy package) in front of gunicorn with production settings, Postgres, Redis, a worker and
# beat, checked from outside over https (tests/deploy); `python scripts/production_topology.py` keeps it up.
production-check: $(STAMP) messages
	vars=$$(python scripts/test_services.py) && env $$vars pytest tests/deploy

# Each in a throwaway database; bench_api loads gunicorn with Debian's wrk (.ci/run installs it).
bench: $(STAMP)
	vars=$$(python scripts/test_services.py) && \
	env $$vars python scripts/bench_sync.py && \
	env $$vars python manage.py bench_api && \
	env $$vars python manage.py bench_poll --orders 100000 --latency-ms 50 && \
	env $$vars python manage.py bench_poll --orders 100000 --latency-ms 0 && \
	env $$vars python manage.py bench_dashboard

clean:
	rm -rf $(VENV) var
