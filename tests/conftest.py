"""Fixtures shared by all tests: notebook runs, and synthetic CRM data with its customer table.

(Tests run with ``--import-mode=importlib``, so shared helpers are fixtures here, not modules to import.)
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from segwork.datasets import make_crm
from segwork.features import customer_table

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


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
    return make_crm(n_customers=n_customers, seed=seed)


@pytest.fixture(scope="module")
def table(data):
    """The customer table of ``data``: behaviour, profiles and survey answers, one row per customer."""
    return customer_table(data.transactions, data.customers, data.survey)
