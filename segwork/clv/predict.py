"""P(alive) and predicted CLV of every customer of a customer table: fit BG/NBD and Gamma-Gamma, then apply.

:func:`predict_clv` is the one place where segwork fits the CLV models on a
customer table (:func:`segwork.features.customer_table`) and predicts from
them; :func:`segwork.prepare.prepare_table` adds its two columns to the table
every segmentation starts from. :func:`bg_nbd_inputs` converts the table's
days into the weeks the BG/NBD fits of segwork work in.

Heavy-tailed spend: when Gamma-Gamma finds ``q <= 1`` (infinite population
mean spend), :func:`segwork.clv.customer_lifetime_value` applies its stated
fallback (:data:`segwork.clv.value.SPEND_FALLBACK`) and says so in one
warning; the prepared table's ``clv`` stays finite.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .._checks import require_columns
from ..errors import DataError
from ..features.rfm import TIME_UNITS
from .beta_geo import BetaGeo
from .gamma_gamma import GammaGamma
from .value import customer_lifetime_value

__all__ = ["predict_clv", "bg_nbd_inputs"]


def bg_nbd_inputs(table: pd.DataFrame) -> pd.DataFrame:
    """The BG/NBD inputs of a customer table: ``frequency`` and ``recency``, ``T`` converted from days to weeks.

    The customer table measures ``recency`` and ``T`` in days; the BG/NBD
    fits of this package (:func:`predict_clv`, the relationship typer) work
    in weeks (``segwork.features.TIME_UNITS["weeks"]`` days each). Returns a
    float DataFrame indexed like ``table`` with columns ``frequency``,
    ``recency`` and ``T`` (weeks).
    """
    week = TIME_UNITS["weeks"]
    return pd.DataFrame({
        "frequency": table["frequency"].to_numpy(dtype=float),
        "recency": table["recency"].to_numpy(dtype=float) / week,
        "T": table["T"].to_numpy(dtype=float) / week,
    }, index=table.index)


def predict_clv(
    table: pd.DataFrame,
    *,
    horizon: int = 12,
    discount_rate: float = 0.01,
    margin: float = 1.0,
) -> pd.DataFrame:
    """P(alive) and predicted CLV per customer of a customer table (BG/NBD + Gamma-Gamma).

    Fits :class:`segwork.clv.BetaGeo` on the table's ``frequency``,
    ``recency`` and ``T`` (converted from days to weeks, :func:`bg_nbd_inputs`)
    and :class:`segwork.clv.GammaGamma` on the repeat buyers'
    ``monetary_value``, then :func:`segwork.clv.customer_lifetime_value`
    (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    table: customer table indexed by ``customer_id`` (see
        :func:`segwork.features.customer_table`): ``frequency``, ``recency``
        and ``T`` (days), ``monetary_value`` (the data's currency); an
        optional ``mean_amount`` stands in for the spend model when it
        cannot be fitted.
    horizon: months ahead (whole number >= 1).
    discount_rate: per month (0.01 = 1 % a month).
    margin: profit share of revenue (1.0 = CLV in revenue).

    Returns
    -------
    DataFrame indexed like ``table`` with ``p_alive`` (BG/NBD P(alive),
    0..1; 1 for one-time buyers by the model's construction) and ``clv``
    (discounted expected margin over ``horizon`` months, the data's currency).

    Heavy-tailed spend: when the Gamma-Gamma fit gives ``q <= 1`` (infinite
    population mean spend), the customers whose expected spend is undefined
    get the fallback of :func:`segwork.clv.customer_lifetime_value`
    (:data:`segwork.clv.value.SPEND_FALLBACK`: the median observed mean spend
    of the repeat buyers for customers without a repeat purchase) and one
    ``UserWarning`` says how many and with which value; ``clv`` stays finite.

    Raises
    ------
    DataError: a missing column; from the models (e.g. no repeat buyers for
        BG/NBD); when fewer than 2 repeat buyers have a positive spend and
        the table has no ``mean_amount`` to stand in for the spend model.
    ConvergenceError: when a model fit does not converge.
    """
    require_columns(table, ("frequency", "recency", "T", "monetary_value"), "predict_clv",
                    "build the table with segwork.features.customer_table", what="customer table")
    summary = bg_nbd_inputs(table)
    summary["monetary_value"] = table["monetary_value"].to_numpy(dtype=float)
    bg = BetaGeo().fit(summary["frequency"], summary["recency"], summary["T"])
    p_alive = np.asarray(bg.p_alive(summary["frequency"], summary["recency"], summary["T"]), dtype=float)
    # GammaGamma.fit itself leaves out one-time buyers and repeat buyers whose repeat purchases were worth 0;
    # everyone is predicted from the fitted model.
    repeat = (summary["frequency"] > 0) & (summary["monetary_value"] > 0)
    if repeat.sum() >= 2:
        with warnings.catch_warnings():
            # q <= 1 is handled (and said, with what was done) by customer_lifetime_value
            warnings.filterwarnings("ignore", message=r"GammaGamma: q = .* <= 1", category=RuntimeWarning)
            spend = GammaGamma().fit(summary["frequency"], summary["monetary_value"])
    elif "mean_amount" in table.columns:  # no spend model without repeat buyers: the mean transaction amount stands in
        spend = float(table["mean_amount"].mean())
    else:
        raise DataError(f"predict_clv: only {int(repeat.sum())} repeat buyer(s) with a positive monetary_value, "
                        "too few to fit the Gamma-Gamma spend model, and the table has no 'mean_amount' column "
                        "to stand in; build the table with segwork.features.customer_table (it adds mean_amount) "
                        "or use a longer observation period with more repeat buyers")
    clv = customer_lifetime_value(bg, spend, summary, horizon=horizon, time_unit="weeks",
                                  discount_rate=discount_rate, margin=margin)
    return pd.DataFrame({"p_alive": p_alive, "clv": np.asarray(clv, dtype=float)}, index=table.index)
