# Two entry points (see README): `make demo` and `make test`. Everything installs from scratch
# into .venv (Python); torch is pinned to the 2.13.0 CPU build that pip takes from local disk.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: setup setup-node setup-browser setup-data setup-vscode demo docs test test-python test-node check-page bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q "torch==2.13.0"
	$(PIP) install -q -e ".[test,ray]"
	touch $@

demo: setup
	$(VENV)/bin/ttvis demo

# the README's picture of the demo, made by the demo itself (so it cannot go stale)
docs: setup
	$(VENV)/bin/ttvis demo --docs docs/demo-epoch20.png

test: test-python test-node

# the npm side (extension + webview) and Debian's Chromium for the browser tests
setup-node: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

setup-browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Debian's Fashion-MNIST (the four idx .gz files under /usr/share/datasets/fashion-mnist) for the
# `ttvis demo --dataset fashion-mnist` test; installed only when missing
setup-data:
	@dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || { \
	  echo "installing Debian's dataset-fashion-mnist for the Fashion-MNIST demo test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null; }

# a real VS Code (code-server from the npm registry) for the extension's end-to-end tests, cached in .e2e/
SHARED ?= ../shared
setup-vscode:
	DEST=$(CURDIR)/.e2e/cs TEST_DIR=$(CURDIR)/.e2e/test bash $(SHARED)/vscode-e2e/install-vscode.sh

# the end-to-end test installs the .vsix that `npm run package` builds, as a user would
test-node: setup setup-node setup-browser setup-vscode
	npm run package
	TTVIS_PYTHON=$(abspath $(PY)) npm test
	@$(MAKE) --no-print-directory check-page

# The page `ttvis serve` shows is committed, built (pybackend/ttvis/static/webview/), so a pip install
# needs no Node; build.mjs writes it byte-for-byte deterministically. After a build (npm run build or
# package) the folder must equal git's copy (index: `git add` counts), else the committed page is stale.
PAGE := pybackend/ttvis/static/webview
check-page:
	@if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
	  echo "check-page: not a git checkout, nothing to compare $(PAGE)/ with"; exit 0; fi; \
	new=$$(git ls-files --others --exclude-standard -- $(PAGE)); \
	if ! git diff --quiet -- $(PAGE) || [ -n "$$new" ]; then \
	  git --no-pager diff --stat -- $(PAGE); [ -z "$$new" ] || printf "not in git:\n%s\n" "$$new"; \
	  echo "check-page: the built page in $(PAGE)/ differs from the committed one."; \
	  echo "  It ships in the Python package, so commit the rebuilt files with your webview/ change:"; \
	  echo "  npm run build && git add $(PAGE)"; exit 1; fi; \
	echo "check-page: $(PAGE)/ matches git"

# test names as they run, and the slowest tests at the end; one process per core (pytest-xdist),
# each with one BLAS/OpenMP thread (two 2-thread torch processes on 2 cores spin against each other)
test-python: setup setup-data
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1 \
	  $(PY) -m pytest -v -n auto -p no:cacheprovider --durations=15 tests/python

bench: setup
	$(PY) benchmarks/dvi_vs_umap.py

clean:
	rm -rf $(VENV) node_modules out ttvis-demo benchmarks/_data .pytest_cache
