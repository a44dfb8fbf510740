"""Issue 12's CLV extensions at scale: the covariate BG/NBD fit and prediction intervals (no peer).

Run: ``.venv/bin/python benchmarks/bench_clv_uncertainty.py`` (``--quick``: 10x smaller, writes nothing).

Input: customers drawn from the covariate BG/NBD (segwork.clv.covariates) with
the CDNOW baseline (r=0.243, alpha=4.414, a=0.793, b=2.426) and three
covariate columns (a binary ``web`` and a three-level ``region`` one-hot
encoded against its reference), planted coefficients, observed 27..39 weeks,
seeded. Cases: ``BetaGeo.fit(..., covariates=X)`` on 1M customers (check: every
planted coefficient within 3 standard errors), and ``expected_purchases(...,
interval=0.9)`` (200 parameter draws) for 100k customers.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import fmt_size, write_results  # noqa: E402

from segwork.clv import BetaGeo  # noqa: E402
from segwork.clv.covariates import per_customer_params  # noqa: E402

BASE = np.array([0.243, 4.414, 0.793, 2.426])
COEF = np.array([[0.3, 0.1, -0.2], [0.4, 0.0, 0.0], [-0.3, 0.0, 0.2]])  # purchase, dropout_a, dropout_b


def simulate(n: int, seed: int):
    rng = np.random.default_rng(seed)
    web = rng.integers(0, 2, n).astype(float)
    region = rng.choice(["east", "north", "south"], n)
    Z = np.column_stack([web, region == "north", region == "south"]).astype(float)
    P = per_customer_params(BetaGeo(), BASE, COEF, Z)
    T = np.floor(rng.uniform(27, 39, n) * 7) / 7
    lam = rng.gamma(P[0], 1 / P[1])
    p = np.clip(rng.beta(P[2], P[3]), 1e-12, 1)
    npur = rng.poisson(lam * T)
    x = np.minimum(npur, rng.geometric(p))
    rec = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(npur - x + 1, 1)), 0.0)
    rec = np.minimum(np.where(x > 0, np.maximum(np.floor(rec * 7) / 7, 1 / 7), 0.0), T)
    idx = pd.RangeIndex(n, name="customer_id")
    X = pd.DataFrame({"web": web, "region": region}, index=idx)
    return pd.Series(x.astype(float), index=idx), pd.Series(rec, index=idx), pd.Series(T, index=idx), X


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="10x smaller inputs; print only, write nothing")
    args = ap.parse_args(argv)
    scale = 10 if args.quick else 1
    n = 1_000_000 // scale
    x, tx, T, X = simulate(n, seed=12)
    t0 = time.perf_counter()
    model = BetaGeo().fit(x, tx, T, covariates=X)
    s = model.summary()
    fit_s = time.perf_counter() - t0
    est, se = s["estimate"].to_numpy()[4:], s["std_error"].to_numpy()[4:]
    z = np.abs(est - COEF.reshape(-1)) / se
    ok = bool((z < 3).all())
    print(s.to_string())
    print(f"covariate BetaGeo.fit + summary, {n:,} customers: {fit_s:.2f} s; max |z| of planted coefficients "
          f"{z.max():.2f} ({'ok' if ok else 'NOT within 3 SE'})")
    m = 100_000 // scale
    t0 = time.perf_counter()
    out = model.expected_purchases(10, x.head(m), tx.head(m), T.head(m), covariates=X.head(m), interval=0.9)
    int_s = time.perf_counter() - t0
    print(f"expected_purchases(interval=0.9, 200 draws), {m:,} customers: {int_s:.2f} s; "
          f"median relative width {float(((out.upper - out.lower) / out.expected_purchases).median()):.3f}")
    rows = [
        {"case": "BetaGeo.fit(covariates=3 columns) + summary", "size": fmt_size(n, "customers"), "segwork_s": fit_s,
         "peer": None, "peer_s": None, "ratio": None,
         "check": f"planted coefficients within {z.max():.2f} SE" + ("" if ok else " (NOT within 3)"),
         "segwork_params": {**model.params_, **model.coef_.to_dict()}},
        {"case": "expected_purchases(interval=0.9), covariate BG/NBD", "size": fmt_size(m, "customers"),
         "segwork_s": int_s, "peer": None, "peer_s": None, "ratio": None, "check": "200 parameter draws"},
    ]
    if args.quick:
        print("--quick: nothing written")
    else:
        path = write_results("clv_uncertainty", rows, command=".venv/bin/python benchmarks/bench_clv_uncertainty.py",
                             notes=["No peer: lifetimes has neither covariates nor intervals."])
        print(f"wrote {path}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
