"""The import order of segwork: no import circles and no import against the layer order.

The graph is built from the source with ``ast``: every ``import`` and
``from ... import`` anywhere in a module (module level, inside functions and
classes, under ``if TYPE_CHECKING``), relative and absolute, plus
``importlib.import_module("segwork....")`` with a literal name. ``from a
import b`` is an edge to the module ``a.b`` when that is a module, else to
``a``. Importing a submodule also runs its parent packages' ``__init__``;
those implicit edges are not drawn (every package would import itself).

:data:`LAYERS` is the one place the order lives (lowest first; modules on the
same level may import each other as long as there is no circle).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "segwork"

#: The layer order, lowest first. A module may import modules of its own level or below, never above.
#: Each entry is a module or package of segwork (a package covers its submodules).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("segwork.errors", "segwork._checks", "segwork._atomic"),
    ("segwork.io",),
    # "segwork" is the package __init__: it imports errors, io and features eagerly and every other
    # public name lazily by name (importlib), so it sits with features; report and cli read __version__ there.
    ("segwork.datasets", "segwork.features", "segwork.explore", "segwork"),
    ("segwork.clv",),
    ("segwork.prepare",),
    ("segwork.segment",),
    ("segwork.comparison", "segwork.act"),
    ("segwork.models",),
    ("segwork.plots",),
    ("segwork.report", "segwork.service"),
    ("segwork.cli",),
)

def _modules(package: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package __init__)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        out[".".join(parts)] = (path, is_package)
    return out


def _existing(name: str, modules) -> str:
    """``name`` if it is a module of the package, else its nearest parent that is (an attribute import)."""
    while name not in modules and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _targets(node: ast.AST, module: str, is_package: bool, modules) -> list[str]:
    if isinstance(node, ast.Import):
        return [_existing(a.name, modules) for a in node.names if a.name.split(".")[0] == "segwork"]
    if isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        if source.split(".")[0] != "segwork":
            return []
        return [_existing(f"{source}.{a.name}", modules) for a in node.names]
    if (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str) and node.args[0].value.split(".")[0] == "segwork"
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"):
        return [_existing(node.args[0].value, modules)]
    return []


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the segwork modules it imports (anywhere in its source)."""
    modules = _modules(package)
    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in modules.items():
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            edges.update(_targets(node, module, is_package, modules))
        edges.discard(module)
        graph[module] = edges
    return graph


def layer_of(module: str) -> int | None:
    """Index in :data:`LAYERS` of the longest entry that is ``module`` or a package containing it."""
    best = None
    for level, entries in enumerate(LAYERS):
        for entry in entries:
            if (module == entry or module.startswith(entry + ".")) and (best is None or len(entry) > len(best[1])):
                best = (level, entry)
    return None if best is None else best[0]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{a} (level {layer_of(a)}) imports {b} (level {layer_of(b)})"
                  for a, targets in graph.items() for b in targets
                  if layer_of(a) is not None and layer_of(b) is not None and layer_of(b) > layer_of(a))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_every_module_has_a_level(graph):
    unplaced = sorted(m for m in graph if layer_of(m) is None)
    assert not unplaced, f"modules missing from LAYERS in tests/test_architecture.py: {unplaced}"


def test_the_graph_sees_imports_inside_functions_and_relative_ones(graph):
    # prepare.py imports clv.predict at module level (relative); clv.predict imports features.rfm
    assert "segwork.clv.predict" in graph["segwork.prepare"]
    assert "segwork.features.rfm" in graph["segwork.clv.predict"]
    # segment/defaults.py imports the approaches inside default_segmentations
    assert "segwork.segment.clustering" in graph["segwork.segment.defaults"]
    # cli.py reads __version__ from the package __init__ inside a function
    assert "segwork" in graph["segwork.cli"]


def test_no_import_against_the_layer_order(graph):
    bad = upward_imports(graph)
    assert not bad, "imports against the layer order (see LAYERS):\n" + "\n".join(bad)


def test_no_import_circles(graph):
    found = cycles(graph)
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_checks_catch_an_upward_import_and_a_circle(tmp_path):
    pkg = tmp_path / "segwork"
    for name, text in {
        "__init__.py": "",
        "errors.py": "",
        "clv/__init__.py": "",
        "clv/model.py": "def f():\n    from ..segment.thing import x\n",   # clv -> segment: upward, in a function
        "segment/__init__.py": "",
        "segment/thing.py": "import segwork.clv.model\nx = 1\n",            # closes a circle with clv.model
        "segment/other.py": "from segwork import errors\nfrom . import thing\n",
    }.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    g = import_graph(pkg)
    assert g["segwork.segment.other"] == {"segwork.errors", "segwork.segment.thing"}
    assert upward_imports(g) == ["segwork.clv.model (level 3) imports segwork.segment.thing (level 5)"]
    assert cycles(g) == [["segwork.clv.model", "segwork.segment.thing"]]
