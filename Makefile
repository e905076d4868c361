# The two commands a newcomer runs: `make demo` and `make test`. Both install into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo-data

.PHONY: install demo test lint typecheck unit bench clean replay-env

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# pywb pins an old redis client that cannot share .venv with scrapy-redis: replay gets its own environment.
REPLAY_STAMP := .venv-replay/.installed
$(REPLAY_STAMP):
	test -x .venv-replay/bin/python || $(PYTHON) -m venv .venv-replay
	.venv-replay/bin/python -m pip install --quiet 'pywb>=2.10,<2.11'
	touch $(REPLAY_STAMP)

replay-env: $(REPLAY_STAMP)

demo: $(STAMP)
	$(BIN)/python -m tests.demo --data-dir $(DEMO_DIR)

lint: $(STAMP)
	$(BIN)/ruff check crawler archive tests

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) $(REPLAY_STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m tests.benchmarks

clean:
	rm -rf $(VENV) .venv-replay .mypy_cache .ruff_cache .pytest_cache $(DEMO_DIR)
