"""customer_lifetime_value and historical_value."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwork.clv import BetaGeo, GammaGamma, customer_lifetime_value, historical_value
from segwork.clv.value import DAYS_PER_MONTH
from segwork.errors import DataError


@pytest.fixture(scope="module")
def models(cdnow):
    bg = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    gg = GammaGamma().fit(cdnow["frequency"], cdnow["monetary_value"])
    return bg, gg


def test_clv_equals_the_discounted_sum_computed_by_hand(models, cdnow):
    bg, gg = models
    clv = customer_lifetime_value(bg, gg, cdnow, horizon=6, time_unit="weeks", discount_rate=0.02, margin=0.3)
    assert isinstance(clv, pd.Series) and clv.index.equals(cdnow.index)
    cust = cdnow.iloc[[0, 5, 17]]
    for cid, row in cust.iterrows():
        spend = gg.expected_spend(row["frequency"], row["monetary_value"])
        total, prev = 0.0, 0.0
        for i in range(1, 7):
            t = i * DAYS_PER_MONTH / 7
            cum = bg.expected_purchases(t, row["frequency"], row["recency"], row["T"])
            total += (cum - prev) / 1.02 ** i
            prev = cum
        assert clv[cid] == pytest.approx(0.3 * spend * total, rel=1e-10)


def test_days_and_weeks_agree(models, cdnow):
    bg, gg = models
    in_days = cdnow.assign(recency=cdnow["recency"] * 7, T=cdnow["T"] * 7)
    bg_days = BetaGeo().fit(in_days["frequency"], in_days["recency"], in_days["T"])
    w = customer_lifetime_value(bg, gg, cdnow, time_unit="weeks")
    d = customer_lifetime_value(bg_days, gg, in_days, time_unit="days")
    np.testing.assert_allclose(d, w, rtol=1e-3)


@settings(max_examples=20, deadline=None)
@given(d=st.floats(0.001, 0.2), h=st.integers(1, 24))
def test_discounting_lowers_value(models_hyp, cdnow, d, h):
    bg, gg = models_hyp
    sub = cdnow.iloc[:200]
    undiscounted = customer_lifetime_value(bg, gg, sub, horizon=h, discount_rate=0.0)
    discounted = customer_lifetime_value(bg, gg, sub, horizon=h, discount_rate=d)
    assert (undiscounted >= discounted - 1e-12).all()
    assert (discounted >= 0).all()
    longer = customer_lifetime_value(bg, gg, sub, horizon=h + 1, discount_rate=d)
    assert (longer >= discounted - 1e-12).all()


@pytest.fixture(scope="module")
def models_hyp(cdnow):
    return (BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"]),
            GammaGamma().fit(cdnow["frequency"], cdnow["monetary_value"]))


def test_margin_scales_and_constant_spend(models, cdnow):
    bg, gg = models
    full = customer_lifetime_value(bg, gg, cdnow)
    np.testing.assert_allclose(customer_lifetime_value(bg, gg, cdnow, margin=0.25), 0.25 * full)
    const = customer_lifetime_value(bg, 10.0, cdnow[["frequency", "recency", "T"]], horizon=3, discount_rate=0)
    expected = 10.0 * bg.expected_purchases(3 * DAYS_PER_MONTH / 7, cdnow["frequency"], cdnow["recency"], cdnow["T"])
    np.testing.assert_allclose(const, expected, rtol=1e-10)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"time_unit": "months"}, "time_unit"),
        ({"horizon": 0}, "horizon"),
        ({"horizon": 2.5}, "horizon"),
        ({"discount_rate": -1.5}, "discount_rate"),
    ],
)
def test_bad_arguments(models, cdnow, kwargs, match):
    bg, gg = models
    with pytest.raises(DataError, match=match):
        customer_lifetime_value(bg, gg, cdnow, **kwargs)


def test_missing_column(models, cdnow):
    bg, gg = models
    with pytest.raises(DataError, match="monetary_value"):
        customer_lifetime_value(bg, gg, cdnow.drop(columns="monetary_value"))


def test_historical_value(cdnow_tx):
    hv = historical_value(cdnow_tx, margin=0.5)
    direct = cdnow_tx.groupby("customer_id")["amount"].sum() * 0.5
    pd.testing.assert_series_equal(hv, direct.rename("historical_value").sort_index(), check_names=False)
    assert hv.name == "historical_value" and hv.index.name == "customer_id"
    with pytest.raises(DataError, match="amount"):
        historical_value(cdnow_tx.drop(columns="amount"))
