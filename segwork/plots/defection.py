"""Figures for the defection analysis (notebook 10): effect multipliers with intervals, reasons stated and found.

One function per figure. Each takes tidy data, draws on ``ax`` (a new
figure when ``None``) and returns the matplotlib Axes. Nothing is shown or
saved here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

from ._style import BLUE, GREY, ORANGE, RED, axes, legend_outside

__all__ = ["plot_forest", "plot_reason_shares"]

#: Colours of the groups of a forest plot, in the order the groups first appear.
_GROUP_COLOURS = (BLUE, ORANGE, "#55a868", "#8172b3")


def _multiplier_ticks(ax, low: float, high: float) -> None:
    """Log x axis with ticks at readable multipliers (0.5, 1, 2, ...) inside [low, high]; fewer on a wide range."""
    if high / low > 5:
        candidates = np.array([0.1, 0.2, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 10.0, 20.0])
    else:
        candidates = np.array([0.33, 0.5, 0.67, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0])
    ticks = candidates[(candidates >= low) & (candidates <= high)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:g}"))


def plot_forest(effects: pd.DataFrame, planted: pd.DataFrame | None = None, ax=None, group: str = "process",
                title: str | None = None, xlabel: str = "multiplier (log scale; 1 = no effect)",
                level: float = 0.95):
    """Forest plot: each driver's multiplier (dot) with its interval (bar), one row per driver, one colour per group.

    Parameters
    ----------
    effects: tidy, one row per driver and group: ``driver``, ``group`` (by
        default the column ``process``: ``"dropout"`` / ``"purchase"``),
        ``multiplier``, ``lower_95``, ``upper_95`` (positive numbers; NaN
        ends draw no bar), e.g. :func:`segwork.act.drivers_table`. Drivers
        are drawn top to bottom in their first order of appearance; within a
        driver the groups are offset vertically.
    planted: optional, the true multipliers (synthetic data): ``driver``,
        ``group`` and ``multiplier`` (e.g. ``Dataset.planted_effects``),
        drawn as a red cross at the same position as the estimate of the same
        driver and group (rows without an estimate are not drawn).
    group: the column that names the groups (the legend).
    level: the intervals' level, for the legend (0.95 -> "95 % interval").

    The x axis is logarithmic, so a halving and a doubling are equally far
    from the dotted line at 1 (no effect). Returns the Axes.
    """
    ax = axes(ax, (7, 0.42 * max(effects["driver"].nunique(), 3) + 1.2))
    drivers = list(dict.fromkeys(effects["driver"]))
    groups = list(dict.fromkeys(effects[group]))
    width = 0.6 / max(len(groups), 1)
    row = {d: len(drivers) - 1 - i for i, d in enumerate(drivers)}
    offset = {g: (len(groups) - 1) / 2 * width - k * width for k, g in enumerate(groups)}
    handles = []
    for k, g in enumerate(groups):
        part = effects[effects[group] == g]
        y = np.array([row[d] + offset[g] for d in part["driver"]])
        m = part["multiplier"].to_numpy(dtype=float)
        err = np.vstack([np.maximum(m - part["lower_95"].to_numpy(dtype=float), 0),
                         np.maximum(part["upper_95"].to_numpy(dtype=float) - m, 0)])
        handles.append(ax.errorbar(m, y, xerr=err, fmt="o", color=_GROUP_COLOURS[k % len(_GROUP_COLOURS)],
                                   capsize=2, ms=4, label=str(g)))
    values = effects[["multiplier", "lower_95", "upper_95"]].to_numpy(dtype=float)
    if planted is not None and len(planted):
        known = planted[planted["driver"].isin(row) & planted[group].isin(offset)]
        if len(known):
            handles += ax.plot(known["multiplier"].to_numpy(dtype=float),
                    [row[d] + offset[g] for d, g in zip(known["driver"], known[group])],
                    "x", color=RED, ms=7, mew=2, label="planted (truth)")
            values = np.vstack([values.reshape(-1, 1), known[["multiplier"]].to_numpy(dtype=float)])
    finite = values[np.isfinite(values) & (values > 0)]
    low, high = (finite.min(), finite.max()) if finite.size else (0.5, 2.0)
    low, high = min(low, 1.0) / 1.15, max(high, 1.0) * 1.15
    ax.axvline(1.0, color=GREY, ls=":", lw=1)
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    _multiplier_ticks(ax, low, high)
    ax.set_yticks(list(row.values()), list(row.keys()), fontsize=8)
    ax.set_ylim(-0.7, len(drivers) - 0.3)
    ax.set_xlabel(f"{xlabel}; bars: {100 * level:g} % interval")
    ax.set_title(title or "Drivers: multipliers with intervals")
    legend_outside(ax, handles=handles, fontsize=8)
    return ax


def plot_reason_shares(shares: pd.DataFrame, ax=None, title: str | None = None):
    """Horizontal bars: the share of customers per reason, one bar per source (stated, found, planted, ...).

    ``shares``: indexed by reason (plain words or driver names), one column
    per source with shares of 1 (each column usually sums to 1; NaN draws no
    bar). Reasons are drawn top to bottom in the index order. Returns the Axes.
    """
    ax = axes(ax, (7, 0.45 * max(len(shares), 3) + 1.2))
    n = len(shares.columns)
    height = 0.8 / max(n, 1)
    base = np.arange(len(shares))[::-1]
    for k, col in enumerate(shares.columns):
        ax.barh(base + (n - 1) / 2 * height - k * height, shares[col].to_numpy(dtype=float), height=height,
                color=_GROUP_COLOURS[k % len(_GROUP_COLOURS)], label=str(col))
    ax.set_yticks(base, [str(i) for i in shares.index], fontsize=8)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: f"{x:.0%}"))
    ax.set_xlabel("share of customers")
    ax.set_title(title or "Reasons: share of customers")
    legend_outside(ax, fontsize=8)
    return ax
