"""Tidy tables that show how a fitted transaction model behaves (inputs of :mod:`segwork.plots.clv`).

* :func:`period_transactions`: how many customers made 0, 1, ..., 7+ repeat
  purchases in calibration, actual vs the model (simulated from the fitted
  population with each customer's own ``T``);
* :func:`p_alive_matrix` and :func:`expected_purchases_matrix`: the model's
  P(alive) and expected future purchases over a frequency x recency grid for
  a customer observed for ``T`` time units.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import DataError
from .validation import frequency_bin

__all__ = ["period_transactions", "p_alive_matrix", "expected_purchases_matrix"]


def period_transactions(model, summary: pd.DataFrame, max_frequency: int = 7, n_draws: int = 20,
                        random_state=0) -> pd.DataFrame:
    """Customers by number of repeat purchases in calibration: actual vs model.

    The model column is the mean over ``n_draws`` simulations of the whole
    customer base (each customer keeps their own ``T``), so it is the
    expected histogram under the fitted model. Deterministic for a given
    ``random_state``.

    Returns a DataFrame indexed by ``frequency`` (``"0"`` .. ``"7+"``) with
    ``actual`` and ``model`` (numbers of customers).
    """
    if "frequency" not in summary or "T" not in summary:
        raise DataError("period_transactions: summary needs columns frequency and T (from rfm_summary)")
    rng = np.random.default_rng(random_state)
    T = summary["T"].to_numpy(dtype=np.float64)
    actual = pd.Series(frequency_bin(summary["frequency"], max_frequency)).value_counts(sort=False)
    sims = np.zeros(max_frequency + 1)
    for _ in range(n_draws):
        draw = np.minimum(model.sample_frequency(T, random_state=rng), max_frequency)
        sims += np.bincount(draw, minlength=max_frequency + 1)[: max_frequency + 1]
    out = pd.DataFrame({"actual": actual.to_numpy(dtype=float), "model": sims / n_draws},
                       index=pd.Index([str(c) for c in actual.index], name="frequency"))
    return out


def _grid(max_frequency: int, T: float, n_recency: int):
    if max_frequency < 1 or not T > 0:
        raise DataError("matrix: need max_frequency >= 1 and T > 0")
    freq = np.arange(max_frequency + 1)
    rec = np.linspace(0.0, T, n_recency)
    F, R = np.meshgrid(freq, rec)
    return freq, rec, F, R


def p_alive_matrix(model, max_frequency: int = 20, T: float = 39.0, n_recency: int = 40) -> pd.DataFrame:
    """P(alive) for frequency 0..``max_frequency`` and recency 0..``T`` (customers observed for ``T``).

    Returns a DataFrame indexed by ``recency`` (ascending, in the model's
    time unit) with one column per frequency. Impossible cells (frequency 0
    with recency > 0) are NaN.
    """
    freq, rec, F, R = _grid(max_frequency, T, n_recency)
    impossible = (F == 0) & (R > 0)  # not a history: the model refuses it; shown as NaN
    values = np.asarray(model.p_alive(F.ravel(), np.where(impossible, 0.0, R).ravel(), np.full(F.size, T)),
                        dtype=float).reshape(F.shape)
    values[impossible] = np.nan
    return pd.DataFrame(values, index=pd.Index(np.round(rec, 6), name="recency"),
                        columns=pd.Index(freq, name="frequency"))


def expected_purchases_matrix(model, t: float, max_frequency: int = 20, T: float = 39.0,
                              n_recency: int = 40) -> pd.DataFrame:
    """Expected purchases in the next ``t`` time units over the frequency x recency grid (see :func:`p_alive_matrix`)."""
    freq, rec, F, R = _grid(max_frequency, T, n_recency)
    impossible = (F == 0) & (R > 0)
    values = np.asarray(model.expected_purchases(t, F.ravel(), np.where(impossible, 0.0, R).ravel(),
                                                 np.full(F.size, T)), dtype=float).reshape(F.shape)
    values[impossible] = np.nan
    return pd.DataFrame(values, index=pd.Index(np.round(rec, 6), name="recency"),
                        columns=pd.Index(freq, name="frequency"))
