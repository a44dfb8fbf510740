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

from ._style import BLUE, GREY, ORANGE, axes, legend_outside, month_axis

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
# helpers of these figures, public for segwork.plots.interactive and tests, not figures (kept out of __all__):
# partial_periods, partial_period_note, interval_hidden

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
    legend_outside(ax)
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
    legend_outside(ax)
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


def partial_periods(tracking: pd.DataFrame) -> pd.Series:
    """Which rows of a per-period tracking table are partial periods (shorter than one whole period).

    ``tracking``: :func:`segwork.clv.forecast.incremental_repeat_transactions`
    (its ``length`` column: the period's length in time units, 1 for a whole
    period). The last period ends at the observation end and is usually
    partial: its purchases are those of a few days, which drawn as a period
    looks like a collapse. Returns a boolean Series on ``tracking``'s index
    (all False without a ``length`` column, e.g. a cumulative table).
    """
    if "length" not in tracking.columns:
        return pd.Series(False, index=tracking.index)
    return tracking["length"].astype(float) < 1.0 - 1e-9


def partial_period_note(tracking: pd.DataFrame) -> str:
    """The sentence that says which partial periods a tracking figure leaves out ("" when none).

    E.g. ``"partial last period (2 of 7 days, to 2024-12-31) not drawn"``.
    """
    partial = tracking[partial_periods(tracking)]
    if partial.empty:
        return ""
    notes = []
    for _, row in partial.iterrows():
        days = (pd.Timestamp(row["date"]) - pd.Timestamp(row["period_start"])) / pd.Timedelta(days=1)
        full = days / float(row["length"]) if float(row["length"]) > 0 else float("nan")
        where = "last" if row.name == tracking.index[-1] else "first" if row.name == tracking.index[0] else ""
        notes.append(f"partial {where + ' ' if where else ''}period ({days:.0f} of {full:.0f} days, to "
                     f"{pd.Timestamp(row['date']):%Y-%m-%d}) not drawn")
    return "; ".join(notes)


