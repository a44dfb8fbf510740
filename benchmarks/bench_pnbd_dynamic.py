"""Fit time and peak memory of the time-varying Pareto/NBD (segwork.clv.TimeVaryingParetoNBD), issue 20.

Cases, each in its own subprocess (peak RSS = ru_maxrss of that process: simulation + fit, imports included):

* 10,000 and 100,000 simulated customers x 104 weeks (segwork.clv.simulate_time_varying_pareto_nbd, every
  customer acquired in the first week, so each has 104 weekly periods; season, promo and complaint on both
  processes plus a static segment: 8 coefficients);
* CLVTools' apparel data: 600 customers x 104 weeks, high_season, gender, channel on both processes (the run
  CLVTools 0.12.1 took 1.49 min for in ``benchmarks/clvtools_apparel_dynamic.R``, on this machine, separately).

Usage::

    .venv/bin/python benchmarks/bench_pnbd_dynamic.py          # all cases; writes results/pnbd_dynamic.json
    .venv/bin/python benchmarks/bench_pnbd_dynamic.py --quick  # 2,000 customers and apparel, print only
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

PURCHASE = {"season": 0.5, "promo": 0.4, "complaint": -0.2, "segment[b]": 0.3}
DROPOUT = {"complaint": 1.2, "segment[b]": -0.5}
ALPHA = 24.0  # purchase rates (per week) low enough that few purchases share a day (benchmarks/README.md)
CLVTOOLS_APPAREL_S = 1.492619 * 60  # "DYN time 1.492619 mins" (benchmarks/clvtools_apparel_dynamic.R)


def _rss_now_gib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 2**20
    return float("nan")


def worker(case: str) -> dict:
    """One case in this process; returns its figures."""
    import numpy as np

    from segwork.clv import TimeVaryingParetoNBD, simulate_time_varying_pareto_nbd

    t0 = time.perf_counter()
    if case == "apparel":
        from segwork.datasets import load_apparel

        a = load_apparel()
        tx, cov, end, static = a.transactions, a.dynamic_covariates, a.estimation_end, None
        cols = ["high_season", "gender", "channel"]
        merged = None
    else:
        sim = simulate_time_varying_pareto_nbd(int(case), alpha=ALPHA, purchase_coef=PURCHASE, dropout_coef=DROPOUT,
                                               acquisition_weeks=1, weeks=104, random_state=0)
        tx, cov, end, static = sim.transactions, sim.covariates, sim.observation_end, sim.static
        merged = sim.merged_purchases / (sim.merged_purchases + len(tx) - int(case))
        cols = ["season", "promo", "complaint"]
    prepared = time.perf_counter() - t0
    rss_before = _rss_now_gib()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        m = TimeVaryingParetoNBD().fit(tx, cov, observation_end=end, purchase_covariates=cols, dropout_covariates=cols,
                                       static_covariates=static)
        fit_s = time.perf_counter() - t0
    s = m.summary()
    return {"case": case, "fit_s": fit_s, "prepare_s": prepared, "rss_before_fit_gib": rss_before,
            "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
            "customers": m.n_customers_, "covariate_rows": int(len(cov)), "transactions": int(len(tx)),
            "log_likelihood": m.log_likelihood_, "n_iter": m.n_iter_, "n_nodes": m.n_nodes_,
            "params": m.params_, "coef": m.coef_.round(4).to_dict(), "se": s["se"].round(4).to_dict(),
            "unidentified": list(m.unidentified_), "warnings": [str(w.message)[:200] for w in caught],
            "merged_share": merged,
            "z": (None if case == "apparel" else {
                k: float((s.loc[k, "coef"] - v) / s.loc[k, "se"])
                for k, v in ({f"purchase:{a}": b for a, b in PURCHASE.items()}
                             | {f"dropout:{a}": b for a, b in DROPOUT.items()}).items()}),
            "recovered": (None if case == "apparel" else {
                k: bool(s.loc[k, "lower_95"] <= np.exp(v) <= s.loc[k, "upper_95"])
                for k, v in ({f"purchase:{a}": b for a, b in PURCHASE.items()}
                             | {f"dropout:{a}": b for a, b in DROPOUT.items()}).items()})}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--worker")
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker)))
        return
    cases = ["2000", "apparel"] if args.quick else ["10000", "100000", "apparel"]
    out = []
    for case in cases:
        proc = subprocess.run([sys.executable, __file__, "--worker", case], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"case {case} failed:\n{proc.stderr[-3000:]}")
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        print(json.dumps(res, indent=1), flush=True)
        out.append(res)
    if args.quick:
        return
    from _common import fmt_size, write_results

    rows = []
    for r in out:
        if r["case"] == "apparel":
            rows.append({**r, "case": "TimeVaryingParetoNBD.fit, CLVTools' apparelDynCov (high_season, gender, "
                                      "channel on both processes)",
                         "size": "600 customers x 104 weeks", "segwork_s": r["fit_s"],
                         "peer": "CLVTools 0.12.1 pnbd (separate run, R)", "peer_s": CLVTOOLS_APPAREL_S,
                         "check": f"LL {r['log_likelihood']:.4f} (CLVTools -5752.9367, stopped early); "
                                  f"peak RSS {r['peak_rss_gib']:.2f} GiB"})
        else:
            n = int(r["case"])
            ok = sum(r["recovered"].values())
            worst = max(r["z"], key=lambda k: abs(r["z"][k]))
            rows.append({**r, "case": "TimeVaryingParetoNBD.fit, simulated (3 weekly covariates + 1 static, both "
                                      "processes)",
                         "size": fmt_size(n, "customers") + " x 104 weeks", "segwork_s": r["fit_s"], "peer": None,
                         "peer_s": None,
                         "check": f"peak RSS {r['peak_rss_gib']:.2f} GiB ({r['rss_before_fit_gib']:.2f} before the "
                                  f"fit); {ok}/{len(r['recovered'])} planted multipliers in their 95 % intervals "
                                  f"(largest |estimate - planted| / se: {abs(r['z'][worst]):.1f}, {worst}; "
                                  f"{r['merged_share']:.1%} of repeat purchases merged on one day)"})
    write_results("pnbd_dynamic", rows, command="python benchmarks/bench_pnbd_dynamic.py",
                  notes=["each case in its own subprocess; fit time = TimeVaryingParetoNBD.fit (checks, design, "
                         "optimisation, Hessian); peak RSS = ru_maxrss of the process (simulation included)",
                         "CLVTools' time is from benchmarks/clvtools_apparel_dynamic.R on this machine (Nelder-Mead, "
                         "1069 evaluations), not the same run"])


if __name__ == "__main__":
    main()
