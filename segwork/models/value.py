"""The value columns of customer histories from a saved model folder: P(alive), purchases, spend, CLV.

One function, called by the SOAP service (``PredictCustomerValue``, ``SegmentCustomers`` ...) and by bulk
scoring (:func:`segwork.models.score.score_table`), so both give the same numbers for the same history.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..clv.base import distinct_rows
from ..clv.transaction import check_history
from ..clv.value import DAYS_PER_MONTH, customer_lifetime_value
from ..features.rfm import TIME_UNITS
from .store import ModelStore

__all__ = ["value_columns", "summary_in_weeks"]


def summary_in_weeks(days: pd.DataFrame) -> pd.DataFrame:
    """``frequency``, ``recency``, ``T`` (weeks: the stored models' unit) and ``monetary_value`` of histories in days."""
    week = TIME_UNITS["weeks"]
    return pd.DataFrame({"frequency": days["frequency"].to_numpy(dtype=float),
                         "recency": days["recency"].to_numpy(dtype=float) / week,
                         "T": days["T"].to_numpy(dtype=float) / week,
                         "monetary_value": days["monetary_value"].to_numpy(dtype=float)}, index=days.index)


def value_columns(store: ModelStore, days: pd.DataFrame, horizon: int | None = None, discount_rate=None,
                  margin=None, propensity_days: int | None = None) -> pd.DataFrame:
    """P(alive), expected purchases, expected spend and CLV of histories in days, from the stored models.

    Indexed like ``days``. With ``propensity_days`` also ``p_buy_<n>d``, P(at least one purchase in the
    next n days) = ``1 - exp(-E[X(n days)])``. The model's own check runs on every customer first (its
    message names the customer); P(alive) and the expected purchases (horizon and propensity window in
    one call) are then evaluated once per distinct (frequency, recency, T) and gathered back (the CLV does
    the same inside :func:`segwork.clv.value.customer_lifetime_value`).
    """
    settings = store.clv_settings
    horizon = int(settings["horizon"] if horizon is None else horizon)  # checked by customer_lifetime_value
    summary = summary_in_weeks(days)
    model, spend = store.transaction_model, store.spend_model
    week = TIME_UNITS["weeks"]
    x, tx, T, _, _ = check_history(f"{type(model).__name__}.p_alive", summary["frequency"], summary["recency"],
                                   summary["T"])
    rows, first = distinct_rows(x, tx, T)
    ux, utx, uT = x[first], tx[first], T[first]
    windows = [horizon * DAYS_PER_MONTH / week] + ([] if propensity_days is None else [propensity_days / week])
    ahead = np.asarray(model.expected_purchases(np.array(windows)[:, None], ux[None, :], utx[None, :], uT[None, :]),
                       dtype=float)
    out = pd.DataFrame(index=days.index)
    out["p_alive"] = np.asarray(model.p_alive(ux, utx, uT), dtype=float)[rows]
    out["expected_purchases"] = ahead[0][rows]
    if isinstance(spend, (int, float)):
        out["expected_spend"] = float(spend)
    else:
        out["expected_spend"] = np.asarray(spend.expected_spend(summary["frequency"], summary["monetary_value"]),
                                           dtype=float)
    out["clv"] = customer_lifetime_value(
        model, spend, summary, horizon=horizon, time_unit="weeks",
        discount_rate=float(settings["discount_rate"] if discount_rate is None else discount_rate),
        margin=float(settings["margin"] if margin is None else margin)).to_numpy(dtype=float)
    if propensity_days is not None:
        out[f"p_buy_{propensity_days}d"] = -np.expm1(-ahead[1][rows])
    return out
