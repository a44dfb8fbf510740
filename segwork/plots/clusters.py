"""Figures for clustering and needs-based segmentation (one function per figure; each returns the Axes).

Inputs are the tidy tables segwork produces: the selection table of
:func:`segwork.segment.selection.select_k`, the ``centroids_z`` and
``loadings`` tables in a segmentation's ``params``, a segmentation's
``profile``, and small per-method tables built in the notebooks.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._style import axes, legend_outside, readable_xticklabels

__all__ = [
    "plot_k_selection",
    "plot_centroid_heatmap",
    "plot_method_scores",
    "plot_stability",
    "plot_loadings",
    "plot_segment_bars",
    "plot_coverage",
]

_CRITERIA = {  # column -> (label, higher is better)
    "silhouette": ("silhouette", True),
    "calinski_harabasz": ("Calinski-Harabasz", True),
    "davies_bouldin": ("Davies-Bouldin (flipped)", False),
    "bic": ("BIC (flipped)", False),
    "gap": ("gap statistic", True),
    "prediction_strength_excess": ("prediction strength above null data", True),
}
_SIZE = (7, 4)


def plot_k_selection(scores: pd.DataFrame, *, chosen_k: int | None = None, ax=None):
    """Every selection criterion against k, rescaled to [0, 1] with 1 = best.

    ``scores``: the table of :func:`~segwork.segment.selection.select_k`
    (index ``k``). Criteria where lower is better (Davies-Bouldin, BIC) are
    flipped so that every line peaks at the k it prefers. ``chosen_k`` draws
    a vertical line.
    """
    ax = axes(ax, _SIZE)
    for col, (label, higher) in _CRITERIA.items():
        if col not in scores.columns or scores[col].isna().all():
            continue
        v = scores[col].astype(float)
        span = v.max() - v.min()
        scaled = (v - v.min()) / span if span > 0 else v * 0 + 1.0
        if not higher:
            scaled = 1.0 - scaled
        ax.plot(scores.index, scaled, marker="o", label=label)
    if chosen_k is not None:
        ax.axvline(chosen_k, color="black", linestyle="--", linewidth=1, label=f"chosen k = {chosen_k}")
    ax.set_xlabel("number of segments k")
    ax.set_ylabel("criterion, rescaled (1 = best)")
    ax.set_xticks(list(scores.index))
    ax.set_ylim(-0.05, 1.1)
    legend_outside(ax, fontsize="small")
    ax.set_title("Model selection over k")
    return ax


def _heatmap(ax, data: pd.DataFrame, *, vmax: float, fmt: str, cmap: str = "RdBu_r"):
    values = data.to_numpy(dtype=float)
    image = ax.imshow(values, cmap=cmap, vmin=-vmax, vmax=vmax, aspect="auto")
    ax.set_xticks(range(data.shape[1]))
    ax.set_xticklabels([str(c) for c in data.columns], rotation=45, ha="right")
    ax.set_yticks(range(data.shape[0]))
    ax.set_yticklabels([str(i) for i in data.index])
    if data.size <= 400:
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                if np.isfinite(values[i, j]):
                    ax.text(j, i, format(values[i, j], fmt), ha="center", va="center", fontsize=7,
                            color="white" if abs(values[i, j]) > 0.6 * vmax else "black")
    ax.figure.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    return ax


def plot_centroid_heatmap(centroids_z: pd.DataFrame, *, vmax: float = 2.5, ax=None):
    """Segment centres as z-scores: rows = segments, columns = features.

    Red: the segment is above the average customer on the feature, blue:
    below (in standard deviations of all customers). ``centroids_z`` is
    ``segmentation.params["centroids_z"]``.
    """
    ax = axes(ax, (max(6, 0.45 * centroids_z.shape[1] + 3), 0.5 * centroids_z.shape[0] + 2))
    _heatmap(ax, centroids_z, vmax=vmax, fmt=".1f")
    ax.set_title("Segment centres (z-scores vs all customers)")
    return ax


def plot_method_scores(table: pd.DataFrame, *, metric: str = "ari_truth", ax=None):
    """One bar per method for ``metric`` (a column of ``table``, methods as the index)."""
    ax = axes(ax, _SIZE)
    values = table[metric].astype(float)
    bars = ax.barh([str(i) for i in values.index], values.to_numpy(), color="tab:blue")
    for bar, v in zip(bars, values.to_numpy()):
        if np.isfinite(v):
            ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {v:.2f}", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(metric.replace("_", " "))
    ax.set_title(f"{metric.replace('_', ' ')} by method")
    return ax


def plot_stability(scores: pd.DataFrame, *, ax=None):
    """Adjusted Rand of each bootstrap refit, per method (points) with the mean (bar).

    ``scores``: tidy, with columns ``method`` and ``ari`` (one row per resample).
    """
    ax = axes(ax, _SIZE)
    methods = list(dict.fromkeys(scores["method"]))
    means = [scores.loc[scores["method"] == m, "ari"].mean() for m in methods]
    ax.bar(range(len(methods)), means, color="tab:gray", alpha=0.5, label="mean")
    rng = np.random.default_rng(0)  # jitter only
    for i, m in enumerate(methods):
        v = scores.loc[scores["method"] == m, "ari"].to_numpy(dtype=float)
        ax.scatter(i + rng.uniform(-0.15, 0.15, v.size), v, s=14, color="tab:blue", zorder=3)
    ax.set_xticks(range(len(methods)))
    ax.set_xticklabels(methods)
    readable_xticklabels(ax)
    ax.set_ylim(min(0.0, float(np.nanmin(scores["ari"])) - 0.05) if len(scores) else 0, 1.05)
    ax.set_ylabel("adjusted Rand vs the full-data segments")
    ax.set_title("Stability over bootstrap resamples")
    return ax


def plot_loadings(loadings: pd.DataFrame, *, ax=None):
    """Factor loadings: rows = survey items, columns = factors (red = agrees with the factor)."""
    ax = axes(ax, (0.9 * loadings.shape[1] + 4, 0.35 * loadings.shape[0] + 1.5))
    _heatmap(ax, loadings, vmax=1.0, fmt=".2f")
    ax.set_title("Factor loadings of the survey items")
    return ax


def plot_segment_bars(profile: pd.DataFrame, column: str, *, ax=None, reference: float | None = None,
                      reference_label: str = "all customers"):
    """One horizontal bar per segment for a profile column (e.g. ``satisfaction`` or ``nps``).

    ``reference`` draws a vertical line (e.g. the overall mean) labelled ``reference_label``.
    """
    ax = axes(ax, _SIZE)
    values = profile[column].astype(float)
    colors = ["tab:red" if v < 0 else "tab:green" for v in values.fillna(0)]
    ax.barh([str(i) for i in values.index], values.to_numpy(), color=colors)
    if reference is not None and np.isfinite(reference):
        ax.axvline(reference, color="black", linestyle="--", linewidth=1, label=f"{reference_label} {reference:.2f}")
        legend_outside(ax, fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(column.replace("_", " "))
    ax.set_title(f"{column.replace('_', ' ')} by segment")
    return ax


def plot_coverage(coverage: pd.DataFrame, *, ax=None):
    """Stacked bars of customers per segment by how they were assigned.

    ``coverage``: one row per segment, one column per source (e.g.
    ``survey`` and ``behaviour``), values = customers.
    """
    ax = axes(ax, _SIZE)
    left = np.zeros(len(coverage))
    for col in coverage.columns:
        values = coverage[col].to_numpy(dtype=float)
        ax.barh([str(i) for i in coverage.index], values, left=left, label=str(col))
        left += values
    ax.invert_yaxis()
    ax.set_xlabel("customers")
    legend_outside(ax, fontsize="small", title="assigned from")
    ax.set_title("How customers got their needs segment")
    return ax
