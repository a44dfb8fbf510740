"""Coverage of the 95 % parameter intervals of the BG/NBD: log-scale Wald vs profile likelihood.

Issue 12 ("How sure"): a check on simulated data saw the log-scale Wald
interval of ``summary()`` under-cover ``a`` and ``b`` at 5,000 customers. This
script measures it: ``--reps`` replications of ``--customers`` customers drawn
with :func:`segwork.clv.simulate.simulate_bg_nbd` from the CDNOW estimates
(Fader, Hardie & Lee 2005: r=0.243, alpha=4.414, a=0.793, b=2.426; T uniform
on 26-39 weeks, like CDNOW's customers acquired over the first quarter of 1997
and observed to the end of September), each fitted with ``BetaGeo``; for each
parameter it counts how often the Wald interval (``summary()``) and the
profile-likelihood interval (``summary(interval="profile")``) contain the true
value. Monte-Carlo standard error of a coverage p over R replications:
sqrt(p (1 - p) / R).

Not a test and not run by ``run_all.py`` (a few minutes)::

    .venv/bin/python benchmarks/param_interval_coverage.py              # 200 x 5,000, seed 0
    .venv/bin/python benchmarks/param_interval_coverage.py --reps 30    # a quick look

Writes ``benchmarks/results/param_interval_coverage.json`` unless ``--no-write``.
"""
from __future__ import annotations

import argparse
import sys
import json
import time
import warnings
from pathlib import Path

import numpy as np

from segwork.clv import BetaGeo
from segwork.clv.simulate import simulate_bg_nbd
from segwork.errors import ConvergenceError

TRUE = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--customers", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    names = list(TRUE)
    truth = np.array([TRUE[p] for p in names])
    hits = {"wald": [], "profile": []}
    sides = {"wald": [], "profile": []}  # -1: interval below the truth, +1: above, 0: covers
    widths = {"wald": [], "profile": []}
    failed = 0
    seeds = np.random.SeedSequence(args.seed).generate_state(args.reps)
    t0 = time.perf_counter()
    for i, s in enumerate(seeds):
        sim = simulate_bg_nbd(args.customers, **TRUE, T=(26.0, 39.0), random_state=int(s))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # a rare fit at a limit: its NaN/inf limits count as they are
                tab = BetaGeo().fit(sim["frequency"], sim["recency"], sim["T"]).summary(interval="profile")
        except ConvergenceError:
            failed += 1
            continue
        for kind, lo_col, hi_col in (("wald", "lower_95", "upper_95"),
                                     ("profile", "profile_lower_95", "profile_upper_95")):
            lo, hi = tab[lo_col].to_numpy(), tab[hi_col].to_numpy()
            hits[kind].append((lo <= truth) & (truth <= hi))
            sides[kind].append(np.where(hi < truth, -1, np.where(lo > truth, 1, 0)))
            widths[kind].append(np.log(hi) - np.log(lo))
        if (i + 1) % 50 == 0:
            print(f"  {i + 1}/{args.reps} replications, {time.perf_counter() - t0:.0f} s", flush=True)
    elapsed = time.perf_counter() - t0
    R = len(hits["wald"])
    rows = []
    print(f"\n95 % intervals, BG/NBD, {R} replications x {args.customers:,} customers (seed {args.seed}, "
          f"{failed} fits failed), {elapsed:.0f} s")
    print(f"{'param':>6} {'true':>6} | {'Wald cover':>10} {'(MC se)':>8} {'below/above':>11} | "
          f"{'profile cover':>13} {'(MC se)':>8} {'below/above':>11} | {'median log-width W / P':>22}")
    for k, p in enumerate(names):
        row = {"parameter": p, "true": TRUE[p]}
        for kind in ("wald", "profile"):
            h = np.array(hits[kind])[:, k]
            sd = np.array(sides[kind])[:, k]
            cov = float(h.mean())
            row[kind] = {"coverage": cov, "mc_se": float(np.sqrt(cov * (1 - cov) / R)),
                         "interval_below_truth": int((sd == -1).sum()), "interval_above_truth": int((sd == 1).sum()),
                         "median_log_width": float(np.median(np.array(widths[kind])[:, k]))}
        rows.append(row)
        w, pr = row["wald"], row["profile"]
        print(f"{p:>6} {TRUE[p]:>6} | {w['coverage']:>10.3f} {w['mc_se']:>8.3f} "
              f"{w['interval_below_truth']:>5}/{w['interval_above_truth']:<5} | {pr['coverage']:>13.3f} "
              f"{pr['mc_se']:>8.3f} {pr['interval_below_truth']:>5}/{pr['interval_above_truth']:<5} | "
              f"{w['median_log_width']:>10.3f} / {pr['median_log_width']:.3f}")
    out = {"replications": R, "failed_fits": failed, "customers": args.customers, "seed": args.seed,
           "T": "uniform(26, 39) weeks, rounded down to days", "level": 0.95, "seconds": elapsed, "rows": rows,
           "command": " ".join(["python benchmarks/param_interval_coverage.py", *(sys.argv[1:] if argv is None else argv)])}
    if not args.no_write:
        path = Path(__file__).parent / "results" / "param_interval_coverage.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()
