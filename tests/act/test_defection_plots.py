"""The figures of notebook 10 (defection): each takes tidy data, returns its Axes and draws exactly that data."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from segwork.plots import defection as dplots  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


EFFECTS = pd.DataFrame({
    "driver": ["contract[none]", "contract[none]", "open_complaint", "open_complaint", "region[south]",
               "region[south]"],
    "process": ["dropout", "purchase"] * 3,
    "multiplier": [2.1, 1.02, 3.6, 0.83, 0.97, 1.31],
    "lower_95": [1.8, 0.97, 2.9, 0.75, 0.8, 1.22],
    "upper_95": [2.4, 1.07, 4.4, 0.92, 1.18, 1.41],
})


def test_forest_one_row_per_driver_dots_bars_and_planted_marks():
    planted = EFFECTS[["driver", "process"]].assign(multiplier=[2.0, 1.0, 4.0, 0.8, 1.0, 1.3])
    planted = pd.concat([planted, pd.DataFrame({"driver": ["not estimated"], "process": ["dropout"],
                                                "multiplier": [9.0]})])
    ax = dplots.plot_forest(EFFECTS, planted=planted, title="Drivers")
    assert ax.get_xscale() == "log" and ax.get_title() == "Drivers"
    # drivers top to bottom in their order of appearance
    assert [t.get_text() for t in ax.get_yticklabels()] == ["contract[none]", "open_complaint", "region[south]"]
    assert list(ax.get_yticks()) == [2, 1, 0]
    dots = {c.get_label(): c.lines[0] for c in ax.containers}  # errorbar: dots (lines[0]) and bars (lines[2])
    np.testing.assert_allclose(dots["dropout"].get_xdata(), [2.1, 3.6, 0.97])
    np.testing.assert_allclose(dots["purchase"].get_xdata(), [1.02, 0.83, 1.31])
    # dropout above purchase within each driver's row
    assert all(d > p for d, p in zip(dots["dropout"].get_ydata(), dots["purchase"].get_ydata()))
    # the planted crosses sit on the estimates' rows; a planted driver without an estimate is not drawn
    cross = next(line for line in ax.lines if line.get_label() == "planted (truth)")
    np.testing.assert_allclose(cross.get_xdata(), [2.0, 1.0, 4.0, 0.8, 1.0, 1.3])
    np.testing.assert_allclose(cross.get_ydata()[::2], dots["dropout"].get_ydata())
    # the bars run from lower_95 to upper_95
    segments = ax.containers[0].lines[2][0].get_segments()  # the dropout group's error bars
    np.testing.assert_allclose([(s[0][0], s[1][0]) for s in segments], [(1.8, 2.4), (2.9, 4.4), (0.8, 1.18)])
    low, high = ax.get_xlim()
    assert low < 0.75 and high > 4.4  # every interval and the line at 1 fit
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["dropout", "purchase", "planted (truth)"]
    assert "95 % interval" in ax.get_xlabel()


def test_forest_other_groups_on_a_given_axes():
    lapse = EFFECTS[EFFECTS["process"] == "dropout"].assign(process="latent dropout")
    cox = lapse.assign(process="observed lapse", multiplier=[1.4, 2.2, 1.1], lower_95=[1.2, 1.8, np.nan],
                       upper_95=[1.6, 2.7, np.nan])
    _fig, own = plt.subplots()
    ax = dplots.plot_forest(pd.concat([lapse, cox]), ax=own, group="process", level=0.9)
    assert ax is own and "90 % interval" in ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["latent dropout", "observed lapse"]


def test_reason_shares_one_bar_per_reason_and_source():
    shares = pd.DataFrame({"stated (exit survey)": [0.5, 0.3, 0.2], "found (model)": [0.6, 0.1, np.nan]},
                          index=pd.Index(["no contract", "complaint", "needs changed"], name="reason"))
    ax = dplots.plot_reason_shares(shares, title="Stated and found")
    widths = [p.get_width() for p in ax.patches]
    np.testing.assert_allclose(widths[:3], [0.5, 0.3, 0.2])
    np.testing.assert_allclose(widths[3:5], [0.6, 0.1])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["no contract", "complaint", "needs changed"]
    assert ax.get_title() == "Stated and found" and ax.get_xlabel() == "share of customers"
