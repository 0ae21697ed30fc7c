# The two entry points: `make run` and `make test`. Both create or update .venv first.
# `make test-fast` is the daily loop: the same checks, pytest without the media and e2e tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint imports typecheck unit unit-fast system-deps ops-tools browser-deps clean

system-deps:
	@command -v ffmpeg >/dev/null 2>&1 || { \
		echo "installing ffmpeg (Debian package)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq ffmpeg >/dev/null; }

# The deployment checks' tools: promtool (Debian's prometheus package) tests the alert rules,
# docker-compose (Debian's, a client only) validates the compose file; hadolint comes from PyPI
# with the dev extra.
ops-tools:
	@if ! command -v promtool >/dev/null 2>&1 || ! command -v docker-compose >/dev/null 2>&1; then \
		echo "installing promtool and docker-compose (Debian packages)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
			--no-install-recommends prometheus docker-compose >/dev/null; \
	fi

# Headless Chromium for the browser tests (marker e2e), driven by Playwright; the Debian
# package, because Playwright's own browser download is not used.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "installing chromium (Debian package)"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get -o DPkg::Lock::Timeout=600 \
			install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }

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

# The layering contracts in pyproject.toml ([tool.importlinter]).
imports: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy hashes triage workers tests

# One test process per core (pytest-xdist). A module's tests stay in one process, so what its
# module fixtures build (hashed references, generated clips) is built once; modules go out in
# file order, since biggest-first leaves the few long end-to-end tests for last, on one core.
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider -n auto --dist loadscope --no-loadscope-reorder

unit: system-deps ops-tools browser-deps $(STAMP)
	$(PYTEST)

# Media decoding and real `triage serve` runs are left to `make test`.
unit-fast: ops-tools $(STAMP)
	$(PYTEST) -m "not media and not e2e"

test: lint imports typecheck unit

test-fast: lint imports typecheck unit-fast

clean:
	rm -rf $(VENV) build *.egg-info
