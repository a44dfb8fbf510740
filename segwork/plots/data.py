"""Figures for transaction and customer analysis (notebook 01).

One function per figure. Each takes the tidy table made by the matching
function in :mod:`segwork.explore`, draws on ``ax`` (a new figure when
``None``) and returns the matplotlib Axes. Nothing is shown or saved here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from ._style import BLUE, RED, axes, legend_outside, month_axis, percent_ticks, short_number_ticks
from .segments import plot_value_concentration

__all__ = [
    "plot_monthly_customers",
    "plot_monthly_revenue",
    "plot_purchase_counts",
    "plot_interpurchase_days",
    "plot_revenue_concentration",
    "plot_cohort_retention",
]

_NEW, _RETURNING, _LINE = BLUE, "#a1c9f4", RED
_SIZE = (8, 3.8)


def plot_monthly_customers(monthly: pd.DataFrame, ax=None):
    """Active customers per month, split into new and returning (stacked bars).

    ``monthly``: output of :func:`segwork.explore.monthly_activity`.
    """
    ax = axes(ax, _SIZE)
    x = pd.to_datetime(monthly["month"])
    ax.bar(x, monthly["returning_customers"], width=25, align="edge", color=_RETURNING, label="returning")
    ax.bar(x, monthly["new_customers"], width=25, align="edge", bottom=monthly["returning_customers"],
           color=_NEW, label="new (first purchase)")
    month_axis(ax)
    short_number_ticks(ax.yaxis)
    ax.set_ylabel("customers who bought")
    ax.set_title("Active customers per month")
    legend_outside(ax)
    sns.despine(ax=ax)
    return ax


def plot_monthly_revenue(monthly: pd.DataFrame, ax=None, currency: str = ""):
    """Revenue per month (line with markers) and transactions on a second axis.

    ``monthly``: output of :func:`segwork.explore.monthly_activity`.
    """
    ax = axes(ax, _SIZE)
    x = pd.to_datetime(monthly["month"]) + pd.Timedelta(days=14)
    ax.plot(x, monthly["revenue"], marker="o", color=_NEW, label="revenue")
    ax.set_ylim(bottom=0)
    short_number_ticks(ax.yaxis)
    ax.set_ylabel(f"revenue per month{(' (' + currency + ')') if currency else ''}")
    ax2 = ax.twinx()
    ax2.plot(x, monthly["transactions"], ls="--", color="0.45", label="transactions")
    ax2.set_ylim(bottom=0)
    short_number_ticks(ax2.yaxis)
    ax2.set_ylabel("transactions per month")
    month_axis(ax)
    ax.set_title("Revenue and transactions per month")
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], frameon=False, loc="upper left")
    sns.despine(ax=ax, right=False)
    return ax


def plot_purchase_counts(distribution: pd.DataFrame, ax=None):
    """Bars of the share of customers by number of purchases.

    ``distribution``: output of :func:`segwork.explore.purchase_count_distribution`;
    a pooled last bar (``capped``) is labelled ``N+``.
    """
    ax = axes(ax, _SIZE)
    labels = [f"{p}+" if c else str(p) for p, c in zip(distribution["purchases"], distribution["capped"])]
    ax.bar(labels, distribution["share"], color=_NEW)
    percent_ticks(ax.yaxis)
    ax.set_xlabel("purchases (days with a purchase) per customer")
    ax.set_ylabel("share of customers")
    ax.set_title("How often customers buy")
    if len(labels) > 25:
        ax.set_xticks(ax.get_xticks()[::2])
    sns.despine(ax=ax)
    return ax


def plot_interpurchase_days(gaps: pd.Series, ax=None, max_days: float | None = None):
    """Histogram of days between consecutive purchases, with the median marked.

    ``gaps``: output of :func:`segwork.explore.interpurchase_days`. Gaps above
    ``max_days`` (default: the 99th percentile) are left out of the picture,
    not of the median.
    """
    ax = axes(ax, _SIZE)
    gaps = pd.Series(gaps, dtype=float)
    if gaps.empty:
        ax.text(0.5, 0.5, "no repeat purchases", ha="center", va="center", transform=ax.transAxes)
        return ax
    limit = float(np.nanpercentile(gaps, 99)) if max_days is None else float(max_days)
    shown = gaps[gaps <= limit]
    sns.histplot(x=shown, bins=min(60, max(10, int(limit // 7) or 10)), color=_NEW, ax=ax, stat="percent")
    median = float(gaps.median())
    ax.axvline(median, color=_LINE, lw=2, label=f"median {median:.0f} days")
    ax.set_xlabel("days between two purchases of the same customer")
    ax.set_ylabel("% of repeat purchases")
    ax.set_title("Inter-purchase times")
    legend_outside(ax)
    sns.despine(ax=ax)
    return ax


def plot_revenue_concentration(curve: pd.DataFrame, top: float = 0.2, ax=None):
    """The Pareto (Lorenz) curve: cumulative revenue share against customer share.

    ``curve``: output of :func:`segwork.explore.revenue_concentration`. The
    dashed diagonal is "every customer brings the same"; the marker reads off
    the revenue share of the top ``top`` of customers. Drawn by
    :func:`segwork.plots.plot_value_concentration`.
    """
    return plot_value_concentration(curve.rename(columns={"revenue_share": "value_share"}), top=top, ax=ax,
                                    value_label="revenue", title="Revenue concentration (Pareto curve)")


def plot_cohort_retention(table: pd.DataFrame, ax=None, max_months: int | None = 24):
    """Heatmap: rows are acquisition months, columns months since the first purchase.

    ``table``: output of :func:`segwork.explore.cohort_retention`. Cell colour
    (and text, when the table is small) is the share of the cohort that bought
    in that month; blank cells are not observed yet.
    """
    shares = table.drop(columns=["size"], errors="ignore")
    if max_months is not None:
        shares = shares.loc[:, [c for c in shares.columns if int(c) <= max_months]]
    # Month 0 is 100 % by definition; leave it out so the colour scale shows retention.
    shares = shares.drop(columns=[0], errors="ignore")
    n_rows, n_cols = shares.shape
    ax = axes(ax, (min(14, 2 + 0.45 * n_cols), min(10, 1.5 + 0.3 * max(n_rows, 3))))
    labels = [f"{idx} (n={int(n):,})" for idx, n in zip(table.index, table["size"])] if "size" in table else None
    annot = n_rows * n_cols <= 200
    sns.heatmap(shares.astype(float), ax=ax, cmap="Blues", vmin=0,
                vmax=float(np.nanmax(shares.to_numpy(dtype=float))) if shares.notna().any().any() else 1,
                annot=annot, fmt=".0%", annot_kws={"size": 7}, cbar_kws={"label": "share still buying",
                                                                         "format": PercentFormatter(1.0, 0)},
                yticklabels=labels if labels is not None else "auto")
    ax.set_xlabel("months since first purchase")
    ax.set_ylabel("acquisition cohort (first purchase month)")
    ax.set_title("Cohort retention: share of each cohort buying k months later")
    return ax
