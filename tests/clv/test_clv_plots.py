"""The CLV and targeting figures notebooks 05 and 08 draw: each takes tidy data, returns its Axes and draws the data."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from segwork.act import gains_curve  # noqa: E402
from segwork.plots import clv as cplots  # noqa: E402
from segwork.plots import targeting as tplots  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_purchases_by_period_bars_and_interval():
    forecast = pd.DataFrame({"expected_purchases": [30.0, 25.0, 21.0], "lower": [27.0, 22.0, 18.0],
                             "upper": [33.0, 28.0, 24.0]}, index=pd.RangeIndex(1, 4, name="month"))
    ax = cplots.plot_purchases_by_period(forecast, title="Monthly forecast")
    assert [p.get_height() for p in ax.patches] == [30.0, 25.0, 21.0]
    bars = ax.collections[0].get_segments()  # the error bars span lower..upper
    assert [(s[0][1], s[1][1]) for s in bars] == [(27.0, 33.0), (22.0, 28.0), (18.0, 24.0)]
    assert ax.get_title() == "Monthly forecast" and ax.get_xlabel() == "month after the end of the data"
    _fig, own = plt.subplots()
    point = forecast[["expected_purchases"]]  # no interval: bars only
    assert cplots.plot_purchases_by_period(point, ax=own, period="week") is own
    assert not own.collections and own.get_xlabel() == "week after the end of the data"


def test_clv_intervals_one_position_per_customer_on_a_log_scale():
    intervals = pd.DataFrame({"clv": [120.0, 40.0, 5.0], "lower": [100.0, 30.0, np.nan],
                              "upper": [150.0, 55.0, np.nan]}, index=pd.Index(["c1", "c2", "c3"], name="customer_id"))
    ax = cplots.plot_clv_intervals(intervals, currency="EUR", level=0.9)
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "CLV (EUR), 90 % interval"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["c1", "c2", "c3"]
    line = ax.lines[0]
    assert list(line.get_ydata()) == [120.0, 40.0, 5.0]
    assert ax.get_title() == "CLV with 90 % intervals"


def test_gains_and_lift_one_line_per_model_with_the_references():
    rng = np.random.default_rng(0)
    y = pd.Series(rng.random(400) < 0.2).astype(int)
    scores = {"good": y + rng.random(400), "noise": pd.Series(rng.random(400))}
    curves = pd.concat({name: gains_curve(y, s) for name, s in scores.items()}, names=["model"]).reset_index("model")
    fig, (left, right) = plt.subplots(1, 2)
    assert tplots.plot_gains(curves, ax=left) is left and tplots.plot_lift(curves, ax=right) is right
    assert [line.get_label() for line in left.lines] == ["good", "noise", "random", "perfect"]
    assert [t.get_text() for t in left.get_legend().get_texts()] == ["good", "noise", "random", "perfect"]
    good = curves[curves["model"] == "good"]
    np.testing.assert_array_equal(left.lines[0].get_ydata(), good["gain"].to_numpy())
    np.testing.assert_array_equal(right.lines[0].get_ydata(), good["lift"].to_numpy())
    assert right.get_ylabel() == "lift" and right.get_legend() is None
    assert right.lines[-1].get_ydata()[0] == 1  # the random selection's lift


def test_interval_figures_name_the_interval_kind():
    """An interval on a figure says what it covers (DESIGN: intervals say what they cover)."""
    forecast = pd.DataFrame({"expected_purchases": [30.0, 25.0], "lower": [24.0, 26.0], "upper": [37.0, 31.0]},
                            index=pd.RangeIndex(1, 3, name="month"))
    ax = cplots.plot_purchases_by_period(forecast, kind="prediction")
    assert "90 % prediction interval" in [t.get_text() for t in ax.get_legend().get_texts()]
    # a prediction interval's end may lie beyond the expectation: the bar stops at the expectation, never inverts
    assert [(s[0][1], s[1][1]) for s in ax.collections[0].get_segments()] == [(24.0, 37.0), (25.0, 31.0)]
    intervals = pd.DataFrame({"clv": [120.0], "lower": [0.0], "upper": [400.0]}, index=pd.Index(["c1"]))
    ax = cplots.plot_clv_intervals(intervals, currency="EUR", level=0.8, kind="confidence")
    assert ax.get_ylabel() == "CLV (EUR), 80 % confidence interval"
    assert ax.get_title() == "CLV with 80 % confidence intervals"
    # the value's name at the run's margin (segwork.clv.value_label) on the axis, title and legend
    ax = cplots.plot_clv_intervals(intervals, currency="EUR", level=0.8, kind="confidence", label="CLV (margin 30 %)")
    assert ax.get_ylabel() == "CLV (margin 30 %) (EUR),\n80 % confidence interval"  # too long for one line
    assert ax.get_title() == "CLV (margin 30 %) with 80 % confidence intervals"
    assert "expected CLV (margin 30 %)" in [t.get_text() for t in ax.get_legend().get_texts()]
