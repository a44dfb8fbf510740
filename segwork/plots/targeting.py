"""Figures for targeting (notebook 08): cumulative gains and lift of propensity scores.

One function per figure. Each takes the tidy table of
:func:`segwork.act.evaluation.gains_curve` for one or more scores, stacked
with a ``model`` column (``pd.concat({name: gains_curve(y, s), ...},
names=["model"]).reset_index("model")``), draws on ``ax`` (a new figure when
``None``) and returns the matplotlib Axes. Nothing is shown or saved here.
"""
from __future__ import annotations

import pandas as pd

from ._style import axes

__all__ = ["plot_gains", "plot_lift"]

_SIZE = (5.5, 4)


def _reference(curves: pd.DataFrame) -> pd.DataFrame:
    """The random and perfect curves (the same for every model: they depend on the outcome only)."""
    return curves[curves["model"] == curves["model"].iloc[-1]]


def plot_gains(curves: pd.DataFrame, ax=None, legend: bool = True):
    """Cumulative gains: the share of buyers reached against the share of customers contacted (best first).

    ``curves``: ``model``, ``share_contacted``, ``gain``, ``random_gain`` and
    ``perfect_gain`` (see the module docs); one line per model, with random
    (dotted) and perfect (dashed) selection.
    """
    ax = axes(ax, _SIZE)
    for name, g in curves.groupby("model", sort=False):
        ax.plot(g["share_contacted"], g["gain"], label=name)
    ref = _reference(curves)
    ax.plot(ref["share_contacted"], ref["random_gain"], "k:", label="random")
    ax.plot(ref["share_contacted"], ref["perfect_gain"], "k--", label="perfect")
    ax.set(xlabel="share of customers contacted (best first)", ylabel="share of buyers reached", title="Gains")
    if legend:
        ax.legend(fontsize=8)
    return ax


def plot_lift(curves: pd.DataFrame, ax=None, legend: bool = False):
    """Lift: the buyer rate among those contacted divided by the base rate, against the share contacted.

    ``curves``: ``model``, ``share_contacted``, ``lift`` and ``perfect_lift``
    (see the module docs); one line per model, the perfect selection dashed
    and lift 1 (random selection) dotted.
    """
    ax = axes(ax, _SIZE)
    for name, g in curves.groupby("model", sort=False):
        ax.plot(g["share_contacted"], g["lift"], label=name)
    ref = _reference(curves)
    ax.plot(ref["share_contacted"], ref["perfect_lift"], "k--", label="perfect")
    ax.axhline(1, color="k", ls=":")
    ax.set(xlabel="share of customers contacted (best first)", ylabel="lift", title="Lift")
    if legend:
        ax.legend(fontsize=8)
    return ax
