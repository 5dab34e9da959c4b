# Two commands do all set-up on a fresh machine: `make repro` (the benchmark) and `make test`.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
export DVC_NO_ANALYTICS := 1
export RAY_USAGE_STATS_ENABLED := 0
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1

.PHONY: setup repro test lint bench clean-runs

$(BIN)/.erbench-installed: pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first: the CPU wheel on local disk (a bare `pip install torch` pulls GBs of CUDA wheels)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev,cluster]'
	touch $@

setup: $(BIN)/.erbench-installed

# The main job: `dvc repro` on params.yaml (the embedded suite by default; `erbench suite use NAME` switches)
repro: setup
	source $(BIN)/activate && dvc repro

# The tests (ruff + pytest); CI runs exactly this
test: setup
	source $(BIN)/activate && ruff check . && python -m pytest -q

lint: setup
	source $(BIN)/activate && ruff check .

bench: setup
	source $(BIN)/activate && erbench bench --dataset conll04 --sentences 200
