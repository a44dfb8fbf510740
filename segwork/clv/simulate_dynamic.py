"""Draw transactions and a weekly covariate table from the Pareto/NBD with time-varying covariates.

For tests, benchmarks and teaching: the model of
:class:`segwork.clv.TimeVaryingParetoNBD` itself (Bachmann, Meierer & Naef
2021), so a fit on its output should recover the parameters it was given.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["SimulatedDynamicData", "simulate_time_varying_pareto_nbd", "SIMULATED_COVARIATES"]

#: The covariates the simulator draws: their kind and how.
SIMULATED_COVARIATES = {
    "season": "time-varying, the same for everybody: 1 in the last 8 weeks of each 52-week year",
    "promo": "time-varying, each customer and week independently 1 with probability 0.25",
    "complaint": "time-varying, a two-state chain per customer: opens with probability 0.03 a week, "
                 "closes with probability 0.3 a week",
    "segment": "static (a column of `static`), 'b' for 40 % of the customers, else 'a' (the reference level)",
}


@dataclass
class SimulatedDynamicData:
    """What :func:`simulate_time_varying_pareto_nbd` returns.

    transactions: ``customer_id`` (str), ``date``, ``amount`` (10.0), one row per purchase day.
    covariates: the long table ``customer_id``, ``period_start``, ``season``, ``promo``, ``complaint``
        (floats 0/1), one row per customer and week from the week of the first purchase through the week
        containing ``observation_end``.
    static: ``segment`` per customer (index ``customer_id``).
    truth: per customer ``purchase_rate`` and ``dropout_rate`` (lambda_i and mu_i per week, for a customer
        with every covariate 0), ``dropout_time`` (weeks after the first purchase; inf if still alive at
        the end) and ``first_purchase``.
    observation_end: the last day observed.
    merged_purchases: purchases that fell on a day with another purchase of the same customer (recorded once).
    """

    transactions: pd.DataFrame
    covariates: pd.DataFrame
    static: pd.DataFrame
    truth: pd.DataFrame
    observation_end: pd.Timestamp
    merged_purchases: int = 0


def simulate_time_varying_pareto_nbd(n_customers: int, *, r: float = 0.8, alpha: float = 8.0, s: float = 0.7,
                                     beta: float = 20.0, purchase_coef=None, dropout_coef=None, weeks: int = 104,
                                     acquisition_weeks: int = 52, start="2020-01-05", future_weeks: int = 0,
                                     random_state=None) -> SimulatedDynamicData:
    """Simulate customers of the Pareto/NBD with weekly time-varying covariates.

    Each customer is acquired (first purchase) on a day drawn uniformly from
    the first ``acquisition_weeks`` weeks after ``start``; from then on they
    buy at rate ``lambda_i exp(b' x(t))`` while alive and leave at the rate
    ``mu_i exp(g' z(t))`` (dropout when the integrated hazard passes an
    Exp(1) draw), ``lambda_i ~ Gamma(r, rate alpha)``, ``mu_i ~ Gamma(s, rate
    beta)``, rates per week. Covariates (see :data:`SIMULATED_COVARIATES`):
    ``season``, ``promo``, ``complaint`` and the static ``segment[b]``; the
    coefficients ``purchase_coef`` / ``dropout_coef`` are dicts keyed by these
    names (``"segment[b]"`` for the static one), missing names 0.
    Purchase times are continuous; a purchase is recorded on its day (so, as
    in real data, two purchases on one day are one purchase day).
    ``observation_end`` is the last day of week ``weeks``; ``future_weeks``
    extends the covariate table past it (for predictions).
    """
    rng = np.random.default_rng(random_state)
    bcoef = dict(purchase_coef or {})
    gcoef = dict(dropout_coef or {})
    start = pd.Timestamp(start)
    o = int(start.value // 86_400_000_000_000)
    end = o + 7 * weeks - 1
    n = int(n_customers)
    ids = pd.Index([f"C{i:06d}" for i in range(n)], name="customer_id")
    first = o + rng.integers(0, 7 * acquisition_weeks, size=n)
    seg_b = rng.random(n) < 0.4
    k0 = (first - o) // 7
    k_last = weeks - 1 + int(future_weeks)
    counts = k_last - k0 + 1
    offsets = np.r_[0, np.cumsum(counts)]
    cust = np.repeat(np.arange(n), counts)
    k = k0[cust] + np.arange(offsets[-1]) - offsets[cust]
    season = ((k % 52) >= 44).astype(float)
    promo = (rng.random(len(k)) < 0.25).astype(float)
    # complaint chain, week by week over each customer's rows
    complaint = np.zeros(len(k))
    u = rng.random(len(k))
    state = np.zeros(n)
    for q in range(int(counts.max())):
        at = offsets[:-1] + q
        live = q < counts
        idx = at[live]
        st = state[live]
        st = np.where(st > 0, (u[idx] >= 0.3).astype(float), (u[idx] < 0.03).astype(float))
        state[live] = st
        complaint[idx] = st
    cov = pd.DataFrame({"customer_id": ids[cust], "period_start": pd.to_datetime(o + 7 * k, unit="D"),
                        "season": season, "promo": promo, "complaint": complaint})
    static = pd.DataFrame({"segment": np.where(seg_b, "b", "a")}, index=ids)

    def lin(coef, j):
        return (coef.get("season", 0.0) * season[j] + coef.get("promo", 0.0) * promo[j]
                + coef.get("complaint", 0.0) * complaint[j] + coef.get("segment[b]", 0.0) * seg_b[cust[j]])

    lam = rng.gamma(r, 1.0 / alpha, size=n)
    mu = rng.gamma(s, 1.0 / beta, size=n)
    # the observed pieces (through the week containing `end`), in weeks after the first purchase
    obs = k <= weeks - 1
    j = np.flatnonzero(obs)
    cj = cust[j]
    lo_day = np.maximum(o + 7 * k[j], first[cj])
    hi_day = np.minimum(o + 7 * (k[j] + 1), end)
    lo = (lo_day - first[cj]) / 7.0
    ln = np.maximum(hi_day - lo_day, 0) / 7.0
    a = np.exp(lin(bcoef, j))
    c = np.exp(lin(gcoef, j))
    hz = mu[cj] * c * ln
    cum = np.cumsum(hz)
    before = cum - hz
    starts = np.searchsorted(cj, np.arange(n))
    base = before[starts][cj]
    h_lo, h_hi = before - base, cum - base
    e = rng.exponential(size=n)
    dies_here = (h_lo < e[cj]) & (h_hi >= e[cj]) & (hz > 0)
    death = np.full(n, np.inf)
    death[cj[dies_here]] = (lo[dies_here] + (e[cj[dies_here]] - h_lo[dies_here]) / (mu[cj[dies_here]] * c[dies_here]))
    exposure = np.clip(np.minimum(lo + ln, death[cj]) - lo, 0.0, None)
    n_buy = rng.poisson(lam[cj] * a * exposure)
    which = np.repeat(np.arange(len(j)), n_buy)
    times = lo[which] + rng.random(len(which)) * exposure[which]
    buyer = np.r_[np.arange(n), cj[which]]
    day = np.r_[first, first[cj[which]] + np.floor(times * 7.0).astype(np.int64)]
    tx = pd.DataFrame({"customer_id": ids[buyer], "date": pd.to_datetime(day, unit="D"), "amount": 10.0})
    drawn = len(tx)
    tx = tx.drop_duplicates(["customer_id", "date"]).sort_values(["customer_id", "date"], kind="mergesort")
    truth = pd.DataFrame({"purchase_rate": lam, "dropout_rate": mu, "dropout_time": death,
                          "first_purchase": pd.to_datetime(first, unit="D")}, index=ids)
    return SimulatedDynamicData(tx.reset_index(drop=True), cov, static, truth, pd.to_datetime(end, unit="D"),
                                drawn - len(tx))
