# The two commands a newcomer runs: `make lab` (the workshop) and `make test` (the tests).
# Each sets itself up: a .venv with the project installed, created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup chromium lab run notebooks test lint bench cloud-start cloud-stop clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## Chromium for the browser chat tests. Never fails the build: where it cannot be installed,
## it says why and tests/integration/test_browser_chat.py skips its browser tests.
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" != 0 ]; then \
	  echo "chromium: /usr/bin/chromium is missing and we are not root: not installing it (the browser tests will skip; as root: apt-get install chromium)"; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "chromium: /usr/bin/chromium is missing and there is no apt-get: not installing it (the browser tests will skip)"; \
	else \
	  echo "chromium: installing Debian's chromium for the browser tests"; \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	    || echo "chromium: apt-get could not install chromium (the browser tests will skip)"; \
	fi

## make lab: start the local cloud and JupyterLab on the workshop (as root or not, headless or
## not; WORKSHOP_LAB_PORT, WORKSHOP_AWS_PORT, WORKSHOP_WS_PORT choose the ports)
lab: setup
	$(BIN)/workshop lab

## make run: execute the notebooks in order against the local cloud, one line per notebook
run: setup
	$(BIN)/workshop run

## make notebooks: re-execute the notebooks against a fresh local cloud and commit-ready outputs
notebooks: setup
	$(BIN)/workshop run --fresh --write

## make test: ruff, then the whole test suite (unit, integration against a local cloud, nbval),
## a test file at a time on TEST_WORKERS processes (the suite mostly waits; see conftest.py)
TEST_WORKERS ?= 2
test: setup chromium
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS)

lint: setup
	$(BIN)/ruff check .

bench: setup
	$(BIN)/python -m benchmarks

cloud-start: setup
	$(BIN)/workshop cloud start

cloud-stop: setup
	$(BIN)/workshop cloud stop

clean:
	-$(BIN)/workshop cloud stop
	rm -rf .workshop
