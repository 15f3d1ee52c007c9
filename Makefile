# Two commands for a new user (see README.md):
#   make demo   set up .venv and run the demo plate end to end
#   make test   set up .venv (with test tools) and run the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# setuptools warns on every editable install that a folder named like the package may
	@# shadow it: here that folder is the package itself, so the warning only alarms
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hts demo --dir demo

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/throughput.py --images 64
	$(BIN)/python benchmarks/memory.py

clean:
	rm -rf demo .pytest_cache .mypy_cache .ruff_cache
