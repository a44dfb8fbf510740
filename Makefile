# segwork: two commands do all the set-up.
#   make report   create .venv, install segwork, run the report on the built-in data
#   make test     the same set-up, then the whole test suite
# Re-runnable: an existing .venv is reused; it is re-installed only when pyproject.toml changes.

# The first interpreter found that is Python >= 3.11 (override: make PYTHON=/path/to/python3.12 ...).
PYTHON ?= $(shell for p in python3 python3.14 python3.13 python3.12 python3.11 python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.segwork-installed
KERNEL_NAME := segwork

.PHONY: setup report test lab benchmark clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: segwork needs Python >= 3.11 (none found on PATH; set PYTHON=...)" >&2; exit 2; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# -qq: errors only. A machine's pip configuration can name index folders that do not exist there, and pip
	@# then prints one "Location ... is ignored" warning per package (a 150-line wall); errors still show.
	$(BIN)/python -m pip install -qq --upgrade pip
	@# PYTHONWARNINGS=ignore: setuptools' editable build prints a banner on every install (no mode avoids it).
	PYTHONWARNINGS=ignore $(BIN)/python -m pip install -qq -e '.[test,scale]'
	$(BIN)/python -m ipykernel install --user --name $(KERNEL_NAME) --display-name "Python (segwork .venv)" >/dev/null
	@touch $(STAMP)

setup: $(STAMP)

report: $(STAMP)
	$(BIN)/segwork report --dataset synthetic --output reports --jobs 2

# -n auto --dist loadfile (pytest-xdist): one worker per core, a test file's tests on one worker (its
# module-scoped fixtures, e.g. a report run or a Dask cluster, start once). Most of the time is notebook
# kernels and single-threaded fits, so two workers on two cores nearly halve the wall time.
NODE_CLIENT := tests/service/node_client
NODE_STAMP := $(NODE_CLIENT)/node_modules/.segwork-installed

# The non-Python SOAP client of tests/service/test_node_client.py (node-soap, pinned by its package-lock.json);
# without npm on the machine that one test is skipped and says why.
$(NODE_STAMP): $(NODE_CLIENT)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  { npm ci --prefix $(NODE_CLIENT) --silent --no-audit --no-fund && touch $(NODE_STAMP); } \
	  || echo "warning: npm ci failed; the node-soap client test will be skipped"; \
	else echo "note: npm not found; the node-soap client test will be skipped"; fi

test: $(STAMP) $(NODE_STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

benchmark: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis $(NODE_CLIENT)/node_modules
