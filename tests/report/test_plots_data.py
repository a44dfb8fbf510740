"""Notebook 01's figures: each function draws what its tidy input says and returns the Axes."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from segwork import explore  # noqa: E402
from segwork.datasets import make_crm  # noqa: E402
from segwork.plots import data as plots  # noqa: E402


@pytest.fixture(scope="module")
def tx():
    return make_crm(n_customers=400, random_state=2).transactions


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_monthly_customers_bars_add_up(tx):
    monthly = explore.monthly_activity(tx)
    ax = plots.plot_monthly_customers(monthly)
    heights = np.array([p.get_height() for p in ax.patches]).reshape(2, -1)
    assert np.array_equal(heights.sum(axis=0), monthly["active_customers"].to_numpy())


def test_monthly_revenue_line(tx):
    monthly = explore.monthly_activity(tx)
    _fig, ax = plt.subplots()
    assert plots.plot_monthly_revenue(monthly, ax=ax, currency="EUR") is ax
    assert np.allclose(ax.get_lines()[0].get_ydata(), monthly["revenue"].to_numpy())
    assert "EUR" in ax.get_ylabel()


def test_purchase_counts_label_the_pooled_bar(tx):
    dist = explore.purchase_count_distribution(tx, cap=5)
    ax = plots.plot_purchase_counts(dist)
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "5+"
    assert sum(p.get_height() for p in ax.patches) == pytest.approx(1.0)


def test_interpurchase_marks_the_median(tx):
    gaps = explore.interpurchase_days(tx)
    ax = plots.plot_interpurchase_days(gaps)
    assert ax.get_lines()[0].get_xdata()[0] == pytest.approx(gaps.median())
    empty = plots.plot_interpurchase_days(gaps.iloc[:0])
    assert "no repeat purchases" in empty.texts[0].get_text()


def test_pareto_curve_marks_the_top_share(tx):
    curve = explore.revenue_concentration(tx)
    ax = plots.plot_revenue_concentration(curve, top=0.2)
    marker = ax.collections[0].get_offsets()[0]
    assert marker[0] == pytest.approx(0.2) and marker[1] == pytest.approx(explore.top_share(tx, 0.2), abs=0.01)


def test_cohort_heatmap_has_one_row_per_cohort(tx):
    table = explore.cohort_retention(tx)
    ax = plots.plot_cohort_retention(table, max_months=6)
    mesh = ax.collections[0]
    assert mesh.get_array().shape[:2] == (len(table), 6)  # months 1..6 for every cohort
    assert ax.get_yticklabels()[0].get_text().startswith(table.index[0])
