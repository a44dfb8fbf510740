"""The clustering / needs figures draw what they are given and return the Axes."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from segwork.plots import clusters as cplots  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_k_selection_rescales_each_criterion_best_is_one():
    scores = pd.DataFrame({"silhouette": [0.2, 0.4, 0.3], "calinski_harabasz": [10.0, 30.0, 20.0],
                           "davies_bouldin": [1.5, 0.9, 1.1], "bic": [np.nan] * 3}, index=pd.Index([2, 3, 4], name="k"))
    ax = cplots.plot_k_selection(scores, chosen_k=3)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"silhouette", "Calinski-Harabasz", "Davies-Bouldin (flipped)", "chosen k = 3"}
    for label in ("silhouette", "Calinski-Harabasz", "Davies-Bouldin (flipped)"):
        y = np.asarray(lines[label].get_ydata(), dtype=float)
        assert y.max() == 1.0 and y.min() == 0.0 and np.argmax(y) == 1  # all prefer k = 3


def test_heatmaps_show_the_values():
    z = pd.DataFrame([[1.5, -0.5], [0.0, 2.0]], index=["a", "b"], columns=["x", "y"])
    ax = cplots.plot_centroid_heatmap(z)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b"]
    assert sorted(t.get_text() for t in ax.texts) == sorted(["1.5", "-0.5", "0.0", "2.0"])
    ax = cplots.plot_loadings(pd.DataFrame({"need": [0.8, -0.1]}, index=["q1", "q2"]))
    assert {t.get_text() for t in ax.texts} == {"0.80", "-0.10"}


def test_bars_and_stability_and_coverage():
    table = pd.DataFrame({"ari_truth": [0.9, 0.5]}, index=pd.Index(["kmeans", "hdbscan"], name="method"))
    ax = cplots.plot_method_scores(table)
    assert [p.get_width() for p in ax.patches] == [0.9, 0.5]
    profile = pd.DataFrame({"nps": [-10.0, 20.0]}, index=["s1", "s2"])
    ax = cplots.plot_segment_bars(profile, "nps", reference=5.0, reference_label="all respondents")
    assert [p.get_width() for p in ax.patches] == [-10.0, 20.0]
    assert ax.get_legend().get_texts()[0].get_text() == "all respondents 5.00"
    stab = pd.DataFrame({"method": ["a", "a", "b"], "ari": [0.9, 1.0, 0.4]})
    ax = cplots.plot_stability(stab)
    assert [round(p.get_height(), 3) for p in ax.patches] == [0.95, 0.4]
    cov = pd.DataFrame({"survey": [3, 1], "behaviour": [5, 2]}, index=["s1", "s2"])
    ax = cplots.plot_coverage(cov)
    widths = [p.get_width() for p in ax.patches]
    assert widths == [3, 1, 5, 2] and [p.get_x() for p in ax.patches][2:] == [3, 1]
