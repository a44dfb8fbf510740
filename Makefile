# segwork: two commands do all the set-up.
#   make report   create .venv, install segwork, run the report on the built-in data
#   make test     the same set-up, then the whole test suite
#   make lab      the same set-up, then JupyterLab on notebooks/ with the project's kernel (HOST=, PORT= to choose)
# Re-runnable: an existing .venv is reused; it is re-installed only when pyproject.toml changes.

# The first interpreter found that is Python >= 3.11 (override: make PYTHON=/path/to/python3.12 ...).
PYTHON ?= $(shell for p in python3 python3.14 python3.13 python3.12 python3.11 python; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null \
	&& { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.segwork-installed
KERNEL_NAME := segwork
# The kernel and the Jupyter server setting live inside .venv (--sys-prefix), so every clone has its own: a per-user
# kernelspec (~/.local/share/jupyter) would be shared by all clones on the machine, the last `make` winning.
JUPYTER_STAMP := $(VENV)/.segwork-jupyter
# transport_encryption=auto: the server gives each kernel whose kernelspec supports it (ipykernel's does) CurveZMQ
# keys, so kernels do not warn "Kernel is running over TCP without encryption" (jupyter_server's setting for it).
JUPYTER_CONFIG := $(VENV)/etc/jupyter/jupyter_server_config.d/segwork.json
# make lab HOST=0.0.0.0 PORT=9999: where JupyterLab listens (default: this machine only; use ssh -L to reach it).
HOST ?= 127.0.0.1
PORT ?= 8888

.PHONY: setup report test lab benchmark clean

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: segwork needs Python >= 3.11 (none found on PATH; set PYTHON=...)" >&2; exit 2; }
	@test -x $(BIN)/python || { echo "creating the virtual environment $(VENV) with $(PYTHON)"; $(PYTHON) -m venv $(VENV); }
	@echo "installing segwork and its dependencies into $(VENV) (about a minute the first time; quiet unless it fails)"
	@# -qq: errors only. A machine's pip configuration can name index folders that do not exist there, and pip
	@# then prints one "Location ... is ignored" warning per package (a 150-line wall); errors still show.
	@$(BIN)/python -m pip install -qq --upgrade pip
	@# PYTHONWARNINGS=ignore: setuptools' editable build prints a banner on every install (no mode avoids it).
	@PYTHONWARNINGS=ignore $(BIN)/python -m pip install -qq -e '.[test,scale]'
	@touch $(STAMP)

$(JUPYTER_STAMP): $(STAMP) Makefile
	@echo "registering the Jupyter kernel \"Python (segwork .venv)\" inside $(VENV)"
	@$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL_NAME) --display-name "Python (segwork .venv)" >/dev/null
	@mkdir -p $(dir $(JUPYTER_CONFIG))
	@echo '{"MappingKernelManager": {"transport_encryption": "auto"}}' > $(JUPYTER_CONFIG)
	@touch $(JUPYTER_STAMP)

setup: $(STAMP) $(JUPYTER_STAMP)

report: setup
	$(BIN)/segwork report --dataset synthetic --output reports --jobs 2

# --durations=15: the slowest tests are listed after the run, to keep the suite short.
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

test: setup $(NODE_STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile --durations=15

# --no-browser: on a remote machine there is none; open the URL JupyterLab prints (with ssh -L $(PORT):localhost:$(PORT)).
# Jupyter refuses to run as root unless told; in a container that is the usual user, so say it and allow it.
lab: setup
	@if [ "$$(id -u)" = 0 ]; then echo "note: running as root, so JupyterLab gets --allow-root; on a shared machine run make lab as a normal user"; fi
	$(BIN)/jupyter lab --no-browser --ServerApp.ip=$(HOST) --ServerApp.port=$(PORT) \
	  $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) notebooks/

benchmark: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis $(NODE_CLIENT)/node_modules
