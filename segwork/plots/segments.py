"""Figures for segments and their comparison (notebooks 02, 03, 06, 09).

One function per figure. Each takes a tidy table made by a segwork function
(named in its docstring), draws on ``ax`` (a new figure when ``None``) and
returns the matplotlib Axes. Nothing is shown or saved here.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from ._style import (BLUE, ORANGE, RED, axes, legend_outside, percent_ticks, readable_xticklabels, short_number,
                     short_number_ticks)

__all__ = [
    "plot_segment_sizes",
    "plot_rfm_heatmap",
    "plot_value_concentration",
    "plot_relationship_summary",
    "plot_profit_effects",
    "plot_comparison",
    "plot_crosstab",
    "plot_agreement",
]

_CUSTOMERS, _REVENUE, _LINE = BLUE, ORANGE, RED


def plot_segment_sizes(profile: pd.DataFrame, ax=None, title: str = "Segment sizes and revenue share"):
    """Horizontal bars per segment: share of customers next to share of revenue.

    ``profile``: a segmentation's profile (:func:`segwork.segment.segment_profile`,
    ``Segmentation.profile``) with ``share`` and ``revenue_share``, rows in
    segment order. A segment whose revenue bar is longer than its customer
    bar brings more than its head count.
    """
    rows = profile.index.astype(str)
    n = len(rows)
    ax = axes(ax, (8, max(2.5, 0.42 * n + 1)))
    y = np.arange(n)
    h = 0.4
    ax.barh(y - h / 2, profile["share"], height=h, color=_CUSTOMERS, label="customers")
    if "revenue_share" in profile.columns:
        ax.barh(y + h / 2, profile["revenue_share"], height=h, color=_REVENUE, label="revenue")
    ax.set_yticks(y, rows)
    ax.invert_yaxis()
    percent_ticks(ax.xaxis)
    ax.set_xlabel("share of all customers / of all revenue")
    ax.set_title(title)
    legend_outside(ax)
    sns.despine(ax=ax)
    return ax


def plot_rfm_heatmap(scores: pd.DataFrame, grid: pd.DataFrame | None = None, ax=None,
                     title: str = "Customers by recency and frequency-money score"):
    """Heatmap of customers over the R (rows, 5 on top) x FM (columns) scores.

    ``scores``: per-customer scores with ``R`` and ``FM`` columns
    (``RFMSegmenter.scores_``, ``rfm_segmentation(...).params["scores"]``).
    ``grid``: optional segment map (:func:`segwork.segment.segment_grid`)
    whose names are written in the cells. Colour and number: share of
    customers in each cell.
    """
    counts = pd.crosstab(scores["R"], scores["FM"]).reindex(index=range(5, 0, -1), columns=range(1, 6), fill_value=0)
    share = counts / counts.to_numpy().sum()
    ax = axes(ax, (8, 5.5))
    annot = share.map(lambda v: f"{v:.1%}")
    if grid is not None:
        g = grid.reindex(index=share.index, columns=share.columns)
        annot = annot + "\n" + g.astype(str)
    sns.heatmap(share, annot=annot.to_numpy(), fmt="", cmap="Blues", cbar_kws={"format": PercentFormatter(1.0, 0)},
                linewidths=0.5, linecolor="white", ax=ax, annot_kws={"fontsize": 8})
    ax.set_xlabel("FM score (frequency and money; 5 = best)")
    ax.set_ylabel("R score (recency; 5 = most recent)")
    ax.set_title(title)
    readable_xticklabels(ax)
    return ax


def plot_value_concentration(curve: pd.DataFrame, top: float = 0.2, ax=None, value_label: str = "value",
                             title: str | None = None):
    """The concentration (Lorenz) curve: share of value against share of customers, best first.

    ``curve``: :func:`segwork.features.concentration_curve`. The dashed
    diagonal is "every customer is worth the same"; the marker reads off the
    share of value of the top ``top`` of customers.
    """
    ax = axes(ax, (5.2, 5))
    ax.plot(curve["customer_share"], curve["value_share"], color=_CUSTOMERS, lw=2,
            label=f"customers ranked by {value_label}")
    ax.plot([0, 1], [0, 1], ls="--", color="0.6", label=f"equal {value_label} per customer")
    y = float(np.interp(top, curve["customer_share"], curve["value_share"]))
    ax.plot([top, top, 0], [0, y, y], color=_LINE, lw=1)
    ax.scatter([top], [y], color=_LINE, zorder=3)
    ax.annotate(f"top {top:.0%} bring {y:.0%}", (top, y), xytext=(10, -18), textcoords="offset points", color=_LINE)
    percent_ticks(ax.xaxis, ax.yaxis)
    ax.set_xlim(0, 1)
    ax.set_ylim(min(0.0, float(curve["value_share"].min())), max(1.01, float(curve["value_share"].max()) + 0.01))
    ax.set_xlabel(f"share of customers (highest {value_label} first)")
    ax.set_ylabel(f"share of total {value_label}")
    ax.set_title(title or f"Concentration of {value_label}")
    ax.legend(frameon=False, loc="lower right")
    sns.despine(ax=ax)
    return ax


def plot_relationship_summary(summary: pd.DataFrame, ax=None, title: str = "Relationship types"):
    """Bars per relationship type: share of customers and of revenue, with the assumed effect written above.

    ``summary``: :func:`segwork.act.relationship_summary` (index = type;
    ``share``, ``revenue_share``, ``assumed_effect``).
    """
    ax = axes(ax, (8, 4))
    x = np.arange(len(summary))
    w = 0.38
    ax.bar(x - w / 2, summary["share"], width=w, color=_CUSTOMERS, label="customers")
    ax.bar(x + w / 2, summary["revenue_share"], width=w, color=_REVENUE, label="revenue to date")
    top = float(np.nanmax(summary[["share", "revenue_share"]].to_numpy()))
    for i, text in enumerate(summary.get("assumed_effect", pd.Series([""] * len(summary)))):
        ax.text(i, top * 1.05, str(text).replace(" (assumed)", ""), ha="center", va="bottom", fontsize=8, color="0.3")
    ax.set_xticks(x, summary.index.astype(str))
    ax.set_ylim(0, top * 1.18)
    percent_ticks(ax.yaxis)
    ax.set_ylabel("share")
    ax.set_title(title + " (text: assumed profit effect of the strategy)")
    legend_outside(ax)
    readable_xticklabels(ax)
    sns.despine(ax=ax)
    return ax


def plot_profit_effects(summary: pd.DataFrame, ax=None, currency: str = "",
                        title: str = "Implied profit gain per relationship type (assumed effects)"):
    """Horizontal range bars: the implied gain (low to high assumed effect x segment margin) per type.

    ``summary``: :func:`segwork.act.relationship_summary` with
    ``implied_gain_low`` and ``implied_gain_high``. Types with no assumed
    effect show no bar.
    """
    ax = axes(ax, (8, 3.2))
    y = np.arange(len(summary))
    lo = summary["implied_gain_low"].to_numpy(dtype=float)
    hi = summary["implied_gain_high"].to_numpy(dtype=float)
    ax.barh(y, hi - lo, left=lo, height=0.5, color=_REVENUE, alpha=0.8)
    ax.barh(y, lo, height=0.5, color=_REVENUE, alpha=0.3)
    for i, (a, b) in enumerate(zip(lo, hi)):
        if b > 0:
            ax.text(b, i, f"  {short_number(a)}-{short_number(b)} {currency}".rstrip(), va="center", fontsize=8)
    ax.set_yticks(y, summary.index.astype(str))
    ax.invert_yaxis()
    short_number_ticks(ax.xaxis)
    ax.set_xlabel(f"implied profit gain {('(' + currency + ')') if currency else ''}: assumed effect x segment margin")
    ax.set_xlim(0, max(float(np.nanmax(hi)) * 1.3, 1.0))
    ax.set_title(title)
    sns.despine(ax=ax)
    return ax


def plot_comparison(comparison: pd.DataFrame, metrics: Sequence[str] | None = None, ax=None,
                    title: str = "How the segmentations compare"):
    """Grouped horizontal bars: one group per segmentation, one bar per metric.

    ``comparison``: :func:`segwork.compare` (index = segmentation). Default
    metrics: those present among ``ari_truth``, ``silhouette``, ``eta2_clv``,
    ``eta2_revenue``, ``eta2_purchase_rate``, ``entropy``, ``stability``.
    All are on a 0-1 scale (silhouette can be negative).
    """
    default = ["ari_truth", "silhouette", "eta2_clv", "eta2_revenue", "eta2_purchase_rate", "entropy", "stability"]
    metrics = [m for m in (metrics or default) if m in comparison.columns and comparison[m].notna().any()]
    frame = comparison[metrics].copy()
    frame.index = frame.index.astype(str)
    tidy = frame.reset_index(names="segmentation").melt("segmentation", var_name="metric", value_name="value")
    ax = axes(ax, (8.5, max(3.0, 0.16 * len(tidy) + 1.5)))
    sns.barplot(tidy, y="segmentation", x="value", hue="metric", ax=ax, orient="h")
    ax.axvline(0, color="0.5", lw=0.8)
    ax.set_xlabel("metric value (higher is better; 1 = perfect)")
    ax.set_ylabel("")
    ax.set_title(title)
    legend_outside(ax, fontsize=8)
    sns.despine(ax=ax)
    return ax


def plot_crosstab(table: pd.DataFrame, ax=None, normalize: bool = True, title: str | None = None):
    """Heatmap of a crosstab of two segmentations (:func:`segwork.comparison.crosstab`).

    With ``normalize`` each row is shown as shares (where the customers of a
    row segment go among the column segments); numbers are those shares (or
    counts). A segmentation that refines another has one dark cell per row.
    """
    shown = table.div(table.sum(axis=1).replace(0, np.nan), axis=0) if normalize else table
    ax = axes(ax, (max(5.0, 0.9 * shown.shape[1] + 3), max(3.0, 0.45 * shown.shape[0] + 1.5)))
    sns.heatmap(shown, annot=True, fmt=".0%" if normalize else "d", cmap="Blues", cbar=False, ax=ax,
                linewidths=0.5, linecolor="white", annot_kws={"fontsize": 8})
    ax.set_xlabel(str(table.columns.name or ""))
    ax.set_ylabel(str(table.index.name or ""))
    ax.set_title(title or f"{table.index.name} x {table.columns.name}" + (" (row shares)" if normalize else ""))
    readable_xticklabels(ax)
    return ax


def plot_agreement(matrix: pd.DataFrame, ax=None, metric: str = "adjusted Rand index",
                   title: str = "How much the segmentations agree"):
    """Heatmap of pairwise agreement between segmentations (:func:`segwork.comparison.agreement`).

    1 on the diagonal; about 0 means two segmentations group customers no
    more alike than chance, i.e. they answer different questions.
    """
    n = len(matrix)
    ax = axes(ax, (max(4.5, 0.8 * n + 2.5), max(3.5, 0.6 * n + 1.5)))
    sns.heatmap(matrix.astype(float), annot=True, fmt=".2f", cmap="Blues", vmin=0, vmax=1, square=True, ax=ax,
                cbar_kws={"label": metric}, annot_kws={"fontsize": 8})
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.set_title(title)
    readable_xticklabels(ax)
    return ax
