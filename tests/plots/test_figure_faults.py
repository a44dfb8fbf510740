"""The five figure faults of issue 21, each tested on the figure object.

x tick labels that overlap (notebooks 02, 09), legends over bars (06, 07), intervals
too narrow to see (05), the CLV histogram's pile at its floor (05) and the weekly
tracking plot's partial last week (05). Overlap is measured in display pixels on
the drawn figure (Agg canvas, the notebooks' 96 dpi).
"""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from segwork.plots import clusters as kplots  # noqa: E402
from segwork.plots import clv as cplots  # noqa: E402
from segwork.plots import segments as splots  # noqa: E402

LONG = ["Champions", "Loyal", "Potential loyalist", "New", "Promising", "Need attention", "About to sleep",
        "At risk", "Cannot lose them", "Hibernating", "Lost"]


@pytest.fixture(autouse=True)
def _close():
    plt.rcParams.update({"figure.dpi": 96})
    yield
    plt.close("all")


def _drawn(ax):
    ax.figure.canvas.draw()
    return ax.figure.canvas.get_renderer()


def _xlabels_overlap(ax) -> bool:
    """Neighbouring x tick labels overlap: boxes for upright labels, the gap across the text for rotated ones."""
    renderer = _drawn(ax)
    labels = [t for t in ax.get_xticklabels() if t.get_text()]
    rotation = labels[0].get_rotation() % 180
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
    if rotation == 0:
        return any(a.x1 > b.x0 for a, b in zip(boxes, boxes[1:]))
    # rotated text: neighbours are parallel strips; their distance across the text is the tick gap x sin(angle)
    one_line = max(Text(0, 0, t.get_text(), fontproperties=t.get_fontproperties(), figure=ax.figure)
                   .get_window_extent(renderer).height for t in labels)
    ticks = sorted(ax.transData.transform([(x, 0) for x in ax.get_xticks()[: len(labels)]])[:, 0])
    gap = min(b - a for a, b in zip(ticks, ticks[1:]))
    return gap * math.sin(math.radians(rotation)) < one_line


def _legend_covers_data(ax) -> bool:
    """The legend's box intersects a bar (patch) or a data point of a line on the axes."""
    renderer = _drawn(ax)
    box = ax.get_legend().get_window_extent(renderer)
    for patch in ax.patches:
        if patch.get_window_extent(renderer).overlaps(box):
            return True
    for line in ax.lines:
        xy = line.get_xydata()
        if len(xy):
            pts = ax.transData.transform(xy)
            inside = (pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0) & (pts[:, 1] <= box.y1)
            if inside.any():
                return True
    return False


def _crosstab(columns, rows=5):
    rng = np.random.default_rng(0)
    table = pd.DataFrame(rng.integers(1, 50, (rows, len(columns))), columns=pd.Index(columns, name="rfm"),
                         index=pd.Index([f"segment number {i}" for i in range(rows)], name="kmeans"))
    return table


@pytest.mark.parametrize("columns", [LONG, ["bargain hunters", "convenience seekers", "loyal premium",
                                            "occasional gifters", "tech enthusiasts"]])
def test_crosstab_x_labels_do_not_overlap(columns):
    ax = splots.plot_crosstab(_crosstab(columns))
    assert not _xlabels_overlap(ax)
    assert sorted(t.get_text().replace("\n", " ") for t in ax.get_xticklabels()) == sorted(columns)


def test_agreement_and_stability_x_labels_do_not_overlap():
    names = ["apriori", "rfm", "value", "relationship", "kmeans", "needs", "behavioural kmeans"]
    m = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    assert not _xlabels_overlap(splots.plot_agreement(m))
    scores = pd.DataFrame({"method": np.repeat(["kmeans", "gaussian mixture", "agglomerative ward", "k-prototypes",
                                                "spectral clustering"], 3), "ari": 0.5})
    assert not _xlabels_overlap(kplots.plot_stability(scores))


def test_short_labels_stay_upright():
    ax = splots.plot_crosstab(_crosstab(["a", "b", "c"]))
    assert all(t.get_rotation() == 0 for t in ax.get_xticklabels())


def test_segment_size_legend_covers_no_bar():
    profile = pd.DataFrame({"share": [0.01, 0.19, 0.3, 0.5], "revenue_share": [0.08, 0.53, 0.22, 0.17]},
                           index=["Top 1 %", "Next 19 %", "Middle 30 %", "Low 50 %"])
    assert not _legend_covers_data(splots.plot_segment_sizes(profile))


def test_needs_figures_legends_cover_no_bar_or_point():
    profile = pd.DataFrame({"satisfaction": [2.9, 3.2, 3.4, 3.5, 3.9]}, index=[f"needs {i}" for i in range(5)])
    assert not _legend_covers_data(kplots.plot_segment_bars(profile, "satisfaction", reference=3.36))
    coverage = pd.DataFrame({"survey": [1500, 1200, 1100], "behaviour": [3400, 3400, 2900]}, index=["a", "b", "c"])
    assert not _legend_covers_data(kplots.plot_coverage(coverage))
    k = pd.Index(range(2, 9), name="k")
    sel = pd.DataFrame({"silhouette": [0.1, 0.2, 0.5, 0.9, 0.5, 0.3, 0.1],
                        "davies_bouldin": [2.0, 1.8, 1.2, 0.8, 1.3, 1.6, 2.0]}, index=k)
    assert not _legend_covers_data(kplots.plot_k_selection(sel, chosen_k=5))


