# Two commands do all set-up on a fresh machine: `make repro` (the benchmark) and `make test`.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
export DVC_NO_ANALYTICS := 1
export RAY_USAGE_STATS_ENABLED := 0
export TRANSFORMERS_NO_ADVISORY_WARNINGS := 1

.PHONY: setup repro test lint bench lock clean-runs

# Exact versions: requirements.lock (uv pip compile, CPython 3.11, Linux x86_64) pins every package, torch
# included as its CPU build (torch-cpu.txt). Refresh it with `make lock` (see README, "Locked environment").
LOCK := requirements.lock
TORCH := torch-cpu.txt
# where `make lock` reads torch's CPU wheel metadata: pip's find-links (the local wheels); override to point
# at another source of CPU wheels
TORCH_SOURCE ?= --find-links $(shell pip config get global.find-links 2>/dev/null)

$(BIN)/.erbench-installed: pyproject.toml $(LOCK) $(TORCH)
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, the CPU build from pip's find-links (the local wheel); a bare `pip install torch`
	# would pull GBs of CUDA wheels
	$(BIN)/pip install -q -r $(TORCH)
	# every other package at the lock's exact version (torch is already satisfied), then erbench itself
	$(BIN)/pip install -q -r $(LOCK)
	$(BIN)/pip check
	touch $@

# erbench itself, as a strict editable install: a tree of links under build/ that static tools (mypy,
# pyright, IDEs) follow, where the default editable install is an import hook they cannot read. A link
# tree lists the files it was built from, so it is rebuilt whenever a package folder changes (a module
# added, removed or renamed changes its folder's time) or pyproject.toml does.
PACKAGE_DIRS := $(shell find benchmark models -type d -not -name __pycache__ 2>/dev/null)
$(BIN)/.erbench-linked: $(BIN)/.erbench-installed pyproject.toml $(PACKAGE_DIRS)
	$(BIN)/pip install -q --no-deps -e . --config-settings editable_mode=strict
	touch $@

setup: $(BIN)/.erbench-linked

# The main job: `dvc repro` on params.yaml (the embedded suite by default; `erbench suite use NAME` switches)
repro: setup
	source $(BIN)/activate && dvc repro

# The tests (ruff + pytest); CI runs exactly this
test: setup
	source $(BIN)/activate && ruff check . && python -m pytest -q

# Re-resolve requirements.lock from pyproject.toml: keeps every pin that still satisfies it; `make lock
# UPGRADE=--upgrade` moves everything to the newest allowed versions. Then `make setup` and `make test`.
lock: setup
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra cluster --python-version 3.11 \
		--python-platform x86_64-manylinux_2_28 -c $(TORCH) $(TORCH_SOURCE) --annotation-style line $(UPGRADE) \
		-o $(LOCK)

lint: setup
	source $(BIN)/activate && ruff check .

bench: setup
	source $(BIN)/activate && erbench bench --dataset conll04 --sentences 200
