# The two commands a new user needs: `make run` and `make test`. Both set everything up first.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
CLI    := $(VENV)/bin/restaurants

# The locks (`make lock` writes them from pyproject.toml; every version pinned, every file hashed):
#   requirements/dev.txt      what .venv holds: the dependencies with the dev and bench extras
#   requirements/runtime.txt  what the image holds (the Dockerfile installs it)
#   requirements/build.txt    pyproject's [build-system] requires, to build the project itself
LOCKS  := requirements/build.txt requirements/dev.txt requirements/runtime.txt

.PHONY: run test setup lint typecheck bench chaos clean images lock audit

# A changed pyproject.toml or lock reinstalls. pip verifies every download against the lock's
# hashes; the project itself goes in without dependencies and builds with the locked setuptools.
$(STAMP): pyproject.toml $(LOCKS)
	@command -v python3 >/dev/null || { echo "Python 3.11+ is required: install python3 and python3-venv." >&2; exit 1; }
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --require-hashes -r requirements/build.txt -r requirements/dev.txt
	@$(PY) -m pip install -q --no-deps --no-build-isolation -e .
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
	@$(PY) -m kafka_restaurants.bench

# Faults on a schedule under steady orders, then an audit (CHAOS_QUICK=1: about 2.5 minutes).
chaos: setup
	@$(CLI) chaos

# Rewrite the locks after a change to pyproject.toml's dependencies (commit both). Versions
# already locked stay unless they must change; LOCK_ARGS=--upgrade (or --upgrade-package NAME)
# moves them. For Python 3.11 on Linux x86_64 wherever it runs: that is what .venv, CI and the
# image use. The runtime and build locks are constrained to the dev lock's versions.
UV_COMPILE := $(VENV)/bin/uv pip compile --quiet --generate-hashes --python-version 3.11 \
	--python-platform x86_64-unknown-linux-gnu --custom-compile-command 'make lock' $(LOCK_ARGS)
lock: $(STAMP)
	@mkdir -p requirements
	@$(UV_COMPILE) --extra dev --extra bench -o requirements/dev.txt pyproject.toml
	@$(UV_COMPILE) -c requirements/dev.txt -o requirements/runtime.txt pyproject.toml
	@$(PY) -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
		| $(UV_COMPILE) -c requirements/dev.txt -o requirements/build.txt -
	@$(PY) -m pytest -q -p no:cacheprovider tests/unit/test_lock.py

# Known vulnerabilities in every locked package (pip-audit, PyPI's vulnerability data). It fails
# on a vulnerability and, with AUDIT_STRICT (the default), on a package it could not check.
# Accepted ones go in AUDIT_IGNORE as `--ignore-vuln ID`, each with its date and reason.
AUDIT_IGNORE :=
AUDIT_STRICT := --strict
audit: $(STAMP)
	@$(VENV)/bin/pip-audit --disable-pip --require-hashes --vulnerability-service pypi \
		--progress-spinner off $(AUDIT_STRICT) $(AUDIT_IGNORE) $(foreach lock,$(LOCKS),-r $(lock))

# The container image, with docker or podman, whichever works here (deploy/images.sh).
images:
	@deploy/images.sh

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
