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
