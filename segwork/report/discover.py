"""Find the report's notebooks: ``notebooks/NN_topic.ipynb``, in number order."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..errors import DataError

__all__ = ["NOTEBOOK_PATTERN", "default_notebooks_dir", "discover_notebooks", "select_notebooks",
           "notebook_title", "notebook_metadata", "names_used", "index_layout", "SECTION_FIELDS"]

#: A report notebook: two digits, an underscore, a topic (``01_data_overview.ipynb``).
NOTEBOOK_PATTERN = re.compile(r"^\d{2}_[\w\-]+\.ipynb$")


def default_notebooks_dir() -> Path:
    """The ``notebooks/`` folder of the checkout segwork runs from.

    Order: ``$SEGWORK_NOTEBOOKS``; ``notebooks/`` next to the ``segwork``
    package (an editable install from the checkout); ``./notebooks``.
    """
    env = os.environ.get("SEGWORK_NOTEBOOKS")
    if env:
        return Path(env).resolve()
    beside_package = Path(__file__).resolve().parents[2] / "notebooks"
    if beside_package.is_dir():
        return beside_package
    return (Path.cwd() / "notebooks").resolve()


def discover_notebooks(folder: str | Path) -> list[Path]:
    """The ``NN_*.ipynb`` notebooks in ``folder``, sorted by name (that is, by number)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: no such notebooks folder; pass --notebooks DIR with the NN_topic.ipynb files")
    found = sorted(p.resolve() for p in folder.iterdir() if p.is_file() and NOTEBOOK_PATTERN.match(p.name))
    if not found:
        raise DataError(f"{folder}: no notebooks named like 01_topic.ipynb in this folder")
    return found


def select_notebooks(notebooks: list[Path], only: list[str] | None) -> list[Path]:
    """Keep the notebooks named in ``only`` (full stem ``01_data_overview``, number ``01``, or topic ``data_overview``).

    The result keeps the folder's order. An unknown name raises :class:`DataError`.
    """
    if not only:
        return list(notebooks)
    chosen: set[Path] = set()
    for name in only:
        key = Path(name).name.removesuffix(".ipynb")
        hits = [p for p in notebooks if key in (p.stem, p.stem[:2], p.stem[3:])]
        if not hits:
            known = ", ".join(p.stem for p in notebooks)
            raise DataError(f"--only {name}: no such notebook; choose from {known}")
        chosen.update(hits)
    return [p for p in notebooks if p in chosen]


def _read(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the notebook ({exc}); is it a valid .ipynb file?") from None


def notebook_title(path: str | Path) -> str:
    """The first Markdown heading of the notebook, else its file name."""
    nb = _read(Path(path))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        for line in source.splitlines():
            if line.lstrip().startswith("#"):
                return line.lstrip("# ").strip()
    return Path(path).stem


def notebook_metadata(path: str | Path) -> dict:
    """The notebook's ``metadata.segwork`` mapping (empty when it declares none)."""
    meta = _read(Path(path)).get("metadata", {}).get("segwork", {})
    return dict(meta) if isinstance(meta, dict) else {}


def names_used(path: str | Path, *, ignore_calls: tuple[str, ...] = ("load_dataset",)) -> frozenset[str]:
    """The variable names the notebook's code reads, outside its ``parameters`` cell.

    Names read only as arguments of a call to one of ``ignore_calls`` are
    left out: ``load_dataset(dataset, n_customers=n_customers, random_state=random_state)``
    uses ``n_customers`` and ``random_state`` only to build a data set, so they do not
    apply when the data set is not one that takes them (see
    :data:`segwork.datasets.DATASETS`). Cells that are not valid Python
    (IPython magics) are skipped.
    """
    import ast

    used: set[str] = set()

    class _Visitor(ast.NodeVisitor):
        def visit_Call(self, node: ast.Call) -> None:
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if called in ignore_calls:
                self.visit(func)
                return
            self.generic_visit(node)

        def visit_Name(self, node: ast.Name) -> None:
            if isinstance(node.ctx, ast.Load):
                used.add(node.id)

    for cell in _read(Path(path)).get("cells", []):
        if cell.get("cell_type") != "code" or "parameters" in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell.get("source", "")
        try:
            tree = ast.parse("".join(source) if isinstance(source, list) else source)
        except SyntaxError:
            continue
        _Visitor().visit(tree)
    return frozenset(used)


#: What a notebook may declare in ``metadata.segwork.index_section`` (``id``, ``heading`` and ``key`` required).
SECTION_FIELDS = {
    "id": "the HTML id of the section", "heading": "its heading", "key": "the metrics.json key of its table",
    "rank": "its place among the sections (lowest first; then notebook order)",
    "first_column": "the name of the first column when the table is a mapping of rows",
    "order": "columns shown first, in this order", "intro": "what the table is", "read": "how to read it",
    "higher_better": "columns whose highest value is marked best", "lower_better": "... lowest value",
    "closer_to_zero": "... value closest to 0", "labels": "column -> plain-language header",
    "chosen": "{'column': a boolean column (not shown) marking the notebook's choice, 'by': [columns]}: the chosen "
              "row is bold in the first column and, in the 'by' columns, it alone (the notebook's rule, not the "
              "index's own)",
}


def index_layout(paths: list[Path]) -> dict:
    """What the run's index shows, as the notebooks declare it in their ``metadata.segwork``.

    - ``index_section`` (see :data:`SECTION_FIELDS`): a comparison table of the
      index, read from the notebook's ``metrics.json`` under ``key``;
      ``index_sections``: a list of further such tables from the same notebook;
    - ``index_numbers``: ``{"heading", "numbers": [{"key", "label", "unit_key"?}, ...]}``,
      the key numbers of the data (the first notebook that declares them).

    Returns ``{"sections": [...], "numbers": {...} or None}``, each with the
    declaring notebook's stem under ``"notebook"``; sections sorted by ``rank``.
    Raises :class:`DataError` for a section without ``id``, ``heading`` or ``key``.
    """
    sections, numbers = [], None
    for order, path in enumerate(paths):
        meta = notebook_metadata(path)
        declared_sections = [meta["index_section"]] if meta.get("index_section") is not None else []
        declared_sections += list(meta.get("index_sections") or [])
        for section in declared_sections:
            missing = [k for k in ("id", "heading", "key") if not isinstance(section, dict) or k not in section]
            if missing:
                raise DataError(f"{Path(path).name}: metadata.segwork.index_section needs {', '.join(missing)}; "
                                f"fields: {', '.join(SECTION_FIELDS)}")
            sections.append((section.get("rank", float("inf")), order, {**section, "notebook": Path(path).stem}))
        declared = meta.get("index_numbers")
        if numbers is None and isinstance(declared, dict):
            numbers = {**declared, "notebook": Path(path).stem}
    return {"sections": [s for _rank, _order, s in sorted(sections, key=lambda t: t[:2])], "numbers": numbers}
