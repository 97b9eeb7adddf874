# Quick start: `make run` (set up and serve) and `make test` (set up and run every check).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# two installs, each remembered by a stamp: serving needs only fraudhawk's own dependencies; the checks
# (`make test`, lint, bench) add the development tools. The dev install covers serving too, so it
# touches both stamps and a `make run` after `make test` installs nothing.
SERVE_STAMP := $(VENV)/.installed-serve
DEV_STAMP := $(VENV)/.installed-dev
HOST ?= 127.0.0.1
PORT ?= 8000
DATA_DIR ?= ./fraudhawk-data
# server processes for the prediction benchmark (BENCH_WORKERS=N); unset, `fraudhawk serve`'s default
BENCH_WORKERS ?=
# generated benchmark data (Sparkov runs, the generator and its venv), kept outside the repository
BENCH_CACHE ?= $(HOME)/.cache/fraudhawk-bench
# the Sparkov runs of the multi-dataset TFI report, as seed:customers (e.g. TFI_RUNS=100:700,101:500)
TFI_RUNS ?=

.PHONY: setup run test browser lint typecheck pytest bench clean

setup: $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $(SERVE_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP) $(SERVE_STAMP)

# HOST, PORT and DATA_DIR as above, e.g. `make run PORT=9000 DATA_DIR=/srv/fraudhawk`
run: $(SERVE_STAMP)
	$(BIN)/fraudhawk serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports  # the layer contract in pyproject.toml

typecheck: $(DEV_STAMP)
	$(BIN)/mypy

# each test file on one worker process, one worker per core: about 30% shorter on 2 cores (the files'
# servers use free ports and their own directories, so files may run side by side)
pytest: $(DEV_STAMP) browser
	$(BIN)/pytest -n auto --dist loadfile

# the console's end-to-end tests drive Debian's chromium (Playwright cannot download a browser here)
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

test: browser lint typecheck pytest

bench: $(DEV_STAMP)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python bench/run.py
	$(BIN)/python bench/import_events.py $(if $(SPARKOV),--source $(SPARKOV))
	$(BIN)/python bench/tfi_sparkov.py $(if $(SPARKOV),--train $(SPARKOV)) $(if $(SPARKOV_TEST),--test $(SPARKOV_TEST))
	$(BIN)/python bench/tfi_multi.py --cache $(BENCH_CACHE) $(if $(TFI_RUNS),--runs $(TFI_RUNS))
	$(BIN)/python bench/tfi_new_customers.py --cache $(BENCH_CACHE)
	$(BIN)/python bench/ofi_samples.py $(if $(SAMPLES),--samples $(SAMPLES))
	$(BIN)/python bench/compiled_model.py
	$(BIN)/python bench/predictions.py $(if $(BENCH_WORKERS),--workers $(BENCH_WORKERS)) $(if $(SPARKOV),--train $(SPARKOV)) $(if $(SPARKOV_TEST),--test $(SPARKOV_TEST))
	$(BIN)/python bench/ati.py $(if $(BENCH_WORKERS),--workers $(BENCH_WORKERS))
	$(BIN)/python bench/console_pages.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info .mypy_cache .pytest_cache .ruff_cache .import_linter_cache
