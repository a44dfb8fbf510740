"""Intervals on predictions (segwork.clv.intervals): coverage on simulated data, seeding, CLV, bad input.

Coverage is checked against the simulation truth at the parameter level: the
expected purchases under the *true* parameters given each simulated history
(the quantity the interval is about: parameter uncertainty, not purchase noise).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from segwork.clv import BetaGeo, GammaGamma, ParetoNBD, customer_lifetime_value, simulate_bg_nbd
from segwork.errors import DataError

TRUE = dict(r=0.8, alpha=5.0, a=0.8, b=2.5)


def test_interval_coverage_on_simulated_data():
    true = BetaGeo()
    true.params_ = dict(TRUE)
    hit_agg, hit_cust = [], []
    for i in range(40):
        d = simulate_bg_nbd(1000, **TRUE, T=(20, 40), random_state=1000 + i)
        m = BetaGeo().fit(d.frequency, d.recency, d["T"])
        truth = true.expected_purchases(20, d.frequency, d.recency, d["T"])
        agg = m.expected_purchases(20, d.frequency, d.recency, d["T"], interval=0.9, aggregate=True,
                                   n_draws=100, random_state=i)
        hit_agg.append(agg["lower"] <= truth.sum() <= agg["upper"])
        per = m.expected_purchases(20, d.frequency, d.recency, d["T"], interval=0.9, n_draws=100, random_state=i)
        hit_cust.append(np.mean((per["lower"] <= truth) & (truth <= per["upper"])))
    # nominal 0.9; 40 replications: the aggregate share has a standard error of about 0.05
    assert 0.75 <= np.mean(hit_agg) <= 1.0, np.mean(hit_agg)
    assert 0.82 <= np.mean(hit_cust) <= 0.97, np.mean(hit_cust)


@pytest.fixture(scope="module")
def sim():
    d = simulate_bg_nbd(2000, **TRUE, T=(20, 40), random_state=3)
    return d, BetaGeo().fit(d.frequency, d.recency, d["T"])


def test_intervals_are_seeded_and_ordered(sim):
    d, m = sim
    a = m.p_alive(d.frequency, d.recency, d["T"], interval=0.8, n_draws=50, random_state=5)
    b = m.p_alive(d.frequency, d.recency, d["T"], interval=0.8, n_draws=50, random_state=5)
    c = m.p_alive(d.frequency, d.recency, d["T"], interval=0.8, n_draws=50, random_state=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert list(a.columns) == ["p_alive", "lower", "upper"] and a.index.equals(d.index)
    assert (a["lower"] <= a["upper"]).all() and (a["lower"] >= 0).all() and (a["upper"] <= 1).all()
    pd.testing.assert_series_equal(a["p_alive"], m.p_alive(d.frequency, d.recency, d["T"]))
    # a wider level gives a wider interval
    w = m.p_alive(d.frequency, d.recency, d["T"], interval=0.95, n_draws=50, random_state=5)
    assert ((w["upper"] - w["lower"]) >= (a["upper"] - a["lower"]) - 1e-12).all()


@pytest.mark.parametrize("level", [0, 1, 1.5, "x", -0.1])
def test_bad_interval_level_is_refused(sim, level):
    d, m = sim
    with pytest.raises(DataError, match="interval must be a coverage level"):
        m.expected_purchases(5, d.frequency, d.recency, d["T"], interval=level)


def test_clv_interval_with_spend_model(cdnow):
    cal = cdnow[cdnow["T"] > 0]
    bg = BetaGeo().fit(cal["frequency"], cal["recency"], cal["T"])
    rep = cal[cal["frequency"] > 0]
    gg = GammaGamma().fit(rep["frequency"], rep["monetary_value"])
    point = customer_lifetime_value(bg, gg, cal)
    out = customer_lifetime_value(bg, gg, cal, interval=0.9, n_draws=50, random_state=1)
    assert list(out.columns) == ["clv", "lower", "upper"]
    pd.testing.assert_series_equal(out["clv"], point, check_names=False)
    assert (out["lower"] <= out["upper"]).all()
    inside = (out["lower"] <= out["clv"] + 1e-9) & (out["clv"] <= out["upper"] + 1e-9)
    assert inside.mean() > 0.95
    tot = customer_lifetime_value(bg, gg, cal, interval=0.9, n_draws=50, random_state=1, aggregate=True)
    assert tot["lower"] < point.sum() < tot["upper"]
    # a constant spend: only the transaction model's uncertainty
    const = customer_lifetime_value(bg, 30.0, cal, interval=0.9, n_draws=50, random_state=1)
    assert (const["lower"] <= const["upper"]).all()


def test_intervals_with_covariates(sim):
    d, _ = sim
    X = pd.DataFrame({"web": (np.arange(len(d)) % 2).astype(float)}, index=d.index)
    m = ParetoNBD().fit(d.frequency.head(800), d.recency.head(800), d["T"].head(800), covariates=X.head(800))
    out = m.expected_purchases(10, d.frequency.head(800), d.recency.head(800), d["T"].head(800),
                               covariates=X.head(800), interval=0.9, n_draws=30, random_state=0)
    assert np.isfinite(out.to_numpy()).all() and (out["lower"] <= out["upper"]).all()
    # the draws reuse the checked covariate groups: the same as drawing the models one by one
    from segwork.clv.intervals import sampled_models

    f, r, T, Xh = d.frequency.head(800), d.recency.head(800), d["T"].head(800), X.head(800)
    slow = np.array([mm.expected_purchases(10, f, r, T, covariates=Xh).to_numpy()
                     for mm in sampled_models(m, 30, 0)])
    np.testing.assert_allclose(out["upper"], np.quantile(slow, 0.95, axis=0), rtol=1e-10)
    flipped = 1.0 - Xh  # no stale groups after the interval call
    assert not np.allclose(m.p_alive(f, r, T, covariates=flipped), m.p_alive(f, r, T, covariates=Xh))
    clv = customer_lifetime_value(m, 20.0, d.head(800), covariates=X.head(800), horizon=3)
    np.testing.assert_allclose(clv.to_numpy() > 0, True)
