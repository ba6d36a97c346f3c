# Two entry points (see README): `make demo` and `make test`. Everything installs from scratch
# into .venv (Python); torch is pinned to the 2.13.0 CPU build that pip takes from local disk.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: setup demo test test-python bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[test]"
	touch $@

demo: setup
	$(VENV)/bin/ttvis demo

test: test-python

test-python: setup
	$(PY) -m pytest -q tests/python

bench: setup
	$(PY) benchmarks/dvi_vs_umap.py

clean:
	rm -rf $(VENV) ttvis-demo benchmarks/_data .pytest_cache
