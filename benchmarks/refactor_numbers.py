"""Numbers a refactor must keep: record them before, compare after.

    python benchmarks/refactor_numbers.py capture before.pkl     # on the commit before the change
    python benchmarks/refactor_numbers.py capture after.pkl      # on the changed tree
    python benchmarks/refactor_numbers.py compare before.pkl after.pkl

Captures, on ``make_crm(3000, seed=4)`` and CDNOW: the prepared table
(``segwork.prepare_table``), the labels of every default segmentation
(``default_segmentations(table, seed=0)`` with all approaches) and the
``segwork.compare`` table. ``compare`` prints the share of identical labels per
approach, the largest difference of every comparison metric and the P(alive) and
CLV totals. A pure refactor shows 1.0000 everywhere and no metric difference.
"""
from __future__ import annotations

import pickle
import sys
import warnings

import pandas as pd

APPROACHES = ["apriori", "rfm", "value", "relationship", "kmeans", "gmm", "needs"]


def capture(path: str) -> None:
    import segwork
    from segwork.datasets import load_dataset, make_crm
    from segwork.segment import default_segmentations

    warnings.simplefilter("ignore")
    out = {}
    for tag, data in [("make_crm(3000, seed=4)", make_crm(3000, seed=4)), ("cdnow", load_dataset("cdnow"))]:
        table = segwork.prepare_table(data)
        segs = default_segmentations(table, seed=0, approaches=APPROACHES)
        truth = data.truth["segment"] if data.truth is not None else None
        out[tag] = {"table": table, "labels": {k: s.labels.astype(str) for k, s in segs.items()},
                    "compare": segwork.compare(segs, table, truth=truth)}
        print(f"{tag}: {len(table):,} customers, {', '.join(segs)}")
    with open(path, "wb") as f:
        pickle.dump(out, f)


def compare(before_path: str, after_path: str) -> None:
    with open(before_path, "rb") as f:
        before = pickle.load(f)
    with open(after_path, "rb") as f:
        after = pickle.load(f)
    for tag, a in before.items():
        b = after[tag]
        print(f"== {tag}")
        for name, la in a["labels"].items():
            lb = b["labels"].get(name)
            if lb is None:
                print(f"  {name}: missing after")
                continue
            la = la.sort_index()
            same = (la.to_numpy() == lb.reindex(la.index).astype(str).to_numpy()).mean()
            print(f"  labels {name}: {same:.4f} identical ({la.nunique()} -> {lb.nunique()} segments)")
        ca, cb = a["compare"], b["compare"]
        numeric = [c for c in ca.columns if c in cb.columns and pd.api.types.is_numeric_dtype(ca[c])]
        diff = (ca[numeric] - cb.loc[ca.index, numeric]).abs().max()
        print("  compare, largest differences:", diff[diff > 1e-9].round(4).to_dict() or "none")
        for col in ("p_alive", "clv"):
            if col in a["table"] and col in b["table"]:
                print(f"  {col} total: {a['table'][col].sum():,.1f} -> {b['table'][col].sum():,.1f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "capture":
        capture(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        compare(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
