"""Interactive (Plotly) versions of the report's key figures: values on hover, zoom, no server.

One builder per figure; each takes the same tidy data as its matplotlib
counterpart in :mod:`segwork.plots` and returns a ``plotly.graph_objects.Figure``
(nothing is shown here: :func:`segwork.plots.embed.show_figure` puts it on a
page next to the static image kept for print). The data in a figure are
aggregates (histogram counts, at most a few hundred curve points, a 5 x 5
grid), never one point per customer, so a figure adds a few kB to a page.

Builders: :func:`rfm_map` (segment map of notebook 03), :func:`clv_distribution`
(notebook 05), :func:`gains` and :func:`lift` (notebook 08),
:func:`tracking` (cumulative and per-period tracking, notebook 05).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ._style import BLUE, GREY, ORANGE
from .clv import partial_period_note, partial_periods

__all__ = ["rfm_map", "clv_distribution", "gains", "lift", "tracking"]

_LAYOUT = dict(template="plotly_white", margin=dict(l=60, r=20, t=95, b=50), height=450,
               font=dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=13),
               legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0))
_LINES = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")


def _figure(title: str, **layout) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(**{**_LAYOUT, "title": dict(text=title, x=0, xanchor="left", y=0.985, yanchor="top"),
                         **layout})
    return fig


def rfm_map(scores: pd.DataFrame, grid: pd.DataFrame | None = None,
            title: str = "Customers by recency and frequency-money score") -> go.Figure:
    """Heatmap of customers over the R (rows, 5 on top) x FM (columns) scores; hover: segment, customers, share.

    ``scores``: per-customer ``R`` and ``FM`` (1-5), as for
    :func:`segwork.plots.plot_rfm_heatmap`. ``grid``: the segment map
    (:func:`segwork.segment.segment_grid`), written in each cell and on hover.
    Colour and cell text: the share of all customers in the cell.
    """
    counts = pd.crosstab(scores["R"], scores["FM"]).reindex(index=range(5, 0, -1), columns=range(1, 6), fill_value=0)
    share = counts / max(int(counts.to_numpy().sum()), 1)
    names = (grid.reindex(index=share.index, columns=share.columns).astype(str) if grid is not None
             else pd.DataFrame("", index=share.index, columns=share.columns))
    text = [[f"{s:.1%}<br>{n}" for s, n in zip(srow, nrow)] for srow, nrow in zip(share.to_numpy(), names.to_numpy())]
    custom = np.dstack([counts.to_numpy(), names.to_numpy()])
    fig = _figure(title, height=480)
    fig.add_trace(go.Heatmap(
        z=share.to_numpy(), x=[f"FM {c}" for c in share.columns], y=[f"R {r}" for r in share.index],
        text=text, texttemplate="%{text}", textfont=dict(size=11), colorscale="Blues", customdata=custom,
        colorbar=dict(title="share", tickformat=".0%"),
        hovertemplate="%{y}, %{x}<br>segment: %{customdata[1]}<br>%{customdata[0]:,} customers (%{z:.1%})"
                      "<extra></extra>"))
    fig.update_xaxes(title="FM score (frequency and money; 5 = best)", side="bottom")
    fig.update_yaxes(title="R score (recency; 5 = most recent)", autorange="reversed")
    return fig


def clv_distribution(clv: pd.Series, currency: str = "", floor: float = 0.01, n_bins: int = 40,
                     label: str = "customer lifetime value") -> go.Figure:
    """Histogram of CLV on a log value axis; hover: the value range and the customers in it.

    Same reading as :func:`segwork.plots.plot_clv_distribution`: values
    below ``floor`` (one cent by default; customers the model holds for gone)
    are counted in a separate grey bar, not piled into the first bin; the
    mean and median of all values are marked. Bins are ``n_bins`` equal
    steps of log10(value) from ``floor`` to the largest value. ``label``: what
    the values are, for the axis and title (e.g. :func:`segwork.clv.margin.value_label`).
    """
    values = pd.Series(clv, dtype=float).dropna()
    shown = values[values >= floor]
    below = int((values < floor).sum())
    top = max(float(shown.max()) if len(shown) else floor, floor * 10)
    edges = np.geomspace(floor, top, n_bins + 1)
    counts, _ = np.histogram(shown, bins=edges)
    unit = f" {currency}" if currency else ""
    lo, hi = np.log10(edges[:-1]), np.log10(edges[1:])
    fig = _figure(f"Distribution of {label}", bargap=0.02)
    fig.add_trace(go.Bar(
        x=(lo + hi) / 2, y=counts, width=hi - lo, marker_color=BLUE, name=f"{len(shown):,} customers",
        customdata=np.column_stack([edges[:-1], edges[1:]]),
        hovertemplate=f"%{{customdata[0]:,.2f}} to %{{customdata[1]:,.2f}}{unit}<br>%{{y:,}} customers<extra></extra>"))
    if below:
        step = hi[0] - lo[0]
        fig.add_trace(go.Bar(
            x=[np.log10(floor) - 2.5 * step], y=[below], width=[step], marker_color=GREY,
            marker_pattern_shape="/", name=f"{below:,} customers below {floor:g}{unit} (near 0)",
            hovertemplate=f"below {floor:g}{unit}<br>%{{y:,}} customers<extra></extra>"))
    for stat, dash in (("mean", "dash"), ("median", "dot")):
        v = float(getattr(values, stat)())
        if v > 0:
            fig.add_vline(x=np.log10(v), line=dict(color=ORANGE, dash=dash, width=2))
            fig.add_trace(go.Scatter(x=[np.log10(v)], y=[0], mode="lines", line=dict(color=ORANGE, dash=dash),
                                     name=f"{stat} {v:,.1f}{unit}", hoverinfo="skip"))
    ticks = np.arange(np.floor(np.log10(floor)) - 1, np.ceil(np.log10(top)) + 1)
    fig.update_xaxes(title=f"{label}{(' (' + currency + ')') if currency else ''}, log scale",
                     tickvals=ticks, ticktext=[f"{10 ** t:g}" for t in ticks])
    fig.update_yaxes(title="customers", tickformat=",")
    return fig


def _thin(frame: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """Every k-th row (and the last) so that at most about ``max_points`` rows remain."""
    if len(frame) <= max_points:
        return frame
    step = int(np.ceil(len(frame) / max_points))
    keep = np.zeros(len(frame), dtype=bool)
    keep[::step] = True
    keep[-1] = True
    return frame[keep]


def _curve_figure(curves: pd.DataFrame, column: str, title: str, ylabel: str, reference: list[tuple[str, str, str]],
                  max_points: int) -> go.Figure:
    fig = _figure(title)
    fmt = ".1%" if column == "gain" else ".2f"
    for i, (name, g) in enumerate(curves.groupby("model", sort=False)):
        g = _thin(g, max_points)
        fig.add_trace(go.Scatter(
            x=g["share_contacted"], y=g[column], mode="lines", name=str(name), line=dict(color=_LINES[i % 7]),
            customdata=g[["n_contacted"]] if "n_contacted" in g else None,
            hovertemplate=f"{name}<br>contacted %{{x:.0%}}" + (" (%{customdata[0]:,} customers)" if "n_contacted" in g
                                                              else "") + f"<br>{ylabel} %{{y:{fmt}}}<extra></extra>"))
    ref = _thin(curves[curves["model"] == curves["model"].iloc[-1]], max_points)
    for col, name, dash in reference:
        y = ref[col] if col in ref else pd.Series(1.0, index=ref.index)
        fig.add_trace(go.Scatter(x=ref["share_contacted"], y=y, mode="lines", name=name,
                                 line=dict(color="black", dash=dash, width=1),
                                 hovertemplate=f"{name}<br>contacted %{{x:.0%}}<br>{ylabel} %{{y:{fmt}}}<extra></extra>"))
    fig.update_xaxes(title="share of customers contacted (best first)", tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title=ylabel, tickformat=".0%" if column == "gain" else None)
    return fig


def gains(curves: pd.DataFrame, max_points: int = 200) -> go.Figure:
    """Cumulative gains per model, with random (dotted) and perfect (dashed) selection; hover: share found.

    ``curves``: as :func:`segwork.plots.plot_gains` (``model``,
    ``share_contacted``, ``gain``, ``random_gain``, ``perfect_gain``;
    ``n_contacted`` when present goes on hover). At most ``max_points``
    points per line.
    """
    return _curve_figure(curves, "gain", "Gains", "share of buyers reached",
                         [("random_gain", "random", "dot"), ("perfect_gain", "perfect", "dash")], max_points)


def lift(curves: pd.DataFrame, max_points: int = 200) -> go.Figure:
    """Lift per model (buyer rate among those contacted / base rate), with perfect (dashed) and 1 (dotted).

    ``curves``: as :func:`segwork.plots.plot_lift` (``model``,
    ``share_contacted``, ``lift``, ``perfect_lift``).
    """
    return _curve_figure(curves, "lift", "Lift", "lift",
                         [("perfect_lift", "perfect", "dash"), ("_one", "random (lift 1)", "dot")], max_points)


def tracking(table: pd.DataFrame, cumulative: bool = True, time_unit: str = "periods") -> go.Figure:
    """Repeat purchases over calendar time, actual vs model, calibration end marked; hover: both values.

    ``table``: :func:`segwork.clv.validation.cumulative_repeat_transactions`
    (``cumulative=True``) or :func:`segwork.clv.forecast.incremental_repeat_transactions`
    (``cumulative=False``), with ``date``, ``actual``, ``predicted`` and
    ``period``. A partial period (the last one, cut by the observation end)
    is left out and the title says so, as in the static figure.
    """
    note = partial_period_note(table)
    shown = table[~partial_periods(table)]
    unit = time_unit[:-1] if time_unit.endswith("s") else time_unit  # weeks -> week
    what = "cumulative repeat purchases" if cumulative else f"repeat purchases per {unit}"
    fig = _figure(f"Tracking: {what}" + (f"<br><sup>{note}</sup>" if note else ""), hovermode="x unified")
    dates = pd.to_datetime(shown["date"])
    fig.add_trace(go.Scatter(x=dates, y=shown["actual"], mode="lines", name="actual", line=dict(color=BLUE),
                             hovertemplate="actual %{y:,.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(x=dates, y=shown["predicted"], mode="lines", name="model",
                             line=dict(color=ORANGE, dash="dash"), hovertemplate="model %{y:,.0f}<extra></extra>"))
    hold = shown["period"].eq("holdout").to_numpy()
    if hold.any() and not hold.all():
        end = dates.iloc[int(np.flatnonzero(hold)[0]) - 1]
        fig.add_vline(x=end.timestamp() * 1000, line=dict(color=GREY, dash="dot", width=1),
                      annotation_text="holdout →", annotation_position="top right")
    fig.update_xaxes(title=f"{unit} ending")
    fig.update_yaxes(title=what, tickformat=",", rangemode="tozero")
    return fig
