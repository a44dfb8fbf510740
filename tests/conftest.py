"""Fixtures shared by all tests: notebook runs.

(Tests run with ``--import-mode=importlib``, so shared helpers are fixtures here, not modules to import.)
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

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

