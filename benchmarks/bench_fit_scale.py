"""BG/NBD fit at scale: the exact fit on every distinct history against the default fit, side by side.

Run (from the repository root)::

    .venv/bin/python benchmarks/bench_fit_scale.py --customers 1e6,1e7 --repeat 3

Customers: the ``(frequency, recency, T)`` that ``rfm_summary(..., time_unit="days")`` gives on
:func:`bench_scale.generate`'s transactions (10 per customer), in weeks (days / 7) as the ``fit`` step
of ``bench_scale.py`` uses them. They are computed here straight from the generator's random stream
(the same draws, file by file, without writing the transactions), so 10M customers need no 100M-row
log; :func:`check_against_rfm` checks that they equal ``rfm_summary`` on the generated Parquet files
at 1M customers (10M transactions).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent))

import bench_scale  # noqa: E402


def customers(n_tx: int, seed: int = 0, cache: Path | None = None) -> dict[str, np.ndarray]:
    """``frequency``, ``recency``, ``T`` (weeks) of the ``n_tx // 10`` customers of ``bench_scale.generate(n_tx)``."""
    if cache is not None and cache.exists():
        with np.load(cache) as z:
            return {k: z[k] for k in ("frequency", "recency", "T")}
    days = bench_scale.DAYS
    n_customers = max(1, n_tx // 10)
    n_files = max(1, math.ceil(n_tx / bench_scale.FILE_ROWS))
    cust_edges = np.linspace(0, n_customers, n_files + 1).astype(np.int64)
    tx_edges = np.linspace(0, n_tx, n_files + 1).astype(np.int64)
    out = {k: [] for k in ("frequency", "recency", "T")}
    for i in range(n_files):  # the draws of bench_scale.generate, in its order
        rng = np.random.default_rng([seed, n_tx, i])
        nc = int(cust_edges[i + 1] - cust_edges[i])
        nt = int(tx_edges[i + 1] - tx_edges[i])
        weights = rng.gamma(0.5, 1.0, nc)
        counts = 1 + rng.multinomial(nt - nc, weights / weights.sum())
        first = rng.integers(0, days, nc)
        span = np.minimum(days - first, 1 + rng.exponential(365.0, nc).astype(np.int64))
        is_first = np.zeros(nt, dtype=bool)
        is_first[np.cumsum(counts) - counts] = True
        offset = (rng.random(nt) * np.repeat(span, counts)).astype(np.int64)
        day = np.repeat(first, counts) + np.where(is_first, 0, offset)  # day index 0 .. days - 1
        del offset, is_first
        key = np.unique(np.repeat(np.arange(nc, dtype=np.int64), counts) * days + day)
        cust = key // days
        n_days = np.bincount(cust, minlength=nc)
        last = (key % days)[np.cumsum(n_days) - 1]  # keys sorted: a customer's last day is its last key
        out["frequency"].append((n_days - 1).astype(np.float64))
        out["recency"].append((last - first) / 7.0)
        out["T"].append((days - 1 - first) / 7.0)
    res = {k: np.concatenate(v) for k, v in out.items()}
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **res)
    return res


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def side_by_side(c: dict[str, np.ndarray], repeat: int = 3) -> dict:
    """The exact fit (``BetaGeo(start_sample=None)``: L-BFGS-B on the distinct histories) and the default
    fit, alternating in this process, best of ``repeat``; with the largest relative difference of each
    estimate and of the log-likelihood, and the load average before each run."""
    import warnings

    from segwork.clv import BetaGeo

    x, tx, T = c["frequency"], c["recency"], c["T"]
    times: dict[str, list[float]] = {"exact": [], "default": []}
    loads, models = [], {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(repeat):
            for name, kw in (("exact", {"start_sample": None}), ("default", {})):
                loads.append(_load())
                t0 = time.perf_counter()
                models[name] = BetaGeo(**kw).fit(x, tx, T)
                times[name].append(time.perf_counter() - t0)
    old, new = models["exact"], models["default"]
    se = old.summary()["std_error"]
    return {
        "customers": len(x),
        "distinct_histories": old.n_rows_,
        "exact_s": min(times["exact"]), "default_s": min(times["default"]),
        "ratio": min(times["exact"]) / min(times["default"]),
        "all_s": times, "load_average": loads,
        "params_exact": old.params_, "params_default": new.params_,
        "max_rel_diff": {k: abs(new.params_[k] / v - 1) for k, v in old.params_.items()},
        "diff_in_se": {k: abs(new.params_[k] - v) / se[k] for k, v in old.params_.items()},
        "loglik_exact": old.log_likelihood_, "loglik_default": new.log_likelihood_,
        "loglik_rel_diff": abs(new.log_likelihood_ / old.log_likelihood_ - 1),
        "loglik_gain": new.log_likelihood_ - old.log_likelihood_,
        "exact_iterations": old.n_iter_, "default_method": new.fit_method_,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1e7,1e8", help="transactions of bench_scale's generator (customers = / 10)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data-dir", default=str(BENCH_DIR / ".data-scale"))
    ap.add_argument("--check", action="store_true", help="first check the customers against rfm_summary at 1e7")
    args = ap.parse_args(argv)
    data_dir = Path(args.data_dir)
    if args.check:
        print(check_against_rfm(data_dir), flush=True)
    rows = []
    for n_tx in (int(float(s)) for s in args.sizes.split(",") if s.strip()):
        c = customers(n_tx, cache=data_dir / f"fitcust-{n_tx}.npz")
        row = side_by_side(c, args.repeat)
        print(json.dumps(row, indent=1, default=float), flush=True)
        worst = max(row["max_rel_diff"].values())
        rows.append({**row, "case": "BG/NBD fit (default vs L-BFGS-B)", "size": f"{row['customers']:,} customers",
                     "segwork_s": row["default_s"], "peer": "BetaGeo(start_sample=None)", "peer_s": row["exact_s"],
                     "check": f"parameters within {worst:.1e} relative, log-likelihood within "
                              f"{row['loglik_rel_diff']:.1e}; load {row['load_average'][0]}"})
    from _common import write_results

    write_results("fit_scale", rows, command="python benchmarks/bench_fit_scale.py --sizes " + args.sizes,
                  notes=["customers: bench_scale.generate's stream (customers(); --check compares with rfm_summary)",
                         "exact and default alternate in one process, best of --repeat"])
    return 0


def check_against_rfm(data_dir: Path, n_tx: int = 10_000_000) -> str:
    """The customers of :func:`customers` against ``rfm_summary`` of ``bench_scale.generate(n_tx)``'s files."""
    import segwork

    folder = bench_scale.generate(n_tx, data_dir / f"tx-{n_tx}")
    rfm = segwork.rfm_summary(str(folder / "*.parquet"), observation_end=bench_scale.END, time_unit="days",
                              engine="duckdb")
    c = customers(n_tx, cache=data_dir / f"fitcust-{n_tx}.npz")
    order = np.argsort(rfm.index.str[1:].astype(np.int64).to_numpy())
    same = all(np.array_equal(rfm[k].to_numpy(float)[order] / s, c[k])
               for k, s in (("frequency", 1), ("recency", 7), ("T", 7)))
    return f"customers({n_tx:.0e}) {'equal' if same else 'DIFFERENT from'} rfm_summary on the generated files"


if __name__ == "__main__":
    sys.exit(main())
