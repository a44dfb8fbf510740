"""Rendering without code, and failure messages that name the notebook, the cell and the error."""
from __future__ import annotations

import base64
import re

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from papermill.exceptions import PapermillExecutionError

from segwork.report.execute import failure_message, source_cell_index
from segwork.report.render import extract_figures, render_html, strip_stderr

# A 1x1 PNG.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c63f8cfc0f01f0005000201d7a9e2a60000000049454e44ae426082")).decode()


def executed_notebook():
    code = new_code_cell("secret_code_marker = 41 + 1\nprint(secret_code_marker)", execution_count=1)
    code.outputs = [
        new_output("stream", name="stdout", text="printed output 42\n"),
        new_output("stream", name="stderr", text="FutureWarning: noisy warning text\n"),
        new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
    ]
    nb = new_notebook(cells=[new_markdown_cell("# My title\n\nSome prose."), code])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_html_has_prose_outputs_and_images_but_no_code_prompts_or_stderr(tmp_path):
    out = tmp_path / "page.html"
    info = render_html(executed_notebook(), out, title="My page", index_href="index.html", run_name="run-1")
    html = out.read_text()
    assert "<title>My page</title>" in html
    assert "Some prose." in html and "printed output 42" in html
    assert "secret_code_marker = 41" not in html, "code must not be shown"
    assert "In&nbsp;[" not in html and "In [1]" not in html
    assert "noisy warning text" not in html and info["hidden_stderr"] == 1
    assert f"data:image/png;base64,{PNG}" in html and info["images"] == 1
    assert 'href="index.html"' in html and "run-1" in html
    assert "<script src=" not in html, "the page must not load scripts from the web"


def test_math_in_markdown_brings_mathjax(tmp_path):
    nb = executed_notebook()
    nb.cells.append(new_markdown_cell("The model: $P(x) = \\lambda$"))
    render_html(nb, tmp_path / "m.html", title="m")
    assert "mathjax" in (tmp_path / "m.html").read_text().lower()


def test_strip_stderr_leaves_the_original_alone():
    nb = executed_notebook()
    stripped, n = strip_stderr(nb)
    assert n == 1 and len(stripped.cells[1].outputs) == 2 and len(nb.cells[1].outputs) == 3


def test_figures_are_saved_as_files(tmp_path):
    names = extract_figures(executed_notebook(), tmp_path / "figures")
    assert names == ["fig-01.png"]
    assert (tmp_path / "figures" / "fig-01.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pages_with_customer_lists_load_the_datatables_library_once_from_the_run_folder(tmp_path):
    """itables' offline mode puts about 1 MB of DataTables on every page with a customer list: the renderer
    moves it to the run folder's assets (once), and the page's own loader reads it from there."""
    import itables
    from itables import options
    from itables.javascript import generate_init_offline_itables_html

    init = generate_init_offline_itables_html(options.dt_bundle)
    table = init + '<table id="t"><tr><td>1</td></tr></table>'
    cell = new_code_cell("show_table(...)", execution_count=1)
    cell.outputs = [new_output("display_data", data={"text/html": table, "text/plain": "<table>"})]
    nb = new_notebook(cells=[new_markdown_cell("# Lists"), cell])
    src = f"assets/datatables-itables-{itables.__version__}.js"
    for page in ("a.html", "b.html"):
        render_html(nb, tmp_path / page, title="Lists")
        body = (tmp_path / page).read_text()
        assert body.count(f'src="{src}"') == 1 and body.index(src) < body.index("</head>")
        assert "injectModule(window.segworkDataTables.js)" in body and "injectCSS(window.segworkDataTables.css)" in body
        assert len(body) < len(init) / 2 and 'id="t"' in body  # the page itself is about 0.27 MB
    asset = (tmp_path / src).read_text()
    assert asset.startswith("window.segworkDataTables = {css: ") and len(asset) > 500_000
    assert all(part in asset for part in re.findall(r'inject(?:CSS|Module)\("([^"]+)"\)', init))
    # a page without a customer list gets neither the script nor an asset
    render_html(new_notebook(cells=[new_markdown_cell("x")]), tmp_path / "sub" / "p.html", title="p")
    assert "segworkDataTables" not in (tmp_path / "sub" / "p.html").read_text()
    assert not (tmp_path / "sub" / "assets").exists()


def test_cell_numbers_are_those_of_the_source_notebook():
    params = new_code_cell("a = 1")
    params.metadata["tags"] = ["parameters"]
    source = nbformat.from_dict(new_notebook(cells=[new_markdown_cell("# t"), params, new_code_cell("x")]))
    # papermill inserts its injected-parameters cell at index 2; the failing source cell 2 is executed cell 3
    assert source_cell_index(source, 3) == 2
    assert source_cell_index(source, 1) == 1
    assert source_cell_index({"cells": [new_code_cell("x")]}, 1) == 0  # no parameters cell: injected at the top


def test_failure_message_names_notebook_cell_and_error():
    params = new_code_cell("a = 1")
    params.metadata["tags"] = ["parameters"]
    source = new_notebook(cells=[new_markdown_cell("# t"), params, new_code_cell("\nraise ValueError('boom')")])
    exc = PapermillExecutionError(cell_index=3, exec_count=2, source="\nraise ValueError('boom')",
                                  ename="ValueError", evalue="boom\nsecond line", traceback=["..."])
    message, cell = failure_message("02_fit", exc, source)
    assert cell == 3
    assert message == ("notebook 02_fit.ipynb failed in cell 3 (In [2]: raise ValueError('boom')): "
                       "ValueError: boom second line")
    other, cell = failure_message("03_x", RuntimeError("Kernel died"))
    assert cell is None and other == "notebook 03_x.ipynb could not be executed: RuntimeError: Kernel died"
