"""The public helpers notebook 05 calls: covariate effects per group, the penalizer fallback, the interval
heuristic and the time-unit conversions."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segwork import clv
from segwork.clv.base import PENALIZER_LADDER
from segwork.clv.predict import FALLBACK_PENALIZERS
from segwork.datasets import make_crm
from segwork.errors import ConvergenceError, DataError
from segwork.features import customer_table, rfm_summary
from segwork.io import read_transactions

HEAVY = Path(__file__).resolve().parents[1] / "data" / "spend_heavy_tail.csv"


@pytest.fixture(scope="module")
def crm():
    data = make_crm(n_customers=1500, random_state=3)
    summary = rfm_summary(data.transactions, observation_end=data.observation_end, time_unit="weeks")
    channel = data.customers.set_index("customer_id").loc[summary.index, "acquisition_channel"]
    return data, summary, channel


# --------------------------------------------------------------------------- units

def test_durations_and_rates_between_units():
    assert clv.convert_duration(1, "months", "weeks") == 365.25 / 12 / 7.0  # the notebook's former hand-written month
    assert clv.convert_duration(12, "months", "days") == pytest.approx(365.25)
    assert clv.convert_duration(14, "days", "weeks") == 2.0
    assert clv.convert_rate(0.5, "weeks", "weeks") == 0.5
    assert clv.convert_rate(1.0, "days", "weeks") == 7.0  # 1 a day is 7 a week
    assert clv.convert_rate(7.0, "weeks", "days") == 1.0
    series = pd.Series([1.0, 2.0], index=["a", "b"])
    pd.testing.assert_series_equal(clv.convert_rate(series, "days", "weeks"), series * 7.0)
    with pytest.raises(DataError, match="'fortnights' is not known"):
        clv.convert_duration(1, "fortnights", "days")


# --------------------------------------------------------------------------- penalizer fallback

def test_a_converging_fit_is_not_penalized(crm):
    _data, summary, _channel = crm
    fit = clv.fit_or_penalize(clv.BetaGeo(), summary["frequency"], summary["recency"], summary["T"])
    assert fit.reason is None and fit.penalizer == 0.0 and fit.model.penalizer == 0.0


def test_a_fit_that_does_not_converge_gets_the_smallest_penalizer_of_the_one_ladder_that_does():
    tx, _ = read_transactions(HEAVY)  # the MBG/NBD runs off to a, b -> 0 on this file (issue 13)
    x = clv.bg_nbd_inputs(customer_table(tx))
    args = (x["frequency"], x["recency"], x["T"])
    fit = clv.fit_or_penalize(clv.ModifiedBetaGeo(), *args)
    assert fit.penalizer == PENALIZER_LADDER[0] == fit.model.penalizer and "did not converge" in fit.reason
    direct = clv.ModifiedBetaGeo(penalizer=PENALIZER_LADDER[0]).fit(*args)
    assert fit.model.params_ == direct.params_
    assert FALLBACK_PENALIZERS == PENALIZER_LADDER[:2]  # the prepared table's fallback: rungs of the same ladder
    with pytest.raises(ConvergenceError):
        clv.fit_or_penalize(clv.ModifiedBetaGeo(), *args, penalizers=())


# --------------------------------------------------------------------------- interval heuristic

def test_interval_problem_accepts_a_well_identified_fit_and_names_a_poor_one(crm):
    _data, summary, _channel = crm
    good = clv.BetaGeo().fit(summary["frequency"], summary["recency"], summary["T"])
    assert clv.interval_problem(good) is None
    assert "poorly identified" in clv.interval_problem(good, max_decades=1e-6)  # every interval is wider than that
    tiny = make_crm(n_customers=40, random_state=0)  # Gamma-Gamma at a limit of its parameters: no standard errors
    s = rfm_summary(tiny.transactions, observation_end=tiny.observation_end)
    with pytest.warns(UserWarning):
        limit = clv.GammaGamma().fit(s["frequency"], s["monetary_value"])
    assert limit.unidentified_ and "poorly identified" in clv.interval_problem(limit)


# --------------------------------------------------------------------------- covariate effects

def test_group_effects_per_channel(crm):
    data, summary, channel = crm
    result = clv.group_effects(summary, channel, horizon=6, index_name="channel")
    eff = result.effects
    levels = sorted(channel.astype(str).unique())
    assert list(eff.index) == levels and eff.index.name == "channel" and result.reference == levels[0]
    assert eff["customers"].sum() == len(summary)
    ref = eff.loc[result.reference]
    assert (ref["purchase_multiplier"], ref["dropout_multiplier"], ref["spend_multiplier"]) == (1.0, 1.0, 1.0)
    other = eff.drop(index=result.reference)
    assert (other["purchase_multiplier_low"] < other["purchase_multiplier"]).all()
    assert (other["purchase_multiplier"] < other["purchase_multiplier_high"]).all()
    # the multipliers are the exponentiated coefficients; the dropout chance is a_i / (a_i + b_i)
    m = result.transaction_model
    key = f"acquisition_channel[{other.index[0]}]"
    assert other.iloc[0]["purchase_multiplier"] == pytest.approx(np.exp(m.coef_[f"purchase:{key}"]))
    a_i = m.params_["a"] * np.exp(m.coef_[f"dropout_a:{key}"])
    b_i = m.params_["b"] * np.exp(m.coef_[f"dropout_b:{key}"])
    assert other.iloc[0]["dropout_prob"] == pytest.approx(a_i / (a_i + b_i))
    assert ref["dropout_prob"] == pytest.approx(m.params_["a"] / (m.params_["a"] + m.params_["b"]))
    assert (eff["new_customer_clv"] > eff["mean_spend"]).all() and result.best in levels
    assert set(result.coefficients.index) == set(m.coef_.index) | set(result.spend_model.coef_.index)
    # the reference's new customer is the model's population at the reference level, over 6 months in weeks
    new = pd.DataFrame({"acquisition_channel": [result.reference]})
    assert ref["new_customer_purchases"] == pytest.approx(
        float(m.expected_purchases_new(6 * 365.25 / 12 / 7, covariates=new).iloc[0]), rel=1e-12)
    planted = clv.planted_multipliers(data.truth, channel, result.reference)
    assert list(planted.index) == levels and (planted.loc[result.reference] == 1.0).all()


def test_group_effects_refuses_customers_without_a_group_and_a_single_group(crm):
    _data, summary, channel = crm
    with pytest.raises(DataError, match="have no acquisition_channel"):
        clv.group_effects(summary, channel.iloc[10:])
    with pytest.raises(DataError, match="at least 2"):
        clv.group_effects(summary, pd.Series("web", index=channel.index, name="acquisition_channel"))
