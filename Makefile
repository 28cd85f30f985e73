# The two commands a newcomer runs: `make lab` (the workshop) and `make test` (the tests).
# Each sets itself up: a .venv with the project installed, created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: setup lab run notebooks test lint bench cloud-start cloud-stop clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

## make lab: start the local cloud and open JupyterLab on notebooks/
lab: setup
	$(BIN)/workshop cloud start
	$(BIN)/jupyter lab --ip=127.0.0.1 notebooks/

## make run: execute the notebooks in order against the local cloud, one line per notebook
run: setup
	$(BIN)/workshop run

## make notebooks: re-execute the notebooks against a fresh local cloud and commit-ready outputs
notebooks: setup
	$(BIN)/workshop run --fresh --write

## make test: the whole test suite (unit, integration against a local cloud, nbval)
test: setup
	$(BIN)/python -m pytest -q

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
