"""Helpers for the report tests: tiny notebooks and the ``segwork`` command in a subprocess."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def make_notebook(path: Path, parameters: str, *body: str, title: str | None = None, metadata=None) -> Path:
    """Write a notebook: a markdown title, a ``parameters`` cell, then one code cell per ``body`` string."""
    params = new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    cells = [new_markdown_cell(f"# {title or path.stem}\n\nA test notebook."), params]
    cells += [new_code_cell(src) for src in body]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata.update(metadata or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


#: A notebook that saves one metric computed from its parameters.
SAVE_METRICS = "from segwork.report import save_metrics\nsave_metrics({'n': n_customers * 2, 'label': label}, output_dir)"
TINY_PARAMS = 'dataset = "synthetic"\nn_customers = 10\nrandom_state = 0\nlabel = "x"\nrate = 0.5\nflag = False\noutput_dir = "."'


@pytest.fixture
def tiny_notebooks(tmp_path) -> Path:
    """A notebooks folder with two quick notebooks that declare the common parameters."""
    folder = tmp_path / "nbs"
    make_notebook(folder / "01_first.ipynb", TINY_PARAMS, SAVE_METRICS, title="First")
    make_notebook(folder / "02_second.ipynb", 'n_customers = 10\nk = 3\noutput_dir = "."',
                  "from segwork.report import save_metrics\nsave_metrics({'k': k}, output_dir)", title="Second")
    return folder


def segwork(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``segwork ARGS`` as a user would (``python -m segwork.cli``), capturing text output."""
    return subprocess.run([sys.executable, "-m", "segwork.cli", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, timeout=timeout)


@pytest.fixture
def make_nb():
    """The :func:`make_notebook` helper."""
    return make_notebook


@pytest.fixture
def run_cli():
    """The :func:`segwork` helper: run the command line in a subprocess."""
    return segwork
