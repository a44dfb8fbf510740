"""Coverage of the 95 % Wald intervals of the time-varying Pareto/NBD's coefficients and parameters.

Issue 20 ("Methods 2"): planted effects are recovered within their intervals, with the coverage measured over
replications. ``--reps`` replications of ``--customers`` customers drawn with
:func:`segwork.clv.simulate_time_varying_pareto_nbd` (the model itself: weekly season, promo and complaint
paths and a static segment; 104 weeks, acquisition over the first 52), each fitted with
:class:`segwork.clv.TimeVaryingParetoNBD` on both processes; for each coefficient (and r, alpha, s, beta) it
counts how often the 95 % interval of ``summary()`` / ``params_summary()`` contains the planted value.
Monte-Carlo standard error of a coverage p over R replications: sqrt(p (1 - p) / R) (about 2 points at R = 100).

The simulator records purchases by day, as real data and ``rfm_summary`` do: two purchases on one day are one.
At the default rates (alpha = 8 per week: heavy buyers several times a week in promotion weeks) about 2 % of the
repeat purchases merge, more where the rate is higher, which pulls the purchase multipliers towards 1 (a
misspecification of the data, not of the fit); ``--alpha 24`` makes it rare (the run recorded both).

Not a test and not run by ``run_all.py`` (a few minutes)::

    .venv/bin/python benchmarks/tv_pnbd_coverage.py --reps 100              # 100 x 2,000, seed 0
    .venv/bin/python benchmarks/tv_pnbd_coverage.py --reps 100 --alpha 24   # fewer purchases on one day
    .venv/bin/python benchmarks/tv_pnbd_coverage.py --reps 10       # a quick look

Writes ``benchmarks/results/tv_pnbd_coverage.json`` (``..._alpha24.json``) unless ``--no-write``.
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
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--alpha", type=float, default=PARAMS["alpha"],
                    help="alpha of the purchase rates (per week); larger = fewer purchases, fewer on one day")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    truth = {f"purchase:{k}": v for k, v in PURCHASE.items()} | {f"dropout:{k}": v for k, v in DROPOUT.items()}
    params = dict(PARAMS, alpha=args.alpha)
    hits = {k: [] for k in list(PARAMS) + list(truth)}
    estimates = {k: [] for k in list(PARAMS) + list(truth)}
    merged = []
    seconds, failed = [], 0
    seeds = np.random.SeedSequence(args.seed).generate_state(args.reps)
    t0 = time.perf_counter()
    for i, s in enumerate(seeds):
        sim = simulate_time_varying_pareto_nbd(args.customers, **params, purchase_coef=PURCHASE, dropout_coef=DROPOUT,
                                               random_state=int(s))
        merged.append(sim.merged_purchases / (sim.merged_purchases + len(sim.transactions) - args.customers))
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
            estimates[k].append(float(summ.loc[k, "coef"]))
        for k, v in params.items():
            hits[k].append(bool(ps.loc[k, "lower_95"] <= v <= ps.loc[k, "upper_95"]))
            estimates[k].append(float(ps.loc[k, "estimate"]))
        print(f"[{i + 1}/{args.reps}] {m.fit_seconds_:.1f} s", flush=True)
    cover = {k: float(np.mean(v)) if v else None for k, v in hits.items()}
    n = len(seconds)
    doc = {
        "command": "python benchmarks/tv_pnbd_coverage.py " + " ".join(argv or sys.argv[1:]),
        "replications": args.reps, "fitted": n, "failed": failed, "customers": args.customers, "seed": args.seed,
        "planted": {"params": params, "purchase": PURCHASE, "dropout": DROPOUT},
        "share_of_repeat_purchases_merged_on_one_day": float(np.mean(merged)),
        "mean_estimate": {k: float(np.mean(v)) if v else None for k, v in estimates.items()},
        "sd_estimate": {k: float(np.std(v, ddof=1)) if len(v) > 1 else None for k, v in estimates.items()},
        "coverage_95": cover, "monte_carlo_se": {k: (float(np.sqrt(c * (1 - c) / n)) if c is not None else None)
                                                 for k, c in cover.items()},
        "median_fit_seconds": float(np.median(seconds)) if seconds else None,
        "total_seconds": time.perf_counter() - t0,
    }
    print(json.dumps(doc, indent=2))
    if not args.no_write:
        from segwork._atomic import atomic_write_text

        tag = "" if args.alpha == PARAMS["alpha"] else f"_alpha{args.alpha:g}"
        path = Path(__file__).resolve().parent / "results" / f"tv_pnbd_coverage{tag}.json"
        atomic_write_text(path, json.dumps(doc, indent=2) + "\n")
    return doc


if __name__ == "__main__":
    main()
