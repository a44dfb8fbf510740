"""segwork.clv.BetaGeo.fit vs lifetimes.BetaGeoFitter.fit (BG/NBD), side by side.

Run: ``.venv/bin/python benchmarks/bench_betageo.py`` (or ``make benchmark`` for all).
``--quick`` runs 10x smaller inputs and writes nothing.

Input: (frequency, recency, T) of customers drawn from a BG/NBD population
with the CDNOW estimates (r=0.243, alpha=4.414, a=0.793, b=2.426; Fader, Hardie
& Lee 2005), acquired over 12 weeks and observed 27..39 weeks, times in weeks
rounded down to whole days (as ``rfm_summary`` gives them), seeded.

Both libraries fit the same rows from their own default start with their own
default tolerance (lifetimes: ``tol=1e-7``); both times include what ``fit``
does (segwork: input checks, collapsing to unique triples, optimisation,
standard errors; lifetimes: optimisation and its autograd Hessian). The
estimates must agree to 1e-4 relative. A last row gives lifetimes the unique
triples with counts as ``weights`` (a pre-processing step its users must
write themselves), for the record.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, fmt_size, run_peer, write_results  # noqa: E402

from segwork.clv import BetaGeo  # noqa: E402
from segwork.clv.simulate import simulate_bg_nbd  # noqa: E402

CDNOW = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PARAMS = ("r", "alpha", "a", "b")


def make_summary(n_customers: int, seed: int) -> dict[str, np.ndarray]:
    sim = simulate_bg_nbd(n_customers, **CDNOW, T=(27.0, 39.0), random_state=seed)
    return {"frequency": sim["frequency"].to_numpy(np.float64), "recency": sim["recency"].to_numpy(np.float64),
            "T": sim["T"].to_numpy(np.float64)}


def unique_triples(data: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    table = np.column_stack([data["frequency"], data["recency"], data["T"]])
    uniq, counts = np.unique(table, axis=0, return_counts=True)
    return {"frequency": uniq[:, 0], "recency": uniq[:, 1], "T": uniq[:, 2], "weights": counts.astype(np.float64)}


def max_rel_diff(ours: dict, theirs: dict) -> float:
    return max(abs(ours[k] - theirs[k]) / abs(theirs[k]) for k in PARAMS)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x smaller inputs; print only, write nothing")
    args = ap.parse_args(argv)
    scale = 10 if args.quick else 1
    rows, failures = [], []
    sizes = [(100_000 // scale, 5, 3), (1_000_000 // scale, 5, 2)]  # (customers, segwork repeats, lifetimes repeats)

    with tempfile.TemporaryDirectory(prefix="bench-betageo-") as tmp:
        datasets, inputs = {}, []
        for n, _, peer_repeats in sizes:
            datasets[n] = make_summary(n, seed=n)
            np.savez(Path(tmp) / f"{n}.npz", **datasets[n])
            inputs.append({"name": str(n), "path": str(Path(tmp) / f"{n}.npz"), "repeats": peer_repeats})
        n_big = sizes[-1][0]
        triples = unique_triples(datasets[n_big])
        np.savez(Path(tmp) / "triples.npz", **triples)
        inputs.append({"name": "triples", "path": str(Path(tmp) / "triples.npz"), "repeats": 3})
        peer = run_peer("lifetimes", "betageo", {"inputs": inputs}, timeout=3600)

    def record(case, n, seg_best, seg_times, model, theirs, note=""):
        diff = max_rel_diff(model.params_, theirs["params"])
        ok = diff <= 1e-4
        if not ok:
            failures.append(f"{case} {n}: estimates differ by {diff:.2g} relative")
        row = {"case": case, "size": fmt_size(n, "customers"), "segwork_s": seg_best, "segwork_times_s": seg_times,
               "peer": "lifetimes", "peer_s": theirs["best_s"], "peer_times_s": theirs["times_s"],
               "check": f"estimates agree to {diff:.1e} rel." + ("" if ok else " (NOT within 1e-4)") + note,
               "segwork_params": model.params_, "peer_params": theirs["params"],
               "segwork_rows_fitted": int(model.n_rows_)}
        rows.append(row)
        print(f"{case:<55} {row['size']:<22} segwork {seg_best:7.3f} s   lifetimes {theirs['best_s']:8.3f} s   "
              f"ratio {theirs['best_s'] / seg_best:6.1f}x   max rel diff {diff:.1e}", flush=True)

    for n, repeats, _ in sizes:
        d = datasets[n]
        best, model, times = best_of(lambda: BetaGeo().fit(d["frequency"], d["recency"], d["T"]), repeats)
        record("BetaGeo.fit vs BetaGeoFitter.fit", n, best, times, model, peer["cases"][str(n)])
    # The same segwork fit (on all rows) against lifetimes given the unique triples and their counts.
    record("BetaGeo.fit vs BetaGeoFitter.fit(unique triples, weights)", n_big, best, times, model,
           peer["cases"]["triples"], note=f"; lifetimes fitted {len(triples['weights']):,} weighted rows")

    notes = [
        "ratio = lifetimes time / segwork time (best of 5 segwork runs, 2-3 lifetimes runs; same data, same run).",
        "Both fits start from their own defaults with their default tolerances; "
        "segwork collapses the rows to unique (frequency, recency, T) triples itself.",
    ]
    if failures:
        notes.append("CHECK FAILED: " + "; ".join(failures))
    if args.quick:
        print("--quick: nothing written")
    else:
        path = write_results("betageo", rows, command=".venv/bin/python benchmarks/bench_betageo.py", notes=notes,
                             peer_versions={"lifetimes": peer["versions"]})
        print(f"wrote {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
