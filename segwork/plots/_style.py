"""Styling shared by the figure modules: the axes to draw on, tick formats, the palette.

Private to :mod:`segwork.plots`; each figure module imports what it uses.
"""
from __future__ import annotations

import math
import textwrap

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


def legend_outside(ax, handles=None, labels=None, **kwargs):
    """The legend to the right of the axes, outside them, so it never covers a bar, line or point.

    ``handles``/``labels`` as in :meth:`matplotlib.axes.Axes.legend` (default:
    the labelled artists of ``ax``); other keywords go to it (``title``,
    ``fontsize``). Returns the Legend. The figure keeps it in view with
    ``figure.autolayout`` or ``bbox_inches="tight"`` (the notebooks' inline
    backend saves that way).
    """
    given = {k: v for k, v in (("handles", handles), ("labels", labels)) if v is not None}
    options = {"frameon": False, "loc": "upper left", "bbox_to_anchor": (1.01, 1.0), "borderaxespad": 0.0}
    return ax.legend(**given, **{**options, **kwargs})


def _label_boxes(ax):
    renderer = ax.figure.canvas.get_renderer()
    labels = [t for t in ax.get_xticklabels() if t.get_text() and t.get_visible()]
    return labels, [t.get_window_extent(renderer) for t in labels]


def _boxes_overlap(boxes, pad: float = 2.0) -> bool:
    """Whether two neighbouring boxes (sorted by x) overlap horizontally, with ``pad`` pixels to spare."""
    boxes = sorted(boxes, key=lambda b: b.x0)
    return any(a.x1 + pad > b.x0 for a, b in zip(boxes, boxes[1:]))


def readable_xticklabels(ax, wrap: int = 12, angle: float = 35.0) -> float:
    """Make the x tick labels of ``ax`` readable without overlap; returns the rotation used (degrees).

    First each label is wrapped at ``wrap`` characters (on spaces); if
    neighbours still overlap, the labels go back to one line and are
    rotated by ``angle`` (anchored at their right end under the tick); if
    even then the gap between neighbouring ticks times sin(angle) is less
    than a line of text, by 90 degrees. Works on the figure as drawn at its
    current size (call it after the data and the figure size are set).
    """
    labels, boxes = _label_boxes(ax)
    if len(labels) < 2:
        return 0.0
    texts = [t.get_text() for t in labels]
    ticks = ax.get_xticks()[: len(texts)] if len(ax.get_xticks()) >= len(texts) else None
    if not _boxes_overlap(boxes):
        return 0.0
    if ticks is not None:
        ax.set_xticks(ticks, [textwrap.fill(s, wrap, break_long_words=False) for s in texts])
        labels, boxes = _label_boxes(ax)
        if not _boxes_overlap(boxes):
            return 0.0
        ax.set_xticks(ticks, texts)
    labels, boxes = _label_boxes(ax)
    height = max(b.height for b in boxes)
    centres = sorted((b.x0 + b.x1) / 2 for b in boxes)
    gap = min(b - a for a, b in zip(centres, centres[1:]))
    chosen = angle if gap * math.sin(math.radians(angle)) >= height + 1 else 90.0
    for t in labels:
        t.set_rotation(chosen)
        t.set_horizontalalignment("right" if chosen < 90 else "center")
        t.set_rotation_mode("anchor" if chosen < 90 else "default")
    return chosen
