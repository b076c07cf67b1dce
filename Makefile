# Two commands do everything on a fresh machine: `make verify` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: verify test lint bench clean

# The venv is rebuilt when pyproject.toml is newer than the last install.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $(STAMP)

verify: $(STAMP)
	$(BIN)/seriescheck verify --json verify.json
	$(BIN)/seriescheck relies

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m bench
	$(BIN)/python -m bench.detection
	$(BIN)/python -m bench.cluster

clean:
	rm -rf $(VENV) .seriescheck-cache
