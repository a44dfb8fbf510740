"""Find the report's notebooks: ``notebooks/NN_topic.ipynb``, in number order."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..errors import DataError

__all__ = ["NOTEBOOK_PATTERN", "default_notebooks_dir", "discover_notebooks", "select_notebooks",
           "notebook_title", "notebook_dependencies"]

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


def notebook_dependencies(path: str | Path) -> list[str]:
    """Notebooks (stems) this one reads artefacts from, from ``metadata.segwork.depends_on``.

    Only ``--jobs N`` uses it: such a notebook starts after those have finished.
    """
    meta = _read(Path(path)).get("metadata", {}).get("segwork", {})
    deps = meta.get("depends_on", []) if isinstance(meta, dict) else []
    return [str(d).removesuffix(".ipynb") for d in deps]
