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
from ..plots.tables import TABLE_CSS

__all__ = ["TEMPLATES_DIR", "NOTEBOOK_TEMPLATE", "render_html", "extract_figures", "strip_stderr", "plotly_asset",
           "datatables_asset"]

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
NOTEBOOK_TEMPLATE = "segwork_notebook"
_MATH = re.compile(r"\$[^$\n]+\$|\$\$|\\\(|\\\[|\\begin\{")
_PLOTLY_DIV = 'class="plotly-graph-div"'
# itables' offline mode (segwork.plots.tables.show_table(interactive=True)) puts the DataTables library on the page
# as two base64 strings, about 1 MB: injectCSS("<css>") and injectModule("<js>")
_ITABLES_CSS = re.compile(r'injectCSS\("([A-Za-z0-9+/=]{1000,})"\)')
_ITABLES_JS = re.compile(r'injectModule\("([A-Za-z0-9+/=]{1000,})"\)')


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
        "segwork_table_css": TABLE_CSS,
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    if _PLOTLY_DIV in body:  # Plotly figures (segwork.plots.embed): plotly.js once, shared by the run's pages, loaded in <head>
        src = plotly_asset(Path(html_path).parent)
        body = body.replace("</head>", f'<script type="text/javascript" src="{src}" charset="utf-8"></script>\n</head>', 1)
    body = _share_datatables(body, Path(html_path).parent)
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


def _share_datatables(body: str, folder: Path) -> str:
    """The page with its inline DataTables library (itables offline, about 1 MB) loaded from the run folder instead.

    The library's two base64 strings move to ``assets/`` (:func:`datatables_asset`), read by a classic
    ``<script src>`` in ``<head>`` (a file:// page may load a classic script, not an ES module); itables'
    own loader then imports the module from that string as before (a blob URL). A page without an
    interactive table, or with a library other than the one found first, is left as it is.
    """
    css, js = _ITABLES_CSS.search(body), _ITABLES_JS.search(body)
    if not css or not js:
        return body
    src = datatables_asset(folder, css.group(1), js.group(1))
    body = body.replace(f'injectCSS("{css.group(1)}")', "injectCSS(window.segworkDataTables.css)")
    body = body.replace(f'injectModule("{js.group(1)}")', "injectModule(window.segworkDataTables.js)")
    return body.replace("</head>", f'<script type="text/javascript" src="{src}" charset="utf-8"></script>\n</head>', 1)


def datatables_asset(folder: str | Path, css_b64: str, js_b64: str) -> str:
    """Write the DataTables library of itables' offline mode once to ``folder/assets/``, as a script setting
    ``window.segworkDataTables = {css, js}`` (both base64, as itables embeds them).

    Returns its path relative to ``folder`` (``assets/datatables-itables-<version>.js``); about 1 MB once per
    run folder instead of once per page with a customer list. Nothing is loaded from the web.
    """
    import itables

    name = f"assets/datatables-itables-{itables.__version__}.js"
    target = Path(folder) / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, f'window.segworkDataTables = {{css: "{css_b64}", js: "{js_b64}"}};\n')
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
