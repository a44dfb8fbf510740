"""predict_clv and bg_nbd_inputs: P(alive) and CLV of a customer table."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from segwork.clv import BetaGeo, GammaGamma, bg_nbd_inputs, customer_lifetime_value, predict_clv
from segwork.datasets import make_crm
from segwork.errors import DataError
from segwork.features import customer_table


@pytest.fixture(scope="module")
def table():
    data = make_crm(n_customers=2000, seed=8)
    return customer_table(data.transactions, data.customers)


def test_bg_nbd_inputs_are_the_table_in_weeks(table):
    x = bg_nbd_inputs(table)
    assert list(x.columns) == ["frequency", "recency", "T"] and x.index.equals(table.index)
    assert np.allclose(x["recency"] * 7, table["recency"]) and np.allclose(x["T"] * 7, table["T"])


def test_predict_clv_columns(table):
    out = predict_clv(table)
    assert list(out.columns) == ["p_alive", "clv"] and out.index.equals(table.index)
    assert out["p_alive"].between(0, 1).all() and (out["clv"] >= 0).all()
    assert (out.loc[table["frequency"] == 0, "p_alive"] == 1).all()  # BG/NBD: one-time buyers are alive
    # more recent repeat buyers (same frequency) are more likely alive
    f3 = table[table["frequency"] == 3]
    assert np.corrcoef(f3["days_since_last"], out.loc[f3.index, "p_alive"])[0, 1] < -0.5


def test_predict_clv_without_a_spend_model_says_so(table):
    # a single repeat buyer with a positive spend: no Gamma-Gamma fit; without mean_amount nothing stands in
    t = table.drop(columns="mean_amount").copy()
    repeat = t.index[t["frequency"] > 0]
    t.loc[repeat[1:], "monetary_value"] = 0.0
    with pytest.raises(DataError, match="repeat buyer.*mean_amount"):
        predict_clv(t)
    # with mean_amount the mean transaction amount stands in: CLV is positive, not silently 0
    t2 = table.copy()
    t2.loc[repeat[1:], "monetary_value"] = 0.0
    assert (predict_clv(t2)["clv"] > 0).any()




def test_no_fallback_when_the_mean_spend_is_finite(table):
    # q > 1: predict_clv is BG/NBD + Gamma-Gamma + customer_lifetime_value, nothing else, and warns nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = predict_clv(table, horizon=6, discount_rate=0.02, margin=0.4)
    x = bg_nbd_inputs(table)
    bg = BetaGeo().fit(x["frequency"], x["recency"], x["T"])
    gg = GammaGamma().fit(table["frequency"], table["monetary_value"])
    assert gg.params_["q"] > 1
    x["monetary_value"] = table["monetary_value"].to_numpy()
    direct = customer_lifetime_value(bg, gg, x, horizon=6, time_unit="weeks", discount_rate=0.02, margin=0.4)
    np.testing.assert_array_equal(out["clv"].to_numpy(), direct.to_numpy())
