"""customer_lifetime_value and historical_value."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from segwork.clv import BetaGeo, GammaGamma, customer_lifetime_value, historical_value
from segwork.clv.margin import DEFAULT_MARGIN, value_label
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
    full = customer_lifetime_value(bg, gg, cdnow, margin=1.0)  # expected revenue
    np.testing.assert_allclose(customer_lifetime_value(bg, gg, cdnow, margin=0.25), 0.25 * full)
    # the default is the one margin of segwork (issue 21), not revenue
    np.testing.assert_allclose(customer_lifetime_value(bg, gg, cdnow), DEFAULT_MARGIN * full)
    const = customer_lifetime_value(bg, 10.0, cdnow[["frequency", "recency", "T"]], horizon=3, discount_rate=0,
                                    margin=1.0)
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


def test_one_margin_and_one_label():
    """Issue 21: one margin for every CLV, and one way to say which value a number is."""
    assert DEFAULT_MARGIN == 0.3
    assert value_label(0.3) == "CLV (margin 30 %)" and value_label(DEFAULT_MARGIN) == "CLV (margin 30 %)"
    assert value_label(1) == value_label(1.0) == "expected revenue"
    assert value_label(0.275) == "CLV (margin 27.5 %)" and value_label(0) == "CLV (margin 0 %)"
    for bad in (float("nan"), -0.1, float("inf"), "0.3", True):
        with pytest.raises(DataError, match="margin="):
            value_label(bad)


def test_every_clv_entry_point_defaults_to_the_one_margin():
    """The defaults of every function that computes a CLV (or takes the margin of one) are DEFAULT_MARGIN."""
    import inspect

    from segwork.act import defection, drivers, explain, export, retention, strategies
    from segwork.clv import document, effects, predict, value
    from segwork.models import store
    from segwork import prepare
    from segwork.segment.value import tier_value

    functions = [value.customer_lifetime_value, value.historical_value, value.new_customer_value,
                 predict.predict_clv, predict.fit_clv, predict.apply_clv_models, effects.group_effects,
                 prepare.prepare, prepare.prepare_table, prepare.load_prepared_table, prepare.load_or_prepare,
                 store.build_models, explain.explain_defection, retention.customer_reasons, drivers.drivers_table,
                 defection.FuturePaths.clv,
                 strategies.relationship_summary, export.export_frame, tier_value,
                 predict.ClvFit, document.ClvModels]
    for f in functions:  # every one takes a margin, defaulting to the one constant
        margin = inspect.signature(f).parameters.get("margin")
        assert margin is not None and margin.default == DEFAULT_MARGIN, f.__qualname__
