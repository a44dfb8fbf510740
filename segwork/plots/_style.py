"""Styling shared by the figure modules: the axes to draw on, tick formats, the palette.

Private to :mod:`segwork.plots`; each figure module imports what it uses.
"""
from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, PercentFormatter

#: The palette (seaborn "deep"): main series, second series, marks and reference lines.
BLUE, ORANGE, RED, GREY = "#4c72b0", "#dd8452", "#c44e52", "#7f7f7f"


def axes(ax, size: tuple[float, float]):
    """``ax`` itself, or the Axes of a new figure of ``size`` (inches, width x height) when ``ax`` is None."""
    if ax is None:
        _fig, ax = plt.subplots(figsize=size)
    return ax


def short_number(x, _pos=None) -> str:
    """A tick label for counts or money: 950, 12k, 3.4M."""
    if abs(x) >= 1e6:
        return f"{x / 1e6:.1f}M"
    if abs(x) >= 1e3:
        return f"{x / 1e3:.0f}k"
    return f"{x:.0f}"


def short_number_ticks(*axis) -> None:
    """Label the ticks of each given axis (``ax.xaxis``, ``ax.yaxis``) with :func:`short_number`."""
    for a in axis:
        a.set_major_formatter(FuncFormatter(short_number))


def percent_ticks(*axis) -> None:
    """Label the ticks of each given axis as whole percentages of 1 (0.25 -> 25%)."""
    for a in axis:
        a.set_major_formatter(PercentFormatter(1.0, decimals=0))


def month_axis(ax) -> None:
    """Calendar dates on the x axis: 4 to 12 ticks with concise labels (years written once)."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
