"""Segment migration figures: the Sankey of the flows (Plotly, offline HTML) and the static row-share heatmap.

Both take a :class:`segwork.segment.migration.Migration`. The Sankey is
interactive (values on hover) and needs no server: a notebook shows it with
:func:`segwork.plots.embed.show_figure`, and the report loads plotly.js once
per run folder.
The heatmap is the static view (print, and readers without JavaScript).
"""
from __future__ import annotations

import textwrap

import numpy as np

from ..segment.migration import LEFT_DATA, NEW_CUSTOMERS, Migration
from ._style import axes
from .tables import format_share

__all__ = ["sankey", "plot_migration_shares", "migration_headline", "nobody_moved_text"]

_PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#ccb974",
            "#64b5cd")


def _rgba(hex_colour: str, alpha: float) -> str:
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def sankey(m: Migration, *, by: str = "customers", currency: str = "", title: str | None = None):
    """A Sankey figure of ``m``: earlier segments on the left, later ones on the right, a band per flow.

    Parameters
    ----------
    m: the migration (:func:`segwork.segment.migration.migration`).
    by: ``"customers"`` (band width = customers) or ``"value_before"`` /
        ``"value_after"`` (band width = that value; needs values in ``m``).
    currency: the value's unit for the hover text (e.g. ``"EUR"``).
    title: the figure title (default: the segmentation and the two ends).

    Returns
    -------
    plotly.graph_objects.Figure; hover shows each band's customers, its share
    of the earlier segment and its values.

    Raises
    ------
    segwork.errors.DataError: ``by`` is a value that ``m`` does not have.
    """
    import plotly.graph_objects as go

    from ..errors import DataError

    if by not in ("customers", "value_before", "value_after"):
        raise DataError(f"sankey: by={by!r}; use 'customers', 'value_before' or 'value_after'")
    flows = m.flows
    if by != "customers" and flows[by].isna().all():
        raise DataError(f"sankey: by={by!r} but the migration has no values; pass value_before/value_after "
                        "to migration()")
    left = list(m.counts.index)
    right = list(m.counts.columns)
    colour = {}
    for s in left + right:
        if s not in colour:
            colour[s] = "#bbbbbb" if s in (NEW_CUSTOMERS, LEFT_DATA) else _PALETTE[len(colour) % len(_PALETTE)]
    labels = [f"{s} ({m.before_label})" for s in left] + [f"{s} ({m.after_label})" for s in right]
    row_total = m.counts.sum(axis=1)
    unit = f" {currency}" if currency else ""
    hover = []
    for _, f in flows.iterrows():
        text = (f"{f['from']} -> {f['to']}<br>{int(f['customers']):,} customers "
                f"({f['customers'] / row_total[f['from']]:.1%} of {f['from']})")
        if np.isfinite(f["value_before"]):
            text += f"<br>value at {m.before_label}: {f['value_before']:,.0f}{unit}"
        if np.isfinite(f["value_after"]):
            text += f"<br>value at {m.after_label}: {f['value_after']:,.0f}{unit}"
        hover.append(text)
    link = dict(source=[left.index(s) for s in flows["from"]],
                target=[len(left) + right.index(t) for t in flows["to"]],
                value=flows[by].astype(float).clip(lower=0).tolist(),
                color=[_rgba(colour[s], 0.55 if moved else 0.25) for s, moved in zip(flows["from"], flows["moved"])],
                customdata=hover, hovertemplate="%{customdata}<extra></extra>")
    node = dict(label=labels, color=[colour[s] for s in left + right], pad=12, thickness=14,
                hovertemplate="%{label}: %{value:,.0f}<extra></extra>")
    fig = go.Figure(go.Sankey(node=node, link=link, arrangement="snap"))
    what = "customers" if by == "customers" else f"{by.replace('_', ' ')}{unit}"
    fig.update_layout(title=title or f"{m.name}: {m.before_label} -> {m.after_label} (band width: {what})",
                      height=max(380, 28 * max(len(left), len(right))), margin=dict(l=10, r=10, t=50, b=10),
                      font=dict(size=12))
    return fig


def plot_migration_shares(m: Migration, *, ax=None, title: str | None = None):
    """Heatmap of the transition matrix's row shares (where each earlier segment's customers went), annotated.

    Rows: earlier segments (with their customer counts); columns: later
    segments. Returns the matplotlib Axes.
    """
    shares = m.shares
    counts = m.counts.sum(axis=1)
    # long segment names (needs, clusters: "high value, very high spend, electronics, web") are wrapped, and the
    # figure grows with them, so that the matrix keeps its room instead of shrinking to a strip
    xlabels = [textwrap.fill(str(c), 18) for c in shares.columns]
    ylabels = [textwrap.fill(f"{r} ({counts[r]:,})", 30) for r in shares.index]
    x_chars = max(len(line) for label in xlabels for line in label.split("\n"))
    y_chars = max(len(line) for label in ylabels for line in label.split("\n"))
    y_lines = max(label.count("\n") + 1 for label in ylabels)
    x_lines = max(label.count("\n") + 1 for label in xlabels)
    size = (min(14.0, 1.0 + 0.075 * y_chars + min(1.1, max(0.6, 0.065 * x_chars)) * shares.shape[1]),
            1.2 + 0.06 * x_chars + 0.15 * x_lines + max(0.45, 0.2 * y_lines) * shares.shape[0])
    ax = axes(ax, size)
    ax.imshow(shares.to_numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(shares.shape[1]), xlabels, rotation=35, ha="right", fontsize=9)
    ax.set_yticks(range(shares.shape[0]), ylabels, fontsize=9)
    for i in range(shares.shape[0]):
        for j in range(shares.shape[1]):
            v = shares.iat[i, j]
            if v >= 0.005:
                ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=8,
                        color="white" if v > 0.6 else "black")
    ax.set_xlabel(f"segment at {m.after_label}")
    ax.set_ylabel(f"segment at {m.before_label} (customers)")
    ax.set_title(title or f"{m.name}: where each segment's customers went")
    return ax


def migration_headline(m: Migration) -> str:
    """The heading of a segmentation's migration: ``"needs: 99.5 % stayed, 4 customers moved"``.

    The share (of the customers of both dates who kept their segment) is written by
    :func:`segwork.plots.tables.format_share`, so it reads 100 % only when nobody moved.
    """
    return f"{m.name}: {format_share(m.stayed_share)} stayed, {m.moved:,} customers moved"


def nobody_moved_text(m: Migration) -> str | None:
    """One sentence for a segmentation in which no customer of both dates changed segment, else None.

    Such a segmentation (one built on data that do not change, such as profile data) has a diagonal
    transition matrix: the sentence replaces its matrix, count table, Sankey and value table. It says how many
    customers kept their segment and how many were new at the later date or left the data.
    """
    if m.moved:
        return None
    new = int(m.counts.loc[NEW_CUSTOMERS].sum()) if NEW_CUSTOMERS in m.counts.index else 0
    left = int(m.counts[LEFT_DATA].sum()) if LEFT_DATA in m.counts.columns else 0
    kept = int(m.counts.to_numpy().sum()) - new - left
    extra = []
    if new:
        extra.append(f"{new:,} new customer{'s' if new != 1 else ''} placed into its segments")
    if left:
        extra.append(f"{left:,} no longer in the data")
    return (f"**{m.name}**: nobody moved: all {kept:,} customers of both dates kept their segment from "
            f"{m.before_label} to {m.after_label}" + (f" ({'; '.join(extra)})" if extra else "")
            + ". A segmentation of data that do not change over time (such as profile data) stays put by "
            "construction, so its transition matrix, Sankey and value table are left out.")
