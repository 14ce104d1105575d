# `make demo` runs the main job on the embedded data; `make test` runs the test suite.
# Both create .venv and install what they need (torch 2.13.0 first: a bare `torch` pulls a CUDA build).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test bench api scatter clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(PY) -m experiments.main

test: $(STAMP)
	$(PY) -m pytest -q tests

bench: $(STAMP)
	$(PY) -m experiments.benchmarks.graph
	$(PY) -m experiments.benchmarks.fit
	$(PY) -m experiments.benchmarks.augment
	$(PY) -m experiments.benchmarks.models
	$(PY) -m experiments.benchmarks.pretrain

# The API reference from the docstrings (pdoc), into build/api (tests/test_api_reference.py builds it too)
api: $(STAMP)
	$(PY) -m pdoc nngraph nngraph.datasets nngraph.models nngraph.augment nngraph.lightning \
		nngraph.lightning.classifier nngraph.lightning.data nngraph.lightning.contrastive \
		nngraph.lightning.callbacks nngraph.lightning.checkpoints -o build/api

# Optional speed-up: torch-scatter has no wheel on PyPI and builds from source (about 4 minutes).
scatter: $(STAMP)
	$(PY) -m pip install --no-build-isolation torch-scatter

clean:
	rm -rf $(VENV) *.egg-info
