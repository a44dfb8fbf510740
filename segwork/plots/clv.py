"""Figures for the CLV models (notebook 05).

One function per figure. Each takes the tidy table made by the matching
function in :mod:`segwork.clv.diagnostics` / :mod:`segwork.clv.validation`
(or a CLV Series), draws on ``ax`` (a new figure when ``None``) and returns
the matplotlib Axes. Nothing is shown or saved here.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ._style import BLUE, GREY, ORANGE, axes, month_axis

__all__ = [
    "plot_period_transactions",
    "plot_calibration_vs_holdout",
    "plot_p_alive_matrix",
    "plot_expected_purchases_matrix",
    "plot_cumulative_transactions",
    "plot_incremental_transactions",
    "plot_clv_distribution",
    "plot_purchases_by_period",
    "plot_clv_intervals",
]

_ACTUAL, _MODEL, _MARK = BLUE, ORANGE, GREY
_SIZE = (7, 3.8)


def plot_period_transactions(table: pd.DataFrame, ax=None):
    """Customers by number of repeat purchases in calibration: actual vs model (grouped bars).

    ``table``: output of :func:`segwork.clv.diagnostics.period_transactions`.
    """
    ax = axes(ax, _SIZE)
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["actual"], width=0.4, color=_ACTUAL, label="actual")
    ax.bar(x + 0.2, table["model"], width=0.4, color=_MODEL, label="model")
    ax.set_xticks(x, table.index.astype(str))
    ax.set_xlabel("repeat purchases in calibration")
    ax.set_ylabel("customers")
    ax.set_title("Frequency of repeat purchases: actual vs model")
    ax.legend(frameon=False)
    return ax


def plot_calibration_vs_holdout(by_frequency: pd.DataFrame, ax=None):
    """Mean holdout purchases by calibration frequency: actual vs predicted.

    ``by_frequency``: output of :func:`segwork.clv.validation.holdout_by_frequency`.
    """
    ax = axes(ax, _SIZE)
    x = np.arange(len(by_frequency))
    ax.plot(x, by_frequency["actual"], marker="o", color=_ACTUAL, label="actual")
    ax.plot(x, by_frequency["predicted"], marker="s", ls="--", color=_MODEL, label="model")
    ax.set_xticks(x, by_frequency.index.astype(str))
    ax.set_xlabel("repeat purchases in calibration")
    ax.set_ylabel("mean purchases in holdout")
    ax.set_title("Conditional expectations: calibration vs holdout")
    ax.legend(frameon=False)
    return ax


def _matrix(matrix: pd.DataFrame, ax, cmap: str, label: str, title: str, vmin=None, vmax=None):
    ax = axes(ax, (7, 4.5))
    freq = matrix.columns.to_numpy(dtype=float)
    rec = matrix.index.to_numpy(dtype=float)
    df = (freq[1] - freq[0]) / 2 if len(freq) > 1 else 0.5
    dr = (rec[1] - rec[0]) / 2 if len(rec) > 1 else 0.5
    im = ax.imshow(
        np.ma.masked_invalid(matrix.to_numpy(dtype=float)), origin="lower", aspect="auto", cmap=cmap,
        extent=(freq[0] - df, freq[-1] + df, rec[0] - dr, rec[-1] + dr), vmin=vmin, vmax=vmax,
        interpolation="nearest",
    )
    ax.figure.colorbar(im, ax=ax, label=label)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("repeat purchases (frequency)")
    ax.set_ylabel("recency (time of last purchase)")
    ax.set_title(title)
    return ax


def plot_p_alive_matrix(matrix: pd.DataFrame, ax=None, model: str | None = None):
    """Heatmap of P(alive) over frequency (x) and recency (y).

    ``matrix``: output of :func:`segwork.clv.diagnostics.p_alive_matrix`
    (recency in rows, frequency in columns). ``model``: the name of the model
    that produced it (e.g. ``"MBG/NBD"``), put in the colour bar and the
    title; for the BG/NBD the title adds that the frequency-0 column is 1 by
    the model's construction (nobody leaves before a repeat purchase).
    """
    label = f"P(alive), {model}" if model else "P(alive)"
    title = "Probability a customer is still alive" + (f" ({model})" if model else "")
    if model and str(model).startswith("BG/NBD"):
        title += "\n(frequency 0: 1 by construction, BG/NBD lets nobody leave before a repeat purchase)"
    return _matrix(matrix, ax, "RdYlGn", label, title, vmin=0, vmax=1)


def plot_expected_purchases_matrix(matrix: pd.DataFrame, ax=None, horizon_label: str = "next period"):
    """Heatmap of expected future purchases over frequency (x) and recency (y).

    ``matrix``: output of :func:`segwork.clv.diagnostics.expected_purchases_matrix`.
    """
    return _matrix(matrix, ax, "viridis", f"expected purchases ({horizon_label})",
                   f"Expected purchases in the {horizon_label}")


def plot_cumulative_transactions(tracking: pd.DataFrame, ax=None):
    """Cumulative repeat purchases over calendar time, actual vs model, with the calibration end marked.

    ``tracking``: output of :func:`segwork.clv.validation.cumulative_repeat_transactions`.
    """
    return _tracking(tracking, ax, "cumulative repeat purchases", "Tracking: cumulative repeat purchases")


def _tracking(tracking: pd.DataFrame, ax, ylabel: str, title: str, from_zero: bool = False):
    """Actual vs model over calendar time, with the calibration end marked (both tracking plots)."""
    ax = axes(ax, (8, 3.8))
    dates = pd.to_datetime(tracking["date"])
    ax.plot(dates, tracking["actual"], color=_ACTUAL, label="actual")
    ax.plot(dates, tracking["predicted"], color=_MODEL, ls="--", label="model")
    if from_zero:
        ax.set_ylim(bottom=0)
    _mark_holdout(ax, dates, tracking["period"])
    month_axis(ax)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(frameon=False, loc="upper left")
    return ax


def _mark_holdout(ax, dates: pd.Series, period: pd.Series) -> None:
    """A dotted line at the last calibration date and "holdout ->" after it (when both periods are shown)."""
    hold = period.eq("holdout").to_numpy()
    if hold.any() and not hold.all():
        first = int(np.flatnonzero(hold)[0])
        ax.axvline(dates.iloc[first - 1], color=_MARK, ls=":", lw=1)
        ax.text(dates.iloc[first - 1], ax.get_ylim()[1] * 0.97, " holdout ->", va="top", color=_MARK, fontsize=9)


def plot_incremental_transactions(tracking: pd.DataFrame, ax=None):
    """Repeat purchases per period over calendar time, actual vs model, with the calibration end marked.

    ``tracking``: output of :func:`segwork.clv.forecast.incremental_repeat_transactions`
    (one row per week or day; drawn at each period's end). The counterpart of
    :func:`plot_cumulative_transactions`.
    """
    return _tracking(tracking, ax, "repeat purchases per period", "Tracking: repeat purchases per period",
                     from_zero=True)


def plot_clv_distribution(clv: pd.Series, ax=None, currency: str = ""):
    """Histogram of customer lifetime values (log-scaled value axis), with the mean and median marked.

    ``clv``: a Series of per-customer values, e.g. from
    :func:`segwork.clv.customer_lifetime_value`.
    """
    ax = axes(ax, _SIZE)
    values = pd.Series(clv, dtype=float).dropna()
    positive = values[values > 0]
    floor = max(float(positive.quantile(0.001)), 1e-2) if len(positive) else 1e-2
    shown = values.clip(lower=floor)
    bins = np.geomspace(floor, max(float(shown.max()), floor * 10), 40)
    ax.hist(shown, bins=bins, color=_ACTUAL, alpha=0.85)
    ax.set_xscale("log")
    unit = f" ({currency})" if currency else ""
    for stat, style in (("mean", "--"), ("median", ":")):
        v = float(getattr(values, stat)())
        if v > 0:
            ax.axvline(v, color=_MODEL, ls=style, lw=1.5, label=f"{stat} {v:,.1f}")
    ax.set_xlabel(f"customer lifetime value{unit}, log scale")
    ax.set_ylabel("customers")
    ax.set_title("Distribution of customer lifetime value")
    ax.legend(frameon=False)
    return ax


def _interval_label(level: float, kind: str | None) -> str:
    """``"90 % prediction interval"`` (or ``"confidence"``; just ``"90 % interval"`` without a kind)."""
    return f"{level:.0%} {kind + ' ' if kind else ''}interval".replace("%", " %")


def plot_purchases_by_period(forecast: pd.DataFrame, ax=None, period: str = "month", title: str | None = None,
                             kind: str | None = None, level: float = 0.9):
    """Expected repeat purchases in each period of a horizon (bars), with their interval when given (error bars).

    ``forecast``: indexed by the period's number (1, 2, ...), with
    ``expected_purchases`` and, optionally, ``lower`` and ``upper`` (the
    interval's ends, e.g. :func:`segwork.clv.aggregate_purchases_by_period`
    with ``interval=level``). ``kind``: the interval's kind, ``"prediction"``
    (for the purchases that will be made) or ``"confidence"`` (for the
    expected purchases), named in the legend with ``level``.
    ``period``: the unit of the periods, for the axis label.
    """
    ax = axes(ax, (8, 3.5))
    expected = forecast["expected_purchases"]
    ax.bar(forecast.index, expected, color=_ACTUAL, alpha=0.7, label="expected repeat purchases")
    if "lower" in forecast.columns and "upper" in forecast.columns:
        # a prediction interval's ends are outcomes: an end can sit on the expectation's other side (clip the bar)
        ax.errorbar(forecast.index, expected, yerr=[np.maximum(expected - forecast["lower"], 0),
                                                    np.maximum(forecast["upper"] - expected, 0)],
                    fmt="none", ecolor="k", capsize=3, label=_interval_label(level, kind))
        ax.legend(frameon=False)
    ax.set(xlabel=f"{period} after the end of the data", ylabel="expected repeat purchases",
           title=title or f"Forecast of repeat purchases per {period}")
    return ax


def plot_clv_intervals(intervals: pd.DataFrame, ax=None, currency: str = "", level: float = 0.9,
                       title: str | None = None, kind: str | None = None):
    """Each customer's CLV (dot) with its interval (bar), on a log scale; one position per customer, in order.

    ``intervals``: indexed by ``customer_id`` with ``clv``, ``lower`` and
    ``upper`` (the data's currency), e.g. :func:`segwork.clv.customer_lifetime_value`
    with ``interval=level`` (NaN ends draw no bar). ``kind``: the interval's
    kind, ``"prediction"`` (for the value the customer will bring; its lower
    end is often 0, which the log scale cannot show: the bar then runs to
    the bottom of the axes) or ``"confidence"`` (for the expected value);
    ``level`` and ``kind`` label the axis.
    """
    ax = axes(ax, (8, 4))
    pos = np.arange(len(intervals))
    value = intervals["clv"]
    ax.errorbar(pos, value, yerr=[np.maximum(value - intervals["lower"], 0), np.maximum(intervals["upper"] - value, 0)],
                fmt="o", capsize=3)
    ax.set_xticks(pos, [str(i) for i in intervals.index], rotation=90, fontsize=7)
    ax.set_yscale("log")
    unit = f" ({currency})" if currency else ""
    ax.set_ylabel(f"CLV{unit}, {_interval_label(level, kind)}")
    ax.set_title(title or f"CLV with {_interval_label(level, kind)}s")
    return ax
