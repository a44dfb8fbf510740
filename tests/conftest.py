"""Fixtures shared by all tests: notebook runs, synthetic CRM data with its customer table, a model folder.

(Tests run with ``--import-mode=importlib``, so shared helpers are fixtures here, not modules to import.)
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from segwork.datasets import make_crm
from segwork.features import customer_table

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: The longest test files (a whole report in a browser, every README example), run first: `make test` gives each
#: xdist worker whole files (--dist loadfile) in collection order, and these top-level files were collected last,
#: so one worker ran them alone at the end while the other sat idle.
LONGEST_FIRST = ("test_browser.py", "test_readme.py")


def pytest_collection_modifyitems(config, items):
    """Move the tests of :data:`LONGEST_FIRST` to the front (a stable sort: the order within a file is kept)."""
    items.sort(key=lambda item: LONGEST_FIRST.index(item.path.name) if item.path.name in LONGEST_FIRST
               else len(LONGEST_FIRST))


@pytest.fixture
def run_notebook(tmp_path):
    """``run_notebook(name, **parameters) -> metrics``: run ``notebooks/<name>.ipynb`` through papermill.

    The notebook runs in the notebooks folder with ``parameters`` and
    ``output_dir = tmp_path / name``; the result is the metrics.json it saved
    there. Skips when papermill is not installed.
    """
    pm = pytest.importorskip("papermill")

    def run(name: str, **parameters) -> dict:
        out = tmp_path / name
        pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(tmp_path / f"{name}.out.ipynb"),
                            parameters={"output_dir": str(out), **parameters}, kernel_name="python3",
                            cwd=str(NOTEBOOKS), progress_bar=False)
        return json.loads((out / "metrics.json").read_text())

    return run


@pytest.fixture(scope="module")
def data(crm_size):
    """A synthetic CRM data set (:func:`segwork.datasets.make_crm`), once per test module.

    Its size is the module's ``crm_size`` fixture: ``(n_customers, seed)``.
    """
    n_customers, seed = crm_size
    return make_crm(n_customers=n_customers, random_state=seed)


@pytest.fixture(scope="module")
def table(data):
    """The customer table of ``data``: behaviour, profiles and survey answers, one row per customer."""
    return customer_table(data.transactions, data.customers, data.survey)


#: Customers of the model folder's data (``crm``), for tests/models and tests/service.
MODEL_CUSTOMERS = 1_500


@pytest.fixture(scope="session")
def crm():
    """make_crm(1,500 customers, seed 0): the data the model folder is built from (modules may define their own)."""
    return make_crm(n_customers=MODEL_CUSTOMERS, random_state=0)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory, crm):
    """A model folder written by :func:`segwork.models.build_models` from ``crm`` (once per session)."""
    from segwork.models import build_models

    return build_models(crm, tmp_path_factory.mktemp("models") / "models", random_state=0, source="synthetic")


@pytest.fixture(scope="session")
def store(models_dir):
    """The model folder loaded in the test process (what the answers are checked against)."""
    from segwork.models import load_models

    return load_models(models_dir)


#: Parameters of the defection report the notebook-10 and browser tests share: 3,000 customers of the planted
#: defection world, the notebook's defaults otherwise (likelihood-ratio tests; the report takes about a minute).
DEFECTION_REPORT = ("-p", "n_customers", "3000", "-p", "random_state", "0")


def _segwork_report(out: Path, *args: str) -> Path:
    """Run the real command ``segwork report --output out --no-progress *args``; returns the run folder it wrote.

    (``out/latest`` moves only for a full report; the newest run folder is the one this call wrote.)
    """
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "segwork.cli", "report", "--output", str(out), "--no-progress", *args],
                          capture_output=True, text=True, cwd=NOTEBOOKS.parent, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    from segwork.report.history import newest_run

    return newest_run(out)


@pytest.fixture(scope="session")
def defection_report(tmp_path_factory) -> Path:
    """``segwork report --only 10_defection`` on make_crm(3000, random_state=0, defection=True), once per session.

    Returns the run folder: ``10_defection/metrics.json``, ``10_defection.html``, ``index.html``.
    """
    return _segwork_report(tmp_path_factory.mktemp("defection-report"), "--only", "10_defection", *DEFECTION_REPORT)


@pytest.fixture(scope="session")
def segwork_report():
    """``segwork_report(out, *args) -> run folder``: the real ``segwork report --output out --no-progress *args``."""
    return _segwork_report