def _tracking(tracking: pd.DataFrame, ax, ylabel: str, title: str, from_zero: bool = False):
    """Actual vs model over calendar time, with the calibration end marked (both tracking plots).

    Partial periods (:func:`partial_periods`) are left out and the title says so.
    """
    ax = axes(ax, (8, 3.8))
    note = partial_period_note(tracking)
    tracking = tracking[~partial_periods(tracking)]
    dates = pd.to_datetime(tracking["date"])
    ax.plot(dates, tracking["actual"], color=_ACTUAL, label="actual")
    ax.plot(dates, tracking["predicted"], color=_MODEL, ls="--", label="model")
    if from_zero:
        ax.set_ylim(bottom=0)
    _mark_holdout(ax, dates, tracking["period"])
    month_axis(ax)
    ax.set_ylabel(ylabel)
    ax.set_title(title + (f"\n({note})" if note else ""))
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
    (one row per week or day; drawn at each period's end). A partial period
    (usually the last, cut by the observation end) is not drawn, and the
    title says so (:func:`partial_period_note`). The counterpart of
    :func:`plot_cumulative_transactions`.
    """
    return _tracking(tracking, ax, "repeat purchases per period", "Tracking: repeat purchases per period",
                     from_zero=True)


def plot_clv_distribution(clv: pd.Series, ax=None, currency: str = "", floor: float = 0.01,
                          label: str = "customer lifetime value"):
    """Histogram of customer lifetime values (log-scaled value axis), with the mean and median marked.

    ``clv``: a Series of per-customer values, e.g. from
    :func:`segwork.clv.customer_lifetime_value`. A log axis cannot show 0,
    and the values of customers the model holds for gone (P(alive) near 0)
    run down to 1e-16: values below ``floor`` (default one cent of the
    currency) are not piled into the first bin but counted in a separate
    grey, hatched bar left of the axis, and the legend gives their number.
    The mean and median are those of all values. ``label``: what the values
    are, for the axis and title (e.g. :func:`segwork.clv.margin.value_label`:
    "CLV (margin 30 %)", or "expected revenue" at margin 1).
    """
    ax = axes(ax, _SIZE)
    values = pd.Series(clv, dtype=float).dropna()
    below = int((values < floor).sum())
    shown = values[values >= floor]
    top = max(float(shown.max()) if len(shown) else floor, floor * 10)
    bins = np.geomspace(floor, top, 40)
    ax.hist(shown, bins=bins, color=_ACTUAL, alpha=0.85, label=f"{len(shown):,} customers")
    unit = f" {currency}" if currency else ""
    if below:
        step = bins[1] / bins[0]  # one bin width on the log axis; the bar sits two widths left of the floor
        ax.bar(floor / step ** 3, below, width=floor / step ** 2 - floor / step ** 3, align="edge", color=_MARK,
               hatch="//", edgecolor="white", label=f"{below:,} customers below {floor:g}{unit}\n(grey bar, near 0)")
        ax.text(floor / step ** 2.5, below, f"< {floor:g}", ha="center", va="bottom", fontsize=8, color=_MARK)
    ax.set_xscale("log")
    for stat, style in (("mean", "--"), ("median", ":")):
        v = float(getattr(values, stat)())
        if v > 0:
            ax.axvline(v, color=_MODEL, ls=style, lw=1.5, label=f"{stat} {v:,.1f}")
    ax.set_xlabel(f"{label}{(' (' + currency + ')') if currency else ''}, log scale")
    ax.set_ylabel("customers")
    ax.set_title(f"Distribution of {label}")
    legend_outside(ax)
    return ax


def interval_hidden(ax, centre, lower, upper, min_pixels: float = 6.0) -> np.ndarray:
    """Which intervals drawn on ``ax`` (vertical, in data units) are shorter than ``min_pixels`` on screen.

    ``centre``, ``lower``, ``upper``: arrays of the same length (NaN ends: no
    interval, reported as not hidden). An end at or below 0 on a log axis is
    drawn to the bottom of the axes and counts as visible. Uses the axes'
    current limits and size; a marker of matplotlib's default size is about
    6 pixels across at 96 dpi, so a shorter interval hides behind its dot.
    Returns a boolean array.
    """
    ax.autoscale_view()
    lo = np.asarray(lower, dtype=float)
    hi = np.asarray(upper, dtype=float)
    x = np.zeros_like(lo)
    ok = np.isfinite(lo) & np.isfinite(hi)
    if ax.get_yscale() == "log":
        ok &= lo > 0
    hidden = np.zeros(len(lo), dtype=bool)
    if ok.any():
        y0 = ax.transData.transform(np.column_stack([x[ok], lo[ok]]))[:, 1]
        y1 = ax.transData.transform(np.column_stack([x[ok], hi[ok]]))[:, 1]
        hidden[ok] = np.abs(y1 - y0) < min_pixels
    return hidden


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
        hidden = interval_hidden(ax, expected, forecast["lower"], forecast["upper"])
        if hidden.any():
            ax.plot([], [], ls="none", label=f"(narrower than its cap for {int(hidden.sum())} of {len(hidden)}\n"
                                              f"{period}s: see the table)")
        legend_outside(ax)
    ax.set(xlabel=f"{period} after the end of the data", ylabel="expected repeat purchases",
           title=title or f"Forecast of repeat purchases per {period}")
    return ax


def plot_clv_intervals(intervals: pd.DataFrame, ax=None, currency: str = "", level: float = 0.9,
                       title: str | None = None, kind: str | None = None, label: str = "CLV"):
    """Each customer's CLV (dot) with its interval (bar), on a log scale; one position per customer, in order.

    ``intervals``: indexed by ``customer_id`` with ``clv``, ``lower`` and
    ``upper`` (the data's currency), e.g. :func:`segwork.clv.customer_lifetime_value`
    with ``interval=level`` (NaN ends draw no bar); optionally also
    ``ci_lower`` and ``ci_upper``, a confidence interval for the expected
    value, drawn as a thick light bar behind the dot. ``kind``: the kind of
    ``lower``/``upper``, ``"prediction"`` (for the value the customer will
    bring; its lower end is often 0, which the log scale cannot show: the
    bar then runs to the bottom of the axes) or ``"confidence"`` (for the
    expected value); ``level`` and ``kind`` label the axis and the legend.
    An interval shorter than the dot (:func:`interval_hidden`) cannot be
    seen: the legend says for how many customers, so a figure of "CLV with
    intervals" never shows bare dots without saying why. ``label``: what the
    values are, for the axis, legend and default title (e.g.
    :func:`segwork.clv.margin.value_label`: "CLV (margin 30 %)").
    """
    ax = axes(ax, (8, 4))
    pos = np.arange(len(intervals))
    value = intervals["clv"].to_numpy(dtype=float)
    bands = [("lower", "upper", kind)]
    if {"ci_lower", "ci_upper"} <= set(intervals.columns):
        bands.append(("ci_lower", "ci_upper", "confidence"))
    dots = ax.plot(pos, value, "o", color=_ACTUAL, ms=5, label=f"expected {label}", zorder=3)
    handles = []
    for lo_col, hi_col, band_kind in bands:
        lo = intervals[lo_col].to_numpy(dtype=float)
        hi = intervals[hi_col].to_numpy(dtype=float)
        thick = lo_col.startswith("ci_")
        err = [np.maximum(value - lo, 0), np.maximum(hi - value, 0)]
        container = ax.errorbar(pos, value, yerr=err, fmt="none", ecolor=_MODEL if thick else _ACTUAL,
                                elinewidth=6 if thick else 1.5, alpha=0.6 if thick else 1.0,
                                capsize=0 if thick else 3, label=_interval_label(level, band_kind))
        handles.append((container, lo, hi, band_kind))
    ax.set_xticks(pos, [str(i) for i in intervals.index], rotation=90, fontsize=7)
    ax.set_yscale("log")
    unit = f" ({currency})" if currency else ""
    ylabel = f"{label}{unit}, {_interval_label(level, kind)}"
    ax.set_ylabel(ylabel if len(ylabel) <= 40 else ylabel.replace(", ", ",\n", 1))  # a long one fits on 2 lines
    ax.set_title(title or f"{label} with {_interval_label(level, kind)}s")
    labels = [dots[0].get_label()]
    artists = [dots[0]]
    for container, lo, hi, band_kind in handles:
        has = np.isfinite(lo) & np.isfinite(hi)
        hidden = interval_hidden(ax, value, lo, hi)
        label = _interval_label(level, band_kind)
        if not has.any():
            label += ": none (no interval)"
        elif hidden.any():
            label += f":\nnarrower than the dot for {int(hidden.sum())} of {int(has.sum())} (see the table)"
        artists.append(container)
        labels.append(label)
    legend_outside(ax, artists, labels, fontsize=8)
    return ax
