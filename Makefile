# The two commands a new user needs: `make run` and `make test`. Both set everything up first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
CLI    := $(VENV)/bin/restaurants

.PHONY: run test setup lint typecheck bench chaos clean images

$(STAMP): pyproject.toml
	@command -v python3 >/dev/null || { echo "Python 3.11+ is required: install python3 and python3-venv." >&2; exit 1; }
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip
	@$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)
	@$(CLI) setup

run: setup
	@$(CLI) up

test: setup
	@$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	@$(VENV)/bin/ruff check src tests
	@$(VENV)/bin/ruff format --check src tests

typecheck: setup
	@$(VENV)/bin/mypy

bench: setup
	@test $(VENV)/.bench-stamp -nt pyproject.toml || { $(PY) -m pip install -q -e '.[dev,bench]' && touch $(VENV)/.bench-stamp; }
	@$(PY) -m kafka_restaurants.bench

# Faults on a schedule under steady orders, then an audit (CHAOS_QUICK=1: about 2.5 minutes).
chaos: setup
	@test $(VENV)/.bench-stamp -nt pyproject.toml || { $(PY) -m pip install -q -e '.[dev,bench]' && touch $(VENV)/.bench-stamp; }
	@$(CLI) chaos

# The container image, with docker or podman, whichever works here (deploy/images.sh).
images:
	@deploy/images.sh

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
