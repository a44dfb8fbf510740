"""Render an executed notebook for readers: HTML without code, and its figures as files.

The HTML keeps prose, tables and figures (embedded as data URIs, so one file
is the whole page) and drops code cells, prompts and stderr noise (warnings
and progress bars, counted in the run record and kept in the executed
``.ipynb``). It loads nothing from the web unless the notebook has formulas
(then MathJax).
"""
from __future__ import annotations

import base64
import copy
import re
from pathlib import Path

import nbformat

from .._atomic import atomic_write_bytes, atomic_write_text

__all__ = ["TEMPLATES_DIR", "NOTEBOOK_TEMPLATE", "render_html", "extract_figures", "strip_stderr", "plotly_asset"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
NOTEBOOK_TEMPLATE = "segwork_notebook"
_MATH = re.compile(r"\$[^$\n]+\$|\$\$|\\\(|\\\[|\\begin\{")
_PLOTLY_DIV = 'class="plotly-graph-div"'


def strip_stderr(nb) -> tuple[nbformat.NotebookNode, int]:
    """A copy of ``nb`` without stderr stream outputs; and how many were removed."""
    nb = copy.deepcopy(nb)
    removed = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                removed += 1
            else:
                kept.append(out)
        cell["outputs"] = kept
    return nb, removed


def _has_math(nb) -> bool:
    return any(cell.get("cell_type") == "markdown" and _MATH.search(cell.get("source", "")) for cell in nb.cells)


def render_html(nb, html_path: str | Path, *, title: str, index_href: str | None = None,
                run_name: str | None = None) -> dict:
    """Write ``nb`` (a notebook node or path) as HTML without code to ``html_path``, atomically.

    Returns ``{"hidden_stderr": n, "images": k}``.
    """
    from nbconvert import HTMLExporter

    if isinstance(nb, (str, Path)):
        nb = nbformat.read(str(nb), as_version=4)
    nb, hidden = strip_stderr(nb)
    exporter = HTMLExporter(template_name=NOTEBOOK_TEMPLATE, extra_template_basedirs=[str(TEMPLATES_DIR)])
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    exporter.embed_images = True
    resources = {
        "metadata": {"name": title},
        "segwork_math": _has_math(nb),
        "segwork_index_href": index_href,
        "segwork_run": run_name,
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    if _PLOTLY_DIV in body:  # Plotly figures (segwork.plots.embed): plotly.js once, shared by the run's pages, loaded in <head>
        src = plotly_asset(Path(html_path).parent)
        body = body.replace("</head>", f'<script type="text/javascript" src="{src}" charset="utf-8"></script>\n</head>', 1)
    atomic_write_text(html_path, body)
    return {"hidden_stderr": hidden, "images": body.count("<img "), "plotly_figures": body.count(_PLOTLY_DIV)}


def plotly_asset(folder: str | Path) -> str:
    """Write plotly.js (the version of the installed ``plotly`` package) once to ``folder/assets/``.

    Returns its path relative to ``folder`` (``assets/plotly-<version>.min.js``),
    for a ``<script src>`` of a page in ``folder``. About 4.8 MB, once per run
    folder instead of once per page; nothing is loaded from the web.
    """
    import plotly
    from plotly.offline import get_plotlyjs

    name = f"assets/plotly-{plotly.__version__}.min.js"
    target = Path(folder) / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, get_plotlyjs())
    return name


def extract_figures(nb, folder: str | Path) -> list[str]:
    """Save every PNG / SVG output of ``nb`` as ``folder/fig-NN.png|svg``; return the file names."""
    folder = Path(folder)
    names = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data:
                name = f"fig-{len(names) + 1:02d}.png"
                atomic_write_bytes(folder / name, base64.b64decode(data["image/png"]))
            elif "image/svg+xml" in data:
                name = f"fig-{len(names) + 1:02d}.svg"
                svg = data["image/svg+xml"]
                atomic_write_text(folder / name, "".join(svg) if isinstance(svg, list) else svg)
            else:
                continue
            names.append(name)
    return names
