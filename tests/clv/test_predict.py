"""predict_clv and bg_nbd_inputs: P(alive) and CLV of a customer table; the heavy-tailed spend fallback of the CLV step.

The field case ``tests/data/spend_heavy_tail.csv`` (issue 13, kind 6) has spend so heavy-tailed that the
Gamma-Gamma fit gives q <= 1: the population mean spend is infinite and the model's expected spend of every
one-time buyer is undefined. customer_lifetime_value (and so predict_clv / prepare_table) then uses the
documented fallback (median observed mean spend of the repeat buyers) and says so in one warning, instead of
handing NaN CLVs to the report.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segwork.clv import (BetaGeo, GammaGamma, GGomNBD, ModifiedBetaGeo, ParetoNBD, bg_nbd_inputs,
                         customer_lifetime_value, fit_transaction_model, predict_clv)
from segwork.clv.value import SPEND_FALLBACK
from segwork.features import rfm_summary
from segwork.datasets import make_crm
from segwork.errors import ConvergenceError, DataError
from segwork.features import customer_table
from segwork.io import read_transactions
from segwork.prepare import prepare_table
from segwork.clv import fit_clv, fit_spend_model

HEAVY = Path(__file__).resolve().parents[1] / "data" / "spend_heavy_tail.csv"


@pytest.fixture(scope="module")
def table():
    data = make_crm(n_customers=2000, random_state=8)
    return customer_table(data.transactions, data.customers)


def test_bg_nbd_inputs_are_the_table_in_weeks(table):
    x = bg_nbd_inputs(table)
    assert list(x.columns) == ["frequency", "recency", "T"] and x.index.equals(table.index)
    assert np.allclose(x["recency"] * 7, table["recency"]) and np.allclose(x["T"] * 7, table["T"])


def test_predict_clv_columns(table):
    out = predict_clv(table)
    assert list(out.columns) == ["p_alive", "clv"] and out.index.equals(table.index)
    assert out["p_alive"].between(0, 1).all() and (out["clv"] >= 0).all()
    # more recent repeat buyers (same frequency) are more likely alive
    f3 = table[table["frequency"] == 3]
    assert np.corrcoef(f3["days_since_last"], out.loc[f3.index, "p_alive"])[0, 1] < -0.5
    # the default model (MBG/NBD) lets one-time buyers leave: their P(alive) is below 1 and falls as the purchase ages
    assert out.attrs == {"transaction_model": "mbgnbd", "p_alive_model": "MBG/NBD"}
    one = table[table["frequency"] == 0]
    assert len(one) > 50 and (out.loc[one.index, "p_alive"] < 1).all()
    assert np.corrcoef(one["days_since_last"], out.loc[one.index, "p_alive"])[0, 1] < -0.9
    # BG/NBD on request: one-time buyers are alive by the model's construction, and the attrs say which model
    bg = predict_clv(table, transaction_model="bgnbd")
    assert (bg.loc[one.index, "p_alive"] == 1).all() and bg.attrs["p_alive_model"] == "BG/NBD"


@pytest.mark.parametrize("key, cls", [("mbgnbd", ModifiedBetaGeo), ("bgnbd", BetaGeo), ("paretonbd", ParetoNBD),
                                      ("ggomnbd", GGomNBD)])
def test_predict_clv_uses_the_named_transaction_model(table, key, cls):
    sub = table.iloc[:600]
    out = predict_clv(sub, transaction_model=key)
    x = bg_nbd_inputs(sub)
    model = cls().fit(x["frequency"], x["recency"], x["T"])
    np.testing.assert_allclose(out["p_alive"].to_numpy(), model.p_alive(x["frequency"], x["recency"], x["T"]),
                               rtol=1e-12)
    assert out.attrs["transaction_model"] == key
    assert out.attrs["p_alive_model"] == {"mbgnbd": "MBG/NBD", "bgnbd": "BG/NBD", "paretonbd": "Pareto/NBD",
                                          "ggomnbd": "GGom/NBD"}[key]


def test_unknown_transaction_model_is_refused(table):
    with pytest.raises(DataError, match="transaction_model='bgbb'.*'mbgnbd'"):
        predict_clv(table, transaction_model="bgbb")
    with pytest.raises(ValueError, match="transaction_model='nope'"):
        prepare_table(table, transaction_model="nope")


def test_predict_clv_without_a_spend_model_says_so(table):
    # a single repeat buyer with a positive spend: no Gamma-Gamma fit; without mean_amount nothing stands in
    t = table.drop(columns="mean_amount").copy()
    repeat = t.index[t["frequency"] > 0]
    t.loc[repeat[1:], "monetary_value"] = 0.0
    # ... so no clv, said and recorded, but P(alive) stays (issue 19: a failed spend model never removes p_alive)
    with pytest.warns(UserWarning, match="repeat buyer.*mean_amount"):
        fit = fit_clv(t)
    assert "clv" not in fit.values.columns and fit.values["p_alive"].between(0, 1).all()
    assert fit.record.model("spend").status == "failed" and fit.record.fallback("no clv").columns == ("clv",)
    with pytest.raises(DataError, match="repeat buyer.*mean_amount"):
        fit_spend_model(t)
    # with mean_amount the mean transaction amount stands in: CLV is positive, not silently 0
    t2 = table.copy()
    t2.loc[repeat[1:], "monetary_value"] = 0.0
    fit2 = fit_clv(t2)
    assert (fit2.values["clv"] > 0).any()
    assert fit2.record.fallback("constant spend") is not None and "mean transaction amount" in \
        fit2.record.fallback("constant spend").detail




def test_no_fallback_when_the_mean_spend_is_finite(table):
    # q > 1: predict_clv is MBG/NBD + Gamma-Gamma + customer_lifetime_value, nothing else, and warns nothing
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = predict_clv(table, horizon=6, discount_rate=0.02, margin=0.4)
    x = bg_nbd_inputs(table)
    bg = ModifiedBetaGeo().fit(x["frequency"], x["recency"], x["T"])
    gg = GammaGamma().fit(table["frequency"], table["monetary_value"])
    assert gg.params_["q"] > 1
    x["monetary_value"] = table["monetary_value"].to_numpy()
    direct = customer_lifetime_value(bg, gg, x, horizon=6, time_unit="weeks", discount_rate=0.02, margin=0.4)
    np.testing.assert_array_equal(out["clv"].to_numpy(), direct.to_numpy())


@pytest.fixture(scope="module")
def heavy():
    tx, _ = read_transactions(HEAVY)
    return tx


def _monetary_value_from_raw(path: Path) -> pd.Series:
    """Mean value of the repeat purchase days per customer, straight from the CSV (0 without repeats)."""
    raw = pd.read_csv(path, dtype={"customer_id": str}, parse_dates=["date"])
    days = raw.groupby(["customer_id", raw["date"].dt.normalize()])["amount"].sum().reset_index()
    repeat_days = days[days.groupby("customer_id").cumcount() > 0]
    return repeat_days.groupby("customer_id")["amount"].mean().reindex(days["customer_id"].unique()).fillna(0.0)


def test_spend_heavy_tail_gives_finite_clv_with_the_stated_fallback(heavy):
    table = customer_table(heavy)
    with pytest.warns(RuntimeWarning, match="infinite"):  # the fit itself is right and says so
        assert GammaGamma().fit(table["frequency"], table["monetary_value"]).params_["q"] <= 1
    with pytest.warns(UserWarning, match=r"q = 0\.\d+ <= 1.*median observed mean spend of the repeat buyers") as rec:
        out = predict_clv(table, transaction_model="bgnbd")  # BG/NBD converges here unpenalized: compared directly
    assert not any("undefined (NaN)" in str(w.message) for w in rec)  # the model's NaN warning is replaced
    assert np.isfinite(out["clv"]).all() and (out["clv"] > 0).all()

    # one-time buyers: the spend per purchase is the median mean spend of the repeat buyers, computed from the CSV
    mv = _monetary_value_from_raw(HEAVY)
    median = mv[mv > 0].median()
    one = table.index[table["frequency"] == 0]
    assert len(one) > 100
    x = bg_nbd_inputs(table)
    bg = BetaGeo().fit(x["frequency"], x["recency"], x["T"])
    per_unit_spend = customer_lifetime_value(bg, 1.0, x, horizon=12, time_unit="weeks", discount_rate=0.01)
    np.testing.assert_allclose(out.loc[one, "clv"] / per_unit_spend[one], median, rtol=1e-9)

    # repeat buyers keep the Gamma-Gamma expected spend (defined for them here)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gg = GammaGamma().fit(table["frequency"], table["monetary_value"])
    rep = table.index[table["frequency"] > 0]
    spend = gg.expected_spend(table.loc[rep, "frequency"], table.loc[rep, "monetary_value"])
    np.testing.assert_allclose(out.loc[rep, "clv"], spend * per_unit_spend[rep], rtol=1e-9)


def test_spend_heavy_tail_prepared_table_keeps_every_customer(heavy):
    with pytest.warns(UserWarning, match="fallback"):
        table = prepare_table(heavy)
    assert {"p_alive", "clv"} <= set(table.columns)
    assert table["clv"].notna().all() and len(table) == heavy["customer_id"].nunique()


def test_the_clv_step_of_notebook_05_gets_the_same_fallback(heavy):
    # notebook 05 fits on an RFM summary in weeks and calls customer_lifetime_value directly
    full = rfm_summary(heavy, time_unit="weeks")
    bg = BetaGeo().fit(full["frequency"], full["recency"], full["T"])
    with pytest.warns(RuntimeWarning, match="infinite"):
        gg = GammaGamma().fit(full["frequency"], full["monetary_value"])
    with pytest.warns(UserWarning, match="median observed mean spend"):
        values = customer_lifetime_value(bg, gg, full)
    assert np.isfinite(values).all()
    # a summary of one-time buyers only has no median to stand in: one error naming q <= 1 and what to do
    one = full[full["frequency"] == 0]
    with pytest.raises(DataError, match=r"q = 0\.\d+ <= 1.*no repeat buyer.*constant spend"):
        customer_lifetime_value(bg, gg, one)


def test_repeat_buyers_with_an_undefined_expected_spend_keep_their_own_mean_spend():
    # p x + q <= 1 for x = 1, 2 when p = 0.2, q = 0.5: the Gamma-Gamma expected spend is undefined there too
    gg = GammaGamma()
    gg.params_ = {"p": 0.2, "q": 0.5, "v": 10.0}
    summary = pd.DataFrame({"frequency": [0.0, 1.0, 2.0, 3.0, 4.0], "recency": [0.0, 5.0, 8.0, 9.0, 10.0],
                            "T": [12.0] * 5, "monetary_value": [0.0, 30.0, 50.0, 70.0, 90.0]})
    assert np.isnan(gg.expected_spend(summary["frequency"], summary["monetary_value"])[:3]).all()
    bg = BetaGeo()
    bg.params_ = {"r": 0.5, "alpha": 4.0, "a": 0.8, "b": 2.5}
    per_unit = customer_lifetime_value(bg, 1.0, summary, horizon=3)
    with pytest.warns(UserWarning, match="1 customer.*without a repeat purchase.*2 repeat buyer"):
        clv = customer_lifetime_value(bg, gg, summary, horizon=3)
    spend = clv / per_unit
    # median of the repeat buyers' mean spend: median(30, 50, 70, 90) = 60; own mean spend for x = 1, 2
    np.testing.assert_allclose(spend[:3], [60.0, 30.0, 50.0], rtol=1e-12)
    np.testing.assert_allclose(spend[3], 0.2 * (10 + 3 * 70) / (0.2 * 3 + 0.5 - 1), rtol=1e-12)  # model, defined
    assert "median" in SPEND_FALLBACK


def test_mbg_nbd_that_does_not_converge_is_refitted_penalized_and_said(heavy):
    # issue 13 (open fault): on this file the MBG/NBD runs off to a, b -> 0; the prepared table must not lose P(alive)
    table = customer_table(heavy)
    x = bg_nbd_inputs(table)
    with pytest.raises(ConvergenceError, match="towards 0"):
        ModifiedBetaGeo().fit(x["frequency"], x["recency"], x["T"])
    with pytest.warns(UserWarning, match=r"MBG/NBD: the unpenalized fit did not converge .*penalizer=0\.001"):
        model = fit_transaction_model(table)
    assert isinstance(model, ModifiedBetaGeo) and model.penalizer == 0.001
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        prepared = prepare_table(heavy)
    assert any("penalizer=0.001" in str(w.message) for w in rec)
    assert prepared.attrs["p_alive_model"] == "MBG/NBD (penalizer 0.001)"
    penalized = ModifiedBetaGeo(penalizer=0.001).fit(x["frequency"], x["recency"], x["T"])
    np.testing.assert_allclose(prepared["p_alive"].to_numpy(),
                               penalized.p_alive(x["frequency"], x["recency"], x["T"]), rtol=1e-12)
    one = prepared["frequency"] == 0
    assert (prepared.loc[one, "p_alive"] < 1).all() and np.isfinite(prepared["clv"]).all()


def test_no_convergence_even_penalized_leaves_the_clv_columns_out_with_a_warning(heavy, monkeypatch):
    import segwork.clv.predict as predict_module

    monkeypatch.setattr(predict_module, "FALLBACK_PENALIZERS", ())
    with pytest.raises(ConvergenceError, match="ModifiedBetaGeo.fit did not converge"):
        fit_transaction_model(customer_table(heavy))
    with pytest.warns(UserWarning, match="no CLV columns .*ModifiedBetaGeo.fit did not converge"):
        table = prepare_table(heavy)
    assert "p_alive" not in table.columns and "clv" not in table.columns
