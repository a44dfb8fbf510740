"""Coverage of the 95 % Wald intervals of the time-varying Pareto/NBD's coefficients and parameters.

Issue 20 ("Methods 2"): planted effects are recovered within their intervals, with the coverage measured over
replications. ``--reps`` replications of ``--customers`` customers drawn with
:func:`segwork.clv.simulate_time_varying_pareto_nbd` (the model itself: weekly season, promo and complaint
paths and a static segment; 104 weeks, acquisition over the first 52), each fitted with
:class:`segwork.clv.TimeVaryingParetoNBD` on both processes; for each coefficient (and r, alpha, s, beta) it
counts how often the 95 % interval of ``summary()`` / ``params_summary()`` contains the planted value.
Monte-Carlo standard error of a coverage p over R replications: sqrt(p (1 - p) / R) (about 3 points at R = 50).

Not a test and not run by ``run_all.py`` (a few minutes)::

    .venv/bin/python benchmarks/tv_pnbd_coverage.py                 # 50 x 2,000, seed 0
    .venv/bin/python benchmarks/tv_pnbd_coverage.py --reps 10       # a quick look

Writes ``benchmarks/results/tv_pnbd_coverage.json`` unless ``--no-write``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from segwork.clv import TimeVaryingParetoNBD, simulate_time_varying_pareto_nbd  # noqa: E402
from segwork.errors import ConvergenceError  # noqa: E402

PARAMS = {"r": 0.8, "alpha": 8.0, "s": 0.7, "beta": 20.0}
PURCHASE = {"season": 0.5, "promo": 0.4, "complaint": -0.2, "segment[b]": 0.3}
DROPOUT = {"season": 0.0, "promo": 0.0, "complaint": 1.2, "segment[b]": -0.5}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    truth = {f"purchase:{k}": v for k, v in PURCHASE.items()} | {f"dropout:{k}": v for k, v in DROPOUT.items()}
    hits = {k: [] for k in list(PARAMS) + list(truth)}
    seconds, failed = [], 0
    seeds = np.random.SeedSequence(args.seed).generate_state(args.reps)
    t0 = time.perf_counter()
    for i, s in enumerate(seeds):
        sim = simulate_time_varying_pareto_nbd(args.customers, **PARAMS, purchase_coef=PURCHASE, dropout_coef=DROPOUT,
                                               random_state=int(s))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = TimeVaryingParetoNBD().fit(
                    sim.transactions, sim.covariates, observation_end=sim.observation_end,
                    purchase_covariates=["season", "promo", "complaint"],
                    dropout_covariates=["season", "promo", "complaint"], static_covariates=sim.static)
        except ConvergenceError:
            failed += 1
            continue
        seconds.append(m.fit_seconds_)
        summ, ps = m.summary(), m.params_summary()
        for k, v in truth.items():
            hits[k].append(bool(summ.loc[k, "lower_95"] <= np.exp(v) <= summ.loc[k, "upper_95"]))
        for k, v in PARAMS.items():
            hits[k].append(bool(ps.loc[k, "lower_95"] <= v <= ps.loc[k, "upper_95"]))
        print(f"[{i + 1}/{args.reps}] {m.fit_seconds_:.1f} s", flush=True)
    cover = {k: float(np.mean(v)) if v else None for k, v in hits.items()}
    n = len(seconds)
    doc = {
        "command": "python benchmarks/tv_pnbd_coverage.py " + " ".join(argv or sys.argv[1:]),
        "replications": args.reps, "fitted": n, "failed": failed, "customers": args.customers, "seed": args.seed,
        "planted": {"params": PARAMS, "purchase": PURCHASE, "dropout": DROPOUT},
        "coverage_95": cover, "monte_carlo_se": {k: (float(np.sqrt(c * (1 - c) / n)) if c is not None else None)
                                                 for k, c in cover.items()},
        "median_fit_seconds": float(np.median(seconds)) if seconds else None,
        "total_seconds": time.perf_counter() - t0,
    }
    print(json.dumps(doc, indent=2))
    if not args.no_write:
        from segwork._atomic import atomic_write_text

        path = Path(__file__).resolve().parent / "results" / "tv_pnbd_coverage.json"
        atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
    return doc


if __name__ == "__main__":
    main()
