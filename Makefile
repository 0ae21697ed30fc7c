# The two entry points: `make run` and `make test`. Both create or update .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit system-deps clean

system-deps:
	@command -v ffmpeg >/dev/null 2>&1 || { \
		echo "installing ffmpeg (Debian package)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq ffmpeg >/dev/null; }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

# One command on a fresh machine: make (or upgrade) the store, then serve. In production,
# `triage migrate` is a step of its own, after a backup.
run: system-deps $(STAMP)
	$(BIN)/triage migrate --create
	$(BIN)/triage serve

lint: $(STAMP)
	$(BIN)/ruff check hashes triage workers tests
	$(BIN)/ruff format --check hashes triage workers tests

typecheck: $(STAMP)
	$(BIN)/mypy hashes triage workers tests

unit: system-deps $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider

test: lint typecheck unit

clean:
	rm -rf $(VENV) build *.egg-info
