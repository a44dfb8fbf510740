"""Campaign measurement: uplift and interval by hand, planted uplift recovered, interval coverage, bad input."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.act.campaign import campaign_results, simulate_campaign
from segwork.datasets import make_crm
from segwork.errors import DataError


def test_small_example_by_hand():
    c = pd.DataFrame({"group": ["treatment"] * 10 + ["control"] * 10,
                      "responded": [True] * 4 + [False] * 6 + [True] * 1 + [False] * 9})
    out = campaign_results(c, value_per_response=50, cost_per_contact=2, planned_uplift=0.2)
    row = out.loc["all"]
    se = np.sqrt(0.4 * 0.6 / 10 + 0.1 * 0.9 / 10)
    assert row["uplift"] == pytest.approx(0.3)
    assert row["uplift_low"] == pytest.approx(0.3 - 1.959964 * se, rel=1e-5)
    assert row["incremental_profit"] == pytest.approx(0.3 * 10 * 50 - 20)
    assert row["planned_profit"] == pytest.approx(0.2 * 10 * 50 - 20)


@pytest.fixture(scope="module")
def truth():
    return make_crm(20000, seed=0).truth


def test_planted_uplift_is_covered(truth):
    camp = simulate_campaign(truth, "2024-05-01", seed=0)
    again = simulate_campaign(truth, "2024-05-01", seed=0)
    pd.testing.assert_frame_equal(camp, again)
    out = campaign_results(camp)
    row = out.loc["all"]
    assert row["uplift_low"] <= camp.attrs["true_uplift"] <= row["uplift_high"]
    # per segment: the planted uplift of each segment inside its interval for most segments
    planted = camp[camp["group"] == "treatment"].groupby("segment")["true_uplift"].mean()
    inside = [(out.loc[s, "uplift_low"] <= planted[s] <= out.loc[s, "uplift_high"]) for s in planted.index]
    assert sum(inside) >= len(inside) - 1


def test_interval_coverage_near_nominal(truth):
    """Over 200 seeds the 95 % interval covers the planted uplift about 95 % of the time."""
    sub = truth.iloc[:3000]
    covered = []
    for s in range(200):
        camp = simulate_campaign(sub, "2024-05-01", seed=s)
        row = campaign_results(camp).loc["all"]
        # each draw's own planted mean over its treatment group
        covered.append(row["uplift_low"] <= camp.attrs["true_uplift"] <= row["uplift_high"])
    assert 0.90 <= np.mean(covered) <= 0.99


def test_bad_input(truth):
    c = pd.DataFrame({"group": ["treatment", "treatment"], "responded": [True, False]})
    with pytest.raises(DataError, match="control"):
        campaign_results(c)
    with pytest.raises(DataError, match="'other'"):
        campaign_results(c.assign(group=["treatment", "other"]))
    with pytest.raises(DataError, match="responded"):
        campaign_results(c.drop(columns="responded"))
    with pytest.raises(DataError, match="truth"):
        simulate_campaign(pd.DataFrame({"x": [1]}), "2024-05-01")
    with pytest.raises(DataError, match="control_share"):
        simulate_campaign(truth, "2024-05-01", control_share=1.0)