def test_relationship_summary_legend_covers_no_bar():
    summary = pd.DataFrame({"share": [0.01, 0.44, 0.04, 0.09, 0.43], "revenue_share": [0.0, 0.76, 0.06, 0.11, 0.07],
                            "assumed_effect": ["+3-4 %", "+2-3 %", "+15-20 %", "+10-20 %", "none assumed"]},
                           index=["Prospective", "Loyal", "Vulnerable", "Win-back", "Other"])
    assert not _legend_covers_data(splots.plot_relationship_summary(summary))


def test_confidence_intervals_narrower_than_the_dot_are_said_in_the_legend():
    """The old figure drew +-0.5 % confidence intervals as bare dots; now both kinds are drawn and a hidden one said."""
    iv = pd.DataFrame({"clv": [11000.0, 180.0], "lower": [350.0, 0.0], "upper": [19000.0, 410.0],
                       "ci_lower": [10950.0, 179.0], "ci_upper": [11050.0, 181.0]}, index=["C1", "C2"])
    ax = cplots.plot_clv_intervals(iv, currency="EUR", kind="prediction")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[1] == "90 % prediction interval"
    assert texts[2].startswith("90 % confidence interval") and "narrower than the dot for 2 of 2" in texts[2]
    hidden = cplots.interval_hidden(ax, iv["clv"], iv["lower"], iv["upper"])
    assert not hidden.any()  # the prediction intervals are long enough to see, the lower end 0 runs to the bottom
    assert cplots.interval_hidden(ax, iv["clv"], iv["ci_lower"], iv["ci_upper"]).all()
    # the drawn prediction bars span lower..upper (0 clipped by the log axis), the confidence bars ci_lower..ci_upper
    segments = [c for c in ax.collections]
    spans = [sorted((s[0][1], s[1][1])) for s in segments[0].get_segments()]
    assert spans == [[350.0, 19000.0], [0.0, 410.0]]
    assert [sorted((s[0][1], s[1][1])) for s in segments[1].get_segments()] == [[10950.0, 11050.0], [179.0, 181.0]]


def test_wide_intervals_get_no_note():
    iv = pd.DataFrame({"clv": [100.0, 50.0], "lower": [40.0, 10.0], "upper": [200.0, 90.0]}, index=["a", "b"])
    ax = cplots.plot_clv_intervals(iv, kind="confidence")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["expected CLV", "90 % confidence interval"]


def test_clv_histogram_counts_values_below_the_floor_apart():
    """Values near 0 (P(alive) ~ 0) are not piled into the first bin of the log axis: a separate, labelled bar."""
    rng = np.random.default_rng(1)
    values = pd.Series(np.r_[np.full(740, 1e-6), np.zeros(10), rng.lognormal(5, 1.2, 3000)])
    ax = cplots.plot_clv_distribution(values, currency="EUR")
    blue = [p for p in ax.patches if p.get_label() != "_nolegend_" or p.get_hatch() is None]
    grey = [p for p in ax.patches if p.get_hatch()]
    assert len(grey) == 1 and grey[0].get_height() == 750
    in_hist = sum(p.get_height() for p in ax.patches if not p.get_hatch())
    assert in_hist == int((values >= 0.01).sum())
    first_bin = min((p for p in ax.patches if not p.get_hatch()), key=lambda p: p.get_x())
    assert first_bin.get_height() < 10  # no pile at the floor
    assert grey[0].get_x() + grey[0].get_width() < 0.01  # drawn apart, left of the histogram
    assert "750 customers below 0.01 EUR" in " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert blue  # the histogram is there
    ax = cplots.plot_clv_distribution(values, currency="EUR", label="expected revenue")  # margin 1: value_label
    assert ax.get_title() == "Distribution of expected revenue" and ax.get_xlabel().startswith("expected revenue (EUR)")


def test_tracking_leaves_out_the_partial_last_week_and_says_so():
    dates = pd.date_range("2024-01-07", periods=10, freq="7D")
    end = dates[-1] + pd.Timedelta(days=2)
    tracking = pd.DataFrame({
        "period_start": list(dates - pd.Timedelta(days=7))[1:] + [dates[-1]],
        "date": list(dates[1:]) + [end], "length": [1.0] * 9 + [2 / 7],
        "actual": [100.0] * 9 + [28.0], "predicted": [98.0] * 9 + [29.0],
        "period": ["calibration"] * 5 + ["holdout"] * 5})
    assert cplots.partial_periods(tracking).tolist() == [False] * 9 + [True]
    ax = cplots.plot_incremental_transactions(tracking)
    actual, predicted = ax.lines[0], ax.lines[1]
    assert len(actual.get_ydata()) == 9 and min(actual.get_ydata()) == 100.0  # no cliff
    assert len(predicted.get_ydata()) == 9
    assert f"(partial last period (2 of 7 days, to {end:%Y-%m-%d}) not drawn)" in ax.get_title()
    # a cumulative table has no partial periods to drop
    cum = tracking.drop(columns=["length", "period_start"])
    assert not cplots.partial_periods(cum).any()
    assert len(cplots.plot_cumulative_transactions(cum).lines[0].get_ydata()) == 10
