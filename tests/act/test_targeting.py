"""Campaign targeting: expected profit ranking, segments, per-segment rates, budget, permission."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.act import select_targets
from segwork.errors import DataError


@pytest.fixture()
def table():
    ids = [f"c{i}" for i in range(10)]
    return pd.DataFrame({"clv": [10.0, 200, 50, 400, 5, 80, 120, 30, 60, 1000],
                         "email_opt_in": [True, True, False, True, True, True, None, True, True, False]},
                        index=ids)


@pytest.fixture()
def labels(table):
    return pd.Series(["a", "b"] * 5, index=table.index)


def test_expected_profit_and_order(table):
    out = select_targets(table, response_rate=0.1, cost_per_contact=4.0)
    expected = 0.1 * table["clv"] - 4.0
    chosen = expected[expected > 0].sort_values(ascending=False)
    assert list(out.index) == list(chosen.index)
    assert np.allclose(out["expected_profit"], chosen)
    assert out["cumulative_profit"].iloc[-1] == pytest.approx(chosen.sum())


def test_segments_rates_budget_and_permission(table, labels):
    out = select_targets(table, labels, segments=["b"], response_rate={"b": 0.5}, cost_per_contact=1.0)
    assert set(out["segment"]) == {"b"} and (out["response_rate"] == 0.5).all()
    rated = select_targets(table, labels, response_rate={"a": 0.2}, cost_per_contact=1.0)
    assert set(rated["segment"]) == {"a"}  # segments without a rate get 0: never worth a contact
    capped = select_targets(table, response_rate=0.1, cost_per_contact=2.0, budget=7.0)
    assert len(capped) == 3 and list(capped.index) == list(select_targets(table, response_rate=0.1,
                                                                            cost_per_contact=2.0).index[:3])
    assert len(select_targets(table, response_rate=0.1, max_contacts=2)) == 2
    allowed = select_targets(table, response_rate=0.5, opt_in_column="email_opt_in")
    assert not {"c2", "c6", "c9"} & set(allowed.index)  # no permission, or unknown permission


def test_errors(table, labels):
    with pytest.raises(DataError, match="'margin'"):
        select_targets(table, value="margin")
    with pytest.raises(DataError, match="segment 'z' does not occur"):
        select_targets(table, labels, segments=["z"])
    with pytest.raises(DataError, match="need a segmentation"):
        select_targets(table, segments=["a"])
    with pytest.raises(DataError, match="between 0 and 1"):
        select_targets(table, response_rate=1.5)


def test_propensity_replaces_assumed_rate(table):
    p = pd.Series(np.linspace(0.05, 0.5, 10), index=table.index)
    out = select_targets(table, propensity=p, incremental_share=0.5, cost_per_contact=4.0,
                         opt_in_column="email_opt_in")
    allowed = table["email_opt_in"].fillna(False).astype(bool)
    expected = (p * 0.5 * table["clv"] - 4.0)[allowed]
    chosen = expected[expected > 0].sort_values(ascending=False)
    assert list(out.index) == list(chosen.index)
    assert np.allclose(out["expected_profit"], chosen)
    assert np.allclose(out["p_buy"], p[chosen.index])
    # stops where the expected margin no longer covers the contact cost
    assert (out["response_rate"] * out["value"] > 4.0).all()
    assert out.attrs["left_out_no_permission"] == 3
    assert out.attrs["n_unprofitable"] == int((expected <= 0).sum())


def test_propensity_from_column_and_budget(table):
    t = table.assign(p_buy=0.2)
    out = select_targets(t, propensity="p_buy", cost_per_contact=2.0, budget=7.0)
    assert len(out) == 3 and out["value"].iloc[0] == 1000


def test_propensity_bad_input(table):
    with pytest.raises(DataError, match="not both"):
        select_targets(table, propensity=pd.Series(0.1, index=table.index), response_rate=0.2)
    with pytest.raises(DataError, match="no propensity score"):
        select_targets(table, propensity=pd.Series(0.1, index=table.index[:3]))
    with pytest.raises(DataError, match="between 0 and 1"):
        select_targets(table, propensity=pd.Series(1.5, index=table.index))
    with pytest.raises(DataError, match="not in the table"):
        select_targets(table, propensity="p_buy")


def test_channel_names_the_permission_column(table):
    sms = table.assign(sms_opt_in=[False] * 5 + [True] * 5)
    by_channel = select_targets(sms, response_rate=0.5, channel="email")
    by_column = select_targets(sms, response_rate=0.5, opt_in_column="email_opt_in")
    pd.testing.assert_frame_equal(by_channel, by_column)
    out = select_targets(sms, response_rate=0.5, channel="sms")
    assert set(out.index) <= {f"c{i}" for i in range(5, 10)} and out.attrs["left_out_no_permission"] == 5
    with pytest.raises(DataError, match="'post_opt_in'.*email_opt_in, sms_opt_in"):
        select_targets(sms, response_rate=0.5, channel="post")
    with pytest.raises(DataError, match="give one of them"):
        select_targets(sms, response_rate=0.5, channel="sms", opt_in_column="email_opt_in")
