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

No module imports another module's private (single leading underscore)
name: ``from m import _x`` (relative or absolute) or ``m._x`` on a segwork
module ``m`` bound by ``import segwork.m as m``, ``from . import m`` or
``import segwork.m``. What is shared is public. Private *modules*
(``_checks``) may be imported; only their public names are shared.
:func:`private_imports` checks a given package folder (also from the command
line: ``python tests/test_architecture.py [folder]``).
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
    ("segwork.datasets", "segwork.defection_data", "segwork.features", "segwork.explore", "segwork"),
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


def _from_source(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The dotted module a ``from ... import`` in ``module`` imports from (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(node: ast.AST, module: str, is_package: bool, modules) -> list[str]:
    if isinstance(node, ast.Import):
        return [_existing(a.name, modules) for a in node.names if a.name.split(".")[0] == "segwork"]
    if isinstance(node, ast.ImportFrom):
        source = _from_source(node, module, is_package)
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


def _is_private(name: str) -> bool:
    """A single leading underscore: ``_x`` is private, ``__version__`` / ``__all__`` are not."""
    return name.startswith("_") and not name.startswith("__")


def _dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attribute accesses on a name, else ``None``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def private_imports(package: Path = PACKAGE) -> list[str]:
    """Every use of another module's private name in ``package`` (a folder), as ``file:line: name from module``.

    Found anywhere in a module's source: ``from m import _x`` (absolute or
    relative) and ``m._x`` where ``m`` is a name bound to a module of the
    package (``import pkg.m as m``, ``from . import m``, or ``import pkg.m``
    and then ``pkg.m._x``). Importing a private *module* (``from . import
    _checks``) is allowed; a name inside it is private only when it starts with one
    underscore. File paths are relative to the folder's parent.
    """
    top = package.name
    modules = _modules(package)
    found = []
    for module, (path, is_package) in modules.items():
        where = path.relative_to(package.parent).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        bound: dict[str, str] = {}  # a local name -> the package module it stands for
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.split(".")[0] == top:  # `import pkg.m` binds `pkg`: `pkg.m._x` resolves via the chain
                        bound[a.asname or top] = a.name if a.asname else top
            elif isinstance(node, ast.ImportFrom):
                source = _from_source(node, module, is_package)
                if source.split(".")[0] != top:
                    continue
                for a in node.names:
                    if f"{source}.{a.name}" in modules:
                        bound[a.asname or a.name] = f"{source}.{a.name}"
                    elif _is_private(a.name) and _existing(source, modules) != module:
                        found.append(f"{where}:{node.lineno}: {a.name} from {_existing(source, modules)}")
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and _is_private(node.attr)):
                continue
            chain = _dotted(node.value)
            if chain is None or chain.split(".")[0] not in bound:
                continue
            head, *rest = chain.split(".")
            target = ".".join([bound[head], *rest])
            if target in modules and target != module and f"{target}.{node.attr}" not in modules:
                found.append(f"{where}:{node.lineno}: {node.attr} of {target}")
    return sorted(found)


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


def test_no_module_imports_another_modules_private_name():
    bad = private_imports()
    assert not bad, ("private names used from another module (make the shared name public, with a docstring):\n"
                     + "\n".join(bad))


def test_the_check_catches_a_private_name_imported_or_used_from_another_module(tmp_path):
    pkg = tmp_path / "segwork"
    for name, text in {
        "__init__.py": "__version__ = '1'\n",
        "_checks.py": "def check():\n    pass\n",
        "clv/__init__.py": "",
        "clv/base.py": "_LOG_BOUND = 1\n\ndef _label(x):\n    return x\n\nlabel = _label\n",
        "clv/bgbb.py": "from .base import label, _label\n",                          # a private name, relative
        "clv/model.py": ("import segwork.clv.base as b\nfrom . import base\nimport segwork.clv.base\n"
                         "def f(self):\n"
                         "    return (b._LOG_BOUND,\n"                                # attribute of an alias
                         "            base._label,\n"                                 # of `from . import base`
                         "            segwork.clv.base._LOG_BOUND,\n"                 # of `import segwork.clv.base`
                         "            self._state, base.label, segwork.__version__)\n"),  # fine: not a module's
        "segment/__init__.py": "",
        "segment/thing.py": ("from segwork import _checks, __version__\nfrom segwork._checks import check\n"
                             "from segwork.clv.base import label\n"
                             "def g():\n    from segwork.clv.base import _LOG_BOUND\n    return _checks.check\n"),
    }.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    assert private_imports(pkg) == [
        "segwork/clv/bgbb.py:1: _label from segwork.clv.base",
        "segwork/clv/model.py:5: _LOG_BOUND of segwork.clv.base",
        "segwork/clv/model.py:6: _label of segwork.clv.base",
        "segwork/clv/model.py:7: _LOG_BOUND of segwork.clv.base",
        "segwork/segment/thing.py:5: _LOG_BOUND from segwork.clv.base",
    ]


if __name__ == "__main__":  # python tests/test_architecture.py [package folder]: print the private imports
    import sys

    found = private_imports(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else PACKAGE)
    print("\n".join(found) or "no private imports")
    sys.exit(1 if found else 0)
