"""P(alive) over time for chosen customers, and the fitted heterogeneity of purchase and dropout rates.

:func:`p_alive_history` recomputes a fitted transaction model's P(alive) at
each date of a grid from the purchases known at that date (the view of
lifetimes' ``plot_history_alive``); :func:`plot_history_alive` draws it with the
purchases marked; :func:`plot_heterogeneity` draws the fitted mixing
distributions: the gamma of the purchase rate (``r``, ``alpha``) and the
dropout distribution (beta of the dropout probability ``p`` with ``a``,
``b`` for the BG/NBD and MBG/NBD; gamma of the dropout rate with ``s``,
``beta`` for the Pareto/NBD and GGom/NBD), as in the lifetimes and
pymc-marketing documentation (Fader, Hardie & Lee 2005; Schmittlein,
Morrison & Colombo 1987).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import DataError
from ..features.rfm import TIME_UNITS
from ._style import BLUE, GREY, ORANGE, RED, axes

__all__ = ["p_alive_history", "plot_history_alive", "plot_heterogeneity"]

#: The transaction models of :func:`segwork.prepare.prepare` are fitted in weeks; the table is in days.
DAYS_PER_WEEK = TIME_UNITS["weeks"]


def p_alive_history(model, transactions: pd.DataFrame, customers, dates, *, days_per_unit: float = DAYS_PER_WEEK
                    ) -> pd.DataFrame:
    """P(alive) of each customer at each date, from the purchases known at that date.

    Parameters
    ----------
    model: a fitted transaction model of :mod:`segwork.clv` (``p_alive(frequency, recency, T)``),
        fitted with time in units of ``days_per_unit`` days (weeks for the prepared table's models).
    transactions: canonical transactions (``customer_id``, ``date``); purchases are counted per
        distinct day, as :func:`segwork.features.rfm_summary` counts them.
    customers: the customer ids to follow.
    dates: the grid (dates); at a date before a customer's first purchase their P(alive) is NaN.

    Returns
    -------
    DataFrame, index ``customer_id`` (text, in the order given), columns the
    dates, values P(alive) in 0..1 (NaN before the first purchase). At the
    observation end it equals the prepared table's ``p_alive`` (same model,
    same history).

    Raises
    ------
    DataError: a customer without purchases in ``transactions``; ``transactions`` without
        ``customer_id`` or ``date``.
    """
    for col in ("customer_id", "date"):
        if col not in transactions.columns:
            raise DataError(f"p_alive_history: the transactions have no {col!r} column")
    ids = [str(c) for c in customers]
    tx = transactions[["customer_id", "date"]].assign(customer_id=transactions["customer_id"].astype(str))
    tx = tx[tx["customer_id"].isin(set(ids))]
    days = tx.assign(day=pd.to_datetime(tx["date"]).dt.normalize()).drop_duplicates(["customer_id", "day"])
    missing = sorted(set(ids) - set(days["customer_id"]))
    if missing:
        raise DataError(f"p_alive_history: customer {missing[0]!r} has no purchase in the transactions "
                        f"({len(missing)} in all); give customers of the prepared table")
    grid = pd.DatetimeIndex(pd.to_datetime(list(dates))).normalize()
    first = days.groupby("customer_id")["day"].min()
    # for each grid date: the purchase days known then, per customer (count and last), one groupby per date
    out = np.full((len(ids), len(grid)), np.nan)
    row_of = pd.Series(np.arange(len(ids)), index=ids)
    day = days["day"].to_numpy(dtype="datetime64[D]")
    cust = days["customer_id"].to_numpy()
    f_day = first.reindex(ids).to_numpy(dtype="datetime64[D]")
    for j, g in enumerate(grid.to_numpy(dtype="datetime64[D]")):
        known = day <= g
        if not known.any():
            continue
        agg = pd.DataFrame({"c": cust[known], "d": day[known]}).groupby("c", sort=False)["d"].agg(["size", "max"])
        rows = row_of[agg.index.astype(str)].to_numpy()
        f = f_day[rows]
        x = agg["size"].to_numpy(dtype=float) - 1
        t_x = (agg["max"].to_numpy(dtype="datetime64[D]") - f).astype(float) / days_per_unit
        T = (g - f).astype(float) / days_per_unit
        out[rows, j] = np.asarray(model.p_alive(x, t_x, T), dtype=float)
    frame = pd.DataFrame(out, index=pd.Index(ids, name="customer_id"), columns=grid)
    frame.attrs["first_purchase"] = first.reindex(ids)
    return frame


def plot_history_alive(history: pd.DataFrame, transactions: pd.DataFrame | None = None, *, ax=None,
                       title: str = "P(alive) over time"):
    """One line per customer of :func:`p_alive_history`; purchases marked on each line.

    ``transactions``: canonical transactions to mark the purchase days (optional). Returns the Axes.
    """
    ax = axes(ax, (8.0, 3.6))
    colours = [BLUE, ORANGE, RED, GREY, "#55a868", "#8172b3"]
    for i, (cid, row) in enumerate(history.iterrows()):
        c = colours[i % len(colours)]
        ax.plot(history.columns, row.to_numpy(), color=c, lw=1.6, label=f"customer {cid}")
        if transactions is not None:
            own = pd.to_datetime(transactions.loc[transactions["customer_id"].astype(str) == str(cid), "date"])
            own = own.dt.normalize().unique()
            pos = history.columns.searchsorted(own, side="right") - 1
            keep = pos >= 0
            ax.scatter(own[keep], row.to_numpy()[pos[keep]], color=c, s=14, zorder=3)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("P(alive)")
    ax.set_xlabel("date")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    return ax


def plot_heterogeneity(model, *, days_per_unit: float = DAYS_PER_WEEK, axs=None):
    """The fitted mixing distributions: purchase rate (gamma) and dropout (beta of p, or gamma of the rate).

    The purchase rate is drawn per 30 days (``lambda * 30 / days_per_unit``).
    Returns the two Axes. Raises DataError for a model without ``r``,
    ``alpha`` and either ``a``, ``b`` or ``s``, ``beta`` in ``params_``.
    """
    import matplotlib.pyplot as plt

    params = getattr(model, "params_", None) or {}
    if not {"r", "alpha"} <= set(params):
        raise DataError(f"plot_heterogeneity: {type(model).__name__} has no fitted r and alpha (params_); "
                        "fit a BG/NBD, MBG/NBD, Pareto/NBD or GGom/NBD first")
    if axs is None:
        _fig, axs = plt.subplots(1, 2, figsize=(9.0, 3.2))
    per30 = 30.0 / days_per_unit
    rate = stats.gamma(params["r"], scale=per30 / params["alpha"])
    grid = np.linspace(0, rate.ppf(0.99), 300)
    axs[0].plot(grid, rate.pdf(grid), color=BLUE)
    axs[0].axvline(rate.mean(), color=GREY, ls="--", lw=1)
    axs[0].set_title(f"purchase rate: gamma(r={params['r']:.2f}, alpha={params['alpha']:.2f})")
    axs[0].set_xlabel("purchases per 30 days (while alive)")
    axs[0].set_ylabel("density")
    if {"a", "b"} <= set(params):
        drop = stats.beta(params["a"], params["b"])
        g = np.linspace(0.001, min(0.999, drop.ppf(0.99)), 300)
        axs[1].plot(g, drop.pdf(g), color=ORANGE)
        axs[1].set_title(f"dropout: beta(a={params['a']:.2f}, b={params['b']:.2f})")
        axs[1].set_xlabel("probability of leaving after a purchase")
    elif {"s", "beta"} <= set(params):
        drop = stats.gamma(params["s"], scale=per30 / params["beta"])
        g = np.linspace(0, drop.ppf(0.99), 300)
        axs[1].plot(g, drop.pdf(g), color=ORANGE)
        axs[1].set_title(f"dropout rate: gamma(s={params['s']:.2f}, beta={params['beta']:.2f})")
        axs[1].set_xlabel("dropout rate per 30 days")
    else:
        raise DataError(f"plot_heterogeneity: {type(model).__name__} has no beta (a, b) or gamma (s, beta) "
                        "dropout parameters")
    axs[1].axvline(drop.mean(), color=GREY, ls="--", lw=1)
    axs[1].set_ylabel("density")
    return axs
