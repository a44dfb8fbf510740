"""Segment figures: each takes tidy data, returns its Axes and draws what the data say."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from segwork.comparison import agreement, compare, crosstab  # noqa: E402
from segwork.datasets import make_crm  # noqa: E402
from segwork.plots import segments as plots  # noqa: E402
from segwork.act import relationship_summary  # noqa: E402
from segwork.features import concentration_curve  # noqa: E402
from segwork.prepare import prepare_table  # noqa: E402
from segwork.segment import relationship_segmentation, rfm_segmentation, segment_grid, value_segmentation  # noqa: E402


@pytest.fixture(scope="module")
def built():
    data = make_crm(n_customers=800, random_state=6)
    table = prepare_table(data)
    rfm = rfm_segmentation(table)
    value = value_segmentation(table)
    rel = relationship_segmentation(table)
    return data, table, rfm, value, rel


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_sizes_bars_match_the_profile(built):
    _, _, rfm, _, _ = built
    ax = plots.plot_segment_sizes(rfm.profile)
    widths = [p.get_width() for p in ax.patches]
    n = len(rfm.profile)
    assert np.allclose(widths[:n], rfm.profile["share"]) and np.allclose(widths[n:], rfm.profile["revenue_share"])
    assert [t.get_text() for t in ax.get_yticklabels()] == list(rfm.profile.index)


def test_rfm_heatmap_cells_are_shares(built):
    _, _, rfm, _, _ = built
    _fig, ax = plt.subplots()
    assert plots.plot_rfm_heatmap(rfm.params["scores"], segment_grid(), ax=ax) is ax
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 25 and any("Champions" in t for t in texts)
    shares = [float(t.split("%")[0]) for t in texts]
    assert sum(shares) == pytest.approx(100, abs=25 * 0.05)  # each cell rounded to 0.1 %
    sc = rfm.params["scores"]
    top_right = ((sc["R"] == 5) & (sc["FM"] == 5)).mean()
    assert texts[4] == f"{top_right:.1%}\nChampions"  # first row is R = 5, last column FM = 5


def test_concentration_curve_marker(built):
    _, table, _, _, _ = built
    curve = concentration_curve(table["revenue"], 101)
    ax = plots.plot_value_concentration(curve, top=0.2, value_label="revenue")
    y = curve.loc[curve["customer_share"].round(2) == 0.2, "value_share"].iloc[0]
    assert f"top 20% bring {y:.0%}" in [t.get_text() for t in ax.texts]


def test_relationship_figures(built):
    _, table, _, _, rel = built
    summary = relationship_summary(rel, table)
    ax = plots.plot_relationship_summary(summary)
    assert len(ax.patches) == 2 * len(summary)
    assert "+15-20 %" in [t.get_text() for t in ax.texts]
    ax = plots.plot_profit_effects(summary, currency="EUR")
    assert any("EUR" in t.get_text() for t in ax.texts)


def test_comparison_agreement_and_crosstab_figures(built):
    data, table, rfm, value, rel = built
    segs = {"rfm": rfm, "value": value, "relationship": rel}
    comp = compare(segs, table, truth=data.truth["segment"])
    ax = plots.plot_comparison(comp)
    assert {t.get_text() for t in ax.get_yticklabels()} == set(segs)
    ax = plots.plot_agreement(agreement(segs))
    assert len(ax.texts) == 9
    tab = crosstab(rel, rfm)
    ax = plots.plot_crosstab(tab)
    assert len(ax.texts) == tab.size
    assert plots.plot_crosstab(tab, normalize=False).texts[0].get_text() == str(tab.iloc[0, 0])
