# Vigil: `make up` runs the whole stack with demo cameras; `make test` runs every test.
# Every install comes from a lock file in requirements/ (exact versions + hashes): `make lock`
# regenerates them, `make upgrade-check` runs the suite on the newest releases (docs/operations.md).
SHELL := /bin/bash
VENV  ?= .venv
BIN   := $(VENV)/bin
# The lock this venv is installed from (make upgrade-check points it at a freshly resolved one).
LOCK  ?= requirements/dev.txt
PACKAGES := services/common services/capture services/ingest services/recorder services/api services/notifier services/detector services/ipcams bench
PYTEST_ARGS ?=
export VIGIL_LOCK_FILE := $(abspath $(LOCK))

.PHONY: up test install install-dev lint typecheck unit browser bench soak clean lock upgrade-check

$(BIN)/python:
	@scripts/bootstrap-venv.sh $(VENV)

# One venv for `make up` and `make test`: the dev lock is the server's, the camera's, the embedded
# fallbacks' and the test tools' versions, resolved together.
$(VENV)/.installed: $(BIN)/python $(LOCK) services/*/pyproject.toml bench/pyproject.toml
	scripts/install.sh $(VENV) $(LOCK) $(PACKAGES)
	$(BIN)/python -m vigil_detector.fetch
	$(BIN)/python -m vigil_capture.demo_photos
	@touch $@

install: $(VENV)/.installed
install-dev: install

up: install
	$(BIN)/vigil up

lint: install
	$(BIN)/ruff check services bench tests

typecheck: install
	$(BIN)/mypy services bench

test: install
	@scripts/ensure-services.sh
	@scripts/ensure-deploy-tools.sh
	@scripts/ensure-browser.sh
	@scripts/ensure-rtsp-server.sh
	$(BIN)/python -m vigil_capture.demo_photos
	$(BIN)/ruff check services bench tests
	$(BIN)/mypy services bench
	$(BIN)/pytest -ra --durations=25 $(PYTEST_ARGS)

unit: install
	$(BIN)/pytest -q tests/unit

# The web app in chromium (Playwright) against the whole stack; VIGIL_SCREENSHOTS=1 refreshes docs/screenshots.
browser: install
	@scripts/ensure-services.sh
	@scripts/ensure-browser.sh
	$(BIN)/pytest -ra tests/browser $(PYTEST_ARGS)

bench: install
	@scripts/ensure-services.sh
	@scripts/ensure-rtsp-server.sh
	$(BIN)/vigil bench all

soak: install
	@scripts/ensure-services.sh
	$(BIN)/pytest -ra -m soak

# Regenerate requirements/*.txt from the newest releases inside the declared ranges.
lock: install
	UV=$(BIN)/uv scripts/lock.sh

# The newest releases inside the ranges (ignoring the locks) in a throwaway venv, then the whole
# suite on them; also lists what is newer than our ranges allow. Does not touch requirements/.
upgrade-check: install
	rm -rf .venv-upgrade
	UV=$(BIN)/uv LOCK_DIR=.venv-upgrade-lock scripts/lock.sh
	$(MAKE) test VENV=.venv-upgrade LOCK=.venv-upgrade-lock/dev.txt
	@echo "upgrade-check: the suite passed on the newest releases inside the ranges; releases beyond them:"
	@$(BIN)/uv pip list --outdated --python .venv-upgrade/bin/python 2>/dev/null || true

clean:
	rm -rf $(VENV) .venv-upgrade .venv-upgrade-lock .pytest_cache .mypy_cache .ruff_cache
