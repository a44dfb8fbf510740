"""What every segmenter shares: one verb (predict), one not-fitted check, and the segment package's own layout."""
from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import NotFittedError as SklearnNotFittedError

import segwork
from segwork.errors import NotFittedError
from segwork.segment import AprioriSegmenter, NeedsSegmenter, RelationshipTyper, RFMSegmenter, ValueTiers
from segwork.segment.estimators import KMeansSegmenter

SEGMENT = Path(segwork.__file__).parent / "segment"


@pytest.mark.parametrize("segmenter, X, call", [
    (AprioriSegmenter(), pd.DataFrame({"region": ["north"]}), r"fit\(table\)"),
    (RFMSegmenter(), pd.DataFrame({"revenue": [1.0]}), r"fit\(table\)"),
    (RelationshipTyper(), pd.DataFrame({"revenue": [1.0]}), r"fit\(table\)"),
    (ValueTiers(), [1.0], r"fit\(values\)"),
    (KMeansSegmenter(), np.zeros((2, 2)), r"fit\(X\)"),
    (NeedsSegmenter(), np.zeros((2, 2)), r"fit\(X\) with survey answers"),
])
def test_every_segmenter_predicts_and_says_what_to_call_when_not_fitted(segmenter, X, call):
    with pytest.raises(NotFittedError, match=rf"This {type(segmenter).__name__} is not fitted yet; call {call} first"):
        segmenter.predict(X)
    assert issubclass(NotFittedError, SklearnNotFittedError)
    assert not hasattr(segmenter, "assign")


def _segwork_imports(path: Path) -> set[str]:
    """Modules of segwork imported by a segment module (relative imports resolved; inside functions too)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ["segwork", "segment"][: 3 - node.level] if node.level <= 2 else []
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] if node.module else [f"{mod}.{a.name}" for a in node.names]
                out.update(names)
            elif node.module and node.module.startswith("segwork"):
                out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.startswith("segwork"))
    return out


def test_segment_never_imports_comparison_and_has_no_import_cycle():
    graph = {p.stem: _segwork_imports(p) for p in SEGMENT.glob("*.py") if p.stem != "__init__"}
    for mod, imports in graph.items():
        assert not any(i.startswith("segwork.comparison") for i in imports), mod
    inside = {m: {i.split(".")[2] for i in imports if i.startswith("segwork.segment.")} for m, imports in graph.items()}

    def reaches(start, target, seen=()):
        return any(n == target or (n not in seen and reaches(n, target, (*seen, n))) for n in inside.get(start, ()))

    cycles = [m for m in inside if reaches(m, m)]
    assert not cycles, f"segment modules importing themselves through others: {cycles}"
    # needs and clustering share preprocessing through its public names only
    tree = ast.parse((SEGMENT / "needs.py").read_text())
    private = [a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level
               for a in n.names if a.name.startswith("_")]
    assert not private
